"""Losses on the readout ``o`` of a recurrent network, each returning ``(loss, dloss_do)``.

The readout of a trial batch is an array ``o`` of shape ``(batch, steps, n_out)`` (one row per
recorded time step).  A loss is a scalar function of ``o``; the exact adjoint of the simulation
(:meth:`brainkit.training.recurrent.RecurrentSNN.loss_and_grad`) needs its gradient
``dloss_do`` with the shape of ``o``, so every loss here returns both.

Windows and masks select which time steps count: a mask is an array of ``(batch, steps)``
(or ``(batch, steps, n_out)``) non-negative weights, usually 0/1.

==================== =========================================================================
:func:`mse`           masked mean squared error between readout and target
:func:`cross_entropy` softmax cross-entropy of the time-averaged readout over a window
:func:`window_mean`   the time-averaged readout over a window (the logits of cross-entropy)
==================== =========================================================================
"""

from __future__ import annotations

from typing import Tuple

import numpy as np


class LossError(ValueError):
    """A loss was given arrays of the wrong shape or with invalid values."""


def _check_o(o) -> np.ndarray:
    o = np.asarray(o, dtype=np.float64)
    if o.ndim != 3:
        raise LossError(f"readout o must have shape (batch, steps, n_out), got shape {o.shape}")
    return o


def _mask3(mask, shape, name="mask") -> np.ndarray:
    """Broadcast a (batch, steps) or (batch, steps, n_out) mask to ``shape``."""
    if mask is None:
        return np.ones(shape)
    m = np.asarray(mask, dtype=np.float64)
    if m.ndim == 2:
        if m.shape != shape[:2]:
            raise LossError(f"{name} of shape {m.shape} does not match (batch, steps) = {shape[:2]}")
        m = np.broadcast_to(m[:, :, None], shape)
    elif m.shape != shape:
        raise LossError(f"{name} of shape {m.shape} does not match the readout's shape {shape}")
    if not np.all(np.isfinite(m)) or np.any(m < 0):
        raise LossError(f"{name} must hold finite non-negative weights")
    return m


def mse(o, target, mask=None) -> Tuple[float, np.ndarray]:
    r"""Masked mean squared error of the readout.

    .. math::

        L = \frac{\sum_{b,t,k} m_{btk}\,(o_{btk} - y_{btk})^2}{\sum_{b,t,k} m_{btk}},
        \qquad
        \frac{\partial L}{\partial o_{btk}} = \frac{2\, m_{btk}\,(o_{btk} - y_{btk})}
        {\sum m}

    Parameters
    ----------
    o : array (batch, steps, n_out)
        Readout.
    target : array (batch, steps, n_out)
        Target ``y`` (values outside the mask are ignored, they may be NaN).
    mask : array (batch, steps) or (batch, steps, n_out), optional
        Weights ``m`` of the time steps (a (batch, steps) mask applies to every output).
        Default: every entry counts.

    Returns
    -------
    loss : float
    dloss_do : array like ``o``
    """
    o = _check_o(o)
    y = np.asarray(target, dtype=np.float64)
    if y.shape != o.shape:
        raise LossError(f"target of shape {y.shape} does not match the readout's shape {o.shape}")
    m = _mask3(mask, o.shape)
    total = m.sum()
    if total <= 0:
        raise LossError("mask selects no time step: the loss would be 0/0")
    diff = np.where(m > 0, o - np.where(m > 0, y, 0.0), 0.0)
    loss = float(np.sum(m * diff * diff) / total)
    return loss, 2.0 * m * diff / total


def window_mean(o, window) -> np.ndarray:
    r"""Time average of the readout over a window, per trial.

    .. math:: z_{bk} = \frac{\sum_t w_{bt}\, o_{btk}}{\sum_t w_{bt}}

    Parameters
    ----------
    o : array (batch, steps, n_out)
    window : array (batch, steps)
        Non-negative weights ``w`` (1 inside the window, 0 outside); every trial needs a
        non-empty window.

    Returns
    -------
    z : array (batch, n_out)
    """
    o = _check_o(o)
    w = _mask3(window, o.shape, "window")[:, :, 0]
    count = w.sum(axis=1)
    if np.any(count <= 0):
        bad = np.flatnonzero(count <= 0)
        raise LossError(f"window is empty for trial(s) {bad.tolist()}")
    return np.einsum("bt,btk->bk", w, o) / count[:, None]


def cross_entropy(o, labels, window) -> Tuple[float, np.ndarray]:
    r"""Softmax cross-entropy of the time-averaged readout over a window.

    With the window average :math:`z_{bk}` of :func:`window_mean` as logits,

    .. math::

        p_{bk} = \frac{e^{z_{bk}}}{\sum_j e^{z_{bj}}}, \qquad
        L = -\frac{1}{B}\sum_b \log p_{b,c_b}, \qquad
        \frac{\partial L}{\partial o_{btk}} = \frac{w_{bt}}{\sum_{t'} w_{bt'}}\,
        \frac{p_{bk} - [k = c_b]}{B}

    Parameters
    ----------
    o : array (batch, steps, n_out)
        Readout; ``n_out`` is the number of classes.
    labels : int array (batch,)
        Class ``c_b`` of each trial, in ``0 .. n_out-1``.
    window : array (batch, steps)
        Time steps over which the readout is averaged (the answer window).

    Returns
    -------
    loss : float
    dloss_do : array like ``o``
    """
    o = _check_o(o)
    B, T, K = o.shape
    labels = np.asarray(labels)
    if labels.shape != (B,):
        raise LossError(f"labels must have shape (batch,) = ({B},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= K:
        raise LossError(f"labels must be integers in 0..{K - 1} (one per readout channel)")
    if K < 2:
        raise LossError("cross-entropy needs at least 2 readout channels (classes)")
    z = window_mean(o, window)
    zs = z - z.max(axis=1, keepdims=True)
    logp = zs - np.log(np.exp(zs).sum(axis=1, keepdims=True))
    loss = float(-np.mean(logp[np.arange(B), labels]))
    dz = np.exp(logp)
    dz[np.arange(B), labels] -= 1.0
    dz /= B
    w = np.asarray(window, dtype=np.float64)
    w = w / w.sum(axis=1, keepdims=True)
    return loss, w[:, :, None] * dz[:, None, :]


def nmse(o, target, mask=None) -> float:
    r"""Normalised mean squared error :math:`\sum m (o-y)^2 / \sum m (y - \bar y)^2`.

    ``\bar y`` is the masked mean of the target per output channel, so NMSE = 1 is what the
    best constant readout scores and 0 is a perfect reproduction.  ``o`` and ``target`` are
    readouts (batch, steps, n_out) or two signals (steps,).
    """
    if np.ndim(o) == 1:
        o, target = np.asarray(o, dtype=np.float64), np.asarray(target, dtype=np.float64)
        if o.shape != target.shape:
            raise LossError(f"nmse: output {o.shape} and target {target.shape} must have the "
                            "same shape")
        o, target = o[None, :, None], target[None, :, None]
    o = _check_o(o)
    y = np.asarray(target, dtype=np.float64)
    if y.shape != o.shape:
        raise LossError(f"target of shape {y.shape} does not match the readout's shape {o.shape}")
    m = _mask3(mask, o.shape)
    ybar = (m * np.where(m > 0, y, 0)).sum(axis=(0, 1)) / m.sum(axis=(0, 1))
    yy = np.where(m > 0, y, 0.0)
    num = np.sum(m * (o - yy) ** 2)
    den = np.sum(m * (yy - ybar) ** 2)
    if den <= 0:
        raise LossError("target has no variance inside the mask: NMSE is undefined")
    return float(num / den)
