"""Reference simulation of a :class:`~brainkit.exporters.cuba.CubaNetwork` in numpy: the Loihi
integer arithmetic (what Lava's bit-accurate ``fixed_pt`` models compute) and the float map
(Lava's ``floating_pt`` models), written here from the Loihi register definitions, not by
calling Lava.

Fixed point, per time step ``t = 1, 2, ...`` (all integers; ``>>`` truncates the magnitude,
i.e. rounds toward zero, as ``sign(x) * (|x| >> k)``)::

    a_in[t] = sum_c buf_c[t-1]                                 (16-bit dendritic sum)
    u[t]    = sign(u) ((|u| (4096 - (du + 1))) >> 12) + (a_in[t] << 6)
              wrapped to 24 bits: u > 2^23 -> u - 2^24 ; u <= -2^23 -> u + 2^24
    v[t]    = sign(v) ((|v| (4096 - dv)) >> 12) + u[t] + (bias_mant << bias_exp)
              clipped to [-(2^23 - 1), 2^23 - 1]
    s[t]    = v[t] > (vth << 6) ;  v[t] <- 0 where s[t]
    buf_c[t] = (W_c @ pre_c[t]) << weight_exp   (>> -weight_exp, an arithmetic shift, if < 0)

The current decay carries Loihi's 1-bit offset (``ds_offset = 1``: du = 4095 clears u every
step); the voltage decay has none.  Dense weights are first clipped to 8 bits and their lowest
``8 - num_weight_bits + mixed`` bits cleared, by the weights' sign mode
(:func:`effective_weights`).  Inputs: channel values ``x[t]`` of step ``t`` are the
presynaptic side of their connections at step ``t``, so they act on ``u`` at ``t + 1``.

Float: ``u = u (1 - d_u) + a_in ; v = v (1 - d_v) + u + bias ; s = v > vth ; v[s] = 0``.

Overflow: ``on_overflow='raise'`` (default) raises :class:`LoihiOverflowError` naming the step,
population, neuron and value when ``u`` would wrap, ``v`` would clip or ``a_in`` leaves 16
bits (where a chip and the float network part ways); ``'wrap'`` computes exactly what Lava
computes (wrap ``u``, clip ``v``; Lava's CPU model does not limit ``a_in``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from .cuba import CubaNetwork, ExportError

DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT
VTH_SHIFT = 6
ACT_SHIFT = 6
UV_MAX = 1 << 23  # u, v are 24-bit signed
A_IN_MAX = (1 << 15) - 1  # 16-bit dendritic accumulator
DS_OFFSET, DM_OFFSET = 1, 0


class LoihiOverflowError(ArithmeticError):
    """A Loihi register would overflow; the message names step, population, neuron, value."""


def sign_mode(weights: np.ndarray) -> str:
    """'excitatory' (all >= 0), 'inhibitory' (all <= 0) or 'mixed'."""
    if np.min(weights, initial=0) >= 0:
        return "excitatory"
    if np.max(weights, initial=0) <= 0:
        return "inhibitory"
    return "mixed"


def effective_weights(weights: np.ndarray, num_weight_bits: int = 8) -> np.ndarray:
    """The integer weights a Loihi Dense synapse uses: clipped to 8 bits ([0, 255] for one
    sign, [-256, 255] mixed) and the lowest ``8 - num_weight_bits + mixed`` bits cleared
    (mixed-sign 8-bit weights become even, rounded toward -inf)."""
    w = np.asarray(weights).astype(np.int64)
    mode = sign_mode(w)
    if mode == "inhibitory":
        w = -w
    mixed = int(mode == "mixed")
    w = np.clip(w, -256 * mixed, 255)
    k = 8 - num_weight_bits + mixed
    w = (w >> k) << k
    return -w if mode == "inhibitory" else w


@dataclass
class RefResult:
    """Spikes ``{population: (T, n) bool}`` (row ``t-1`` = step ``t``), final ``u``/``v``,
    and the largest |u|, |v|, |a_in| seen per population (for the overflow analysis)."""

    spikes: Dict[str, np.ndarray]
    u: Dict[str, np.ndarray]
    v: Dict[str, np.ndarray]
    peaks: Dict[str, Dict[str, float]] = field(default_factory=dict)
    traces: Dict[str, Dict[str, np.ndarray]] = field(default_factory=dict)


def check_inputs(net: CubaNetwork, inputs, steps):
    arrays = {}
    for name, n in net.inputs.items():
        if name not in inputs:
            raise ExportError(f"no input values given for input '{name}' ({n} channels)")
        x = np.asarray(inputs[name])
        if x.ndim != 2 or x.shape[1] != n or x.shape[0] < steps:
            raise ExportError(f"input '{name}': values of shape {x.shape}, expected "
                              f"({steps} steps, {n} channels)")
        if net.fixed and not np.issubdtype(x.dtype, np.integer) and not np.all(x == np.round(x)):
            raise ExportError(f"input '{name}': fixed-point inputs must be integers")
        arrays[name] = x[:steps].astype(np.int64 if net.fixed else float)
    return arrays


def simulate(net: CubaNetwork, inputs: Dict[str, np.ndarray], steps: int,
             on_overflow: str = "raise", record: Optional[Dict[str, list]] = None) -> RefResult:
    """Run ``net`` (fixed or float) for ``steps`` steps on ``inputs`` ({input: (T, n)}).

    ``record={'pop': ['u', 'v']}`` keeps traces (T, n) of those variables (after the step).
    """
    if on_overflow not in ("raise", "wrap"):
        raise ValueError("on_overflow must be 'raise' or 'wrap'")
    x = check_inputs(net, inputs, steps)
    fixed = net.fixed
    dtype = np.int64 if fixed else float
    pops = net.populations
    u = {p: np.asarray(P.u0 if P.u0 is not None else np.zeros(P.n)).astype(dtype).copy()
         for p, P in pops.items()}
    v = {p: np.asarray(P.v0 if P.v0 is not None else np.zeros(P.n)).astype(dtype).copy()
         for p, P in pops.items()}
    conns = list(net.connections.values())
    if fixed:
        W = {c.name: effective_weights(c.weights) for c in conns}
        bias = {p: np.where(np.asarray(P.bias_exp) >= 0,
                            np.left_shift(np.asarray(P.bias, np.int64),
                                          np.maximum(np.asarray(P.bias_exp, np.int64), 0)),
                            np.right_shift(np.asarray(P.bias, np.int64),
                                           np.maximum(-np.asarray(P.bias_exp, np.int64), 0)))
                * np.ones(P.n, np.int64) for p, P in pops.items()}
        vth = {p: int(P.vth) << VTH_SHIFT for p, P in pops.items()}
    else:
        W = {c.name: np.asarray(c.weights, float) for c in conns}
        bias = {p: np.asarray(P.bias, float) * np.ones(P.n) for p, P in pops.items()}
        vth = {p: float(P.vth) for p, P in pops.items()}
    buf = {c.name: np.zeros(pops[c.post].n, dtype) for c in conns}
    into = {p: [c for c in conns if c.post == p] for p in pops}
    spikes = {p: np.zeros((steps, P.n), bool) for p, P in pops.items()}
    peaks = {p: {"u": 0.0, "v": 0.0, "a_in": 0.0} for p in pops}
    record = record or {}
    traces = {p: {var: np.zeros((steps, pops[p].n), dtype) for var in vs}
              for p, vs in record.items()}
    for t in range(steps):
        for p, P in pops.items():
            a_in = np.zeros(P.n, dtype)
            for c in into[p]:
                a_in = a_in + buf[c.name]
            if fixed:
                _fixed_step(p, P, t, u, v, a_in, bias[p], on_overflow, peaks[p])
            else:
                u[p] = u[p] * (1 - P.d_u)
                u[p] += a_in
                v[p] = v[p] * (1 - P.d_v) + u[p] + bias[p]
                peaks[p]["u"] = max(peaks[p]["u"], float(np.max(np.abs(u[p]), initial=0)))
                peaks[p]["v"] = max(peaks[p]["v"], float(np.max(np.abs(v[p]), initial=0)))
                peaks[p]["a_in"] = max(peaks[p]["a_in"], float(np.max(np.abs(a_in), initial=0)))
            s = v[p] > vth[p]
            v[p][s] = 0
            spikes[p][t] = s
            for var in record.get(p, []):
                traces[p][var][t] = (u if var == "u" else v)[p]
        for c in conns:
            pre = x[c.pre][t] if c.pre in x else spikes[c.pre][t]
            if fixed:
                acc = W[c.name] @ pre.astype(np.int64)
                buf[c.name] = acc << c.weight_exp if c.weight_exp >= 0 \
                    else acc >> -c.weight_exp
            elif c.graded:
                buf[c.name] = W[c.name].dot(pre)
            else:
                buf[c.name] = W[c.name][:, pre.astype(bool)].sum(axis=1)
    return RefResult(spikes, u, v, peaks, traces)


def _fixed_step(p, P, t, u, v, a_in, bias, on_overflow, peak):
    raise_ = on_overflow == "raise"
    if raise_ and np.any(np.abs(a_in) > A_IN_MAX):
        k = int(np.argmax(np.abs(a_in)))
        raise LoihiOverflowError(f"step {t + 1}, population '{p}', neuron {k}: synaptic input "
                                 f"a_in = {int(a_in[k])} leaves 16 bits (|a_in| <= {A_IN_MAX})")
    du = int(P.d_u) + DS_OFFSET
    dc = u[p] * (DECAY_UNITY - du)
    dc = np.sign(dc) * (np.abs(dc) >> DECAY_SHIFT)
    dc = dc + (a_in << ACT_SHIFT)
    bad = (dc > UV_MAX) | (dc <= -UV_MAX)
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        if raise_:
            raise LoihiOverflowError(f"step {t + 1}, population '{p}', neuron {k}: current "
                                     f"u = {int(dc[k])} would wrap (24 bits: |u| < 2^23 = "
                                     f"{UV_MAX})")
        dc = np.where(dc > UV_MAX, dc - 2 * UV_MAX, dc)
        dc = np.where(dc <= -UV_MAX, dc + 2 * UV_MAX, dc)
    u[p] = dc
    dv = int(P.d_v) + DM_OFFSET
    dvv = v[p] * (DECAY_UNITY - dv)
    dvv = np.sign(dvv) * (np.abs(dvv) >> DECAY_SHIFT)
    nv = dvv + u[p] + bias
    lim = UV_MAX - 1
    bad = (nv > lim) | (nv < -lim)
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        if raise_:
            raise LoihiOverflowError(f"step {t + 1}, population '{p}', neuron {k}: voltage "
                                     f"v = {int(nv[k])} would clip to +-{lim} (24 bits)")
        nv = np.clip(nv, -lim, lim)
    v[p] = nv
    peak["u"] = max(peak["u"], float(np.max(np.abs(u[p]), initial=0)))
    peak["v"] = max(peak["v"], float(np.max(np.abs(v[p]), initial=0)))
    peak["a_in"] = max(peak["a_in"], float(np.max(np.abs(a_in), initial=0)))
