r"""Adam, gradient clipping by global norm and learning-rate schedules, in numpy.

Parameters and gradients are dicts ``{name: np.ndarray}`` (e.g. ``U, W, O, I0`` of a
:class:`~brainkit.training.recurrent.RecurrentSNN`).  Every object here can be written to and
restored from a flat dict of arrays and JSON-able scalars (:meth:`Adam.state_dict`,
:meth:`Adam.load_state_dict`), so a checkpointed run resumes bit for bit.

Adam (D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
Algorithm 1), for each parameter array with gradient :math:`g_t` at step :math:`t = 1, 2, ...`:

.. math::

    m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t \\
    v_t &= \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2 \\
    \hat m_t &= m_t / (1-\beta_1^t), \qquad \hat v_t = v_t / (1-\beta_2^t) \\
    \theta_t &= \theta_{t-1} - \alpha_t\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

with :math:`\alpha_t` the learning rate of the schedule at step :math:`t`.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

Params = Dict[str, np.ndarray]


class OptimError(ValueError):
    """Bad optimiser settings, or gradients that do not match the parameters."""


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    r"""Euclidean norm of all gradients together, :math:`\sqrt{\sum_k \|g_k\|^2}`."""
    return float(math.sqrt(sum(float(np.sum(np.square(g))) for g in grads.values())))


def clip_by_global_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> Tuple[Params, float]:
    r"""Scale all gradients by one factor so that their global norm is at most ``max_norm``.

    .. math:: g_k \leftarrow g_k \cdot \min\left(1, \frac{c}{\|g\|}\right), \qquad
              \|g\| = \sqrt{\sum_k \|g_k\|^2}

    Returns the clipped gradients (new arrays) and the norm before clipping.  A non-finite
    norm is returned as is with the gradients unchanged: the caller decides what to do.
    """
    if not (max_norm > 0):
        raise OptimError(f"max_norm must be > 0, got {max_norm}")
    norm = global_norm(grads)
    if not np.isfinite(norm) or norm <= max_norm:
        return {k: np.array(g, dtype=np.float64) for k, g in grads.items()}, norm
    scale = max_norm / norm
    return {k: np.asarray(g, dtype=np.float64) * scale for k, g in grads.items()}, norm


class Schedule:
    r"""Learning rate as a function of the step :math:`t = 1, 2, \ldots`.

    ``kind``:

    ``'constant'``   :math:`\alpha_t = \alpha`
    ``'cosine'``     linear warm-up over ``warmup`` steps, then
                     :math:`\alpha_t = \alpha_{min} + \frac{1}{2}(\alpha - \alpha_{min})
                     (1 + \cos(\pi\, \frac{t - t_w}{T - t_w}))` until ``total`` steps
    ``'step'``       :math:`\alpha_t = \alpha\, \gamma^{\lfloor t / s \rfloor}` (``gamma``,
                     ``every`` = s)
    """

    KINDS = ("constant", "cosine", "step")

    def __init__(self, lr: float, kind: str = "constant", total: Optional[int] = None,
                 warmup: int = 0, lr_min: float = 0.0, gamma: float = 0.5, every: int = 1000):
        if kind not in self.KINDS:
            raise OptimError(f"unknown schedule '{kind}': choose one of {', '.join(self.KINDS)}")
        if not (lr > 0) or not np.isfinite(lr):
            raise OptimError(f"learning rate must be a finite number > 0, got {lr}")
        if kind == "cosine" and (total is None or total < 1):
            raise OptimError("a cosine schedule needs total >= 1 steps")
        if warmup < 0 or every < 1:
            raise OptimError("warmup must be >= 0 and every >= 1")
        self.lr, self.kind, self.total, self.warmup = float(lr), kind, total, int(warmup)
        self.lr_min, self.gamma, self.every = float(lr_min), float(gamma), int(every)

    def __call__(self, t: int) -> float:
        if self.warmup and t <= self.warmup:
            return self.lr * t / self.warmup
        if self.kind == "constant":
            return self.lr
        if self.kind == "step":
            return self.lr * self.gamma ** (t // self.every)
        span = max(self.total - self.warmup, 1)
        frac = min(max(t - self.warmup, 0) / span, 1.0)
        return self.lr_min + 0.5 * (self.lr - self.lr_min) * (1.0 + math.cos(math.pi * frac))

    def to_dict(self) -> dict:
        return dict(lr=self.lr, kind=self.kind, total=self.total, warmup=self.warmup,
                    lr_min=self.lr_min, gamma=self.gamma, every=self.every)

    @classmethod
    def from_dict(cls, d: Mapping) -> "Schedule":
        return cls(**d)


class Adam:
    r"""Adam optimiser (Kingma & Ba 2015) over a dict of numpy arrays.

    Parameters
    ----------
    lr : float or Schedule
        Learning rate :math:`\alpha` (a float is a constant schedule).
    beta1, beta2, eps : float
        Moment decay rates and the denominator's guard, as in the paper (defaults 0.9,
        0.999, 1e-8).
    clip_norm : float, optional
        Clip gradients by global norm (:func:`clip_by_global_norm`) before the update.
    lr_scale : dict, optional
        Per-parameter factor on the learning rate, ``{name: c}`` (default 1).  Adam's step is
        about :math:`\alpha` in absolute units whatever the gradient's size, so parameters of
        very different magnitudes (weights in seconds next to dimensionless currents) need
        their own step size; ``c`` = the parameter's typical magnitude makes the update that
        of Adam on the normalised parameter ``p / c``.

    Examples
    --------
    >>> opt = Adam(1e-2)
    >>> params = opt.step(params, grads)      # returns new arrays, inputs are not modified
    """

    def __init__(self, lr=1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 clip_norm: Optional[float] = None,
                 lr_scale: Optional[Mapping[str, float]] = None):
        self.schedule = lr if isinstance(lr, Schedule) else Schedule(lr)
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise OptimError(f"betas must lie in [0, 1), got beta1={beta1}, beta2={beta2}")
        if not (eps > 0):
            raise OptimError(f"eps must be > 0, got {eps}")
        if clip_norm is not None and not (clip_norm > 0):
            raise OptimError(f"clip_norm must be > 0 or None, got {clip_norm}")
        self.beta1, self.beta2, self.eps, self.clip_norm = beta1, beta2, eps, clip_norm
        self.lr_scale = {k: float(v) for k, v in (lr_scale or {}).items()}
        if any(not (v > 0) for v in self.lr_scale.values()):
            raise OptimError(f"lr_scale factors must be > 0, got {self.lr_scale}")
        self.t = 0
        self.m: Params = {}
        self.v: Params = {}
        self.last_norm: Optional[float] = None

    def step(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> Params:
        """One Adam update; returns new parameter arrays (``params`` is not modified)."""
        if set(grads) != set(params):
            raise OptimError(f"gradients for {sorted(grads)} do not match parameters "
                             f"{sorted(params)}")
        for k in params:
            if np.shape(grads[k]) != np.shape(params[k]):
                raise OptimError(f"gradient '{k}' has shape {np.shape(grads[k])}, parameter "
                                 f"has {np.shape(params[k])}")
        if self.clip_norm is not None:
            grads, self.last_norm = clip_by_global_norm(grads, self.clip_norm)
        else:
            self.last_norm = global_norm(grads)
        self.t += 1
        lr = self.schedule(self.t)
        b1, b2 = self.beta1, self.beta2
        out: Params = {}
        for k in sorted(params):
            g = np.asarray(grads[k], dtype=np.float64)
            m = self.m.get(k, np.zeros_like(g))
            v = self.v.get(k, np.zeros_like(g))
            m = b1 * m + (1.0 - b1) * g
            v = b2 * v + (1.0 - b2) * (g * g)
            mhat = m / (1.0 - b1 ** self.t)
            vhat = v / (1.0 - b2 ** self.t)
            self.m[k], self.v[k] = m, v
            step = (lr * self.lr_scale.get(k, 1.0)) * mhat / (np.sqrt(vhat) + self.eps)
            out[k] = np.asarray(params[k], dtype=np.float64) - step
        return out

    # -- serialisation -------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Flat dict: ``'m/<name>'``, ``'v/<name>'`` arrays and JSON-able settings."""
        d = {f"m/{k}": v for k, v in self.m.items()}
        d.update({f"v/{k}": v for k, v in self.v.items()})
        d["config"] = dict(beta1=self.beta1, beta2=self.beta2, eps=self.eps,
                           clip_norm=self.clip_norm, t=self.t, lr_scale=self.lr_scale,
                           schedule=self.schedule.to_dict())
        return d

    def load_state_dict(self, d: Mapping) -> None:
        """Restore the state written by :meth:`state_dict` (settings included)."""
        if "config" not in d:
            raise OptimError("optimiser state has no 'config' entry: not written by Adam")
        c = d["config"]
        self.beta1, self.beta2, self.eps = c["beta1"], c["beta2"], c["eps"]
        self.clip_norm, self.t = c["clip_norm"], int(c["t"])
        self.lr_scale = {k: float(v) for k, v in c.get("lr_scale", {}).items()}
        self.schedule = Schedule.from_dict(c["schedule"])
        self.m = {k[2:]: np.array(v, dtype=np.float64) for k, v in d.items() if k.startswith("m/")}
        self.v = {k[2:]: np.array(v, dtype=np.float64) for k, v in d.items() if k.startswith("v/")}

    @classmethod
    def from_state_dict(cls, d: Mapping) -> "Adam":
        opt = cls()
        opt.load_state_dict(d)
        return opt
