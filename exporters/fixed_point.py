"""Map a float :class:`~brainkit.exporters.cuba.CubaNetwork` to Loihi fixed point.

Each population ``p`` gets one scale ``lam_p`` (integer units of Loihi's 24-bit ``u``/``v`` per
float unit of ``v``); then::

    vth_int   = vth lam / 2^6                      (17 bit unsigned; exact: lam is chosen so)
    du_int    = round(4096 d_u) - 1,  dv_int = round(4096 d_v)     (12 bit; Loihi's current
                                                   decay has a +1 offset, its voltage none)
    W_int 2^e = w lam / 2^6  (per connection: 8-bit W_int, shared exponent e in [-8, 7];
                mixed-sign weights are even, in [-256, 254]; one-sign weights in [0, 255])
    bias_mant 2^bias_exp = bias lam   (13-bit mantissa, exponent 0..7, per neuron)
    x_int = round(x s_in)     analog input channels, s_in a power of 2 with max |x_int| <= 127

The scale is the largest that keeps every register in range::

    lam <= (2^17 - 1) 2^6 / vth                   threshold register
    lam <= (2^23 - 1) / (headroom * peak)         u, v: 24 bits
    lam <= 4095 * 2^7 / max |bias|                bias mantissa and exponent

where ``peak`` is the largest |u| or |v| of the float network: observed in a float reference
run on the given inputs (times ``headroom``, default 2) or, without inputs, the worst case
``max(sum w+, sum |w-|) / d_u`` (every presynaptic neuron firing every step).

The mapping refuses (:class:`~brainkit.exporters.cuba.ExportError`, with the numbers) when a
time constant cannot be represented within ``decay_tolerance``, a weight matrix's dynamic range
does not fit 8 bits + exponent within ``weight_tolerance`` (relative error of the quantised
inputs of the worst neuron, all its connections together), a weight or bias needs an exponent beyond the registers, or the state peaks
leave the threshold less than one integer unit.  The one-step synaptic delay is the same in
float and fixed point (Dense delivers ``W s[t]`` at ``t + 1``), so nothing changes there.
"""

from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np

from .cuba import CubaConnection, CubaNetwork, CubaPopulation, ExportError
from .loihi_ref import DECAY_UNITY, UV_MAX, VTH_SHIFT, effective_weights, sign_mode, simulate

VTH_MAX = (1 << 17) - 1
BIAS_MANT_MAX = (1 << 12) - 1
BIAS_EXP_MAX = 7
WEIGHT_EXP_RANGE = (-8, 7)
GRADED_MAX = 127


def quantise_decay(d: float, offset: int, what: str, where: str, tolerance: float):
    """12-bit decay register for a float decay ``d`` per step (``offset``: Loihi's implicit
    +1 of the current decay).  Returns (register, effective decay, relative error of tau)."""
    if not 0.0 <= d <= 1.0:
        raise ExportError(f"{where}: {what} = {d} is not a decay per step in [0, 1]")
    reg = int(round(d * DECAY_UNITY)) - offset
    reg = min(max(reg, 0), DECAY_UNITY - 1)
    eff = (reg + offset) / DECAY_UNITY
    tau = _tau_steps(d)
    tau_eff = _tau_steps(eff)
    err = 0.0 if tau == tau_eff else (abs(tau_eff - tau) / tau if tau > 0 else math.inf)
    if tau == math.inf:
        err = math.inf
    if err > tolerance and abs(eff - d) > 0.5 / DECAY_UNITY:
        raise ExportError(f"{where}: {what} = {d:.6g} per step (time constant {tau:.6g} steps) "
                          f"has no 12-bit register: the nearest, {reg} (+{offset}) / 4096 = "
                          f"{eff:.6g}, is a time constant of {tau_eff:.6g} steps, "
                          f"{err:.1%} off (tolerance {tolerance:.0%})")
    return reg, eff, err


def _tau_steps(d: float) -> float:
    if d <= 0:
        return math.inf
    if d >= 1:
        return 0.0
    return -1.0 / math.log1p(-d)


def _input_scales(net: CubaNetwork, inputs) -> Dict[str, float]:
    scales = {}
    for name in net.inputs:
        if not net.graded_inputs.get(name):
            scales[name] = 1.0
            continue
        if inputs is None or name not in inputs:
            raise ExportError(f"analog input '{name}': give its values to choose a fixed-point "
                              "scale")
        m = float(np.max(np.abs(inputs[name]), initial=0))
        scales[name] = 2.0 ** math.floor(math.log2(GRADED_MAX / m)) if m > 0 else 1.0
    return scales


def quantise_inputs(fixed: CubaNetwork, inputs: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Float input values -> the integers the fixed-point network takes (spikes stay 0/1)."""
    out = {}
    for name in fixed.inputs:
        s = fixed.report["inputs"][name]["scale"]
        x = np.asarray(inputs[name], float)
        out[name] = np.round(x * s).astype(np.int64)
    return out


def worst_case_peaks(net: CubaNetwork, input_max: Dict[str, float]) -> Dict[str, Dict]:
    """Bounds of |a_in|, |u| and |v| with every presynaptic neuron firing (or every channel at
    its largest value) every step: |a_in| <= A = max(sum w+, sum |w-|), |u| <= A / d_u,
    |v| <= (|u| + |bias|) / d_v."""
    out = {}
    for p, P in net.populations.items():
        pos = np.zeros(P.n)
        neg = np.zeros(P.n)
        for c in net.incoming(p):
            xm = input_max.get(c.pre, 1.0)
            w = np.asarray(c.weights, float)
            pos += np.clip(w, 0, None).sum(axis=1) * xm
            neg += np.clip(-w, 0, None).sum(axis=1) * xm
        a = float(np.max(np.maximum(pos, neg), initial=0))
        u = a / P.d_u if P.d_u > 0 else (math.inf if a > 0 else 0.0)
        b = float(np.max(np.abs(P.bias), initial=0))
        v = (u + b) / P.d_v if P.d_v > 0 else (math.inf if (u + b) > 0 else 0.0)
        out[p] = {"a_in": a, "u": u, "v": max(v, float(P.vth))}
    return out


def to_fixed(net: CubaNetwork, inputs: Optional[Dict[str, np.ndarray]] = None,
             steps: Optional[int] = None, headroom: float = 2.0,
             weight_tolerance: float = 0.05, decay_tolerance: float = 0.05,
             population_scales: Optional[Dict[str, float]] = None) -> CubaNetwork:
    """The fixed-point version of float ``net`` (``fixed=True``), with ``report`` saying how
    every number was mapped (scales, registers, errors, peaks).

    Parameters
    ----------
    inputs, steps : optional
        Representative float inputs ({input: (T, n)}) and how many steps to run the float
        reference on them, to measure the state peaks; without them the worst-case bound is
        used.
    headroom : float
        Factor between the observed peak and the 24-bit limit.
    weight_tolerance : float
        Largest relative error of the quantised inputs of any one neuron: over all its
        incoming connections, ||W_q - W|| / ||W|| with each presynaptic side at its largest
        value (a neuron whose inputs are all tiny against the connection's largest weight
        loses them; one whose tiny inputs sit beside larger ones does not matter).
    decay_tolerance : float
        Largest relative error of a time constant.
    population_scales : dict, optional
        ``{population: lam}`` a scale to use where it fits (e.g. the one a network was
        fine-tuned with, :mod:`brainkit.loihi.finetune`, so that its weights map to the
        same integers); where it would overflow on these inputs the largest that fits is used
        instead, and the report says so (``scale_from``).
    """
    if net.fixed:
        raise ExportError("the network is in fixed point already")
    scales = _input_scales(net, inputs)
    input_max = {name: (float(np.max(np.abs(inputs[name]), initial=0))
                        if inputs is not None and name in inputs and net.graded_inputs.get(name)
                        else 1.0) for name in net.inputs}
    worst = worst_case_peaks(net, input_max)
    observed = None
    if inputs is not None:
        steps = steps or min(len(np.asarray(x)) for x in inputs.values())
        observed = simulate(net, inputs, steps).peaks
    out = CubaNetwork(dt=net.dt, inputs=dict(net.inputs), graded_inputs=dict(net.graded_inputs),
                      fixed=True)
    report = {"headroom": headroom, "weight_tolerance": weight_tolerance,
              "peaks_from": "observed float run" if observed else "worst case",
              "populations": {}, "connections": {},
              "inputs": {k: {"scale": s, "graded": bool(net.graded_inputs.get(k))}
                         for k, s in scales.items()}}
    lam: Dict[str, float] = {}
    for p, P in net.populations.items():
        where = f"population '{p}'"
        if not P.vth > 0:
            raise ExportError(f"{where}: threshold vth = {P.vth} must be > 0 (Loihi's threshold "
                              "register is unsigned)")
        du, du_eff, du_err = quantise_decay(P.d_u, 1, "current decay d_u", where, decay_tolerance)
        dv, dv_eff, dv_err = quantise_decay(P.d_v, 0, "voltage decay d_v", where,
                                            decay_tolerance)
        peak = observed[p] if observed else worst[p]
        state = max(peak["u"], peak["v"], float(P.vth))
        bmax = float(np.max(np.abs(P.bias), initial=0))
        lam[p], which, vth_int = population_scale(P.vth, state, bmax, headroom)
        scale_from = "largest that fits"
        given = (population_scales or {}).get(p)
        if given is not None:
            if given <= lam[p] and float(P.vth * given / (1 << VTH_SHIFT)).is_integer():
                lam[p], which = float(given), "given"
                vth_int = int(round(P.vth * given / (1 << VTH_SHIFT)))
                scale_from = "given"
            else:
                scale_from = (f"largest that fits: the given scale {given:g} exceeds it "
                              f"({lam[p]:g}) on these inputs or is not a whole threshold")
        if vth_int < 1:
            raise ExportError(
                f"{where}: cannot map to 24-bit state: the {peak_kind(observed)} peak "
                f"|u|, |v| = {state:.6g} is {state / P.vth:.3g} x the threshold {P.vth:.6g}; "
                f"with headroom {headroom} the threshold would be "
                f"{P.vth * (UV_MAX - 1) / (headroom * state):.3g} "
                f"< 64 integer units (one unit of the 17-bit threshold register)")
        bias = np.asarray(P.bias, float) * np.ones(P.n) * lam[p]
        bexp = np.zeros(P.n, np.int64)
        nz = np.abs(bias) > BIAS_MANT_MAX
        bexp[nz] = np.ceil(np.log2(np.abs(bias[nz]) / BIAS_MANT_MAX)).astype(np.int64)
        mant = np.round(bias / 2.0 ** bexp).astype(np.int64)
        over = np.abs(mant) > BIAS_MANT_MAX
        bexp[over] += 1
        mant[over] = np.round(bias[over] / 2.0 ** bexp[over]).astype(np.int64)
        if np.any(bexp > BIAS_EXP_MAX):  # pragma: no cover - excluded by the bias limit above
            raise ExportError(f"{where}: bias needs an exponent > {BIAS_EXP_MAX}")
        u0 = np.round(np.asarray(P.u0 if P.u0 is not None else 0.0) * lam[p]) * np.ones(P.n)
        v0 = np.round(np.asarray(P.v0 if P.v0 is not None else 0.0) * lam[p]) * np.ones(P.n)
        out.populations[p] = CubaPopulation(p, P.n, du, dv, vth_int, mant, bexp,
                                            u0.astype(np.int64), v0.astype(np.int64))
        report["populations"][p] = {
            "scale": lam[p], "scale_limited_by": which, "scale_from": scale_from,
            "vth": vth_int,
            "du": du, "dv": dv, "d_u": P.d_u, "d_v": P.d_v, "d_u_fixed": du_eff,
            "d_v_fixed": dv_eff, "tau_u_error": du_err, "tau_v_error": dv_err,
            "peak_observed": observed[p] if observed else None, "peak_worst_case": worst[p],
            "state_peak_used": state, "bias_error": float(np.max(np.abs(
                mant * 2.0 ** bexp - bias), initial=0) / lam[p])}
    errors = {}
    for c in net.connections.values():
        s_in = scales.get(c.pre, 1.0)
        pre_mag = input_max.get(c.pre, 1.0) * s_in if c.pre in net.inputs else 1.0
        out.connections[c.name], report["connections"][c.name], *errors[c.name] = \
            _quantise_connection(c, lam[c.post] / (1 << VTH_SHIFT) / s_in, pre_mag)
        report["connections"][c.name]["input_scale"] = s_in
    _check_weight_errors(net, report, errors, weight_tolerance)
    out.report = report
    return out


def population_scale(vth: float, state: float, bias_max: float = 0.0, headroom: float = 2.0):
    """``(lam, limited_by, vth_int)``: the largest scale (integer units per float unit of
    ``v``) that keeps the threshold, the 24-bit state (peak |u|, |v| = ``state``, times
    ``headroom``) and the bias in their registers, rounded down so that ``vth lam / 2^6`` is
    an integer; ``vth_int < 1`` means no scale fits."""
    limits = {"threshold register": VTH_MAX * (1 << VTH_SHIFT) / vth,
              "24-bit state": (UV_MAX - 1) / (headroom * state) if state > 0 else math.inf}
    if bias_max > 0:
        limits["bias register"] = BIAS_MANT_MAX * (1 << BIAS_EXP_MAX) / bias_max
    which = min(limits, key=limits.get)
    vth_int = math.floor(vth * limits[which] / (1 << VTH_SHIFT))
    return vth_int * (1 << VTH_SHIFT) / vth, which, vth_int


def _int_weights(x: np.ndarray, where: str):
    """Integer weights ``q`` (8 bits; even when of mixed sign) and shared exponent ``e`` with
    ``q 2^e`` nearest to ``x`` (weights in integer units of a_in); also the sign mode."""
    mode = sign_mode(x)
    mixed = mode == "mixed"
    pos = float(np.max(x, initial=0))
    neg = float(-np.min(x, initial=0))
    need = max(pos / 254.0, neg / 256.0) if mixed else max(pos, neg) / 255.0
    lo, hi = WEIGHT_EXP_RANGE
    if need == 0:
        exp = 0
    else:
        exp = max(lo, math.ceil(math.log2(need)))
        if exp > hi:
            raise ExportError(f"{where}: the largest weight is {max(pos, neg):.6g} integer units "
                              f"of a_in: it needs a weight exponent of {exp} > {hi} (the "
                              "threshold is small against the weights; lower the weights or "
                              "raise the threshold)")
    y = x / 2.0 ** exp
    q = 2 * np.round(y / 2) if mixed else np.round(y)
    return q.astype(np.int64), exp, mode


def quantise_weights(w: np.ndarray, scale: float, where: str = "weights") -> np.ndarray:
    """``w`` after the fixed-point mapping and back: ``q 2^e / scale``, with ``q``, ``e`` the
    8-bit weights and exponent :func:`to_fixed` gives ``w`` at ``scale`` (integer units of
    a_in per unit of ``w``)."""
    q, exp, _ = _int_weights(np.asarray(w, float) * scale, where)
    return q * 2.0 ** exp / scale


def peak_kind(observed) -> str:
    return "observed" if observed else "worst-case"


def _quantise_connection(c: CubaConnection, scale: float, pre_mag: float):
    """8-bit weights + shared exponent of one connection; also its per-target squared error
    and squared drive, in integer a_in units times the presynaptic magnitude ``pre_mag``."""
    where = f"connection '{c.name}'"
    w = np.asarray(c.weights, float)
    x = w * scale
    q, exp, mode = _int_weights(x, where)
    mixed = mode == "mixed"
    eff = effective_weights(q)
    if not np.array_equal(eff, q):  # pragma: no cover - the rounding above stays in range
        raise ExportError(f"{where}: internal error: quantised weights change under Loihi's "
                          "clip/truncate")
    err_abs = q * 2.0 ** exp - x
    norm = float(np.linalg.norm(x))
    frob = float(np.linalg.norm(err_abs) / norm) if norm > 0 else 0.0
    nonzero = w != 0
    zeroed = float(np.mean(q[nonzero] == 0)) if nonzero.any() else 0.0
    absw = np.abs(w[nonzero])
    info = {"weight_exp": exp, "sign_mode": mode, "num_weight_bits": 8,
            "max_abs_weight": float(absw.max()) if absw.size else 0.0,
            "min_abs_nonzero_weight": float(absw.min()) if absw.size else 0.0,
            "dynamic_range_bits": float(np.log2(absw.max() / absw.min())) if absw.size else 0.0,
            "lsb": (2.0 if mixed else 1.0) * 2.0 ** exp / scale if scale else 0.0,
            "relative_error_matrix": frob, "zeroed_fraction": zeroed}
    err_sq = np.sum(err_abs ** 2, axis=1) * pre_mag ** 2
    norm_sq = np.sum(x ** 2, axis=1) * pre_mag ** 2
    return CubaConnection(c.name, c.pre, c.post, q, exp, c.graded), info, err_sq, norm_sq


def _check_weight_errors(net: CubaNetwork, report, errors, tolerance: float) -> None:
    """Per target neuron: ||quantised - float inputs|| / ||float inputs|| over all its
    incoming connections (each presynaptic side at its largest value) must stay within
    ``tolerance``; otherwise refuse, naming the connection that contributes most."""
    for p, P in net.populations.items():
        conns = [c.name for c in net.incoming(p)]
        if not conns:
            continue
        err = sum(errors[c][0] for c in conns)
        norm = sum(errors[c][1] for c in conns)
        ok = norm > 0
        rel = np.zeros(P.n)
        rel[ok] = np.sqrt(err[ok] / norm[ok])
        for c in conns:
            r = np.zeros(P.n)
            r[ok] = np.sqrt(errors[c][0][ok] / norm[ok])
            report["connections"][c]["relative_error"] = float(np.max(r, initial=0))
        j = int(np.argmax(rel))
        report["populations"][p]["input_relative_error"] = float(rel[j])
        if rel[j] > tolerance:
            c = max(conns, key=lambda name: errors[name][0][j])
            info = report["connections"][c]
            raise ExportError(
                f"connection '{c}': weights do not fit 8 bits + a shared exponent: they span "
                f"{info['min_abs_nonzero_weight']:.3g} .. {info['max_abs_weight']:.3g} "
                f"({info['dynamic_range_bits']:.1f} bits of dynamic range); with exponent "
                f"{info['weight_exp']} the step is {info['lsb']:.3g} and "
                f"{info['zeroed_fraction']:.0%} of the non-zero weights become 0: the inputs "
                f"of neuron {j} of population '{p}' are {rel[j]:.1%} off (tolerance "
                f"{tolerance:.0%})")
