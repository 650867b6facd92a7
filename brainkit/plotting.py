"""Plots of simulation results (matplotlib; files are written atomically, Axes returned)."""

from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np

from .fileio import atomic_write


def new_axes(ax):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    return ax


def save_figure(ax, path: str) -> str:
    """Write the figure holding ``ax`` to ``path`` atomically (temp file + rename)."""
    with atomic_write(path, suffix=os.path.splitext(path)[1] or ".png") as tmp:
        ax.figure.tight_layout()
        ax.figure.savefig(tmp, dpi=120)
    return path


def raster(results, population: str, ax=None, path: Optional[str] = None, **kwargs):
    """Spike raster (neuron index against time in ms) of one population."""
    from brian2 import ms

    ax = new_axes(ax)
    i, t = results.spikes[population]
    ax.plot(np.asarray(t / ms), i, "|", markersize=3, **kwargs)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"{population} neuron")
    ax.set_title(f"{population}: {len(i)} spikes")
    if path:
        save_figure(ax, path)
    return ax


def raster_populations(results, populations: Sequence, ax=None, every: int = 1,
                       path: Optional[str] = None):
    """Spike raster of several populations stacked on one axis (e.g. excitatory below
    inhibitory), every ``every``-th neuron.

    ``populations``: ``(name, index offset, colour)`` triples.
    """
    from brian2 import ms

    ax = new_axes(ax)
    for pop, offset, color in populations:
        i, t = results.spikes[pop]
        sel = i % every == 0
        ax.plot(np.asarray(t[sel] / ms), i[sel] + offset, ",", color=color)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron" if every == 1 else f"neuron (every {every}th)")
    if path:
        save_figure(ax, path)
    return ax


def traces(results, population: str, variable: str, ax=None, path: Optional[str] = None,
           neurons: Optional[Sequence[int]] = None):
    """State traces of recorded neurons, in the variable's own unit."""
    from brian2 import get_unit, ms

    ax = new_axes(ax)
    tr = results.traces[population]
    values, t = tr[variable], tr["t"]
    unit = get_unit(values.dim) if hasattr(values, "dim") else 1
    rows = range(values.shape[0]) if neurons is None else neurons
    for k in rows:
        ax.plot(np.asarray(t / ms), np.asarray(values[k] / unit),
                label=f"neuron {tr['index'][k]}", lw=1)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel(f"{variable} ({unit})")
    ax.legend(loc="upper right", fontsize=7)
    if path:
        save_figure(ax, path)
    return ax


def fi_curve(currents, rates, ax=None, path: Optional[str] = None, reference=None,
             label: str = "simulation"):
    """Firing rate against input current; ``reference`` (same length) is drawn as a line."""
    from brian2 import Hz, get_unit

    ax = new_axes(ax)
    unit = get_unit(currents.dim) if hasattr(currents, "dim") else 1
    x = np.asarray(currents / unit)
    ax.plot(x, np.asarray(rates / Hz), "o", ms=4, label=label)
    if reference is not None:
        ax.plot(x, np.asarray(reference / Hz), "-", label="analytic")
    ax.set_xlabel(f"input ({unit})")
    ax.set_ylabel("rate (Hz)")
    ax.legend()
    if path:
        save_figure(ax, path)
    return ax
