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
    t_start : Quantity
        the network time the run started at (0 unless it continued an earlier run); spike
        and sample times are the network's times.
    weights : dict
        ``{connection: w}``: every synapse's weight at the end of the run (one value per
        synapse, in the order of the connection's ``i``, ``j``); with a plasticity rule these
        are the learned weights.
    timings : dict
        seconds spent compiling (standalone, first run only) and running.
    population_rates : dict
        ``{population: (t, rate)}`` of ``record(population, 'rate')`` (a Brian2
        ``PopulationRateMonitor``): the fraction of the neurons spiking in each time step,
        divided by ``dt`` (Quantity in Hz), at the step times ``t``.  (``rates()`` is the
        mean rate of every neuron; :meth:`smooth_rate` smooths these as Brian2 does.)
    extra : dict
        ``{name: read-back}`` of the objects ``Network.add(factory, name)`` made: for every
        monitor the factory returned (in its structure: one object, a list, or a dict), its
        recorded variables as copies with units (see :func:`read_monitor`); None for other
        objects.
    dt : Quantity
        the network's time step.
    """

    spikes: Dict[str, Tuple[np.ndarray, Any]] = field(default_factory=dict)
    traces: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    sizes: Dict[str, int] = field(default_factory=dict)
    duration: Any = None
    timings: Dict[str, float] = field(default_factory=dict)
    weights: Dict[str, Any] = field(default_factory=dict)
    population_rates: Dict[str, Tuple[Any, Any]] = field(default_factory=dict)
    extra: Dict[str, Any] = field(default_factory=dict)
    dt: Any = None
    t_start: Any = None

    @classmethod
    def collect(cls, network, objects, t_from: float = 0.0) -> "Results":
        """The results of a run: ``objects``' monitors read back (copies), those of a run
        that continued Brian2 objects (runtime) from time ``t_from`` (seconds) on."""
        res = cls(timings=dict(network.timings), dt=network.dt)
        eps = 1e-3 * float(network.dt)

        def since(t):  # the samples of this run
            return np.asarray(t, dtype=float) >= t_from - eps

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
                now = since(t)
                res.spikes[target] = (i[now], t[now])
            elif what == "rate" and target not in objects.get("synapses", {}):
                t = copy_out(mon.t[:])
                now = since(t)
                res.population_rates[target] = (t[now], copy_out(mon.rate[:])[now])
            else:
                tr = res.traces.setdefault(target, {})
                t = copy_out(mon.t[:])
                now = since(t)
                tr[what] = copy_out(getattr(mon, mon.record_variables[0])[:])[..., now]
                tr["t"] = t[now]
                tr["index"] = np.asarray(mon.record, dtype=int) if not isinstance(
                    mon.record, bool) else np.arange(len(objects["groups"][target]))
        for name, made in objects.get("extra", {}).items():
            res.extra[name] = _read_back(made)
        return res

    def smooth_rate(self, population: str, window="gaussian", width=None):
        """The population rate of ``population`` (``record(population, 'rate')``) smoothed
        as Brian2's ``PopulationRateMonitor.smooth_rate(window, width)`` does.

        Parameters
        ----------
        window : str or array
            ``'gaussian'`` (``width`` is its standard deviation, the window spans +- 2
            widths), ``'flat'`` (``width`` rounded to an odd number of steps), or an array of
            an odd number of weights (normalised to sum 1).
        width : Quantity, optional
            For a named window.

        Returns
        -------
        Quantity (Hz), one value per recorded step (the times of ``population_rates``).
        """
        from brian2 import Hz
        from brian2.units.fundamentalunits import Quantity

        if population not in self.population_rates:
            raise KeyError(f"no population rate of '{population}' was recorded "
                           f"(record('{population}', 'rate'))")
        if width is None and isinstance(window, str):
            raise TypeError("smooth_rate: a named window needs a width")
        if width is not None and not isinstance(window, str):
            raise TypeError("smooth_rate: a width is only for a named window")
        dt = float(self.dt)
        if isinstance(window, str):
            if window == "gaussian":
                n = int(np.round(2 * float(width) / dt))
                window = np.exp(-(np.arange(-n, n + 1) ** 2) * 1.0
                                / (2 * (float(width) / dt) ** 2))
            elif window == "flat":
                window = np.ones(int(np.round(float(width) / (2 * dt))) * 2 + 1)
            else:
                raise NotImplementedError(f"smooth_rate: unknown window '{window}'")
        else:
            window = np.asarray(window, dtype=float)
            if window.ndim != 1 or len(window) % 2 != 1:
                raise TypeError("smooth_rate: the window must be 1-D with an odd length")
        rate = np.asarray(self.population_rates[population][1] / Hz, dtype=float)
        return Quantity(np.convolve(rate, window / window.sum(), mode="same"), dim=Hz.dim)

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


def read_monitor(mon):
    """Copies (with units) of what a Brian2 monitor recorded, as a dict.

    ``SpikeMonitor`` / ``EventMonitor``: ``'i'``, ``'t'``, ``'count'`` and any other recorded
    variables; ``StateMonitor``: ``'t'``, ``'index'`` (the recorded indices) and each variable
    as ``mon.<var>`` gives it, of shape (recorded, samples); ``PopulationRateMonitor``:
    ``'t'``, ``'rate'``.  Anything else: None."""
    import brian2

    if isinstance(mon, brian2.PopulationRateMonitor):
        return {"t": copy_out(mon.t[:]), "rate": copy_out(mon.rate[:])}
    if isinstance(mon, brian2.EventMonitor):  # SpikeMonitor too
        out = {v: copy_out(getattr(mon, v)[:]) for v in sorted(mon.record_variables)}
        out["count"] = copy_out(mon.count[:])
        return out
    if isinstance(mon, brian2.StateMonitor):
        out = {"t": copy_out(mon.t[:])}
        out["index"] = (np.arange(len(mon.source)) if isinstance(mon.record, bool)
                        else np.asarray(mon.record, dtype=int))
        for v in mon.record_variables:
            out[v] = copy_out(getattr(mon, v)[:])
        return out
    return None


def _read_back(made):
    """``made`` (one object, a list/tuple or a dict of them) with every monitor read back."""
    if isinstance(made, dict):
        return {k: _read_back(v) for k, v in made.items()}
    if isinstance(made, (list, tuple)):
        return [_read_back(v) for v in made]
    return read_monitor(made)
