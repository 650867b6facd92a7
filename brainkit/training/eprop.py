r"""e-prop: online learning of recurrent ALIF networks (Bellec et al. 2020), compiled by Brian2.

G. Bellec, F. Scherr, A. Subramoney, E. Hajek, D. Salaj, R. Legenstein, W. Maass, "A solution
to the learning dilemma for recurrent networks of spiking neurons", Nat. Commun. 11 (2020) 3625.

The network: ``n_in`` input neurons (a 0/1 raster), ``n_rec`` recurrent neurons of the library's
``alif`` model (per-neuron ``beta``: 0 for LIF neurons, the model's for ALIF ones) run as the
paper's discrete map, and ``n_out`` leaky readouts (step ``dt``; :math:`\alpha = e^{-dt/\tau_m}`,
:math:`\rho = e^{-dt/\tau_a}`, :math:`\kappa = e^{-dt/\tau_{out}}`):

.. math::

    v_{t+1} &= \alpha v_t + W^{in} x_t + W^{rec} z_t - v_{th} z_t, \qquad
    a_{t+1} = \rho a_t + z_t \\
    z_t &= H(v_t - v_{th} - \beta a_t) \ (0 \text{ while refractory}), \qquad
    y_t = \kappa y_{t-1} + W^{out} z_t

(the input raster's step ``t`` reaches ``v`` at ``t + 1``, as a recurrent spike does) with a
loss summed over steps with weights :math:`w_t` (the *loss window*, default 1 everywhere):
``loss='mse'``, :math:`E = \sum_t w_t \frac12 \sum_k (y_{k,t} - y^*_{k,t})^2` (regression),
or ``loss='cross_entropy'``, :math:`E = -\sum_t w_t \sum_k y^*_{k,t} \log \pi_{k,t}` with
:math:`\pi_t = \mathrm{softmax}(y_t)` (classification, the readouts are the logits).  Either
way the error :math:`\delta_{k,t} = \partial E / \partial y_{k,t}` is
:math:`w_t (y_{k,t} - y^*_{k,t})` or :math:`w_t (\pi_{k,t} - y^*_{k,t})`.  The e-prop rule
(``models/plasticity/eprop.yaml``: eligibility traces, pseudo-derivative, learning signal
:math:`L_{j,t} = \sum_k B_{jk} \delta_{k,t}`, symmetric ``B = W_out^T`` or fixed random ``B``)
runs inside the compiled simulation (Brian2 ``cpp_standalone``): one run leaves in every input
and recurrent synapse its accumulated gradient estimate :math:`\sum_t L_{j,t} \bar e_{ji,t}`
and in every readout synapse the exact :math:`\partial E / \partial W^{out}_{kj}`.  A run
holds ``batch`` independent trials (the groups replicated, the synapses block-diagonal, every
copy with the same weights); the gradients are their mean.  Between runs the weights change
by Adam (as in the paper) and go back into the same binary as run arguments: no recompile.

:func:`reference_trial` is a plain numpy implementation of the same discrete model and of the
e-prop formulas (the check of the compiled rule); :func:`bptt_gradients` the exact gradient of
the same network by back-propagation through time with the same pseudo-derivative (what e-prop
approximates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from ..engine import StandaloneEngine
from ..library import load_model

__all__ = ["EpropError", "EpropNetwork", "TrialResult", "bptt_gradients", "init_weights",
           "reference_trial"]


class EpropError(ValueError):
    """Wrong network settings, weights, inputs or targets (names which)."""


@dataclass
class TrialResult:
    """One run: readouts ``y`` (T, n_out), spikes ``z`` (T, n_rec) as 0/1 (with a leading
    batch axis when the inputs had one), the loss and the gradients ``{'in': (n_rec, n_in),
    'rec': (n_rec, n_rec), 'out': (n_out, n_rec)}`` (e-prop estimates for ``in``/``rec``, exact
    for ``out``; weights in volt, so ``in``/``rec`` in 1/V), and ``elig_sum``, the eligibility
    traces summed over the trial (``in``, ``rec``: what a firing-rate regulariser's gradient
    needs).  Over a batch, the loss, the gradients and ``elig_sum`` are the trials' means."""

    y: np.ndarray
    z: np.ndarray
    loss: float
    grads: Dict[str, np.ndarray] = field(default_factory=dict)
    elig_sum: Dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class _Constants:
    """The SI numbers of the discrete model."""

    dt: float
    tau_m: float
    tau_a: float
    tau_out: float
    v_th: float
    t_ref_steps: int
    gamma_pd: float
    beta: np.ndarray  # (n_rec,) volt

    @property
    def alpha(self):
        return np.exp(-self.dt / self.tau_m)

    @property
    def rho(self):
        return np.exp(-self.dt / self.tau_a)

    @property
    def kappa(self):
        return np.exp(-self.dt / self.tau_out)


def init_weights(n_in: int, n_rec: int, n_out: int, v_th: float, seed: int = 0,
                 scale_in: float = 1.0, scale_rec: float = 1.0) -> Dict[str, np.ndarray]:
    """Random initial weights as in the paper's code: Gaussian, scaled by ``1/sqrt(fan-in)``
    (times ``v_th`` for the input and recurrent weights, in volt); no autapses."""
    rng = np.random.default_rng(seed)
    w_in = rng.standard_normal((n_rec, n_in)) / np.sqrt(n_in) * v_th * scale_in
    w_rec = rng.standard_normal((n_rec, n_rec)) / np.sqrt(n_rec) * v_th * scale_rec
    np.fill_diagonal(w_rec, 0.0)
    w_out = rng.standard_normal((n_out, n_rec)) / np.sqrt(n_rec)
    return {"in": w_in, "rec": w_rec, "out": w_out}


class EpropNetwork:
    """A recurrent ALIF network learning by e-prop in a compiled Brian2 simulation.

    Parameters
    ----------
    n_in, n_rec, n_out : int
    steps : int
        Time steps of a trial.
    dt : Quantity
        The step (the paper: 1 ms).
    n_alif : int, optional
        How many of the recurrent neurons adapt (the last ``n_alif``; default all); the others
        have ``beta = 0``.
    neuron_params, rule_params : dict, optional
        Overrides of the ``alif`` model's and of the ``eprop`` rule's parameters.
    feedback : {'symmetric', 'random'}
        ``B = W_out^T`` at every trial, or a fixed random ``B`` (Gaussian).
    feedback_scale : float, optional
        The random ``B``'s standard deviation (default ``1/sqrt(n_rec)``).
    seed : int
        Seed of the random feedback.
    loss : {'mse', 'cross_entropy'}
        Regression (squared error) or classification (softmax of the readouts against
        one-hot targets); see the module's docstring.
    batch : int
        Trials per run of the binary (default 1).
    threads : int
        OpenMP threads of the binary (default 1; the same numbers for any count).
    build_dir : str, optional
    """

    def __init__(self, n_in: int, n_rec: int, n_out: int, steps: int, dt=None,
                 n_alif: Optional[int] = None, neuron_params: Optional[dict] = None,
                 rule_params: Optional[dict] = None, feedback: str = "symmetric",
                 feedback_scale: Optional[float] = None, seed: int = 0, loss: str = "mse",
                 batch: int = 1, threads: int = 1, build_dir: Optional[str] = None):
        from brian2 import ms, second, volt

        for name, n in (("n_in", n_in), ("n_rec", n_rec), ("n_out", n_out), ("steps", steps),
                        ("batch", batch), ("threads", threads)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise EpropError(f"{name} must be a positive integer, got {n!r}")
        if feedback not in ("symmetric", "random"):
            raise EpropError(f"feedback must be 'symmetric' or 'random', got {feedback!r}")
        if loss not in ("mse", "cross_entropy"):
            raise EpropError(f"loss must be 'mse' or 'cross_entropy', got {loss!r}")
        if loss == "cross_entropy" and n_out < 2:
            raise EpropError(f"loss 'cross_entropy' needs n_out >= 2 classes, got {n_out}")
        self.n_in, self.n_rec, self.n_out, self.steps = int(n_in), int(n_rec), int(n_out), \
            int(steps)
        self.loss, self.batch, self.threads = loss, int(batch), int(threads)
        self.dt = 1 * ms if dt is None else dt
        self.n_alif = self.n_rec if n_alif is None else int(n_alif)
        if not 0 <= self.n_alif <= self.n_rec:
            raise EpropError(f"n_alif must lie in [0, n_rec = {n_rec}], got {n_alif!r}")
        self.neuron = load_model("alif").with_parameters(**(neuron_params or {}))
        self.rule = load_model("eprop").with_parameters(**(rule_params or {}))
        p = {**self.neuron.parameters, **self.rule.parameters}
        beta = np.zeros(self.n_rec)
        beta[self.n_rec - self.n_alif:] = float(p["beta"] / volt)
        t_ref = float(p["t_ref"] / second) / float(self.dt / second)
        self.constants = _Constants(
            dt=float(self.dt / second), tau_m=float(p["tau_m"] / second),
            tau_a=float(p["tau_a"] / second), tau_out=float(p["tau_out"] / second),
            v_th=float(p["v_th"] / volt), t_ref_steps=int(round(t_ref)),
            gamma_pd=float(p["gamma_pd"]), beta=beta)
        self.feedback = feedback
        rng = np.random.default_rng(seed)
        scale = 1 / np.sqrt(self.n_rec) if feedback_scale is None else float(feedback_scale)
        if not (np.isfinite(scale) and scale > 0):
            raise EpropError(f"feedback_scale must be a positive number, got {feedback_scale!r}")
        self.B_random = rng.standard_normal((self.n_rec, self.n_out)) * scale
        self.build_dir = build_dir
        self._built = None
        # (pre, post) of every synapse: all to all, no recurrent autapses (the softmax's
        # normaliser pairs every readout with itself too)
        grid = {"in": (self.n_in, self.n_rec), "rec": (self.n_rec, self.n_rec),
                "out": (self.n_rec, self.n_out), "fb": (self.n_out, self.n_rec),
                "softmax": (self.n_out, self.n_out)}
        self.pairs = {}
        for k, (n_pre, n_post) in grid.items():
            i, j = np.divmod(np.arange(n_pre * n_post), n_post)
            keep = i != j if k == "rec" else np.ones(len(i), bool)
            self.pairs[k] = (i[keep], j[keep])
        self.timings: Dict[str, float] = {}

    # ------------------------------------------------------------------ building
    def _batched_pairs(self, name, n_pre, n_post):
        """``self.pairs[name]`` repeated for every trial of the batch (block-diagonal)."""
        i, j = self.pairs[name]
        b = np.arange(self.batch)[:, None]
        return {"i": (i[None, :] + b * n_pre).ravel(), "j": (j[None, :] + b * n_post).ravel()}

    def _objects(self):
        import brian2
        from brian2 import TimedArray, volt

        c, neuron, rule, nb = self.constants, self.neuron, self.rule, self.batch
        ns = {k: v for k, v in {**neuron.parameters, **rule.parameters}.items() if k != "beta"}
        x_in = TimedArray(np.zeros((self.steps, nb * self.n_in)), dt=self.dt,
                          name="eprop_x_in")
        y_target = TimedArray(np.zeros((self.steps, nb * self.n_out)), dt=self.dt,
                              name="eprop_y_target")
        window = TimedArray(np.ones(self.steps), dt=self.dt, name="eprop_window")
        trace = rule.events["trace"]
        inp = brian2.NeuronGroup(
            nb * self.n_in, "dzbar/dt = -zbar/tau_m : 1\nzbar_prev : 1",
            threshold="eprop_x_in(t, i) > 0.5", reset="zbar += 1", method="exact",
            namespace={**ns, "eprop_x_in": x_in}, dt=self.dt, name="eprop_inp")
        inp.run_regularly(trace, when="end", order=3, name="eprop_inp_trace")
        eqs = (neuron.equations + "\nI = 0*amp : amp\nbeta : volt (constant)\n"
               + rule.post_equations)
        rec = brian2.NeuronGroup(nb * self.n_rec, eqs, threshold=neuron.threshold,
                                 reset=rule.reset, refractory=neuron.refractory,
                                 method="exact", namespace=ns, dt=self.dt, name="eprop_rec")
        rec.beta = np.tile(c.beta, nb) * volt
        rec.run_regularly(rule.events["inject"], when="before_thresholds", name="eprop_inject")
        rec.run_regularly(trace, when="end", order=3, name="eprop_rec_trace")
        out_ns = {**ns, "eprop_y_target": y_target, "eprop_window": window}
        objs = {}
        if self.loss == "cross_entropy":
            # softmax: each readout's normaliser Z = sum_k exp(y_k) over its own trial's
            # readouts (a summed variable of all-to-all synapses inside every trial)
            out = brian2.NeuronGroup(nb * self.n_out, "dy/dt = -y/tau_out : 1\nerr : 1\nZ : 1",
                                     method="exact", namespace=out_ns, dt=self.dt,
                                     name="eprop_out")
            err = "err = eprop_window(t)*(exp(y)/Z - eprop_y_target(t, i))"
            S_soft = brian2.Synapses(out, out, "Z_post = exp(y_pre) : 1 (summed)", dt=self.dt,
                                     name="eprop_softmax")
            S_soft.connect(**self._batched_pairs("softmax", self.n_out, self.n_out))
            S_soft.summed_updaters["Z_post"].when = "end"
            S_soft.summed_updaters["Z_post"].order = -1  # after y_t, before the error
            objs["softmax"] = S_soft
        else:
            out = brian2.NeuronGroup(nb * self.n_out, "dy/dt = -y/tau_out : 1\nerr : 1",
                                     method="exact", namespace=out_ns, dt=self.dt,
                                     name="eprop_out")
            err = "err = eprop_window(t)*(y - eprop_y_target(t, i))"
        out.run_regularly(err, when="end", order=0, name="eprop_error")
        syn_model = "w : volt\n" + rule.equations
        learning = {}
        for name, pre, n_pre in (("in", inp, self.n_in), ("rec", rec, self.n_rec)):
            S = brian2.Synapses(pre, rec, syn_model, on_pre=rule.on_pre, namespace=ns,
                                dt=self.dt, name=f"eprop_syn_{name}")
            S.connect(**self._batched_pairs(name, n_pre, self.n_rec))
            S.run_regularly(rule.events["eligibility"], when="end", order=2,
                            name=f"eprop_eligibility_{name}")
            learning[name] = S
        S_out = brian2.Synapses(rec, out, "w_out : 1\ngrad_out : 1", on_pre="y_post += w_out",
                                dt=self.dt, name="eprop_syn_out")
        S_out.connect(**self._batched_pairs("out", self.n_rec, self.n_out))
        S_out.run_regularly("grad_out += err_post*zout_pre", when="end", order=2,
                            name="eprop_readout_gradient")
        S_fb = brian2.Synapses(out, rec, "B : 1\nL_post = B*err_pre : 1 (summed)",
                               dt=self.dt, name="eprop_feedback")
        S_fb.connect(**self._batched_pairs("fb", self.n_out, self.n_rec))
        updater = S_fb.summed_updaters["L_post"]
        updater.when, updater.order = "end", 1  # L_t from y_t: after the error, before e-prop
        y_mon = brian2.StateMonitor(out, "y", record=True, when="end", order=4,
                                    name="eprop_y")
        z_mon = brian2.SpikeMonitor(rec, name="eprop_spikes")
        objs.update({"inp": inp, "rec": rec, "out": out, "in": learning["in"],
                     "rec_syn": learning["rec"], "out_syn": S_out, "fb": S_fb, "x_in": x_in,
                     "y_target": y_target, "window": window, "y_mon": y_mon, "z_mon": z_mon})
        objs["all"] = [inp, rec, out, learning["in"], learning["rec"], S_out, S_fb, y_mon,
                       z_mon] + ([objs["softmax"]] if "softmax" in objs else [])
        return objs

    def build(self) -> StandaloneEngine:
        """Generate and compile the network once (IEEE arithmetic: the reference comparison
        is to rounding)."""
        import time

        import brian2

        if self._built is not None:
            return self._built[0]
        engine = StandaloneEngine("cpp_standalone", self.build_dir, prefix="brainkit-eprop-",
                                  ieee=True, threads=self.threads)
        t0 = time.perf_counter()
        with engine.compiling():
            objs = self._objects()
            brian2.Network(objs["all"]).run(self.steps * self.dt, namespace={})
        self.timings["compile"] = time.perf_counter() - t0
        self._built = (engine, objs)
        return engine

    # ------------------------------------------------------------------ running
    def _check_weights(self, weights):
        shapes = {"in": (self.n_rec, self.n_in), "rec": (self.n_rec, self.n_rec),
                  "out": (self.n_out, self.n_rec)}
        for k, shape in shapes.items():
            if k not in weights:
                raise EpropError(f"weights: '{k}' missing (give 'in', 'rec', 'out')")
            w = np.asarray(weights[k], dtype=float)
            if w.shape != shape or not np.all(np.isfinite(w)):
                raise EpropError(f"weights['{k}'] must be finite of shape {shape}, got "
                                 f"shape {w.shape}")

    def _check(self, weights, x, target, window=None, batch=None):
        """Checked float copies of ``x``, ``target`` (with a batch axis of ``batch`` trials
        where given) and ``window`` (steps,)."""
        self._check_weights(weights)
        x, target = np.asarray(x, dtype=float), np.asarray(target, dtype=float)
        lead = () if batch is None else (batch,)
        if x.shape != lead + (self.steps, self.n_in) or not np.isin(x, (0.0, 1.0)).all():
            raise EpropError(f"inputs must be a 0/1 raster of shape "
                             f"{lead + (self.steps, self.n_in)}, got shape {x.shape}")
        if target.shape != lead + (self.steps, self.n_out) or not np.all(np.isfinite(target)):
            raise EpropError(f"targets must be finite of shape "
                             f"{lead + (self.steps, self.n_out)}, got shape {target.shape}")
        if self.loss == "cross_entropy" and not (
                np.all(target >= 0) and np.allclose(target.sum(axis=-1), 1.0, atol=1e-12)):
            raise EpropError("targets of the cross-entropy loss must be class probabilities "
                             "(>= 0, summing to 1 over the readouts at every step)")
        window = np.ones(self.steps) if window is None else np.asarray(window, dtype=float)
        if window.shape != (self.steps,) or not np.all(np.isfinite(window)) \
                or np.any(window < 0):
            raise EpropError(f"the loss window must hold {self.steps} finite weights >= 0, "
                             f"got shape {window.shape}")
        return x, target, window

    def feedback_matrix(self, weights) -> np.ndarray:
        """``B`` (n_rec, n_out) of this trial: ``W_out^T`` (symmetric) or the fixed random."""
        return np.asarray(weights["out"], float).T if self.feedback == "symmetric" \
            else self.B_random

    def trial(self, weights: Dict[str, np.ndarray], x, target, window=None) -> TrialResult:
        """Run one trial (from rest) with ``weights`` on input raster ``x`` (steps, n_in) and
        ``target`` (steps, n_out), or ``batch`` trials at once (``x`` (batch, steps, n_in),
        ``target`` (batch, steps, n_out)); ``window`` (steps,) weighs the loss of every step
        (default 1).  The e-prop gradients come out of the simulation."""
        from brian2 import volt

        batched = np.ndim(x) == 3
        if not batched and self.batch != 1:
            raise EpropError(f"this network runs batches of {self.batch} trials: give inputs "
                             f"of shape ({self.batch}, {self.steps}, {self.n_in})")
        x, target, window = self._check(weights, x, target, window,
                                         self.batch if batched else None)
        nb = self.batch
        x_b, t_b = x.reshape(nb, self.steps, -1), target.reshape(nb, self.steps, -1)
        engine, o = self._built if self._built is not None else (self.build(), self._built[1])
        (i_in, j_in), (i_rec, j_rec), (i_out, j_out), (i_fb, j_fb) = (
            self.pairs[k] for k in ("in", "rec", "out", "fb"))
        B = self.feedback_matrix(weights)

        def tiled(w, i, j):
            return np.tile(np.asarray(w, dtype=float)[j, i], nb)

        def flat(a):  # (batch, steps, n) -> (steps, batch * n): trial b's neurons at b * n
            return a.transpose(1, 0, 2).reshape(self.steps, -1)

        run_args = {o["in"].w: tiled(weights["in"], i_in, j_in) * volt,
                    o["rec_syn"].w: tiled(weights["rec"], i_rec, j_rec) * volt,
                    o["out_syn"].w_out: tiled(weights["out"], i_out, j_out),
                    o["fb"].B: tiled(B, i_fb, j_fb), o["x_in"]: flat(x_b),
                    o["y_target"]: flat(t_b), o["window"]: window}
        engine.run(run_args)
        self.timings["run"] = engine.run_s
        y = np.array(o["y_mon"].y[:], dtype=float).reshape(nb, self.n_out, self.steps)
        y = y.transpose(0, 2, 1)  # (batch, steps, n_out)
        z = np.zeros((nb, self.steps, self.n_rec))
        steps = np.rint(np.array(o["z_mon"].t_[:]) / self.constants.dt).astype(int)
        neuron = np.array(o["z_mon"].i[:], dtype=int)
        z[neuron // self.n_rec, steps, neuron % self.n_rec] = 1.0

        def mean_matrix(values, shape, i, j):
            m = np.zeros(shape)
            m[j, i] = np.array(values, dtype=float).reshape(nb, -1).mean(axis=0)
            return m

        grads = {"in": mean_matrix(o["in"].grad_[:], (self.n_rec, self.n_in), i_in, j_in),
                 "rec": mean_matrix(o["rec_syn"].grad_[:], (self.n_rec, self.n_rec), i_rec,
                                    j_rec),
                 "out": mean_matrix(o["out_syn"].grad_out[:], (self.n_out, self.n_rec), i_out,
                                    j_out)}
        elig_sum = {"in": mean_matrix(o["in"].elig_sum_[:], (self.n_rec, self.n_in), i_in,
                                      j_in),
                    "rec": mean_matrix(o["rec_syn"].elig_sum_[:], (self.n_rec, self.n_rec),
                                       i_rec, j_rec)}
        if not (np.all(np.isfinite(y)) and all(np.all(np.isfinite(g)) for g in grads.values())):
            raise EpropError(f"the readouts or the gradients of this run are not finite "
                             f"(largest |y| {np.nanmax(np.abs(y)):.3g}; the softmax's exp(y) "
                             f"overflows above 709): lower the weights or the learning rate")
        loss = float(np.mean([self.loss_value(y[b], t_b[b], window) for b in range(nb)]))
        if not batched:
            y, z = y[0], z[0]
        return TrialResult(y=y, z=z, loss=loss, grads=grads, elig_sum=elig_sum)

    def loss_value(self, y, target, window=None) -> float:
        """The loss of one trial's readouts ``y`` (steps, n_out) (see the module's
        docstring)."""
        window = np.ones(len(y)) if window is None else np.asarray(window, float)
        if self.loss == "mse":
            return float(0.5 * np.sum(window[:, None] * (y - target) ** 2))
        log_pi = y - np.max(y, axis=1, keepdims=True)
        log_pi -= np.log(np.sum(np.exp(log_pi), axis=1, keepdims=True))
        return float(-np.sum(window[:, None] * target * log_pi))

    def error(self, y_t, target_t, w_t) -> np.ndarray:
        """The error ``dE/dy_t`` at one step, ``y_t`` (n_out,) or (batch, n_out) (what the
        learning signal broadcasts)."""
        if self.loss == "mse":
            return w_t * (y_t - target_t)
        return w_t * (np.exp(y_t) / np.sum(np.exp(y_t), axis=-1, keepdims=True) - target_t)


# ---------------------------------------------------------------------- references
def _forward(net: EpropNetwork, weights, x, target, window, eprop: bool = True):
    """A batch of trials (``x`` (batch, T, n_in), ``target`` (batch, T, n_out)) of the discrete
    model in numpy, step for step in the compiled network's order; with ``eprop`` also the
    rule's traces and gradients (the batch's means).  Returns (TrialResult, record) where
    ``record`` keeps what back-propagation needs (psi, err)."""
    c = net.constants
    w_in, w_rec, w_out = (np.asarray(weights[k], float) for k in ("in", "rec", "out"))
    B = net.feedback_matrix(weights)
    nb, T, n, m, k = len(x), net.steps, net.n_rec, net.n_in, net.n_out
    alpha, rho, kappa, beta = c.alpha, c.rho, c.kappa, c.beta
    v, a, v_in, a_in = (np.zeros((nb, n)) for _ in range(4))
    zbar, zbar_prev, zout = (np.zeros((nb, n)) for _ in range(3))
    xbar, xbar_prev = np.zeros((nb, m)), np.zeros((nb, m))
    y = np.zeros((nb, k))
    last = np.full((nb, n), -10**9)
    eps = {"in": np.zeros((nb, n, m)), "rec": np.zeros((nb, n, n))}
    ebar = {"in": np.zeros((nb, n, m)), "rec": np.zeros((nb, n, n))}
    grad = {"in": np.zeros((n, m)), "rec": np.zeros((n, n)), "out": np.zeros((k, n))}
    elig_sum = {"in": np.zeros((n, m)), "rec": np.zeros((n, n))}
    off_diagonal = 1.0 - np.eye(n)
    ys, errs = np.zeros((nb, T, k)), np.zeros((nb, T, k))
    zs, psis = np.zeros((nb, T, n)), np.zeros((nb, T, n))
    for t in range(T):
        v, a, y = v * alpha, a * rho, y * kappa  # 'groups'
        zbar, xbar, zout = zbar * alpha, xbar * alpha, zout * kappa
        v, a = v + v_in, a + a_in  # 'before_thresholds'
        not_ref = (t - last) >= c.t_ref_steps
        psi = c.gamma_pd / c.v_th * np.clip(1 - np.abs(v - c.v_th - beta * a) / c.v_th, 0, 1) \
            * not_ref
        z = ((v > c.v_th + beta * a) & not_ref).astype(float)  # 'thresholds'
        last = np.where(z > 0, t, last)
        xt = x[:, t]
        v_in = xt @ w_in.T + z @ w_rec.T  # 'synapses'
        y = y + z @ w_out.T
        v_in, a_in = v_in - c.v_th * z, z  # 'resets'
        zbar, zout, xbar = zbar + z, zout + z, xbar + xt
        err = net.error(y, target[:, t], window[t])  # 'end'
        if eprop:
            L = err @ B.T
            for name, pre in (("in", xbar_prev), ("rec", zbar_prev)):
                e = psi[:, :, None] * (pre[:, None, :] - beta[None, :, None] * eps[name])
                ebar[name] = kappa * ebar[name] + e
                grad[name] += np.einsum("bj,bji->ji", L, ebar[name])
                elig_sum[name] += e.sum(axis=0)
                eps[name] = psi[:, :, None] * pre[:, None, :] \
                    + (rho - psi * beta)[:, :, None] * eps[name]
            grad["out"] += err.T @ zout
        zbar_prev, xbar_prev = zbar.copy(), xbar.copy()
        ys[:, t], zs[:, t], psis[:, t], errs[:, t] = y, z, psi, err
    grad["rec"] *= off_diagonal
    elig_sum["rec"] *= off_diagonal
    loss = float(np.mean([net.loss_value(ys[b], target[b], window) for b in range(nb)]))
    result = TrialResult(y=ys, z=zs, loss=loss,
                         grads={g: v / nb for g, v in grad.items()} if eprop else {},
                         elig_sum={g: v / nb for g, v in elig_sum.items()} if eprop else {})
    return result, {"psi": psis, "err": errs}


def _as_batch(net, weights, x, target, window, compute):
    """``compute(x, target, window)`` on a batch: ``x`` (batch, T, n_in), or one trial
    (T, n_in) as a batch of one (its ``y`` and ``z`` without the batch axis), checked like
    :meth:`EpropNetwork.trial`."""
    batched = np.ndim(x) == 3
    x, target, window = net._check(weights, x, target, window, len(x) if batched else None)
    if batched:
        return compute(x, target, window)
    result = compute(x[None], target[None], window)
    result.y, result.z = result.y[0], result.z[0]
    return result


def reference_trial(net: EpropNetwork, weights, x, target, window=None) -> TrialResult:
    """The run of :meth:`EpropNetwork.trial` computed in plain numpy (the same discrete model
    and e-prop formulas, in the compiled network's order of operations)."""
    return _as_batch(net, weights, x, target, window,
                     lambda x, t, w: _forward(net, weights, x, t, w, eprop=True)[0])


def bptt_gradients(net: EpropNetwork, weights, x, target, regularisation: float = 0.0,
                   target_rate_hz: float = 10.0, window=None) -> TrialResult:
    r"""The exact gradient of the loss (one trial, or a batch's mean) by back-propagation
    through time, with the pseudo-derivative :math:`\partial z_t / \partial v_t = \psi_t`,
    :math:`\partial z_t / \partial a_t = -\beta \psi_t` (every path: recurrent, reset,
    adaptation), in numpy:

    .. math::

        \delta y_t &= \delta_t + \kappa \delta y_{t+1}, \quad
        g_t = W^{out\top} \delta y_t + (W^{rec} - v_{th} I)^\top \delta v_{t+1}
              + \delta a_{t+1} \\
        \delta v_t &= \alpha \delta v_{t+1} + \psi_t g_t, \quad
        \delta a_t = \rho \delta a_{t+1} - \beta \psi_t g_t \\
        \partial E/\partial W^{rec} &= \sum_t \delta v_{t+1} z_t^\top, \quad
        \partial E/\partial W^{in} = \sum_t \delta v_{t+1} x_t^\top, \quad
        \partial E/\partial W^{out} = \sum_t \delta y_t z_t^\top

    (:math:`\delta_t = \partial E / \partial y_t`, the error of the network's loss.)  With
    ``regularisation`` c > 0 the loss includes the rate regulariser
    :math:`\frac{c}{2} \sum_j (r_j - r_0)^2` (:func:`regularised_gradients`; over a batch,
    ``r_j`` is the rate over all its trials), whose
    :math:`\partial / \partial z_{j,t} = c (r_j - r_0) / T` adds to :math:`g_t`.
    """
    return _as_batch(net, weights, x, target, window,
                     lambda x, t, w: _bptt(net, weights, x, t, w, regularisation,
                                           target_rate_hz))


def _bptt(net, weights, x, target, window, regularisation, target_rate_hz):
    res, rec = _forward(net, weights, x, target, window, eprop=False)
    c = net.constants
    w_rec, w_out = np.asarray(weights["rec"], float), np.asarray(weights["out"], float)
    nb, T, n = len(x), net.steps, net.n_rec
    dv_next, da_next, dy = np.zeros((nb, n)), np.zeros((nb, n)), np.zeros((nb, net.n_out))
    grads = {"in": np.zeros((n, net.n_in)), "rec": np.zeros((n, n)),
             "out": np.zeros((net.n_out, n))}
    recurrent = (w_rec - c.v_th * np.eye(n)).T
    rate = res.z.reshape(-1, n).mean(axis=0)
    rate_term = regularisation * (rate - target_rate_hz * c.dt) / T
    for t in range(T - 1, -1, -1):
        dy = rec["err"][:, t] + c.kappa * dy
        g = dy @ w_out + dv_next @ recurrent.T + da_next + rate_term
        grads["rec"] += dv_next.T @ res.z[:, t]
        grads["in"] += dv_next.T @ x[:, t]
        grads["out"] += dy.T @ res.z[:, t]
        psi = rec["psi"][:, t]
        dv_next, da_next = c.alpha * dv_next + psi * g, c.rho * da_next - c.beta * psi * g
    np.fill_diagonal(grads["rec"], 0.0)
    res.grads = {k: g / nb for k, g in grads.items()}
    return res


# ---------------------------------------------------------------------- training
def regularised_gradients(net: EpropNetwork, result: TrialResult, strength: float,
                          target_rate_hz: float) -> Dict[str, np.ndarray]:
    r"""The trial's gradients plus those of the paper's firing-rate regulariser
    :math:`E_{reg} = \frac{c}{2} \sum_j (r_j - r_0)^2`, :math:`r_j = \frac1T \sum_t z_{j,t}`
    (spikes per step): :math:`\partial E_{reg}/\partial W_{ji} = c (r_j - r_0) \frac1T
    \sum_t e_{ji,t}` (e-prop's eligibility, summed in the simulation).  Over a batch, ``r_j``
    is the rate over all its trials (as in the paper's code) and the eligibility the trials'
    mean."""
    grads = {k: g.copy() for k, g in result.grads.items()}
    if strength:
        rate = result.z.reshape(-1, net.n_rec).mean(axis=0)  # spikes per step
        r0 = target_rate_hz * net.constants.dt
        for k in ("in", "rec"):
            grads[k] += strength * (rate - r0)[:, None] * result.elig_sum[k] / net.steps
    return grads


def train(net: EpropNetwork, weights: Dict[str, np.ndarray], trial_data, iterations: int,
          lr: float = 3e-3, regularisation: float = 300.0, target_rate_hz: float = 10.0,
          on_iteration=None, progress: bool = True, window=None,
          lr_scale: Optional[Dict[str, float]] = None):
    """Train by e-prop: every iteration runs one trial or batch (``trial_data(k)`` ->
    ``(x, target)``, the loss weighted over steps by ``window``) in the compiled network, adds
    the rate regulariser's gradient (:func:`regularised_gradients`) and takes an Adam step (the
    paper's optimiser; ``lr_scale`` per weight matrix, default ``v_th`` for the input and
    recurrent weights and 1 for the readout).  ``on_iteration(k, result, weights)`` is called
    after every run (with the updated weights); when it returns True the training stops.
    Returns the final weights and the per-iteration losses (the task's,
    without the regulariser)."""
    from tqdm import tqdm

    from .optim import Adam

    v_th = net.constants.v_th
    opt = Adam(lr, lr_scale=lr_scale or {"in": v_th, "rec": v_th, "out": 1.0})
    weights = {k: np.array(v, dtype=float) for k, v in weights.items()}
    losses = []
    bar = tqdm(range(iterations), desc="e-prop", unit="trial", disable=not progress)
    for k in bar:
        x, target = trial_data(k)
        result = net.trial(weights, x, target, window)
        grads = regularised_gradients(net, result, regularisation, target_rate_hz)
        weights = opt.step(weights, grads)
        np.fill_diagonal(weights["rec"], 0.0)
        losses.append(result.loss)
        rate = result.z.mean() / net.constants.dt
        bar.set_postfix(loss=f"{result.loss:.3g}", rate=f"{rate:.1f}Hz")
        if on_iteration is not None and on_iteration(k, result, weights) is True:
            break
    return weights, np.array(losses)
