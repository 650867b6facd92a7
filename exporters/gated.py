"""Trained theta-neuron / gated-synapse networks (Huh & Sejnowski 2018) as CUBA LIF networks.

The trained network (``brainkit train``; forward Euler with step ``dt``)::

    tau dtheta/dt = (1 - cos theta) + (1 + cos theta) I,   I = W s + U x + I0
    tau_s ds/dt   = -s + g(theta) dtheta/dt,               o = O s

has no Loihi form: Lava's LIF has a linear leak, a reset and one synaptic current.  The
mapping (an approximation; its accuracy cost is measured, not assumed):

* gate width -> 0: the gated synapse becomes the threshold synapse, each spike adds
  ``1/tau_s`` to ``s`` (``int s dt = 1``, as the gated synapse delivers on a full crossing),
  ``s`` decays by ``1 - dt/tau_s`` per step (the trained Euler map), so ``d_u = dt/tau_s`` and
  a spike of neuron ``j`` adds ``d_v W[i, j] / tau_s`` to the current of neuron ``i``;
* theta -> LIF with reset (``cuba_lif``): ``v[t+1] = (1 - d_v) v[t] + d_v (I + c)``, threshold
  1, reset 0.  ``d_v`` and ``c`` are fitted so that the discrete LIF's rate at constant input
  matches the discrete theta neuron's rate (both simulated with the trained ``dt``) over the
  range of inputs the trained network sees (least squares of rates on a grid);
* ``I0`` becomes the bias ``d_v (I0 + c)``; the analog input ``U x`` must not be filtered by
  the synaptic decay, so the input generator sends ``z[k] = x[k+1] - (1 - d_u) x[k]``
  (:func:`lif_inputs`): with Dense's one-step delay the current is then exactly
  ``d_v U x[k]`` at step ``k``;
* the readout ``o = O s`` is computed from the LIF spikes with the threshold-synapse ``s``
  (:func:`readout`).

Trials run side by side: ``batch`` copies of the network, block-diagonal weights.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Tuple

import numpy as np

from brainkit.netfile import ConnectionSpec, InputSpec, NetworkSpec, PopulationSpec

from .cuba import ExportError


def _params(spec: NetworkSpec):
    from brian2 import second

    hidden = [p for p in spec.populations.values() if p.model == "theta"]
    if len(hidden) != 1 or len(spec.populations) != 1:
        raise ExportError("a gated network export needs exactly one population, of model "
                          f"'theta' (got {[(p.name, p.model) for p in spec.populations.values()]})")
    P = hidden[0]
    rec = [c for c in spec.connections.values() if c.pre == P.name and c.post == P.name]
    inp = [c for c in spec.connections.values() if c.pre in spec.inputs]
    if len(rec) != 1 or rec[0].synapse != "gated":
        raise ExportError(f"population '{P.name}': expected one recurrent 'gated' connection")
    if len(inp) != 1 or inp[0].synapse != "current":
        raise ExportError(f"population '{P.name}': expected one 'current' input projection")
    dt = float(spec.dt / second)
    tau = float(P.parameters["tau"] / second)
    tau_s = float(rec[0].parameters["tau_s"] / second)
    I0 = np.asarray(P.parameters.get("I0", np.zeros(P.n)), float) * np.ones(P.n)
    return P, rec[0], inp[0], dt, tau, tau_s, I0


def theta_rate(I: np.ndarray, dt: float, tau: float, steps: int = 4000) -> np.ndarray:
    """Spikes per step of the Euler-discretised theta neuron at constant input ``I``."""
    th = np.full(np.shape(I), -np.pi / 2)
    nxt = np.full(np.shape(I), np.pi)
    count = np.zeros(np.shape(I))
    for _ in range(steps):
        th = th + dt / tau * ((1 - np.cos(th)) + (1 + np.cos(th)) * I)
        k = th > nxt
        count += k
        nxt = np.where(k, nxt + 2 * np.pi * np.ceil((th - nxt) / (2 * np.pi)), nxt)
    return count / steps


def lif_rate(J: np.ndarray, d_v, steps: int = 4000) -> np.ndarray:
    """Spikes per step of ``v <- (1 - d_v) v + d_v J``, spike at v > 1, reset to 0
    (``d_v`` broadcasts against ``J``)."""
    J, d_v = np.broadcast_arrays(np.asarray(J, float), np.asarray(d_v, float))
    v = np.zeros(J.shape)
    count = np.zeros(J.shape)
    for _ in range(steps):
        v = (1 - d_v) * v + d_v * J
        k = v > 1
        count += k
        v[k] = 0
    return count / steps


def fit_lif(dt: float, tau: float, I_max: float) -> Tuple[float, float, float]:
    """``(d_v, c, rms rate error in spikes/step)`` of the LIF that best matches the theta
    neuron's rates for constant inputs in ``[-0.5, I_max]`` (grid search: d_v log-spaced in
    [0.002, 0.5], c in [0, 2])."""
    I = np.linspace(-0.5, max(I_max, 0.5), 41)
    target = theta_rate(I, dt, tau, steps=2000)
    dvs = np.geomspace(0.002, 0.5, 40)
    cs = np.linspace(0.0, 2.0, 41)
    D, C, II = np.meshgrid(dvs, cs, I, indexing="ij")
    rates = lif_rate(II + C, D, steps=1000)
    err = np.sqrt(np.mean((rates - target) ** 2, axis=-1))
    a, b = np.unravel_index(np.argmin(err), err.shape)
    return float(dvs[a]), float(cs[b]), float(err[a, b])


def map_to_cuba_lif(spec: NetworkSpec, batch: int = 1, I_max: float = 3.0
                    ) -> Tuple[NetworkSpec, Dict[str, Any]]:
    """The ``cuba_lif`` network (``batch`` block-diagonal copies) approximating a trained
    theta/gated ``spec``, and the mapping ``info`` (fitted d_v, c, d_u, rate error)."""
    from brainkit.library import load_model

    P, rec, inp, dt, tau, tau_s, I0 = _params(spec)
    d_v, c, err = fit_lif(dt, tau, I_max)
    d_u = dt / tau_s
    if not 0 < d_u <= 1:
        raise ExportError(f"tau_s = {tau_s} s is shorter than dt = {dt} s")
    n, n_in = P.n, spec.inputs[inp.pre].n
    eye = np.eye(batch)
    W = np.asarray(rec.weights, float) * d_v / tau_s  # (pre, post), brainkit orientation
    U = np.asarray(inp.weights, float) * d_v
    m = load_model("cuba_lif")
    out = NetworkSpec(dt=spec.dt, metadata=dict(spec.metadata, mapped_from="theta/gated",
                                                batch=batch))
    out.inputs["in"] = InputSpec("in", n_in * batch, "current")
    out.populations["hidden"] = PopulationSpec(
        "hidden", "cuba_lif", n * batch, m.equations, m.threshold, m.reset, None, m.method,
        {"d_u": d_u, "d_v": d_v, "vth": 1.0},
        {"u": 0.0, "v": 0.0, "bias": np.tile(d_v * (I0 + c), batch)})
    out.connections["in->hidden"] = ConnectionSpec("in->hidden", "in", "hidden", "current",
                                                   np.kron(eye, U), "1", {})
    out.connections["hidden->hidden"] = ConnectionSpec("hidden->hidden", "hidden", "hidden",
                                                       "delta", np.kron(eye, W), "1", {})
    info = {"d_v": d_v, "c": c, "d_u": d_u, "fit_rms_rate_error_per_step": err,
            "tau_m_equivalent_s": -dt / math.log1p(-d_v), "batch": batch, "n": n,
            "n_in": n_in}
    return out, info


def task_network(spec: NetworkSpec) -> NetworkSpec:
    """One copy of the CUBA LIF mapping of a trained theta/gated task network, complete: its
    readout ``O`` (applied to the threshold-synapse trace), and in ``metadata`` the task,
    seed, ``readout_tau_s``, the input transform and the mapping (:func:`map_to_cuba_lif`).
    A ``cuba_lif`` task network (e.g. fine-tuned, :mod:`brainkit.training.hardware`) is
    returned as it is."""
    if _is_cuba_task(spec):
        return spec
    mapped, info = map_to_cuba_lif(spec, batch=1)
    _, rec, _, _, _, tau_s, _ = _params(spec)
    mapped.readouts = dict(spec.readouts)
    mapped.metadata.update(mapping=info, readout_tau_s=tau_s,
                           input_transform="z[k] = x[k+1] - (1 - d_u) x[k]",
                           readout_variable="s: +1/tau_s per spike, decays by 1 - dt/tau_s "
                                            "per step")
    mapped.metadata.pop("batch", None)
    return mapped


def _is_cuba_task(spec: NetworkSpec) -> bool:
    meta = spec.metadata if isinstance(spec.metadata, dict) else {}
    return ("readout_tau_s" in meta and len(spec.populations) == 1
            and next(iter(spec.populations.values())).model == "cuba_lif")


def tile(spec: NetworkSpec, batch: int) -> NetworkSpec:
    """``batch`` independent copies of a one-population task network side by side (trials
    run in parallel): populations and inputs ``batch`` times larger, block-diagonal weights
    (copy ``b`` = neurons ``b n .. (b+1) n - 1``); readouts are left out (applied per copy
    by :func:`readout`)."""
    eye = np.eye(batch)
    out = NetworkSpec(dt=spec.dt, metadata=dict(spec.metadata, batch=batch))
    for name, i in spec.inputs.items():
        out.inputs[name] = InputSpec(name, i.n * batch, i.kind, dict(i.parameters))
    for name, P in spec.populations.items():
        init = {k: (np.tile(np.asarray(v), batch) if np.ndim(v) == 1 else v)
                for k, v in P.initial.items()}
        params = {k: (np.tile(np.asarray(v), batch) if np.ndim(v) == 1 else v)
                  for k, v in P.parameters.items()}
        out.populations[name] = PopulationSpec(name, P.model, P.n * batch, P.equations,
                                               P.threshold, P.reset, P.refractory, P.method,
                                               params, init)
    for name, c in spec.connections.items():
        out.connections[name] = ConnectionSpec(name, c.pre, c.post, c.synapse,
                                               np.kron(eye, np.asarray(c.weights)),
                                               c.weight_unit, dict(c.parameters))
    return out


def lif_inputs(x: np.ndarray, d_u: float) -> np.ndarray:
    """Trials ``x`` (batch, steps, n_in) -> input generator values (steps, batch * n_in):
    ``z[k] = x[k+1] - (1 - d_u) x[k]`` (``x`` after the last step = 0)."""
    B, T, K = x.shape
    nxt = np.concatenate([x[:, 1:], np.zeros((B, 1, K))], axis=1)
    z = nxt - (1 - d_u) * x
    return np.transpose(z, (1, 0, 2)).reshape(T, B * K)


def readout(spikes: np.ndarray, O: np.ndarray, dt: float, tau_s: float, batch: int
            ) -> np.ndarray:
    """``o = O s`` (batch, steps, n_out) from spikes (steps, batch * n): ``s`` at the start of
    step ``k`` = sum over earlier spikes of ``(1 - dt/tau_s)^(k-1-k_spike) / tau_s``."""
    T = spikes.shape[0]
    n = spikes.shape[1] // batch
    s = np.zeros(spikes.shape[1])
    o = np.zeros((batch, T, O.shape[0]))
    a = 1 - dt / tau_s
    for k in range(T):
        o[:, k] = (O @ s.reshape(batch, n).T).T
        s = a * s + spikes[k] / tau_s
    return o


def theta_accuracy_brian2(spec: NetworkSpec, task, batch) -> Tuple[float, np.ndarray,
                                                                   np.ndarray]:
    """Score of the trained theta/gated network itself, simulated by Brian2 (runtime) through
    :class:`brainkit.training.recurrent.RecurrentSNN` on the trials ``batch``; also its
    readout and spikes as ``(steps, batch * n)`` (the layout of the mapped network)."""
    from brian2 import second

    from brainkit.training.recurrent import RecurrentSNN

    P, rec, inp, dt, tau, tau_s, I0 = _params(spec)
    r = next(iter(spec.readouts.values()))
    B = batch.x.shape[0]
    model = RecurrentSNN(spec.inputs[inp.pre].n, P.n, r.weights.shape[0], batch.x.shape[1],
                         batch=B, dt=dt * second, neuron="theta", synapse="gated",
                         neuron_params={"tau": P.parameters["tau"],
                                        "gate_width": P.parameters["gate_width"]},
                         synapse_params={"tau_s": rec.parameters["tau_s"]}, backend="runtime")
    try:
        params = {"U": np.asarray(inp.weights).T, "W": np.asarray(rec.weights).T,
                  "O": np.asarray(r.weights), "I0": I0}
        trace = model.forward(params, batch.x)
    finally:
        model.close()
    T = batch.x.shape[1]
    spikes = np.zeros((T, B * P.n), bool)
    for b, (i, k) in enumerate(trace.spikes):
        spikes[np.asarray(k, int), b * P.n + np.asarray(i, int)] = True
    return float(task.score(trace.o, batch)), trace.o, spikes
