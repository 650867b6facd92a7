"""A :class:`~brainkit.netfile.NetworkSpec` from a :class:`brainkit.Network` description, and
back to a Brian2 simulation (the float reference the Lava export is compared with).

Input values of a spec (spike trains, Poisson draws, analog channels) come from
:func:`brainkit.exporters.inputs.input_values`.

Time steps: Lava's step ``t`` (1-based) is Brian2's step ``k = t - 1`` (time ``k dt``); every
array of spikes or input values here has one row per step, row ``k`` = Brian2 step ``k`` =
Lava step ``k + 1``.  In both simulators a spike at row ``k`` acts on its targets' input at row
``k + 1`` (Brian2: ``on_pre`` runs after the state update; Lava: Dense delivers one step
later).  An analog input value of row ``k`` reaches Lava's ``u`` at row ``k + 1``, so the
Brian2 stimulus is the input shifted down by one row.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from .netfile import (ConnectionSpec, InputSpec, NetworkFileError, NetworkSpec,
                              PopulationSpec)


def _unit_name(x) -> str:
    from brian2 import get_unit
    from brian2.units.fundamentalunits import get_dimensions

    dim = get_dimensions(x)
    return "1" if dim.is_dimensionless else repr(get_unit(dim))


def spec_from_network(net, metadata: Optional[Dict[str, Any]] = None) -> NetworkSpec:
    """Describe a (built or not) :class:`brainkit.Network` as a :class:`NetworkSpec`:
    populations with their model's equations and parameters, spike/Poisson sources as inputs
    (their spikes or rates in ``InputSpec.parameters``), connections as dense (n_pre, n_post)
    weight matrices in SI units.  What a network file cannot hold (delays, renewal sources,
    stimulus currents, Brian2 objects added with ``poisson_input``, ``run_regularly`` or
    ``add``) is refused with a :class:`NetworkFileError` naming it, never left out."""
    from brian2 import Quantity

    lost = [f"connection '{n}': delays" for n, c in net.connections.items()
            if c.delay is not None and np.any(np.asarray(c.delay, dtype=float) != 0)]
    lost += [f"source '{n}': a {s.kind} source" for n, s in net.sources.items()
             if s.kind not in ("spikes", "poisson")]
    lost += [f"population '{n}': a stimulus current" for n, p in net.populations.items()
             if p.stimulus is not None]
    for what, objects in (("poisson_input", getattr(net, "poisson_inputs", {})),
                          ("run_regularly", getattr(net, "regular", {})),
                          ("add", getattr(net, "factories", {}))):
        lost += [f"{what} '{n}'" for n in objects]
    if lost:
        raise NetworkFileError("a network file cannot hold " + "; ".join(lost))
    spec = NetworkSpec(dt=net.dt, metadata=dict(metadata or {}))
    for name, src in net.sources.items():
        params: Dict[str, Any] = {}
        if src.kind == "spikes":
            params = {"indices": np.asarray(src.indices, dtype=float), "times": src.times}
        elif src.kind == "poisson":
            params = {"rates": src.rates}
        spec.inputs[name] = InputSpec(name, src.n, src.kind, params)
    for name, pop in net.populations.items():
        m = pop.model
        initial = dict(m.initial)
        initial.update(pop.init)
        spec.populations[name] = PopulationSpec(
            name=name, model=m.name, n=pop.n, equations=m.equations, threshold=m.threshold,
            reset=m.reset, refractory=None if m.refractory is None else str(m.refractory),
            method=m.method, parameters=dict(m.parameters), initial=initial)
    for name, c in net.connections.items():
        if c.plasticity is not None:
            raise NetworkFileError(f"connection '{name}': plastic synapses cannot be saved as a "
                                   "fixed weight matrix")
        if c.weights is None:
            raise NetworkFileError(f"connection '{name}' has no weights")
        npre, npost = net.size(c.pre), net.size(c.post)
        W = np.zeros((npre, npost))
        w = c.weights
        unit = _unit_name(w)
        values = np.asarray(w / (1 if unit == "1" else _evaluate_unit(unit)), dtype=float)
        if values.ndim == 2:
            W[c.i, c.j] = values[c.local_indices]
        else:
            np.add.at(W, (c.i, c.j), np.broadcast_to(values, c.i.shape))
        params = {k: v for k, v in c.synapse.parameters.items()
                  if isinstance(v, (Quantity, float, int))}
        spec.connections[name] = ConnectionSpec(name, c.pre, c.post, c.synapse.name, W, unit,
                                                params)
    spec.validate("network")
    return spec


def _evaluate_unit(unit: str):
    from .library import evaluate_expression

    return evaluate_expression(unit, {})


def simulate_brian2(spec: NetworkSpec, inputs: Dict[str, np.ndarray], steps: int,
                    backend: str = "runtime", codegen_target: str = "numpy",
                    record: Optional[Dict[str, list]] = None):
    """Simulate ``spec`` in Brian2 (through :class:`brainkit.Network`) for ``steps`` steps
    with the input channel values ``inputs`` (as from :func:`brainkit.exporters.inputs.input_values`).

    Returns ``(spikes, results)``: ``{population: (steps, n) bool}`` and the
    :class:`brainkit.Results` (with the network's ``timings``)."""
    net = build_network(spec, inputs, steps, backend=backend, codegen_target=codegen_target)
    for p in spec.populations:
        net.record(p, "spikes")
    for p, variables in (record or {}).items():
        net.record(p, variables)
    res = net.run(steps * spec.dt)
    spikes = {}
    for p, P in spec.populations.items():
        i, t = res.spikes[p]
        rows = np.round(np.asarray(t / spec.dt, dtype=float)).astype(int)
        s = np.zeros((steps, P.n), bool)
        s[rows, i] = True
        spikes[p] = s
    return spikes, res


def build_network(spec: NetworkSpec, inputs: Dict[str, np.ndarray], steps: int,
                  backend: str = "runtime", codegen_target: str = "numpy", seed=None):
    """A :class:`brainkit.Network` of ``spec``: spike/Poisson inputs become spike generators
    with exactly the spikes of ``inputs``; analog ('current') inputs a stimulus ``x @ W``
    into their target, one step later (see the module docstring)."""
    from .network import Network
    from .library import load_model

    net = Network(dt=spec.dt, backend=backend, codegen_target=codegen_target, seed=seed)
    for name, inp in spec.inputs.items():
        if inp.kind == "current":
            continue
        rows, idx = np.nonzero(np.asarray(inputs[name])[:steps])
        net.spike_source(name, inp.n, idx, rows * spec.dt)
    for name, P in spec.populations.items():
        model = load_model(P.model)
        params = {k: v for k, v in P.parameters.items() if k in model.parameters}
        init = {k: v for k, v in P.initial.items()}
        net.population(name, model, P.n, params=params, init=init)
    stim: Dict[str, np.ndarray] = {}
    for c in spec.connections.values():
        if c.pre in spec.inputs and spec.inputs[c.pre].kind == "current":
            x = np.asarray(inputs[c.pre], dtype=float)[:steps]
            drive = np.zeros((steps, spec.populations[c.post].n))
            drive[1:] = x[:-1] @ np.asarray(c.weights)
            stim[c.post] = stim.get(c.post, 0) + drive
            continue
        unit = 1 if c.weight_unit in ("1", "") else _evaluate_unit(c.weight_unit)
        syn = load_model(c.synapse)
        params = {k: v for k, v in c.parameters.items() if k in syn.parameters}
        net.connect(c.pre, c.post, syn, weights=np.asarray(c.weights) * unit,
                    params=params or None, name=c.name)
    for pop, drive in stim.items():
        unit = load_model(spec.populations[pop].model).input["unit"]
        net.current_input(pop, drive * (1 if unit == "1" else _evaluate_unit(unit)))
    return net
