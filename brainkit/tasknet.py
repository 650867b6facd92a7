"""The trained task network: the one contract between training, the Loihi mapping and export.

A task network is one recurrent population ``hidden`` of ``N`` library neurons driven by ``K``
analog input channels and read out linearly::

    I = W r + U x(t) + bias          (per neuron; r: what the recurrent synapse carries)
    o = O r_out                       (readout of the synapse trace, time constant readout_tau)

**Orientation, once for all:** every matrix is ``[post, pre]`` (row = receiving neuron), as
:class:`~brainkit.training.recurrent.RecurrentSNN`'s parameters and Lava's ``Dense``:
``U`` (N, K), ``W`` (N, N), ``O`` (n_out, N), ``bias`` (N,).  The network file
(:mod:`brainkit.netfile`) stores connections ``(n_pre, n_post)``; :meth:`TaskNetwork.to_spec`
and :meth:`TaskNetwork.from_spec` are the only places that transpose.

Two kinds are written by brainkit: a trained reset-free neuron with gated synapses
(``brainkit train``: neuron ``theta`` or ``rotator``, synapse ``gated``, ``bias`` = the model
input offset ``I0``) and its Loihi form (``brainkit finetune``: neuron ``cuba_lif``, synapse
``delta``, ``bias`` = the model's per-neuron ``bias``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np

from .netfile import (ConnectionSpec, InputSpec, NetworkFileError, NetworkSpec, PopulationSpec,
                      ReadoutSpec)

#: names of the parts of a task network in its file
INPUT, POPULATION, READOUT = "in", "hidden", "out"
INPUT_CONNECTION, RECURRENT_CONNECTION = "in->hidden", "hidden->hidden"
#: metadata keys that are typed fields of :class:`TaskNetwork`
TYPED_KEYS = ("task", "seed", "readout_tau_s", "input_grid", "fixed_point_scales")


@dataclass
class TaskNetwork:
    """A trained recurrent task network (see the module docstring for the equations).

    Attributes
    ----------
    U, W, O, bias : ndarray
        Input (N, K), recurrent (N, N), readout (n_out, N) weights, ``[post, pre]``; the
        per-neuron input offset (N,).  Plain floats in the units of the models (SI).
    neuron, synapse : str
        Library model names of the population and of the recurrent connection.
    dt : float
        Time step in seconds.
    neuron_params, synapse_params : dict
        The models' parameters with units (trained time constants included).
    task : str
        Task name (:func:`brainkit.training.tasks.get_task`).
    seed : int
        Seed of the run that trained it (held-out trials come from its test stream).
    readout_tau_s : float
        Time constant in seconds of the readout trace.
    weight_unit : str
        Brian2 unit of ``W`` (``'second'`` for a gated synapse into a dimensionless input).
    input_grid : float
        Inputs are multiples of ``1/input_grid`` on the chip (0: not quantised).
    fixed_point_scales : dict
        ``{population: scale}`` the network was fine-tuned with (Loihi's integer units per
        unit of ``v``).
    metadata : dict
        Everything else (score, losses, settings, mapping), JSON-able.
    """

    U: np.ndarray
    W: np.ndarray
    O: np.ndarray
    bias: np.ndarray
    neuron: str
    synapse: str
    dt: float
    task: str
    readout_tau_s: float
    seed: int = 0
    neuron_params: Dict[str, Any] = field(default_factory=dict)
    synapse_params: Dict[str, Any] = field(default_factory=dict)
    weight_unit: str = "1"
    input_grid: float = 0.0
    fixed_point_scales: Dict[str, float] = field(default_factory=dict)
    metadata: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.U, self.W, self.O = (np.asarray(a, dtype=float) for a in (self.U, self.W, self.O))
        N = self.W.shape[0] if self.W.ndim == 2 else -1
        self.bias = np.asarray(self.bias, dtype=float) * np.ones(max(N, 0))
        shapes = {"W": (N, N), "U": (N, self.U.shape[-1]), "O": (self.O.shape[0], N),
                  "bias": (N,)}
        for k, shape in shapes.items():
            a = getattr(self, k)
            if N < 1 or a.shape != shape:
                raise NetworkFileError(f"task network: {k} has shape {a.shape}, expected "
                                       f"{shape} ([post, pre])")
            if not np.all(np.isfinite(a)):
                raise NetworkFileError(f"task network: {k} contains NaN or inf")
        if not self.readout_tau_s > 0:
            raise NetworkFileError(f"task network: readout_tau_s = {self.readout_tau_s} must be "
                                   "> 0 s")

    @property
    def n_hidden(self) -> int:
        return int(self.W.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.U.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.O.shape[0])

    # ------------------------------------------------------------------ file contract
    def to_spec(self) -> NetworkSpec:
        """The network as a :class:`~brainkit.netfile.NetworkSpec` (input ``in``, population
        ``hidden`` with the library model's equations, connections ``in->hidden`` and
        ``hidden->hidden`` stored ``(n_pre, n_post)``, readout ``out`` of the trace ``s``)."""
        from brian2 import second

        from .library import load_model

        nm = load_model(self.neuron).with_parameters(**self.neuron_params)
        sm = load_model(self.synapse).with_parameters(**self.synapse_params)
        params, initial = dict(nm.parameters), dict(nm.initial)
        if _bias_is_state(nm):
            initial["bias"] = self.bias.copy()
        else:
            params["I0"] = self.bias.copy()
        meta = dict(self.metadata, task=self.task, seed=int(self.seed),
                    readout_tau_s=float(self.readout_tau_s))
        if self.input_grid:
            meta["input_grid"] = float(self.input_grid)
        if self.fixed_point_scales:
            meta["fixed_point_scales"] = {k: float(v) for k, v in self.fixed_point_scales.items()}
        spec = NetworkSpec(dt=self.dt * second, metadata=meta)
        spec.inputs[INPUT] = InputSpec(INPUT, self.n_in, "current")
        spec.populations[POPULATION] = PopulationSpec(
            POPULATION, nm.name, self.n_hidden, nm.equations, nm.threshold, nm.reset,
            None if nm.refractory is None else str(nm.refractory), nm.method, params, initial)
        spec.connections[INPUT_CONNECTION] = ConnectionSpec(
            INPUT_CONNECTION, INPUT, POPULATION, "current", self.U.T.copy(), "1", {})
        spec.connections[RECURRENT_CONNECTION] = ConnectionSpec(
            RECURRENT_CONNECTION, POPULATION, POPULATION, sm.name, self.W.T.copy(),
            self.weight_unit, dict(sm.parameters))
        spec.readouts[READOUT] = ReadoutSpec(READOUT, POPULATION, "s", self.O.copy(), None)
        spec.validate("task network")
        return spec

    @classmethod
    def from_spec(cls, spec: NetworkSpec, where: str = "network") -> "TaskNetwork":
        """Read a task network back from a spec (a file written by ``brainkit train`` or
        ``brainkit finetune``, or any one-population network of that shape with metadata
        ``task``); :class:`~brainkit.netfile.NetworkFileError` names what is missing."""
        from brian2 import second

        from .library import load_model

        meta = dict(spec.metadata) if isinstance(spec.metadata, dict) else {}
        if "task" not in meta:
            raise NetworkFileError(f"{where}: not a task network (no metadata 'task')")
        if len(spec.populations) != 1 or len(spec.inputs) != 1 or len(spec.readouts) != 1:
            raise NetworkFileError(f"{where}: a task network has one population, one input and "
                                   f"one readout (got {list(spec.populations)}, "
                                   f"{list(spec.inputs)}, {list(spec.readouts)})")
        P = next(iter(spec.populations.values()))
        inp = [c for c in spec.connections.values() if c.pre in spec.inputs]
        rec = [c for c in spec.connections.values() if c.pre == P.name and c.post == P.name]
        if len(inp) != 1 or inp[0].synapse != "current" or len(rec) != 1:
            raise NetworkFileError(f"{where}: population '{P.name}' needs one 'current' input "
                                   "connection and one recurrent connection")
        nm = load_model(P.model)
        if _bias_is_state(nm):
            bias = P.initial.get("bias", 0.0)
        else:
            bias = P.parameters.get("I0", 0.0)
        neuron_params = {k: v for k, v in P.parameters.items() if k in nm.parameters}
        synapse_params = dict(rec[0].parameters)
        tau = meta.get("readout_tau_s")
        if tau is None and "tau_s" in synapse_params:
            tau = float(synapse_params["tau_s"] / second)
        if tau is None:
            raise NetworkFileError(f"{where}: no readout time constant (metadata "
                                   "'readout_tau_s' or the synapse's tau_s)")
        r = next(iter(spec.readouts.values()))
        return cls(U=np.asarray(inp[0].weights, float).T, W=np.asarray(rec[0].weights, float).T,
                   O=np.asarray(r.weights, float), bias=bias, neuron=P.model,
                   synapse=rec[0].synapse, dt=float(spec.dt / second), task=str(meta["task"]),
                   readout_tau_s=float(tau), seed=int(meta.get("seed", 0)),
                   neuron_params=neuron_params, synapse_params=synapse_params,
                   weight_unit=rec[0].weight_unit,
                   input_grid=float(meta.get("input_grid", 0.0) or 0.0),
                   fixed_point_scales=dict(meta.get("fixed_point_scales") or {}),
                   metadata={k: v for k, v in meta.items() if k not in TYPED_KEYS})


def is_task_network(spec: NetworkSpec) -> bool:
    """Whether ``spec`` says it is a task network (metadata ``task``)."""
    return isinstance(spec.metadata, dict) and "task" in spec.metadata


def _bias_is_state(model) -> bool:
    """A model with a per-neuron ``bias`` variable (``cuba_lif``) takes the offset there;
    the others take it as the parameter ``I0`` added to their input."""
    return "bias" in model.initial


def load_task_network(path) -> TaskNetwork:
    """:class:`TaskNetwork` of a network file (:func:`brainkit.netfile.load_network`)."""
    from .netfile import load_network

    return TaskNetwork.from_spec(load_network(path), where=str(path))


def save_task_network(path, net: TaskNetwork) -> None:
    """Write ``net`` as a network file, atomically."""
    from .netfile import save_network

    save_network(path, net.to_spec())


__all__ = ["TaskNetwork", "is_task_network", "load_task_network", "save_task_network"]
