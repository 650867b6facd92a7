"""Brunel (2000) model A: the sparse E/I network of LIF neurons, its statistics and regimes.

N. Brunel, "Dynamics of sparsely connected networks of excitatory and inhibitory spiking
neurons", J. Comput. Neurosci. 8 (2000) 183-208.  Model A: N_E excitatory and N_I = N_E/4
inhibitory LIF neurons (tau = 20 ms, theta = 20 mV, V_r = 10 mV, tau_rp = 2 ms), each receiving
exactly C_E = 0.1 N_E excitatory and C_I = 0.1 N_I inhibitory inputs as voltage jumps J and
-g J after a delay D = 1.5 ms, and C_E external Poisson inputs at nu_ext, written relative to

    nu_thr = theta / (J C_E tau)

the external rate that brings the mean input to threshold without recurrence.  The paper's
Fig. 2 maps the states of the network over (g, nu_ext/nu_thr): synchronous regular (SR),
synchronous irregular with fast (SI fast) or slow (SI slow) oscillations, asynchronous
irregular (AI).

:class:`BrunelExperiment` is the network as a sweep experiment: ``g`` and ``eta =
nu_ext/nu_thr`` are run-time values of one compiled binary (the connections' shared weights
``J`` and ``-g J``; the external rate a per-synapse parameter of the ``poisson_jump``
connections), so the whole diagram costs one compile per worker.  :func:`statistics` measures
a run (rate, CV of the ISIs, Golomb's synchrony chi, the population rate's spectrum) and
:func:`classify` names its state.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np

from .sweep import Experiment

__all__ = ["PAPER_STATES", "REGIMES", "BrunelExperiment", "build_network", "classify",
           "connectivity", "initial_voltages", "mean_field_rate", "nu_thr_hz", "run_values",
           "statistics"]

#: Fig. 8 of the paper: its four example points (g, nu_ext/nu_thr) and their states
PAPER_STATES = {"SR": (3.0, 2.0), "SI fast": (6.0, 4.0), "AI": (5.0, 2.0), "SI slow": (4.5, 0.9)}
#: the states :func:`classify` names
REGIMES = ("SR", "SI fast", "SI slow", "AI", "AR", "quiescent")

TAU_MS, THETA_MV, V_RESET_MV, T_REF_MS, DELAY_MS = 20.0, 20.0, 10.0, 2.0, 1.5


def connectivity(n_e: int):
    """``(N_E, N_I, C_E, C_I, J in mV)`` of model A at ``n_e`` excitatory neurons; J C_E stays
    the paper's 0.1 mV x 1000 (the same mean input at every size)."""
    n_i = n_e // 4
    c_e, c_i = n_e // 10, n_i // 10
    return n_e, n_i, c_e, c_i, 0.1 * 1000 / c_e


def nu_thr_hz(n_e: int) -> float:
    """``theta / (J C_E tau)`` in Hz (10 Hz for model A at any size)."""
    _, _, c_e, _, j = connectivity(n_e)
    return THETA_MV / (j * c_e * TAU_MS * 1e-3)


def build_network(n_e: int = 10000, g: float = 5.0, eta: float = 2.0,
                  backend: str = "cpp_standalone", seed: int = 7, record_inhibitory=False):
    """Model A at ``n_e`` excitatory neurons as a :class:`brainkit.Network`; its connections
    (named ``E->E``, ``E->I``, ``I->E``, ``I->I``, ``ext->E``, ``ext->I``) have shared weights
    and the external rate is the per-synapse ``nu`` of ``ext->E``/``ext->I`` (see
    :func:`run_values` for another ``g`` and ``eta`` in the same binary).  Records the
    excitatory spikes (and the inhibitory ones if asked)."""
    from brian2 import mV, ms

    from .network import Network

    n_e, n_i, c_e, c_i, j = connectivity(n_e)
    lif = {"tau_m": TAU_MS * ms, "E_L": -70 * mV, "V_th": (-70 + THETA_MV) * mV,
           "V_r": (-70 + V_RESET_MV) * mV, "t_ref": T_REF_MS * ms}
    dt = 0.1 * ms
    net = Network(dt=dt, backend=backend, seed=seed, name=f"brunel2000-{n_e}")
    net.population("E", "lif", n_e, params=lif, external_current=False)
    net.population("I", "lif", n_i, params=lif, external_current=False)
    # a 'clock' source firing every step (rate*dt = 2 > any rand()); each of its spikes adds
    # J times a Poisson(C_E nu_ext dt) count to its target (the poisson_jump synapse)
    net.poisson_source("ext", n_e + n_i, rates=2 / dt)
    values = run_values(n_e, g, eta)
    for k, (pre, post, c) in enumerate((("E", "E", c_e), ("E", "I", c_e), ("I", "E", c_i),
                                        ("I", "I", c_i))):
        net.connect(pre, post, "delta_voltage", weights=values["weights"][f"{pre}->{post}"],
                    in_degree=c, seed=seed + 3 + k, delay=DELAY_MS * ms, shared_weight=True)
    for post, first, n in (("E", 0, n_e), ("I", n_e, n_i)):
        net.connect("ext", post, "poisson_jump", i=np.arange(first, first + n),
                    j=np.arange(n), weights=j * mV, name=f"ext->{post}",
                    params={"nu": values["init"][f"ext->{post}"]["nu"]})
    net.record("E", "spikes")
    if record_inhibitory:
        net.record("I", "spikes")
    return net


def run_values(n_e: int, g: float, eta: float) -> Dict[str, Any]:
    """The ``weights`` and ``init`` of :meth:`brainkit.Network.run` that set relative
    inhibition ``g`` and external rate ``eta = nu_ext/nu_thr`` in a built network."""
    from brian2 import Hz, mV

    n_e, n_i, c_e, _, j = connectivity(n_e)
    if not (np.isfinite(g) and g >= 0 and np.isfinite(eta) and eta >= 0):
        raise ValueError(f"Brunel (2000): g and eta must be finite and >= 0, got g={g!r}, "
                         f"eta={eta!r}")
    nu = eta * nu_thr_hz(n_e) * c_e  # total external rate per neuron
    return {"weights": {"E->E": j * mV, "E->I": j * mV, "I->E": -g * j * mV,
                        "I->I": -g * j * mV},
            "init": {"ext->E": {"nu": np.full(n_e, nu) * Hz},
                     "ext->I": {"nu": np.full(n_i, nu) * Hz}}}


def initial_voltages(n_e: int, seed: int):
    """Uniform in [E_L, V_th) for every neuron (the paper's random initial conditions)."""
    from brian2 import mV

    n_e, n_i, *_ = connectivity(n_e)
    rng = np.random.default_rng(seed)
    return {"E": {"v": rng.uniform(-70, -70 + THETA_MV, n_e) * mV},
            "I": {"v": rng.uniform(-70, -70 + THETA_MV, n_i) * mV}}


def statistics(indices, times_s, n: int, t_from: float, t_to: float,
               bin_s: float = 0.5e-3) -> Dict[str, Any]:
    """Population statistics of ``n`` neurons' spikes in ``[t_from, t_to)`` (seconds).

    Returns
    -------
    dict
        ``rate_hz`` (mean per neuron); ``cv_isi`` (mean over neurons with >= 3 ISIs of
        std/mean of their ISIs, NaN if none) and ``cv_fraction`` (the fraction of neurons
        it is the mean of); ``chi``, Golomb's synchrony
        ``chi^2 = Var(A) / (N^-1 sum_k Var(n_k)) / N`` of the population count ``A`` and
        the neurons' counts ``n_k`` in 1 ms bins (about ``1/sqrt(N)`` for independent
        neurons, 1 for identical ones; D. Golomb, Scholarpedia 2(1):1347, 2007);
        ``peak_hz`` and ``peak_power_ratio``: the frequency of the largest peak of the
        population rate's power spectrum (Welch, ``bin_s`` bins, 100 ms segments: 10 Hz
        resolution; 5-1000 Hz) and its power over the spectrum's median there (how far an
        oscillation stands out of the finite-size noise).
    """
    from scipy import signal

    i = np.asarray(indices)
    t = np.asarray(times_s, dtype=float)
    keep = (t >= t_from) & (t < t_to)
    i, t = i[keep], t[keep]
    window = t_to - t_from
    out: Dict[str, Any] = {"rate_hz": len(i) / n / window}
    order = np.lexsort((t, i))
    i, t = i[order], t[order]
    same = i[1:] == i[:-1]
    isi, owner = np.diff(t)[same], i[1:][same]
    cvs = []
    if len(owner):
        bounds = np.flatnonzero(np.diff(owner)) + 1
        for x in np.split(isi, bounds):
            if len(x) >= 3:
                cvs.append(x.std() / x.mean())
    out["cv_isi"] = float(np.mean(cvs)) if cvs else float("nan")
    out["cv_fraction"] = len(cvs) / n
    edges = np.arange(t_from, t_to + 1e-12, 1e-3)
    nb = len(edges) - 1
    b = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, nb - 1)
    per = np.zeros((n, nb))
    np.add.at(per, (i, b), 1)
    denom = n * per.var(axis=1).sum()
    out["chi"] = float(np.sqrt(per.sum(0).var() / denom)) if denom > 0 else float("nan")
    counts = np.bincount(((t - t_from) / bin_s).astype(int),
                         minlength=int(round(window / bin_s)))[:int(round(window / bin_s))]
    rate = counts / (n * bin_s)
    if rate.std() > 0:
        f, p = signal.welch(rate - rate.mean(), fs=1 / bin_s,
                            nperseg=min(len(rate), int(round(0.1 / bin_s))))
        band = (f >= 5) & (f <= 1000)
        k = np.argmax(p[band])
        out["peak_hz"] = float(f[band][k])
        out["peak_power_ratio"] = float(p[band][k] / np.median(p[band]))
    else:
        out["peak_hz"], out["peak_power_ratio"] = float("nan"), float("nan")
    return out


#: thresholds of :func:`classify` (ours: the paper describes its states without numbers)
SYNCHRONOUS_CHI = 0.3
OSCILLATION_PEAK_RATIO = 100.0
REGULAR_CV = 0.2
FAST_HZ = 80.0
QUIESCENT_HZ = 0.1


def classify(stats: Dict[str, Any]) -> str:
    """The state of a run from its :func:`statistics` (thresholds: the module's constants):

    - ``quiescent``: rate <= 0.1 Hz;
    - synchronous when the population rate oscillates: its spectrum's peak stands > 100 times
      above the spectrum's median, or chi > 0.3 (measured at N_E = 10000: chi 0.52 in SR,
      <= 0.25 elsewhere; peak ratios 130-210 in the slow and fast oscillations, 20-90 in the
      asynchronous states);
    - regular when the mean CV of the ISIs < 0.2, measured on at least 10 % of the neurons
      (at lower rates the few neurons with 3 ISIs are a biased sample: irregular);
    - ``SR``: synchronous and regular; ``SI fast`` / ``SI slow``: synchronous and irregular,
      the spectrum's peak above / below 80 Hz (the paper's Fig. 8: fast oscillations near
      180 Hz, slow ones near 20 Hz); ``AI``: asynchronous and irregular; ``AR``:
      asynchronous and regular.
    """
    if not stats["rate_hz"] > QUIESCENT_HZ:
        return "quiescent"
    synchronous = (stats["peak_power_ratio"] > OSCILLATION_PEAK_RATIO
                   or stats["chi"] > SYNCHRONOUS_CHI)
    regular = stats["cv_isi"] < REGULAR_CV and stats["cv_fraction"] >= 0.1  # NaN: irregular
    if synchronous:
        if regular:
            return "SR"
        return "SI fast" if stats["peak_hz"] > FAST_HZ else "SI slow"
    return "AR" if regular else "AI"


def mean_field_rate(g: float, eta: float, n_e: int = 10000) -> float:
    """The paper's eq. (21): the rate (Hz) of the stationary asynchronous state, the fixed
    point nu0 of

        1/nu0 = tau_rp + tau sqrt(pi) int_{(V_r - mu)/sigma}^{(theta - mu)/sigma}
                e^{u^2} (1 + erf u) du,
        mu = C_E J tau (nu_ext + nu0 (1 - g gamma)),
        sigma^2 = J^2 C_E tau (nu_ext + nu0 (1 + g^2 gamma)),   gamma = C_I / C_E.

    Raises ValueError where the self-consistency has no root below 1/tau_rp."""
    from scipy import integrate, optimize, special

    _, _, c_e, c_i, j = connectivity(n_e)
    tau, t_ref = TAU_MS * 1e-3, T_REF_MS * 1e-3
    nu_ext = eta * nu_thr_hz(n_e)
    gamma = c_i / c_e

    def siegert(nu):
        mu = c_e * j * tau * (nu_ext + nu * (1 - g * gamma))
        sigma = np.sqrt(j ** 2 * c_e * tau * (nu_ext + nu * (1 + g ** 2 * gamma)))
        integral, _ = integrate.quad(lambda u: special.erfcx(-u), (V_RESET_MV - mu) / sigma,
                                     (THETA_MV - mu) / sigma, limit=200)
        return 1 / (t_ref + tau * np.sqrt(np.pi) * integral)

    return float(optimize.brentq(lambda nu: siegert(nu) - nu, 1e-6, 1 / t_ref - 1e-6))


class BrunelExperiment(Experiment):
    """Model A (:func:`build_network`) as a sweep experiment over ``g`` and ``eta``
    (= nu_ext/nu_thr) and ``seed``: one compiled binary for every point; each point runs
    ``duration_ms`` from random initial voltages and measures the excitatory population
    after ``transient_ms`` (:func:`statistics`, :func:`classify`)."""

    name = "brunel2000"

    def __init__(self, n_e: int = 10000, duration_ms: float = 500.0,
                 transient_ms: float = 100.0, backend: str = "cpp_standalone"):
        self.n_e, self.duration_ms, self.transient_ms = int(n_e), duration_ms, transient_ms
        self.backend = backend

    def build(self):
        return build_network(self.n_e, backend=self.backend)

    def measure(self, net, point: Dict[str, Any]) -> Dict[str, Any]:
        from brian2 import ms

        g, eta = float(point.get("g", 5.0)), float(point.get("eta", 2.0))
        seed = int(point.get("seed", 1))
        values = run_values(self.n_e, g, eta)
        init = {**initial_voltages(self.n_e, seed), **values["init"]}
        res = net.run(self.duration_ms * ms, restart=True, seed=seed,
                      weights=values["weights"], init=init)
        i, t = res.spikes["E"]
        stats = statistics(i, np.asarray(t), connectivity(self.n_e)[0],
                           self.transient_ms * 1e-3, self.duration_ms * 1e-3)
        stats["regime"] = classify(stats)
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                for k, v in stats.items()}

