"""FORCE learning: recursive least squares on the readout of a recurrent spiking network.

D. Sussillo, L. F. Abbott, "Generating coherent patterns of activity from chaotic neural
networks", Neuron 63 (2009) 544-557 (FORCE, RLS); W. Nicola, C. Clopath, "Supervised learning in
spiking neural networks with FORCE training", Nat. Commun. 8 (2017) 2208 (the spiking version
built here, their LIF network).

The network (Nicola & Clopath, Methods and their LIF code; voltages in mV)::

    tau_m dv_i/dt = -v_i + BIAS + s_i + Q eta_i z        (frozen for t_ref after a spike)
    spike when v_i >= V_th, then v_i <- V_r
    ds_i/dt = -s_i/tau_r + h_i,
    dh_i/dt = -h_i/tau_d + sum_j omega_ij sum_k delta(t - t_jk)/(tau_r tau_d)
    dr_i/dt = -r_i/tau_r + q_i,   dq_i/dt = -q_i/tau_d + sum_k delta(t - t_ik)/(tau_r tau_d)
    z = phi^T r                    (the readout, fed back through the fixed encoders Q eta)

with omega = G w0, w0_ij ~ N(0, 1)/(sqrt(N) p) on a random fraction p of pairs (each neuron's
incoming weights shifted to sum to zero), eta_i ~ U(-1, 1).  The neuron is the library's
``lif`` model (E_L = BIAS, R I = s + Q eta z); the double exponential filter has unit area, so
r_i is neuron i's spike train filtered by (exp(-t/tau_d) - exp(-t/tau_r))/(tau_d - tau_r).

Defaults (Nicola & Clopath's LIF sine example): N = 2000, dt = 0.05 ms, tau_m = 10 ms,
t_ref = 2 ms, V_r = -65 mV, V_th = BIAS = -40 mV, tau_r = 2 ms, tau_d = 20 ms, p = 0.1,
G = 0.04, Q = 10 (mV), RLS every 50 steps (2.5 ms) with P(0) = I/lambda, 1/lambda = 0.1 dt
(lambda = 2e5 with r in Hz), initial v ~ U(-65, 30) mV.

Where the RLS step runs (:class:`ForceNetwork` ``backend``):

* ``'cpp_standalone'``: inside the compiled binary, as a Brian2 :class:`~brian2.Function` with
  a C++ implementation called by a ``run_regularly`` operation of the readout group every
  ``rls_every`` steps; it holds P in its own memory and updates the reservoir's ``phi`` array
  in place.  A Brian2 expression cannot express P r (a matrix-vector product over all neurons)
  with one neuron's variables, so the function reads the reservoir's arrays by their
  standalone names (``device.get_array_name``).  Compiled once, re-run with new targets.
* ``'runtime'``: a :func:`brian2.network_operation` calling :func:`rls_update` (numpy).  A
  Python callback cannot run inside ``cpp_standalone`` (the binary runs without Python), and
  the C++ function cannot run in runtime mode (it reads standalone arrays), hence two paths.

Alternating short standalone runs with numpy updates between them would need one binary launch
per RLS step (2000 per 5 s of training): not offered.  ``cuda_standalone`` is not supported
(the function is host C++; brian2cuda would need a CUDA implementation of it).  Both paths give
identical spikes and decoders (tests/test_force.py); measured speed on one problem (N = 500,
3 s of network time, examples/force_learning.py --benchmark, 2 shared cores): 1.2 s per run
on cpp_standalone (+ ~50 s compile once) against 9.1-9.6 s per run on runtime (Cython).
"""

from __future__ import annotations

import itertools
import time
from typing import Any, Dict, Optional

import numpy as np

from ..engine import StandaloneEngine, runtime_device
from .losses import nmse

_counter = itertools.count()


def rls_update(P: np.ndarray, phi: np.ndarray, r: np.ndarray, error) -> np.ndarray:
    """One recursive-least-squares step (the FORCE update of Sussillo & Abbott 2009), in place.

    .. math::

        k = P r,\\qquad c = 1 / (1 + r^T k),\\qquad
        P \\leftarrow P - c\\, k k^T,\\qquad
        \\phi \\leftarrow \\phi - e\\, P_{new} r = \\phi - e\\, c\\, k

    where :math:`e = \\phi^T r - y` is the error of the readout *before* the update
    (:math:`P_{new} r = c k`).  Nicola & Clopath's code steps phi by :math:`e\\,k` (the old
    P times r): a step larger by :math:`1 + r^T P r`; this function is the exact RLS.
    Starting from :math:`P(0) = I/\\lambda`, :math:`\\phi(0) = 0`, after the rows
    :math:`r_1 .. r_n` (matrix R) with targets :math:`y` it gives exactly the ridge
    regression :math:`P_n = (R^T R + \\lambda I)^{-1}`,
    :math:`\\phi_n = (R^T R + \\lambda I)^{-1} R^T y`.

    Parameters
    ----------
    P : ndarray (N, N)
        Running inverse correlation matrix; updated in place (stays symmetric).
    phi : ndarray (N,) or (N, m)
        Decoder (one column per output); updated in place.
    r : ndarray (N,)
        Presynaptic activity vector of this step.
    error : float or ndarray (m,)
        phi^T r - target, computed with the decoder before this update.

    Returns
    -------
    ndarray
        The gain P_new r (N,).
    """
    P = _check_array("P", P, 2)
    r = np.asarray(r, dtype=float)
    n = r.shape[0] if r.ndim == 1 else -1
    if r.ndim != 1 or P.shape != (n, n):
        raise ValueError(f"rls_update: r must be a vector of length N and P an (N, N) matrix, "
                         f"got r {r.shape}, P {P.shape}")
    if phi.shape[0] != n or phi.ndim not in (1, 2):
        raise ValueError(f"rls_update: phi must have shape (N,) or (N, m) with N = {n}, "
                         f"got {phi.shape}")
    err = np.asarray(error, dtype=float)
    if (phi.ndim == 1 and err.ndim != 0) or (phi.ndim == 2 and err.shape != (phi.shape[1],)):
        raise ValueError(f"rls_update: error must have one value per output column of phi "
                         f"{phi.shape}, got shape {err.shape}")
    k = P @ r
    c = 1.0 / (1.0 + r @ k)
    P -= c * np.outer(k, k)
    gain = c * k
    if phi.ndim == 1:
        phi -= float(err) * gain
    else:
        phi -= np.outer(gain, err)
    return gain


def _check_array(name, a, ndim):
    if not isinstance(a, np.ndarray) or a.dtype != np.float64 or a.ndim != ndim:
        raise ValueError(f"rls_update: {name} must be a float64 numpy array with {ndim} "
                         f"dimensions (it is updated in place), got {type(a).__name__} "
                         f"{getattr(a, 'dtype', '')} {getattr(a, 'shape', '')}")
    return a


def best_shift_nmse(output, target, max_shift: int):
    """NMSE after the best time shift: a phase-invariant error for periodic targets.

    ``target`` holds ``max_shift`` more samples than ``output`` and begins ``max_shift``
    samples earlier (same sampling interval); the output is compared with every delayed copy
    of the target, ``target[max_shift - L : max_shift - L + len(output)]`` for the delays
    L = 0 .. max_shift samples, and the smallest :func:`nmse` is returned.  With max_shift one
    period of a periodic target every phase is tried, so an output that has the target's
    waveform but a drifted phase scores near 0, where the plain NMSE of a half-period drift is
    ~4 (NMSE of a sign-flipped sine) and of a random phase ~2 on average.

    Parameters
    ----------
    output : array_like (n,)
        Output samples.
    target : array_like (n + max_shift,)
        Target samples starting ``max_shift`` samples before the output's first sample.
    max_shift : int
        Largest delay tried, in samples (>= 0).

    Returns
    -------
    tuple (float, int)
        The smallest NMSE and its delay L in samples.
    """
    output, target = np.asarray(output, float), np.asarray(target, float)
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) \
            or max_shift < 0:
        raise ValueError(f"best_shift_nmse: max_shift must be an integer >= 0, got {max_shift!r}")
    n = output.shape[0] if output.ndim == 1 else -1
    if output.ndim != 1 or target.shape != (n + max_shift,):
        raise ValueError(f"best_shift_nmse: target must hold len(output) + max_shift = "
                         f"{n + max_shift} samples, got output {output.shape}, target "
                         f"{target.shape}")
    best = min((nmse(output, target[max_shift - lag:max_shift - lag + n]), lag)
               for lag in range(max_shift + 1))
    return float(best[0]), int(best[1])


_CPP_RLS = """
static std::vector<double> _force_P_{uid};
double force_rls_{uid}(double target, int active)
{{
    // z = phi^T r; while active: RLS step (Sussillo & Abbott 2009), P held here.
    const int N = {n};
    double* r = brian::{r};
    double* phi = brian::{phi};
    double z = 0.0;
    for (int j = 0; j < N; j++) z += phi[j] * r[j];
    if (!active) return z;
    std::vector<double>& P = _force_P_{uid};
    static std::vector<double> k(N);
    if (P.empty()) {{
        P.assign((size_t)N * N, 0.0);
        for (int i = 0; i < N; i++) P[(size_t)i * N + i] = 1.0 / {lam!r};
    }}
    double rk = 0.0;
    for (int i = 0; i < N; i++) {{
        const double* Pi = &P[(size_t)i * N];
        double s = 0.0;
        for (int j = 0; j < N; j++) s += Pi[j] * r[j];
        k[i] = s;
        rk += r[i] * s;
    }}
    const double c = 1.0 / (1.0 + rk);
    const double e = z - target;
    for (int i = 0; i < N; i++) {{
        double* Pi = &P[(size_t)i * N];
        const double cki = c * k[i];
        for (int j = 0; j < N; j++) Pi[j] -= cki * k[j];
        phi[i] -= e * cki;
    }}
    return z;
}}
"""


class ForceNetwork:
    """Nicola & Clopath's LIF reservoir with a FORCE-trained (RLS) readout; see the module
    docstring for the equations and the default values.

    Parameters
    ----------
    n : int
        Number of LIF neurons N.
    duration : Quantity
        Length of every run (fixed once a standalone binary is built).
    dt : Quantity
        Time step (0.05 ms).
    G, Q, p : float
        Strength of the static weights, of the feedback (in mV), connection probability.
    lam : float
        Regulariser lambda of P(0) = I/lambda (r in Hz); default 1/(0.1 dt/second).
    rls_every : int
        RLS step every this many time steps.
    backend : str
        ``'cpp_standalone'`` (RLS in C++ inside the binary) or ``'runtime'`` (numpy callback).
    seed : int
        Seed of the weights, encoders and initial voltages (numpy: the same on both backends).
    record_dt : Quantity
        Sampling interval of the recorded readout.
    tau_d : Quantity
        Decay time constant of the synaptic and readout filters (20 ms; fixed once a
        standalone binary is built).
    """

    def __init__(self, n: int = 2000, duration=None, dt=None, G: float = 0.04, Q: float = 10.0,
                 p: float = 0.1, lam: Optional[float] = None, rls_every: int = 50,
                 backend: str = "cpp_standalone", seed: int = 1, record_dt=None,
                 codegen_target: str = "cython", tau_d=None):
        from brian2 import ms, second

        if backend not in ("cpp_standalone", "runtime"):
            raise ValueError(f"ForceNetwork: backend must be 'cpp_standalone' or 'runtime' "
                             f"(the RLS step needs one of them), got '{backend}'")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
            raise ValueError(f"ForceNetwork: n must be an integer >= 2, got {n!r}")
        if not 0 < p <= 1:
            raise ValueError(f"ForceNetwork: connection probability p must lie in (0, 1], got {p}")
        if isinstance(rls_every, bool) or not isinstance(rls_every, (int, np.integer)) \
                or rls_every < 1:
            raise ValueError(f"ForceNetwork: rls_every must be an integer >= 1, got {rls_every!r}")
        if duration is None:
            raise ValueError("ForceNetwork: give the duration of a run (e.g. 15*second)")
        self.n, self.G, self.Q, self.p = int(n), float(G), float(Q), float(p)
        self.dt = 0.05 * ms if dt is None else dt
        self.duration = duration
        self.lam = float(1.0 / (0.1 * float(self.dt / second))) if lam is None else float(lam)
        if not self.lam > 0:
            raise ValueError(f"ForceNetwork: lam must be > 0, got {self.lam}")
        self.rls_every = int(rls_every)
        self.backend = backend
        self.codegen_target = codegen_target
        self.record_dt = 1 * ms if record_dt is None else record_dt
        self.tau_d = 20 * ms if tau_d is None else tau_d
        self.seed = seed
        self.timings: Dict[str, float] = {}
        self._built = None
        rng = np.random.default_rng(seed)
        # static weights (Nicola & Clopath): omega = G w0, w0 = N(0,1)/(sqrt(N) p) on a fraction
        # p of pairs, each row (a neuron's inputs) shifted to zero sum over its synapses
        mask = rng.random((self.n, self.n)) < self.p
        w = rng.standard_normal((self.n, self.n)) * mask / (np.sqrt(self.n) * self.p)
        counts = np.maximum(mask.sum(axis=1, keepdims=True), 1)
        w = (w - w.sum(axis=1, keepdims=True) / counts) * mask
        self.post, self.pre = np.nonzero(mask)
        self.w0 = w[self.post, self.pre]
        self.eta = rng.uniform(-1, 1, self.n)  # encoders; the feedback is Q eta z (mV)
        self.v0 = rng.uniform(-65, 30, self.n)  # mV

    @property
    def omega(self) -> np.ndarray:
        """Static weights G w0 (mV s per spike: the synaptic filter has unit area), one per
        synapse (pre -> post).  G and Q are run-time values: changing ``self.G`` or
        ``self.Q`` needs no recompile."""
        return self.G * self.w0

    # ---------------------------------------------------------------- building
    def _build(self, target_values):
        import brian2
        from brian2 import TimedArray, mV, second

        from ..library import load_model

        uid = next(_counter)
        lif = load_model("lif").with_parameters(
            tau_m=10 * brian2.ms, t_ref=2 * brian2.ms, V_r=-65 * mV, V_th=-40 * mV,
            E_L=-40 * mV)  # E_L is Nicola & Clopath's BIAS
        ns = lif.namespace()
        ns.update(tau_r=2 * brian2.ms, tau_d=self.tau_d)
        eqs = lif.brian2_equations() + brian2.Equations("""
            I = (s + enc*z)/R : amp   # enc = Q eta (encoder, mV)
            ds/dt = -s/tau_r + h : volt
            dh/dt = -h/tau_d : volt/second
            dr/dt = -r/tau_r + q : Hz
            dq/dt = -q/tau_d : Hz/second
            enc : volt (constant)
            phi : second
            z : 1 (linked)
            """)
        res = brian2.NeuronGroup(self.n, eqs, threshold="v >= V_th",
                                 reset=lif.reset + "\nq += 1/(tau_r*tau_d)",
                                 refractory=lif.refractory, method="exponential_euler",
                                 namespace=ns, dt=self.dt, name=f"force_reservoir_{uid}")
        step_dt = self.rls_every * self.dt
        ro_ns = {}
        if self.backend == "cpp_standalone":
            dev = brian2.get_device()
            code = _CPP_RLS.format(uid=uid, n=self.n, lam=self.lam,
                                   r=dev.get_array_name(res.variables["r"]),
                                   phi=dev.get_array_name(res.variables["phi"]))
            fn = brian2.Function(pyfunc=None, arg_units=[1, 1], return_unit=1,
                                 arg_types=["float", "integer"], return_type="float",
                                 stateless=False)
            fn.implementations.add_implementation("cpp", code, name=f"force_rls_{uid}")
            ro_ns["force_rls"] = fn
        ta = TimedArray(np.asarray(target_values, float), dt=self.dt, name=f"force_target_{uid}")
        ro = brian2.NeuronGroup(1, """
            z : 1
            y = force_target(t) : 1
            t_on : second
            t_off : second
            z_rls : 1
            """, namespace=dict(ro_ns, force_target=ta), dt=self.dt, name=f"force_readout_{uid}")
        res.z = brian2.linked_var(ro, "z", index=np.zeros(self.n, dtype=int))
        rec = brian2.Synapses(res, res, "w : volt*second", on_pre="h_post += w/(tau_r*tau_d)",
                              namespace=ns, dt=self.dt, name=f"force_recurrent_{uid}")
        rec.connect(i=self.pre, j=self.post)
        rd = brian2.Synapses(res, ro, "z_post = phi_pre*r_pre : 1 (summed)", dt=self.dt,
                             name=f"force_readout_syn_{uid}")
        rd.connect(i=np.arange(self.n), j=0)
        objs = {"res": res, "ro": ro, "rec": rec, "rd": rd, "ta": ta}
        if self.backend == "cpp_standalone":
            ro.run_regularly("z_rls = force_rls(y, int(t >= t_on and t < t_off))",
                             dt=step_dt, when="end", name=f"force_rls_op_{uid}")
        else:
            self._P = np.eye(self.n) / self.lam

            @brian2.network_operation(dt=step_dt, when="end", name=f"force_rls_op_{uid}")
            def _rls(t):
                ro.z_rls_[:] = float(res.phi_[:] @ res.r_[:])
                if float(ro.t_on_[0]) <= float(t / second) < float(ro.t_off_[0]):
                    r = np.asarray(res.r_[:], dtype=float)
                    phi = np.array(res.phi_[:], dtype=float)
                    y = target_values[min(int(round(float(t / self.dt))), len(target_values) - 1)]
                    rls_update(self._P, phi, r, phi @ r - y)
                    res.phi_[:] = phi

            objs["op"] = _rls
        objs["zmon"] = brian2.StateMonitor(ro, ["z", "y"], record=0, dt=self.record_dt,
                                           name=f"force_zmon_{uid}")
        objs["spikes"] = brian2.SpikeMonitor(res, name=f"force_spikes_{uid}")
        objs["all"] = [o for k, o in objs.items() if k != "ta"]
        return objs

    def _values(self, objs, t_on, t_off):
        from brian2 import mV, second

        return {(objs["res"], "v"): self.v0 * mV, (objs["rec"], "w"): self.omega * mV * second,
                (objs["res"], "enc"): self.Q * self.eta * mV,
                (objs["ro"], "t_on"): np.array([float(t_on / second)]) * second,
                (objs["ro"], "t_off"): np.array([float(t_off / second)]) * second}

    def run(self, target, train_start, train_stop) -> Dict[str, Any]:
        """Run for ``duration`` with RLS on from ``train_start`` to ``train_stop`` learning
        ``target`` (dimensionless samples every ``dt``, one per time step: length
        duration/dt); returns times, readout z, target y (sampled every ``record_dt``), the
        reservoir spikes, and ``self.timings`` (compile, run seconds)."""
        from brian2 import second

        steps = int(round(float(self.duration / self.dt)))
        target = np.asarray(target, dtype=float)
        if target.shape != (steps,) or not np.all(np.isfinite(target)):
            raise ValueError(f"ForceNetwork.run: target must hold {steps} finite values (one per "
                             f"time step of {self.dt} over {self.duration}), got shape "
                             f"{target.shape}")
        if not 0 * second <= train_start <= train_stop <= self.duration:
            raise ValueError("ForceNetwork.run: need 0 <= train_start <= train_stop <= duration, "
                             f"got {train_start}, {train_stop}, {self.duration}")
        run = self._run_standalone if self.backend == "cpp_standalone" else self._run_runtime
        objs = run(target, train_start, train_stop)
        mon, sp = objs["zmon"], objs["spikes"]
        return {"t": np.array(mon.t / second, copy=True), "z": np.array(mon.z[0], copy=True),
                "y": np.array(mon.y[0], copy=True), "spike_i": np.array(sp.i[:], copy=True),
                "spike_t": np.array(sp.t / second, copy=True),
                "phi": np.array(objs["res"].phi_[:], copy=True)}

    def _run_runtime(self, target, t_on, t_off):
        import brian2

        with runtime_device(self.codegen_target):
            t0 = time.perf_counter()
            objs = self._build(target)
            for (g, var), val in self._values(objs, t_on, t_off).items():
                setattr(g, var, val)
            net = brian2.Network(objs["all"])
            net.run(self.duration, namespace={})
            self.timings = {"run": time.perf_counter() - t0}
            return objs

    def _run_standalone(self, target, t_on, t_off):
        import brian2

        if self._built is None:
            engine = StandaloneEngine("cpp_standalone", prefix="brainkit-force-")
            with engine.compiling():
                objs = self._build(target)
                for (g, var), val in self._values(objs, t_on, t_off).items():
                    setattr(g, var, val)
                brian2.Network(objs["all"]).run(self.duration, namespace={})
            self.timings = {"compile": engine.compile_s}
            self._built = (engine, objs)
        engine, objs = self._built
        run_args = {getattr(g, var): val for (g, var), val in
                    self._values(objs, t_on, t_off).items()}
        run_args[objs["ta"]] = np.asarray(target, float)
        engine.run(run_args)
        self.timings["run"] = engine.run_s
        return objs

    def close(self) -> None:
        """Delete the generated C++ project now (it is also deleted when this object is
        garbage-collected).  A later :meth:`run` compiles again."""
        if self._built is not None:
            self._built[0].close()
        self._built = None
