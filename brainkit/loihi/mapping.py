"""Trained reset-free / gated-synapse networks (Huh & Sejnowski 2018) as CUBA LIF networks.

The trained network (``brainkit train``; forward Euler with step ``dt``), e.g. for the theta
neuron::

    tau dtheta/dt = (1 - cos theta) + (1 + cos theta) I,   I = W s + U x + I0
    tau_s ds/dt   = -s + g(theta) dtheta/dt,               o = O s

has no Loihi form: Lava's LIF has a linear leak, a reset and one synaptic current.  The
mapping (an approximation; its accuracy cost is measured, not assumed) works for any
reset-free neuron of the library (``theta``, ``rotator``, ...):

* gate width -> 0: the gated synapse becomes the threshold synapse, each spike adds
  ``1/tau_s`` to ``s`` (``int s dt = 1``, as the gated synapse delivers on a full crossing),
  ``s`` decays by ``1 - dt/tau_s`` per step (the trained Euler map), so ``d_u = dt/tau_s`` and
  a spike of neuron ``j`` adds ``d_v W[i, j] / tau_s`` to the current of neuron ``i``;
* neuron -> LIF with reset (``cuba_lif``): ``v[t+1] = (1 - d_v) v[t] + d_v (I + c)``, threshold
  1, reset 0.  ``d_v`` and ``c`` are fitted so that the discrete LIF's rate at constant input
  matches the trained neuron's rate (its own equations, threshold and reset, Euler with the
  trained ``dt``: :func:`neuron_rate`) over the range of inputs the trained network sees
  (least squares of rates on a grid);
* ``I0`` becomes the bias ``d_v (I0 + c)``; the analog input ``U x`` must not be filtered by
  the synaptic decay, so the input generator sends ``z[k] = x[k+1] - (1 - d_u) x[k]``
  (:func:`lif_inputs`): with Dense's one-step delay the current is then exactly
  ``d_v U x[k]`` at step ``k``;
* the readout ``o = O s`` is computed from the LIF spikes with the threshold-synapse ``s``
  (:func:`readout`).

Trials run side by side: ``batch`` copies of the network, block-diagonal weights (:func:`tile`).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Dict, Tuple

import numpy as np

from ..exporters.cuba import ExportError
from ..library import Model, evaluate_expression, load_model
from ..netfile import ConnectionSpec, InputSpec, NetworkSpec, PopulationSpec
from ..tasknet import TaskNetwork

#: the Loihi form: what :func:`to_cuba_lif` produces and fine-tuning trains
HARDWARE_NEURON, HARDWARE_SYNAPSE = "cuba_lif", "delta"


# ------------------------------------------------------------------ rates at constant input
def _si(value) -> Any:
    return float(value) if np.ndim(value) == 0 else np.asarray(value, dtype=float)


def neuron_rate(model: Model, I: np.ndarray, dt: float, steps: int = 4000) -> np.ndarray:
    """Spikes per step of the library neuron ``model`` at constant input ``I``: its Euler map
    (the right-hand sides sympy derives from its equations,
    :func:`brainkit.training.adjoint.derive_system`) from its initial state, spikes where its
    ``threshold`` holds, then its ``reset`` statements (``x = ...``, ``x += ...``)."""
    from ..training.adjoint import derive_system

    system = derive_system(model, load_model("gated"))
    I = np.asarray(I, dtype=float)
    names = {"pi": np.pi, "cos": np.cos, "sin": np.sin, "exp": np.exp, "log": np.log,
             "sqrt": np.sqrt, "floor": np.floor, "ceil": np.ceil, "abs": np.abs}
    names.update({k: _si(v) for k, v in model.parameters.items()})
    state = {k: np.full(I.shape, float(evaluate_expression(v, model.parameters)))
             for k, v in model.initial.items()}
    for k in system.states:  # the synapse trace too: rhs() takes every state
        state.setdefault(k, np.zeros(I.shape))
    resets = [_statement(line, model) for line in (model.reset or "").splitlines()
              if line.strip()]
    count = np.zeros(I.shape)
    for _ in range(steps):
        h = system.rhs(state, I)
        for k in system.states:
            state[k] = state[k] + dt * h[k]
        scope = dict(names, **state, **{model.input["name"]: I})
        spike = np.asarray(eval(model.threshold, {"__builtins__": {}}, scope), bool)  # noqa: S307
        count += spike
        for var, op, expr in resets:
            value = eval(expr, {"__builtins__": {}}, dict(scope, **state))  # noqa: S307
            state[var] = np.where(spike, state[var] + value if op == "+=" else value, state[var])
    return count / steps


def _statement(line: str, model: Model):
    m = re.fullmatch(r"\s*(\w+)\s*(\+=|=)\s*(.+?)\s*", line)
    if m is None:
        raise ExportError(f"neuron model '{model.name}': reset statement {line!r} is not "
                          "'x = ...' or 'x += ...'")
    return m.group(1), m.group(2), m.group(3)


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


def fit_lif(model: Model, dt: float, I_max: float) -> Tuple[float, float, float]:
    """``(d_v, c, rms rate error in spikes/step)`` of the LIF that best matches the rates of
    neuron ``model`` for constant inputs in ``[-0.5, I_max]`` (grid search: d_v log-spaced
    in [0.002, 0.5], c in [0, 2])."""
    I = np.linspace(-0.5, max(I_max, 0.5), 41)
    target = neuron_rate(model, I, dt, steps=2000)
    dvs = np.geomspace(0.002, 0.5, 40)
    cs = np.linspace(0.0, 2.0, 41)
    D, C, II = np.meshgrid(dvs, cs, I, indexing="ij")
    rates = lif_rate(II + C, D, steps=1000)
    err = np.sqrt(np.mean((rates - target) ** 2, axis=-1))
    a, b = np.unravel_index(np.argmin(err), err.shape)
    return float(dvs[a]), float(cs[b]), float(err[a, b])


# ------------------------------------------------------------------ the mapping
def to_cuba_lif(net: TaskNetwork, I_max: float = 3.0) -> TaskNetwork:
    """The ``cuba_lif`` task network approximating a trained reset-free/gated ``net`` (see the
    module docstring), with the mapping's numbers in ``metadata['mapping']``.  A network that
    is in the Loihi form already is returned as it is."""
    if net.neuron == HARDWARE_NEURON:
        return net
    if net.synapse != "gated":
        raise ExportError(f"a '{net.neuron}' task network maps to CUBA LIF through its gated "
                          f"synapses; this one has '{net.synapse}'")
    from brian2 import second

    model = load_model(net.neuron).with_parameters(**net.neuron_params)
    if model.reset and not model.differentiable:
        raise ExportError(f"neuron model '{net.neuron}' is not a reset-free model")
    dt, tau_s = net.dt, float(net.synapse_params["tau_s"] / second)
    d_v, c, err = fit_lif(model, dt, I_max)
    d_u = dt / tau_s
    if not 0 < d_u <= 1:
        raise ExportError(f"tau_s = {tau_s} s is shorter than dt = {dt} s")
    info = {"d_v": d_v, "c": c, "d_u": d_u, "fit_rms_rate_error_per_step": err,
            "tau_m_equivalent_s": -dt / math.log1p(-d_v), "batch": 1, "n": net.n_hidden,
            "n_in": net.n_in}
    meta = dict(net.metadata, mapped_from=f"{net.neuron}/{net.synapse}", mapping=info,
                input_transform="z[k] = x[k+1] - (1 - d_u) x[k]",
                readout_variable="s: +1/tau_s per spike, decays by 1 - dt/tau_s per step")
    return dataclasses.replace(
        net, U=net.U * d_v, W=net.W * d_v / tau_s, bias=d_v * (net.bias + c),
        neuron=HARDWARE_NEURON, synapse=HARDWARE_SYNAPSE, readout_tau_s=tau_s,
        neuron_params={"d_u": d_u, "d_v": d_v, "vth": 1.0}, synapse_params={},
        weight_unit="1", metadata=meta)


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
    return np.transpose(whiten_inputs(x, d_u), (1, 0, 2)).reshape(T, B * K)


def whiten_inputs(x: np.ndarray, d_u: float) -> np.ndarray:
    """Trial inputs ``x`` (B, T, K) -> the values the input generator sends (B, T, K),
    ``z[k] = x[k+1] - (1 - d_u) x[k]`` (``x`` after the last step = 0): with Dense's one-step
    delay the current is then ``u[t] = U x[t]`` exactly when ``x[0] = 0`` (trials start at
    rest)."""
    nxt = np.concatenate([x[:, 1:], np.zeros_like(x[:, :1])], axis=1)
    return nxt - (1.0 - d_u) * x


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

