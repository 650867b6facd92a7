"""Training tasks for recurrent spiking networks (Huh & Sejnowski 2018, section 4).

A task generates trial batches (inputs, targets, masks), builds the loss of a batch and scores
a readout.  Every generator draws from a :class:`numpy.random.Generator` handed in, so a seed
fixes the data; the held-out test set comes from its own seed stream
(:meth:`Task.test_batch`), never from the training stream.

=================== ==========================================================================
:class:`Autoencode` reproduce a smooth random multi-dimensional input signal at the readout;
                    scored by the NMSE on held-out signals
:class:`DelayedXOR` two +/- input pulses separated by random delays longer than every time
                    constant of the network, then a go cue: answer XOR of the two signs;
                    scored by the accuracy on held-out trials
=================== ==========================================================================

Each task also carries the network and optimiser settings it was tuned with
(:attr:`Task.hyper`, documented in the class docstrings), the ``full`` and ``quick`` variants
that ``brainkit train TASK [--quick]`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from .losses import cross_entropy, mse, nmse, window_mean


class TaskError(ValueError):
    """A task was configured wrongly (bad delays, sizes, ...)."""


@dataclass
class Batch:
    """A batch of trials.

    Attributes
    ----------
    x : array (batch, steps, n_in)
        Input current channels (dimensionless, multiplied by the input weights ``U``).
    target : array (batch, steps, n_out) or None
        Target readout (auto-encoding).
    mask : array (batch, steps)
        Time steps that count in the loss (the answer window for XOR).
    labels : int array (batch,) or None
        Class of each trial (XOR: 1 when the two pulses have different signs).
    info : dict
        Per-trial details (delays, pulse signs, ...) for plots and tests.
    """

    x: np.ndarray
    mask: np.ndarray
    target: Optional[np.ndarray] = None
    labels: Optional[np.ndarray] = None
    info: Dict[str, np.ndarray] = field(default_factory=dict)


class Task:
    """Base class: see :class:`Autoencode` and :class:`DelayedXOR`."""

    name = "task"
    metric = "metric"  # name of the held-out score in metrics.json
    n_in = n_out = steps = 0
    dt = 1e-3  # seconds

    @property
    def score_name(self) -> str:
        """The held-out score's name without the ``test_`` prefix (``accuracy``, ``nmse``)."""
        return self.metric.replace("test_", "")

    def sample(self, rng: np.random.Generator, batch: int) -> Batch:  # pragma: no cover
        raise NotImplementedError

    def loss_fn(self, batch: Batch) -> Callable[[np.ndarray], tuple]:  # pragma: no cover
        """``loss_fn(o) -> (loss, dloss_do)`` for the readout ``o`` of ``batch``."""
        raise NotImplementedError

    def score(self, o: np.ndarray, batch: Batch) -> float:  # pragma: no cover
        raise NotImplementedError

    def chance(self) -> float:  # pragma: no cover
        """The score of a network that learnt nothing (the bar to beat)."""
        raise NotImplementedError

    def test_batch(self, seed: int, batch: int) -> Batch:
        """Held-out trials: drawn from the seed stream ``(seed, 1)``; training uses ``(seed, 0)``."""
        return self.sample(np.random.default_rng(np.random.SeedSequence([seed, 1])), batch)

    @staticmethod
    def train_rng(seed: int) -> np.random.Generator:
        """The training data stream of ``seed`` (independent of :meth:`test_batch`)."""
        return np.random.default_rng(np.random.SeedSequence([seed, 0]))

    def _check_batch(self, batch: int) -> None:
        if int(batch) != batch or batch < 1:
            raise TaskError(f"{self.name}: batch must be a positive integer, got {batch}")


# --------------------------------------------------------------------------- auto-encoding
def smooth_signal(rng: np.random.Generator, batch: int, steps: int, channels: int,
                  sigma_steps: float, amplitude: float = 1.0) -> np.ndarray:
    r"""Smooth Gaussian random signals: white noise filtered by a Gaussian kernel.

    .. math:: x(t) = A \sum_k \kappa(k)\, \xi(t - k), \quad
              \kappa(k) \propto e^{-k^2 / 2\sigma^2}, \quad \sum_k \kappa(k)^2 = 1

    with :math:`\xi` unit white noise, so :math:`x` is stationary with zero mean, standard
    deviation :math:`A` and autocorrelation :math:`e^{-\tau^2/4\sigma^2}`.

    Returns an array ``(batch, steps, channels)``.
    """
    if sigma_steps <= 0:
        raise TaskError(f"sigma_steps must be > 0, got {sigma_steps}")
    half = int(np.ceil(4 * sigma_steps))
    k = np.arange(-half, half + 1)
    kern = np.exp(-0.5 * (k / sigma_steps) ** 2)
    kern /= np.sqrt(np.sum(kern ** 2))
    noise = rng.standard_normal((batch, steps + 2 * half, channels))
    # 'valid' convolution along time for every trial and channel
    out = np.empty((batch, steps, channels))
    for b in range(batch):
        for c in range(channels):
            out[b, :, c] = np.convolve(noise[b, :, c], kern, mode="valid")
    return amplitude * out


class Autoencode(Task):
    r"""Auto-encoding: the readout must reproduce a smooth random input signal.

    The input is ``n_in = n_out = channels`` smooth Gaussian signals (:func:`smooth_signal`)
    fed as currents :math:`U x(t)`; the target of the readout :math:`o = O s` is the input
    itself, :math:`o^*(t) = x(t)`, the *predictive coding / auto-encoding* task of Huh &
    Sejnowski (2018).  The loss is the mean squared error after a ``washout`` (the network
    starts from rest and cannot be judged before it has responded); the score is the
    normalised MSE :math:`\sum (o - x)^2 / \sum (x - \bar x)^2` on held-out signals
    (0 = perfect; 1 = what the best constant readout scores).

    Settings and why (``dt = 1 ms``):

    * ``sigma = 50 ms`` correlation width of the signal, five times the synaptic time
      constant ``tau_s = 10 ms``: the readout is a sum of traces ``s`` that lag the drive by
      about ``tau_s``, and a lag ``d`` alone costs an NMSE of
      :math:`2(1 - e^{-d^2/4\sigma^2})` (0.12 at ``sigma = 20 ms``, 0.02 at 50 ms), so the
      signal must be slow against ``tau_s`` for NMSE <= 0.05 to be reachable; a 300 ms trial
      still holds ~6 independent stretches;
    * amplitude 1, 2 channels: needs neurons tuned to both signs of both channels;
    * ``washout = 30 ms`` = three time constants (the network starts from rest);
    * network and optimiser: see :data:`~brainkit.training.tasks.HYPER`.
    """

    name = "autoencode"
    metric = "test_nmse"

    def __init__(self, channels: int = 2, steps: int = 300, dt: float = 1e-3,
                 sigma: float = 50e-3, amplitude: float = 1.0, washout: float = 30e-3):
        if channels < 1 or steps < 2:
            raise TaskError("autoencode: channels >= 1 and steps >= 2 needed")
        if washout / dt >= steps:
            raise TaskError(f"autoencode: washout {washout} s leaves no step of {steps} to score")
        self.n_in = self.n_out = int(channels)
        self.steps, self.dt = int(steps), float(dt)
        self.sigma, self.amplitude, self.washout = float(sigma), float(amplitude), float(washout)

    def sample(self, rng, batch):
        self._check_batch(batch)
        x = smooth_signal(rng, batch, self.steps, self.n_in, self.sigma / self.dt, self.amplitude)
        mask = np.ones((batch, self.steps))
        mask[:, : int(round(self.washout / self.dt))] = 0.0
        return Batch(x=x, target=x.copy(), mask=mask)

    def loss_fn(self, batch):
        return lambda o: mse(o, batch.target, batch.mask)

    def score(self, o, batch):
        """NMSE of the readout against the target over the scored steps."""
        return nmse(o, batch.target, batch.mask)

    def chance(self):
        return 1.0


# --------------------------------------------------------------------------- delayed XOR
class DelayedXOR(Task):
    r"""Delayed-memory XOR (Huh & Sejnowski 2018, Fig. 4).

    Input channel 0 carries two pulses of amplitude :math:`\pm a` (signs drawn independently
    and uniformly), channel 1 a go cue.  Time line of a trial (``dt = 1 ms``)::

        |--onset--|pulse 1|---delay 1---|pulse 2|---delay 2---|go|..answer..|

    Both delays are drawn uniformly per trial (delay 1 from ``[delay_min, delay_max]``,
    delay 2 from ``go_delay``, by default the same range), so the
    network cannot answer from timing alone; every trial has the same length (the go cue
    comes at ``onset + 2 pulse + delay 1 + delay 2``, the rest is padded).  The answer is read
    in the window ``[go + answer_start, go + answer_start + answer_len)`` from two readout
    channels: the class is the larger time-averaged readout; class 1 (*different signs*) is
    XOR of the signs.  Loss: softmax cross-entropy of the window-averaged readout
    (:func:`~brainkit.training.losses.cross_entropy`); score: accuracy on held-out trials
    (chance 0.5).

    Settings and why:

    * ``delay_min = 30 ms`` and ``delay_max = 60 ms``, 3-6 times the longest time constant
      (``tau_v = tau_s = 10 ms``): a pulse's direct effect on ``v`` and ``s`` has decayed to
      below :math:`e^{-3}` = 5 % when the next event comes, so the sign must be held by
      recurrent dynamics, not by a synaptic trace (longer delays make the task harder to
      learn, not different in kind, and every step of trial costs training time);
    * pulses of 20 ms, amplitude 1: long and strong enough to switch the state of a theta
      neuron (time constant 10 ms);
    * go cue of 20 ms; answer window 10-40 ms after the go cue onset (the network gets
      10 ms to react);
    * network and optimiser: see :data:`~brainkit.training.tasks.HYPER`.
    """

    name = "xor"
    metric = "test_accuracy"

    def __init__(self, dt: float = 1e-3, onset: float = 10e-3, pulse: float = 20e-3,
                 delay_min: float = 30e-3, delay_max: float = 60e-3, go: float = 20e-3,
                 answer_start: float = 10e-3, answer_len: float = 30e-3,
                 amplitude: float = 1.0, go_delay: Optional[Tuple[float, float]] = None):
        if not (0 < delay_min <= delay_max):
            raise TaskError(f"xor: need 0 < delay_min <= delay_max, got {delay_min}, {delay_max}")
        if min(pulse, go, answer_len) <= 0 or onset < 0 or answer_start < 0:
            raise TaskError("xor: pulse, go and answer_len must be > 0; onset, answer_start >= 0")
        self.dt = float(dt)
        st = lambda t: int(round(t / self.dt))  # noqa: E731
        self.onset, self.pulse, self.go = st(onset), st(pulse), st(go)
        self.delay_min, self.delay_max = st(delay_min), st(delay_max)
        self.answer_start, self.answer_len = st(answer_start), st(answer_len)
        self.amplitude = float(amplitude)
        gmin, gmax = go_delay if go_delay is not None else (delay_min, delay_max)
        if not (0 <= gmin <= gmax):
            raise TaskError(f"xor: need 0 <= go_delay min <= max, got {go_delay}")
        self.go_delay_min, self.go_delay_max = st(gmin), st(gmax)
        self.n_in, self.n_out = 2, 2
        self.steps = (self.onset + 2 * self.pulse + self.delay_max + self.go_delay_max
                      + max(self.go, self.answer_start + self.answer_len))

    def sample(self, rng, batch):
        self._check_batch(batch)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(batch, 2))
        delays = np.stack([rng.integers(self.delay_min, self.delay_max + 1, size=batch),
                           rng.integers(self.go_delay_min, self.go_delay_max + 1, size=batch)], 1)
        x = np.zeros((batch, self.steps, 2))
        mask = np.zeros((batch, self.steps))
        p1 = np.full(batch, self.onset)
        p2 = p1 + self.pulse + delays[:, 0]
        go = p2 + self.pulse + delays[:, 1]
        for b in range(batch):
            x[b, p1[b]: p1[b] + self.pulse, 0] = self.amplitude * signs[b, 0]
            x[b, p2[b]: p2[b] + self.pulse, 0] = self.amplitude * signs[b, 1]
            x[b, go[b]: go[b] + self.go, 1] = self.amplitude
            a = go[b] + self.answer_start
            mask[b, a: a + self.answer_len] = 1.0
        labels = (signs[:, 0] != signs[:, 1]).astype(np.int64)
        return Batch(x=x, mask=mask, labels=labels,
                     info=dict(signs=signs, delays=delays, pulse1=p1, pulse2=p2, go=go))

    def loss_fn(self, batch):
        return lambda o: cross_entropy(o, batch.labels, batch.mask)

    def predict(self, o, batch) -> np.ndarray:
        """Class of each trial: the readout channel with the larger answer-window average."""
        return np.argmax(window_mean(o, batch.mask), axis=1)

    def score(self, o, batch):
        """Accuracy of :meth:`predict` on the batch."""
        return float(np.mean(self.predict(o, batch) == batch.labels))

    def chance(self):
        return 0.5


TASKS = {"xor": DelayedXOR, "autoencode": Autoencode}


def get_task(name: str, **kwargs) -> Task:
    """The task called ``name`` (``'xor'`` or ``'autoencode'``)."""
    if name not in TASKS:
        raise TaskError(f"unknown task '{name}': choose one of {', '.join(TASKS)}")
    return TASKS[name](**kwargs)


#: Network and optimiser settings per task, ``full`` and ``quick`` (``brainkit train --quick``).
#:
#: * ``dt = 1 ms``, ``tau_v = tau_s = 10 ms`` (Huh & Sejnowski's Fig. 1 synapse): forward Euler
#:   moves the theta phase by at most ``dt/tau (2 + 2|I|)`` ~ 0.2-0.6 rad per step, so the
#:   ``gate_width = 1 rad`` active zone is sampled by 2-5 steps at every crossing (the charge a
#:   spike delivers stays close to 1); the gradient is exact for this discrete map anyway.
#: * ``lr_scale``: Adam's step is ~``lr`` in absolute units, and the weights live on very
#:   different scales (``W``, ``O`` in seconds, initialised with standard deviations
#:   ``0.02 s/sqrt(N)`` and ``0.05 s/sqrt(N)``; ``U``, ``I0`` dimensionless, ~1): each
#:   parameter's step is ``lr`` times that initial size (:func:`lr_scale`), i.e. Adam on
#:   the parameters in units of their initial spread.
#: * ``init`` (absent or ``None``): the random parameters of
#:   :meth:`~brainkit.training.recurrent.RecurrentSNN.init_params`; a dict
#:   ``{"kind": "efficient", ...}`` starts from :func:`efficient_coding_init` with the other
#:   entries as its keyword arguments (and ``O``'s learning-rate factor becomes its initial
#:   size ``decoder / N``, see :func:`lr_scale`).
#: * batches of 16 trials; held-out scores on 256 (xor) or 128 (autoencode) trials from the
#:   test seed stream.
#:
#: ``autoencode`` (measured on 2 shared CPU cores, held-out NMSE on 128 trials, N = 160
#: unless noted, about 0.6 s per step; "ec" = efficient-coding start; the learning rate
#: decays by cosine to a tenth):
#:
#: ================================ ===== ======== ==========================================
#: start, lr                        steps NMSE     note
#: ================================ ===== ======== ==========================================
#: random, 0.03                     500   0.103    levels off near 0.10 (N = 80: 0.134)
#: random, 0.03                     150   0.323
#: random, 0.1                      300   0.082
#: ec, 0.03                         150   0.176    0.28 before training
#: ec, 0.1                          300   0.022    ``brainkit train``: 0.027, 0.024, 0.022
#:                                                 (seeds 0, 1, 2; ~200 s)
#: ec, 0.2                          300   0.037
#: ec, 0.1                          600   0.042    the loss rises again near step 200
#: ec, 0.1, N = 80                  300   0.046    (0.34 s per step)
#: ================================ ===== ======== ==========================================
#:
#: The efficient-coding start (:func:`efficient_coding_init`, Boerlin, Machens & Deneve 2013)
#: builds in what the random start has to discover: every neuron is driven by ``gain`` times
#: the projection of the coding error ``x - O s`` on its decoding direction, so fast recurrent
#: inhibition corrects the lag of the readout.  Its constants come from a scan of the
#: untrained network at N = 160 (decoder 0.016-3.2 s, gain 1-40, i0 -0.3..1): a decoder of
#: 0.08 s (one spike moves the readout by at most 0.05) with gain 10 and i0 = -0.3 reads
#: among the best (NMSE ~0.2-0.3, mostly fast spike noise; 0.05 s is as good), decoders of
#: 0.16 s and more make the readout overshoot and ring (NMSE > 0.4, often > 1).
#: Training from it wants ``lr = 0.1`` for a short schedule: 300 steps reach NMSE 0.02-0.03,
#: well inside the target of 0.05, while a longer time at high lr (600 steps) or a doubled
#: lr end worse; N = 160 leaves the margin that N = 80 lacks.  ``quick`` (N = 40, 120 steps,
#: the same start, decoder scaled by 1/N): 0.117 in about 50 s.
#:
#: ``xor`` ``quick`` (what ``make demo`` trains): held-out accuracy on 128 trials for seeds
#: 0-4 (``train("xor", out, quick=True, seed=s)``, two runs at a time on 2 cores):
#:
#: * N = 40, 400 steps: 0.828 0.617 0.977 0.898 0.836.  The loss sits on a plateau near 0.7
#:   for 150-250 steps and the schedule ends while it still falls, so the same seed lands
#:   elsewhere on another CPU.
#: * N = 60, 400 steps: 0.984 0.914 (seeds 0, 1); N = 60, 600 steps: 0.969 0.977 0.922 0.969
#:   (seeds 0-3); N = 60, 600 steps, lr 0.1: 0.938 (seed 2).
#: * N = 60, 800 steps: 1.000 0.992 1.000 1.000 1.000, ~190 s each (2026-12-07, before the
#:   training forward's changes of rounding: the trace updated from the stored drive, the
#:   backward's chunked sums); after them the same settings gave 0.859 (seed 0), and 0.977
#:   0.898 0.992 1.000 (seeds 1-4) with lr 0.03 / 0.003, warmup 20; 1200 steps at lr 0.05:
#:   1.000 1.000 0.812 1.000 1.000: the result hung on the rounding.
#: * **N = 60, 1200 steps, lr 0.03 -> 0.003, warmup 20 (the full run's schedule, shorter):
#:   1.000 for seeds 0-8 but 0.977 for seed 9**, ~60 s each (one thread).
HYPER = {
    "xor": {
        "full": dict(n_hidden=60, steps=1500, batch=16, lr=0.03, lr_min=0.003, warmup=20,
                     test_trials=256),
        "quick": dict(n_hidden=60, steps=1200, batch=16, lr=0.03, lr_min=0.003, warmup=20,
                      test_trials=128),
    },
    "autoencode": {
        "full": dict(n_hidden=160, steps=300, batch=16, lr=0.1, lr_min=0.01, warmup=10,
                     test_trials=128,
                     init=dict(kind="efficient", gain=10.0, i0=-0.3, decoder=0.08)),
        "quick": dict(n_hidden=40, steps=120, batch=16, lr=0.1, lr_min=0.01, warmup=5,
                      test_trials=64,
                      init=dict(kind="efficient", gain=10.0, i0=-0.3, decoder=0.08)),
    },
}
COMMON = dict(dt=1e-3, tau_v=10e-3, tau_s=10e-3, gate_width=1.0, clip_norm=None,
              checkpoint_every=25, diverge_factor=10.0)

INITS = ("efficient",)


def efficient_coding_init(n_hidden: int, n_in: int, n_out: int, seed, gain: float = 10.0,
                          i0: float = -0.3, decoder: float = 0.08) -> Dict[str, np.ndarray]:
    r"""Efficient-coding (predictive-coding) initial parameters of an auto-encoding network.

    After Boerlin, Machens & Deneve (2013, "Predictive coding of dynamical variables in
    balanced spiking networks", PLoS Comput. Biol. 9, e1003258), whose structure Huh &
    Sejnowski (2018) report their trained auto-encoders approach.  Neuron ``i`` gets a random
    unit decoding direction :math:`d_i \in R^{n_{out}}` (seeded by ``seed``) and

    .. math::

        O &= \frac{c}{N} D, \qquad D = [d_1 \ldots d_N] \\
        U &= \gamma D^T, \qquad W = -\gamma D^T O = -\frac{\gamma c}{N} D^T D,
        \qquad I_0 = i_0

    (:math:`c` = ``decoder`` in seconds, :math:`\gamma` = ``gain``), so that the input of
    every neuron is the projection of the coding error on its direction,

    .. math:: I_i = W_i s + U_i x + I_0 = \gamma\, d_i^T (x - O s) + i_0,

    fast lateral inhibition between neurons of similar direction (``W < 0`` for
    :math:`d_i^T d_j > 0`): a neuron fires when the readout :math:`o = O s` lags the input
    along its direction, and its spike corrects the readout of all others.  With ``i0`` below
    the theta neuron's threshold (``I = 0``) a network at rest stays silent for ``x = 0``.
    ``decoder / N`` is one neuron's share of the readout: a spike adds
    :math:`c/N \cdot 1/\tau_s` to :math:`o` at its peak (0.05 for ``c = 0.08 s``, ``N = 160``,
    ``tau_s = 10 ms``), so ``c`` fixes the granularity of the code independently of ``N``.

    Parameters
    ----------
    n_hidden, n_in, n_out : int
        Network sizes; auto-encoding needs ``n_in == n_out`` (``U`` mirrors ``O``).
    seed : int or None
        Seed of the decoding directions.
    gain : float
        :math:`\gamma`, input current per unit of coding error (dimensionless).
    i0 : float
        Constant input :math:`I_0` of every neuron (< 0: excitable, silent at rest).
    decoder : float
        :math:`c` in seconds (``O``'s entries are ``c/N`` times a unit vector's components).

    Returns
    -------
    dict
        ``U (N, n_in)``, ``W (N, N)``, ``O (n_out, N)``, ``I0 (N,)`` as float64 (SI units, the
        layout of :meth:`~brainkit.training.recurrent.RecurrentSNN.init_params`).
    """
    if n_in != n_out:
        raise TaskError(f"efficient_coding_init needs n_in == n_out (auto-encoding), got "
                        f"{n_in} and {n_out}")
    if n_hidden < 1 or n_out < 1:
        raise TaskError("efficient_coding_init: n_hidden and n_out must be >= 1")
    if not (gain > 0 and decoder > 0):
        raise TaskError(f"efficient_coding_init: gain and decoder must be > 0, got {gain}, "
                        f"{decoder}")
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_out, n_hidden))
    D /= np.linalg.norm(D, axis=0, keepdims=True)
    O = (decoder / n_hidden) * D
    return {"U": gain * D.T.copy(), "W": -gain * D.T @ O, "O": O,
            "I0": np.full(n_hidden, float(i0))}


def init_function(init: Optional[dict], n_hidden: int, n_in: int, n_out: int):
    """``seed -> params`` for the ``init`` entry of the settings, or None (the model's own
    random :meth:`~brainkit.training.recurrent.RecurrentSNN.init_params`)."""
    if init is None:
        return None
    kw = dict(init)
    kind = kw.pop("kind", None)
    if kind not in INITS:
        raise TaskError(f"unknown init '{kind}': choose one of {', '.join(INITS)} (or None)")
    return lambda seed: efficient_coding_init(n_hidden, n_in, n_out, seed, **kw)


def lr_scale(n_hidden: int, init: Optional[dict] = None) -> Dict[str, float]:
    """Per-parameter learning-rate factors: the initial spread of each parameter
    (``RecurrentSNN.init_params``: ``W ~ N(0, (0.02 s)^2/N)``, ``O ~ N(0, (0.05 s)^2/N)``).

    With the efficient-coding start (``init = {"kind": "efficient", "decoder": c, ...}``)
    ``O``'s factor is its initial size ``c / N`` instead (``W``, ``U``, ``I0`` keep theirs)."""
    scale = {"U": 1.0, "I0": 1.0, "W": 0.02 / np.sqrt(n_hidden), "O": 0.05 / np.sqrt(n_hidden)}
    if init is not None and init.get("kind") == "efficient":
        scale["O"] = float(init.get("decoder", 0.08)) / n_hidden
    return scale
