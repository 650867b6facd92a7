"""Simulation results: spikes and state traces as arrays with Brian2 units."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

import numpy as np


def copy_out(values):
    """A copy (with units) of an array read from a Brian2 object.

    Brian2 >= 2.10 keeps a standalone network's arrays in C++ memory that is freed with the
    Network (and refilled by its next run): a view kept from ``mon.t[:]`` or
    ``var.get_value()`` silently turns into garbage.  Everything brainkit keeps is read
    through this function."""
    from brian2.units.fundamentalunits import Quantity

    if isinstance(values, Quantity):
        return Quantity(np.array(values, dtype=values.dtype, copy=True), dim=values.dim)
    return np.array(values, copy=True)


@dataclass
class Results:
    """What a :meth:`brainkit.Network.run` recorded.

    Attributes
    ----------
    spikes : dict
        ``{population: (indices, times)}``: neuron indices (int array) and spike times
        (Quantity); of the neurons ``record(..., indices=...)`` chose, with their own indices
        in the population.
    traces : dict
        ``{population: {variable: values}}``: values of shape (recorded neurons, samples), with
        units; ``traces[pop]['t']`` holds the sample times and ``traces[pop]['index']`` the
        recorded neuron indices.
    sizes : dict
        ``{population: number of neurons}``.
    duration : Quantity
    weights : dict
        ``{connection: w}``: every synapse's weight at the end of the run (one value per
        synapse, in the order of the connection's ``i``, ``j``); with a plasticity rule these
        are the learned weights.
    timings : dict
        seconds spent compiling (standalone, first run only) and running.
    """

    spikes: Dict[str, Tuple[np.ndarray, Any]] = field(default_factory=dict)
    traces: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    sizes: Dict[str, int] = field(default_factory=dict)
    duration: Any = None
    timings: Dict[str, float] = field(default_factory=dict)
    weights: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def collect(cls, network, objects) -> "Results":
        res = cls(timings=dict(network.timings))
        for name, g in objects["groups"].items():
            res.sizes[name] = len(g)
        for name, S in objects.get("synapses", {}).items():
            w = objects.get("weight_var", {}).get(name, "w")  # 'w_syn' where a neuron owns 'w'
            if w in S.variables:
                res.weights[name] = copy_out(getattr(S, w)[:])
        for target, what, mon in objects["monitors"]:
            if what == "spikes":
                i, t = copy_out(mon.i[:]).astype(int), copy_out(mon.t[:])
                keep = objects.get("spike_indices", {}).get(target)
                if keep is not None:  # only these neurons, numbered as in the population
                    i = i + int(getattr(mon.source, "start", 0))  # a subgroup's first neuron
                    chosen = np.isin(i, keep)
                    i, t = i[chosen], t[chosen]
                res.spikes[target] = (i, t)
            else:
                tr = res.traces.setdefault(target, {})
                tr[what] = copy_out(getattr(mon, what)[:])
                tr["t"] = copy_out(mon.t[:])
                tr["index"] = np.asarray(mon.record, dtype=int) if not isinstance(
                    mon.record, bool) else np.arange(len(objects["groups"][target]))
        return res

    def spike_counts(self, population: str) -> np.ndarray:
        """Number of spikes of every neuron of ``population``."""
        i, _ = self.spikes[population]
        return np.bincount(i, minlength=self.sizes[population])

    def spike_trains(self, population: str):
        """``{neuron index: spike times}`` (Quantity arrays)."""
        i, t = self.spikes[population]
        return {k: t[i == k] for k in range(self.sizes[population])}

    def rates(self, population: str, duration):
        """Mean firing rate of every neuron over ``duration`` (Quantity in Hz)."""
        return self.spike_counts(population) / duration
