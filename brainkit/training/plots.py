"""Plots of a training run: loss curve, raster of hidden spikes, readout vs target.

Each function draws into ``ax`` (a new figure if None), writes a PNG to ``path`` when given
(atomically, through :func:`brainkit.plotting.save_figure`) and returns the Axes.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..plotting import new_axes, save_figure


def loss_curve(losses: Sequence[float], path=None, ax=None, title: str = "training loss"):
    """Loss per training step (log scale) with a 20-step running mean."""
    ax = new_axes(ax)
    y = np.asarray(losses, dtype=float)
    steps = np.arange(1, len(y) + 1)
    ax.plot(steps, y, lw=0.6, alpha=0.5, label="per step")
    if len(y) >= 20:
        k = np.ones(20) / 20
        ax.plot(steps[19:], np.convolve(y, k, mode="valid"), lw=1.5, label="mean of 20")
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=8)
    if path:
        save_figure(ax, str(path))
    return ax


def spike_raster(trace, path=None, trial: int = 0, dt: float = 1e-3, ax=None,
                 title: Optional[str] = None):
    """Spikes of the hidden neurons in one trial of a :class:`Trace` (``trace.spikes``), with
    the trial's input channels drawn underneath (scaled to the bottom tenth)."""
    ax = new_axes(ax)
    i, n = trace.spikes[trial]
    N = trace.s.shape[2]
    ax.plot(np.asarray(n) * dt * 1e3, i, "|", markersize=3, color="k")
    x = trace.x[trial]
    t = np.arange(x.shape[0]) * dt * 1e3
    span = max(np.abs(x).max(), 1e-12)
    for k in range(x.shape[1]):
        ax.plot(t, -0.08 * N * (k + 1) + 0.035 * N * x[:, k] / span, lw=1, label=f"input {k}")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("hidden neuron")
    ax.set_title(title or f"hidden spikes, trial {trial}: {len(i)} spikes")
    ax.legend(loc="upper right", fontsize=7)
    if path:
        save_figure(ax, str(path))
    return ax


def readout(o: np.ndarray, batch, task, path=None, ax=None):
    """Readout of a few trials against the target (auto-encoding) or with the answer window
    shaded and the correct class marked (XOR)."""
    import matplotlib.pyplot as plt

    n = len(o)
    if ax is None:
        fig, axs = plt.subplots(n, 1, figsize=(7, 1.8 * n + 0.6), sharex=True, squeeze=False)
        axs = axs[:, 0]
    else:
        axs = [ax] * n
    t = np.arange(o.shape[1]) * task.dt * 1e3
    for b in range(n):
        a = axs[b]
        for k in range(o.shape[2]):
            line, = a.plot(t, o[b, :, k], lw=1.2, label=f"readout {k}")
            if batch.target is not None:
                a.plot(t, batch.target[b, :, k], "--", lw=1, color=line.get_color(),
                       label=f"target {k}")
        m = batch.mask[b] > 0
        if batch.labels is not None:
            a.fill_between(t, 0, 1, where=m, transform=a.get_xaxis_transform(), alpha=0.15,
                           color="gray")
            a.set_title(f"trial {b}: signs {batch.info['signs'][b].astype(int).tolist()}, "
                        f"answer class {int(batch.labels[b])}", fontsize=8)
        a.set_ylabel("o")
    axs[0].legend(loc="upper left", fontsize=7, ncol=2)
    axs[-1].set_xlabel("time (ms)")
    if path:
        save_figure(axs[0], str(path))
    return axs[0]
