r"""Hardware-aware fine-tuning: train the network Loihi runs, quantisation in the loop.

A trained reset-free/gated network has no Loihi form; :mod:`brainkit.loihi.mapping` maps it to
Lava's CUBA LIF (zero-width gate = threshold synapse, LIF with reset), and that mapping alone
costs task accuracy (it is an approximation of the dynamics the network learnt to use).  This
module fine-tunes the mapped network *as the hardware computes it*: the discrete-time CUBA LIF
of Lava (:mod:`brainkit.exporters.loihi_ref`), batch ``b``, step ``t = 0 .. T-1``::

    a[t] = U zq[t-1] + Wq s[t-1]                  (Dense: one-step delay; a[0] = 0)
    u[t] = (1 - d_u) u[t-1] + a[t]
    p[t] = (1 - d_v) v[t-1] + u[t] + bias          (membrane before the spike test)
    s[t] = H(p[t] - vth) ;   v[t] = p[t] (1 - s[t])  (spike, reset to 0)
    q[t+1] = (1 - dt/tau_s) q[t] + s[t] / tau_s ;   o[t] = O q[t]      (readout, off chip)

with the *quantisation in the loop*: ``Wq``, ``Uq`` are the weights after the exporter's own
8-bit + shared-exponent quantiser (:func:`brainkit.exporters.fixed_point.quantise_weights`),
``zq`` the inputs on the fixed-point input grid, ``d_u``, ``d_v`` the 12-bit decays.  The
float map with these numbers is what Lava's ``fixed_pt`` model computes up to the truncation
of ``u`` and ``v`` to integers (one part in ~1e6 of the threshold).

Gradients.  ``H`` has derivative zero almost everywhere, so no exact gradient of this network
exists (the reason the brainkit adjoint refuses hard resets).  Training uses the *surrogate
gradient* of SuperSpike (Zenke & Ganguli 2018): back-propagation through time of the exact
recursion above with ``H'(p - vth)`` replaced by the fast-sigmoid derivative
:math:`\sigma'(x) = 1 / (1 + \beta |x|)^2`, the reset treated as a constant (``detach_reset``:
Zenke & Vogels 2021 found this trains better), and the straight-through estimator for the
quantiser (``dL/dW = dL/dWq``).  With ``soft=True`` the forward pass uses
``s = sigmoid(beta (p - vth))`` and the backward pass is then the exact gradient of that
smooth network (the finite-difference check of the tests).

Backward recursion (adjoints ``l_x = dL/dx``, ``a_u = 1 - d_u`` etc., from ``t = T-1`` down)::

    l_q[t] = O^T dL/do[t] + a_s l_q[t+1]
    l_s[t] = l_q[t+1] / tau_s + Wq^T l_a[t+1] - [not detached] p[t] l_v[t]
    l_v[t] = a_v l_p[t+1]
    l_p[t] = sigma'(p[t]) l_s[t] + (1 - s[t]) l_v[t]
    l_u[t] = l_p[t] + a_u l_u[t+1] ;   l_a[t] = l_u[t]
    dL/dbias = sum l_p ;  dL/dW = sum l_a[t] s[t-1]^T ;  dL/dU = sum l_a[t] zq[t-1]^T ;
    dL/dO = sum dL/do[t] q[t]^T
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..exporters.cuba import ExportError
from ..exporters.fixed_point import GRADED_MAX, population_scale, quantise_decay, quantise_weights
from ..tasknet import POPULATION, TaskNetwork
from ..training.optim import Adam, Schedule
from .mapping import to_cuba_lif, whiten_inputs

Params = Dict[str, np.ndarray]


@dataclass
class LoihiLIFModel:
    """The constants of the hardware network: decays per step (12-bit values), threshold,
    readout time constant in steps (``tau_s / dt``) and the step ``dt`` in seconds (a spike
    adds ``1 / tau_s`` in Hz to the readout trace, as :func:`brainkit.loihi.mapping.readout`
    does), the fixed-point input grid ``s_in``
    (inputs are multiples of ``1/s_in``; 0 = no input quantisation) and the surrogate's
    steepness ``beta`` (per unit of ``v``)."""

    d_u: float
    d_v: float
    vth: float = 1.0
    tau_s_steps: float = 10.0
    dt: float = 1e-3
    s_in: float = 0.0
    beta: float = 5.0
    detach_reset: bool = True


@dataclass
class HardwareTrace:
    """What the forward pass keeps for the backward pass: ``p``, ``s``, ``q`` of shape
    (T, B, N); readout ``o`` (B, T, n_out); the quantised parameters it ran with."""

    p: np.ndarray
    s: np.ndarray
    q: np.ndarray
    o: np.ndarray
    z: np.ndarray
    used: Params
    peaks: Dict[str, float] = field(default_factory=dict)


def forward(params: Params, z: np.ndarray, m: LoihiLIFModel, soft: bool = False,
            quantise: Optional[Callable[[Params], Params]] = None) -> HardwareTrace:
    """Run the hardware network on whitened inputs ``z`` (B, T, K); see the module docstring.

    ``quantise(params) -> params`` maps the weights to what the chip holds (identity if None).
    """
    used = quantise(params) if quantise is not None else dict(params)
    U, W, bias, O = used["U"], used["W"], used["bias"], used["O"]
    zq = np.round(z * m.s_in) / m.s_in if m.s_in else z
    B, T, _ = z.shape
    N = W.shape[0]
    au, av, a_s = 1.0 - m.d_u, 1.0 - m.d_v, 1.0 - 1.0 / m.tau_s_steps
    drive = np.einsum("btk,nk->tbn", zq, U)  # U zq[t], delivered at t + 1
    P = np.zeros((T, B, N))
    S = np.zeros((T, B, N))
    Q = np.zeros((T, B, N))
    u = np.zeros((B, N))
    v = np.zeros((B, N))
    q = np.zeros((B, N))
    s_prev = np.zeros((B, N))
    peak_u = peak_v = 0.0
    for t in range(T):
        a = (drive[t - 1] + s_prev @ W.T) if t > 0 else np.zeros((B, N))
        u = au * u + a
        p = av * v + u + bias
        if soft:
            s = 1.0 / (1.0 + np.exp(-m.beta * (p - m.vth)))
        else:
            s = (p > m.vth).astype(float)
        v = p * (1.0 - s)
        Q[t] = q
        q = a_s * q + s / (m.tau_s_steps * m.dt)
        P[t], S[t] = p, s
        s_prev = s
        peak_u = max(peak_u, float(np.max(np.abs(u), initial=0)))
        peak_v = max(peak_v, float(np.max(np.abs(p), initial=0)))
    o = np.einsum("tbn,kn->btk", Q, O)
    return HardwareTrace(P, S, Q, o, zq, used, {"u": peak_u, "v": peak_v})


def backward(trace: HardwareTrace, dL_do: np.ndarray, m: LoihiLIFModel, soft: bool = False) -> Params:
    """Gradients of the loss w.r.t. ``U, W, bias, O`` (of the quantised values, which the
    straight-through estimator passes on to the float ones); see the module docstring."""
    U, W, O = trace.used["U"], trace.used["W"], trace.used["O"]
    P, S, Q, zq = trace.p, trace.s, trace.q, trace.z
    T, B, N = P.shape
    au, av, a_s = 1.0 - m.d_u, 1.0 - m.d_v, 1.0 - 1.0 / m.tau_s_steps
    g_o = np.transpose(dL_do, (1, 0, 2))  # (T, B, n_out)
    dO = np.einsum("tbk,tbn->kn", g_o, Q)
    dW = np.zeros_like(W)
    dU = np.zeros_like(U)
    dbias = np.zeros(N)
    l_q_next = np.zeros((B, N))
    l_a_next = np.zeros((B, N))
    l_p_next = np.zeros((B, N))
    l_u_next = np.zeros((B, N))
    for t in range(T - 1, -1, -1):
        p, s = P[t], S[t]
        l_v = av * l_p_next
        l_s = l_q_next / (m.tau_s_steps * m.dt) + l_a_next @ W
        if soft or not m.detach_reset:
            l_s = l_s - p * l_v
        if soft:
            sig = s
            dsdp = m.beta * sig * (1.0 - sig)
        else:
            dsdp = 1.0 / (1.0 + m.beta * np.abs(p - m.vth)) ** 2
        l_p = dsdp * l_s + (1.0 - s) * l_v
        l_u = l_p + au * l_u_next
        dbias += l_p.sum(axis=0)
        if t > 0:
            dW += l_u.T @ S[t - 1]
            dU += l_u.T @ zq[:, t - 1, :]
        l_q = g_o[t] @ O + a_s * l_q_next
        l_q_next, l_a_next, l_p_next, l_u_next = l_q, l_u, l_p, l_u
    return {"U": dU, "W": dW, "bias": dbias, "O": dO}


# --------------------------------------------------------------------------- quantiser
def chip_quantiser(m: LoihiLIFModel, peak_state: float, bias_max: float = 0.0,
                   headroom: float = 2.0) -> Tuple[Callable[[Params], Params], Dict[str, Any]]:
    """The exporter's fixed-point mapping of the weights as a function ``params -> params``:
    the population scale ``lam`` that :func:`brainkit.exporters.fixed_point.to_fixed` picks
    for a state peak ``peak_state`` (and bias), then each matrix through its 8-bit + shared
    exponent quantiser and back to float units.  Returns the function and ``{lam, ...}``."""
    lam, which, vth_int = population_scale(m.vth, max(peak_state, m.vth), bias_max, headroom)
    s_in = m.s_in or 1.0

    def quantise(params: Params) -> Params:
        out = dict(params)
        out["W"] = quantise_weights(params["W"], lam / 64.0)
        out["U"] = quantise_weights(params["U"], lam / 64.0 / s_in)
        return out

    return quantise, {"scale": lam, "scale_limited_by": which, "vth_int": vth_int}


# --------------------------------------------------------------------------- training
@dataclass
class FinetuneResult:
    params: Params          # float parameters after fine-tuning
    quantised: Params       # what the chip holds (dequantised to float units)
    history: List[Dict[str, float]]
    seconds: float
    quantiser: Dict[str, Any]


def finetune(params: Params, task, m: LoihiLIFModel, steps: int = 600, batch: int = 32,
             lr: float = 0.01, seed: int = 0,
             report: Optional[Callable[[int, dict], None]] = None,
             requantise_every: int = 25, clip_norm: Optional[float] = None) -> FinetuneResult:
    """Adam on the surrogate gradient of ``task``'s loss, quantisation in the loop.

    ``params``: ``U`` (N, K), ``W`` (N, N) (post, pre), ``bias`` (N,), ``O`` (n_out, N), in
    the units of the float CUBA LIF (``v`` in units of the threshold).  Learning rates are
    relative to each parameter's initial spread (as in :func:`brainkit.training.tasks.lr_scale`).
    Every ``requantise_every`` steps the fixed-point scale is re-chosen from the state peaks
    seen, as the exporter will.  ``report(step, record)`` is called after every step.
    """
    rng = task.train_rng(seed + 7919)  # not the stream the float network was trained on
    params = {k: np.array(v, float) for k, v in params.items()}
    spread = {k: max(float(np.std(v)), 1e-3) for k, v in params.items()}
    opt = Adam(Schedule(lr, "cosine", total=steps, warmup=min(10, steps), lr_min=lr / 10),
               lr_scale=spread, clip_norm=clip_norm)
    peak = 4.0 * m.vth
    quantise, qinfo = chip_quantiser(m, peak, float(np.max(np.abs(params["bias"]))))
    history: List[Dict[str, float]] = []
    t0 = time.perf_counter()
    for k in range(1, steps + 1):
        b = task.sample(rng, batch)
        z = whiten_inputs(b.x, m.d_u)
        tr = forward(params, z, m, quantise=quantise)
        loss, dL_do = task.loss_fn(b)(tr.o)
        if not np.isfinite(loss):
            raise FloatingPointError(f"fine-tuning diverged at step {k}: loss {loss}")
        grads = backward(tr, dL_do, m)
        params = opt.step(params, grads)
        peak = max(tr.peaks["u"], tr.peaks["v"])
        if k % requantise_every == 0:
            quantise, qinfo = chip_quantiser(m, peak, float(np.max(np.abs(params["bias"]))))
        rec = {"step": k, "loss": float(loss), "score": float(task.score(tr.o, b)),
               "rate": float(tr.s.mean()), "peak_state": peak}
        history.append(rec)
        if report is not None:
            report(k, rec)
    return FinetuneResult(params, quantise(params), history, time.perf_counter() - t0, qinfo)


def params_from_network(net: TaskNetwork) -> Tuple[Params, LoihiLIFModel]:
    """The trainable parameters (``U``, ``W``, ``bias``, ``O``, all ``[post, pre]``) and the
    constants of a ``cuba_lif`` task network (:func:`brainkit.loihi.mapping.to_cuba_lif`)."""
    if net.neuron != "cuba_lif":
        raise ExportError(f"fine-tuning needs a 'cuba_lif' task network, not '{net.neuron}'")
    p = net.neuron_params
    params = {"U": net.U.copy(), "W": net.W.copy(), "bias": net.bias.copy(), "O": net.O.copy()}
    m = LoihiLIFModel(d_u=float(p["d_u"]), d_v=float(p["d_v"]), vth=float(p["vth"]),
                      tau_s_steps=net.readout_tau_s / net.dt, dt=net.dt, s_in=net.input_grid)
    return params, m


def score_on_chip(params: Params, task, m: LoihiLIFModel, seed: int, trials: int = 256,
             headroom: float = 2.0) -> Tuple[float, float, Params, Dict[str, Any]]:
    """The hardware network on ``trials`` held-out trials, quantised as the exporter will
    quantise it for them: its score, mean spikes per step and neuron, the chip's weights
    (in float units) and the quantiser's numbers."""
    b = task.test_batch(seed, trials)
    z = whiten_inputs(b.x, m.d_u)
    plain = forward(params, z, m)
    # 10 % above the peak seen: the exporter measures its own (float inputs, other trials)
    # and keeps this scale only where it still fits (to_fixed(population_scales=...))
    quantise, info = chip_quantiser(m, 1.1 * max(plain.peaks["u"], plain.peaks["v"]),
                                    float(np.max(np.abs(params["bias"]))), headroom)
    tr = forward(params, z, m, quantise=quantise)
    return float(task.score(tr.o, b)), float(tr.s.mean()), quantise(params), info


def finetune_file(network, out, steps: int = 600, lr: float = 0.01, batch: int = 32,
                  beta: float = 5.0, trials: int = 256, progress: bool = True) -> Dict[str, Any]:
    """``brainkit finetune``: map a trained task network to Loihi's CUBA LIF
    (:func:`brainkit.loihi.mapping.to_cuba_lif`), fine-tune it with quantisation in the
    loop (:func:`finetune`) and write ``out/network.h5`` (a ``cuba_lif`` task network holding
    the chip's weights, ready for ``brainkit export``), ``out/metrics.json`` (held-out score
    of the hardware network before and after, on ``trials`` trials) and ``out/finetune.png``.
    """
    from pathlib import Path

    from ..fileio import write_json
    from ..training.plots import loss_curve
    from ..tasknet import load_task_network, save_task_network
    from ..training.tasks import get_task

    out = Path(out)
    net = load_task_network(network)
    task = get_task(net.task)
    seed = net.seed
    lif = to_cuba_lif(net)
    params, m = params_from_network(lif)
    m.beta = beta
    where = f"{network}: population '{POPULATION}'"
    m.d_u = quantise_decay(m.d_u, 1, "current decay d_u", where, 0.05)[1]  # the chip's decays
    m.d_v = quantise_decay(m.d_v, 0, "voltage decay d_v", where, 0.05)[1]
    m.s_in = _input_grid(task, m.d_u)
    before, rate_before, _, _ = score_on_chip(params, task, m, seed, trials)
    every = max(steps // 10, 1)

    def report(k, rec):
        if progress and (k % every == 0 or k == steps):
            print(f"  finetune step {k}/{steps}: loss {rec['loss']:.4f}, batch score "
                  f"{rec['score']:.3f}, {rec['rate']:.3f} spikes/step", flush=True)

    res = finetune(params, task, m, steps=steps, batch=batch, lr=lr, seed=seed, report=report)
    after, rate_after, chip, final_q = score_on_chip(res.params, task, m, seed, trials)
    name = task.score_name
    metrics = {
        "task": task.name, "seed": seed, "network": str(network), "trials": trials,
        f"{name}_hardware_before": before, f"{name}_hardware_after": after,
        "spikes_per_step_before": rate_before, "spikes_per_step_after": rate_after,
        "steps": steps, "lr": lr, "batch": batch, "beta": beta, "seconds": res.seconds,
        "input_grid": m.s_in, "quantiser": final_q, "final_loss": res.history[-1]["loss"],
        "note": "scores of the CUBA LIF hardware network in brainkit (float map with the "
                "chip's weights and input grid); run `brainkit export --check` on network.h5 "
                "for Brian2 / Lava float / Lava fixed_pt"}
    tuned = dataclasses.replace(
        lif, U=chip["U"], W=chip["W"], bias=chip["bias"], O=chip["O"],
        neuron_params=dict(lif.neuron_params, d_u=m.d_u, d_v=m.d_v),
        input_grid=m.s_in, fixed_point_scales={POPULATION: final_q["scale"]},
        metadata=dict(lif.metadata, finetuned_from=str(network), score=after,
                      trained_by="brainkit finetune",
                      finetune={k: v for k, v in metrics.items()
                                if k not in ("network", "quantiser")}))
    out.mkdir(parents=True, exist_ok=True)
    save_task_network(out / "network.h5", tuned)
    loss_curve([h["loss"] for h in res.history], out / "finetune.png",
               title=f"{task.name}: hardware-aware fine-tuning (surrogate gradient)")
    write_json(out / "metrics.json", metrics)
    return metrics


def _input_grid(task, d_u: float) -> float:
    """The fixed-point input scale the exporter will pick (a power of 2 with the largest
    whitened input at most 127) for this task's inputs."""
    x = task.sample(np.random.default_rng(0), 64).x
    zmax = float(np.max(np.abs(whiten_inputs(x, d_u))))
    return 2.0 ** math.floor(math.log2(GRADED_MAX / zmax)) if zmax > 0 else 1.0
