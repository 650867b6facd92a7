"""A recurrent spiking network with gated synapses, simulated by Brian2, with exact gradients.

The model (Huh & Sejnowski 2018, section 2.2), per trial ``b`` of a batch and neuron ``i``::

    tau_v dv/dt = F(v, I)                 neuron model from the library ('theta' by default)
    tau_s ds/dt = -s + g(v) dv/dt         gated synapse ('gated'), written for that neuron
    I = W s + U x(t) + I0                 x: analog input channels of the trial
    o(t) = O s(t)                         readout (computed from the recorded s)

How it runs in Brian2 (one ``NeuronGroup`` of ``batch * n_hidden`` neurons, trial ``b`` owning
neurons ``b*N .. b*N+N-1``):

* the recurrent input is filtered directly, ``dJ/dt = a J + J_in`` with ``J_in = W D`` and
  ``D = h_s(s=0)`` the synapse trace's drive (``g(v) dv/dt / tau_s``): by linearity ``J = W s``
  at every step, and only neurons inside the active zone (``D != 0``) send anything.  On
  ``cpp_standalone`` the batch shares one weight table (a parameter-only group of ``N x N``
  values per parameter set, ``w[pre, post] = W[post, pre]``, set at run time) read by a C++
  :class:`brian2.Function` once per step: for each trial and in-zone neuron it adds one
  contiguous row times ``D_pre`` to the trial's ``J_in`` (vector speed, nothing replicated).
  On ``runtime`` and ``cuda_standalone`` (where a host C++ function cannot run) the same sums
  are block-diagonal ``Synapses`` built from index arrays, one copy of ``W`` per trial, fired by
  a custom event ``zone`` (``J_in_post += w*D_pre``, ``w = W[post, pre]``);
* the input enters as ``I = J + I0 + sum_k u_k x(t, b*n_in + k)``, ``x`` a ``TimedArray`` of
  shape ``(steps, batch*n_in)`` and ``u_k``/``I0`` per-neuron parameters (``U``'s columns);
* the trace integrates as ``ds/dt = a s + D_store`` (its linear part ``a``, the run-time
  value ``a_J``, plus the drive stored before the update: the same Euler map as the synapse
  file's equation, whose gate is then evaluated once per step and neuron, not twice);
* within a step ``n`` (time ``t_n``) Brian2's schedule runs, in this order (slot, order):
  ``before_groups, -3``: ``I_store = I_n``, ``D_store = 0`` (and ``J_in = 0`` for the synapse
  pathway);
  ``before_groups, -2``: the custom event ``zone`` tests the gate's condition (the
  ``int(...)`` factor of the drive, ``DiscreteSystem.brian2_zone``; ``D != 0`` for a drive
  without one);
  ``before_groups, -1``: ``D_store = D(y_n, I_n)`` for the neurons in the zone only;
  ``before_groups, 0``: the recording of ``y_n`` and ``I_n`` (cpp_standalone: a C++ function
  copying the state arrays into a mapped file, :meth:`RecurrentSNN._recording_buffer`;
  otherwise a ``StateMonitor``), so ``o_n = O s_n`` is the readout *before* the update of
  step ``n``;
  ``before_groups, 1``: the pathway computes ``J_in = W D_n`` (table function or synapses, the
  latter fired by the ``zone`` event);
  ``groups``: forward Euler of every differential equation from the values of step ``n``:
  ``y_{n+1} = y_n + dt h(y_n, I_n)``, ``J_{n+1} = J_n + dt (a J_n + J_in)``, where ``I_n`` is
  the subexpression ``J_n + I0 + U x(t_n)`` (the ``TimedArray`` is sampled at ``t_n``
  everywhere, since ``t`` only advances at the end of the step);
  ``thresholds``/``resets``: ``theta_{n+1} > theta_spike`` books a spike *at step n* and
  ``theta_spike += 2 pi`` (read by nothing else).
  This is exactly the map :mod:`brainkit.training.adjoint` differentiates; the test
  ``test_brian2_trajectory_is_the_euler_map_the_adjoint_differentiates`` checks Brian2's
  trajectory against a plain numpy Euler of the same equations to 1e-10.  The whole group
  integrates with ``method='euler'`` whatever the neuron file says.

Why the input is a ``TimedArray`` of ``x`` (``steps x batch*n_in`` values) and not of the
projected ``U x + I0`` (``steps x batch*n_hidden``): every run writes its ``run_args`` arrays
to files; at N = 1000, batch 16, T = 2000 the projected input would be 256 MB per run, ``x`` is
0.5 MB (``U``'s columns go in as ``n_in`` per-neuron parameters).

Units: parameters are plain float64 arrays in SI units.  For the theta neuron (dimensionless
input) the trace ``s`` is in Hz (each spike delivers ``int s dt = 1``), so ``W`` and ``O`` are in
seconds, ``U`` and ``I0`` dimensionless.  ``dt`` defaults to 0.1 ms.

On ``cpp_standalone`` the network is compiled once (first :meth:`RecurrentSNN.forward`); every
call re-runs the binary with new ``U, W, I0`` and inputs through ``device.run(run_args=...)``,
and the files Brian2 writes for those arguments are deleted after each run.  ``runtime`` (numpy
code generation) rebuilds the objects for every call (for tests).
"""

from __future__ import annotations

import itertools
import mmap
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..backends import check_backend
from ..engine import StandaloneEngine, runtime_device, synapse_clock
from ..equations import pre_equations, unit_string
from ..library import Model, evaluate_expression, load_model
from ..results import copy_out
from .adjoint import (SYN_SUFFIX, DiscreteSystem, NotDifferentiableError, adjoint_gradients,
                      derive_system)
from .adjoint_kernel import thread_count

_uid = itertools.count()
PARAM_NAMES = ("U", "W", "O", "I0")
TRAINING_BACKENDS = ("cpp_standalone", "cuda_standalone", "runtime")

# J_in = W D for every trial from one table (see RecurrentSNN._shared_pathway); Brian2 calls it
# once per step for each of C chunks of consecutive trials (one chunk per OpenMP thread).
# Presynaptic neuron outermost: a row of the table is read once per step for all the chunk's
# trials that have that neuron in the zone, and every trial still adds its rows in the order
# i = 0, 1, ... (the same sums, rounding included, as the synapse pathway, whatever C).  The
# inner loop runs over contiguous memory and vectorises.
_CPP_RECURRENT = """
double rsnn_recurrent_{uid}(int c)
{{
    const size_t B = {B}, N = {N}, C = {C};
    const size_t b0 = c * B / C, b1 = (c + 1) * B / C;
    const double* D = brian::{D};
    double* J = brian::{J};
    const double* w = brian::{w};
    const int32_t* wset = brian::{wset};
    for (size_t j = b0 * N; j < b1 * N; j++) J[j] = 0.0;
    for (size_t i = 0; i < N; i++) {{
        for (size_t b = b0; b < b1; b++) {{
            const double d = D[b * N + i];
            if (d == 0.0) continue;
            const double* __restrict row = w + ((size_t)wset[b * N] * N + i) * N;
            double* __restrict Jb = J + b * N;
            for (size_t j = 0; j < N; j++) Jb[j] += row[j] * d;
        }}
    }}
    return 0.0;
}}
"""


# Records y_n and I_n of every neuron once per step (cpp_standalone), chunk c of the trials as
# above: copies the group's state arrays into row n of a file the Python side created and
# maps (RecurrentSNN._recording_buffer), instead of a StateMonitor's growing arrays that the
# binary writes to its results folder at the end and Python reads back.  Block k of the file
# holds variable k, (steps, batch * n_hidden) float64 values.  The file is mapped at the first
# call (a function-local static: initialised once, also with several threads).
_CPP_RECORD = """
double* rsnn_record_open_{uid}()
{{
    const char* path = getenv("{env}");
    if (path == nullptr || path[0] == 0) {{
        fprintf(stderr, "brainkit: ${env} must name the recording file\\n");
        exit(2);
    }}
    const int fd = open(path, O_RDWR);
    void* p = fd < 0 ? MAP_FAILED : mmap(nullptr, {K} * {T} * {M} * sizeof(double),
                                        PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {{
        fprintf(stderr, "brainkit: cannot map the recording file %s\\n", path);
        exit(2);
    }}
    close(fd);
    return (double*)p;
}}

double rsnn_record_{uid}(int c)
{{
    const size_t T = {T}, M = {M}, K = {K}, N = {N}, B = {B}, C = {C};
    static double* const out = rsnn_record_open_{uid}();
    double* const src[K] = {{ {sources} }};
    const size_t m0 = (c * B / C) * N, m1 = ((c + 1) * B / C) * N;
    const int64_t n = brian::{timestep}[0];
    if (n < 0 || (size_t)n >= T) return 0.0;
    for (size_t k = 0; k < K; k++)
        memcpy(out + (k * T + (size_t)n) * M + m0, src[k] + m0, (m1 - m0) * sizeof(double));
    return 0.0;
}}
"""
RECORD_ENV = "BRAINKIT_RSNN_RECORD"
_RECORD_HEADERS = ["<sys/mman.h>", "<fcntl.h>", "<unistd.h>", "<cstring>", "<cstdio>",
                   "<cstdlib>"]


class RecurrentError(ValueError):
    """Wrong parameters or inputs for a :class:`RecurrentSNN` (names what and which shape)."""


@dataclass
class Trace:
    """What one forward pass recorded.

    Attributes
    ----------
    o : ndarray (batch, steps, n_out)
        Readout ``O s_n`` at the start of every step.
    states : dict of ndarray (steps, batch, n_hidden)
        Every differentiated state (``theta``, ``s_syn``) at the start of every step.
    I : ndarray (steps, batch, n_hidden)
        The neuron input ``I_n``.
    spikes : list of (i, step) tuples of int arrays, one per trial
    x : ndarray (batch, steps, n_in)
    params : dict
        The parameters the trace was run with (copies).
    timings : dict
        Seconds spent (``run`` the binary or runtime network, ``collect`` the recordings).
    """

    o: np.ndarray
    states: Dict[str, np.ndarray]
    I: np.ndarray
    spikes: List[Tuple[np.ndarray, np.ndarray]]
    x: np.ndarray
    params: Dict[str, np.ndarray]
    voltage: str
    trace_name: str
    timings: Dict[str, float] = field(default_factory=dict)

    @property
    def v(self) -> np.ndarray:
        """The neuron's voltage variable (theta), ``(batch, steps, n_hidden)``."""
        return np.transpose(self.states[self.voltage], (1, 0, 2))

    @property
    def s(self) -> np.ndarray:
        """The synapse trace ``s``, ``(batch, steps, n_hidden)``."""
        return np.transpose(self.states[self.trace_name], (1, 0, 2))


class RecurrentSNN:
    """Recurrent network of ``n_hidden`` library neurons with gated synapses, ``batch`` copies.

    Parameters
    ----------
    n_in, n_hidden, n_out : int
        Input channels, neurons, readout channels.
    steps : int
        Time steps per trial (duration ``steps * dt``).
    batch : int
        Independent trials simulated side by side (one group of ``batch * n_hidden`` neurons).
    dt : Quantity
        Time step (default 0.1 ms).
    neuron, synapse : str or Model
        Library models; the pair must be differentiable (see
        :func:`brainkit.training.adjoint.derive_system`).
    neuron_params, synapse_params : dict
        Parameter overrides with units.
    backend : str
        ``'cpp_standalone'`` (compile once, re-run), ``'cuda_standalone'`` (the same on an
        NVIDIA GPU through brian2cuda; compiles without one, see :meth:`compile`) or
        ``'runtime'`` (numpy code generation).
    build_dir : str, optional
        Folder of the generated C++ project (default: a new temporary folder).
    constants : sequence of str
        Scalar parameters of the neuron or synapse model to train as well, e.g.
        ``("tau", "tau_s")``, the time constants of the theta neuron and the gated synapse.
        They become run-time values of the compiled network (no recompile when they change)
        and keys of the parameter dict (SI floats), with exact gradients like the weights'.
    weight_sets : int
        On ``cpp_standalone``, how many parameter sets one run can hold
        (:meth:`readouts`): the weight table has one ``N x N`` block per set.
    threads : int, optional
        Threads of the simulation (cpp_standalone: Brian2's OpenMP, compiled in) and of the
        backward pass (its trials run in parallel); default ``$OMP_NUM_THREADS``, else 1
        (:func:`brainkit.training.adjoint_kernel.thread_count`).  The numbers do not depend
        on it.
    """

    def __init__(self, n_in: int, n_hidden: int, n_out: int, steps: int, batch: int = 1,
                 dt=None, neuron="theta", synapse="gated", neuron_params=None,
                 synapse_params=None, backend: str = "cpp_standalone",
                 build_dir: Optional[str] = None, constants=(), weight_sets: int = 1,
                 threads: Optional[int] = None):
        from brian2 import ms

        for name, val in (("n_in", n_in), ("n_hidden", n_hidden), ("n_out", n_out),
                          ("steps", steps), ("batch", batch), ("weight_sets", weight_sets)):
            if int(val) != val or val < 1:
                raise RecurrentError(f"{name} must be a positive integer, got {val!r}")
        if backend not in TRAINING_BACKENDS:
            raise RecurrentError(f"backend '{backend}' is not supported for training: use "
                                 f"one of {', '.join(TRAINING_BACKENDS)}")
        if backend != "runtime":
            check_backend(backend)
        self.n_in, self.n_hidden, self.n_out = int(n_in), int(n_hidden), int(n_out)
        self.steps, self.batch = int(steps), int(batch)
        self.weight_sets = int(weight_sets)
        try:
            n_threads = thread_count(threads)  # checks the value
        except ValueError as exc:
            raise RecurrentError(str(exc)) from None
        self.threads = threads
        # the binary's OpenMP threads (compiled in); the backward's are chosen at each call
        self.build_threads = n_threads if backend == "cpp_standalone" else 1
        # cpp_standalone: one weight table shared by the batch, read by a C++ function
        self.shared_weights = backend == "cpp_standalone"
        self.dt = 0.1 * ms if dt is None else dt
        self.dt_s = float(self.dt)
        self.backend = backend
        self.build_dir = build_dir
        self.neuron: Model = load_model(neuron) if isinstance(neuron, str) else neuron
        self.synapse: Model = load_model(synapse) if isinstance(synapse, str) else synapse
        if neuron_params:
            self.neuron = self.neuron.with_parameters(**neuron_params)
        if synapse_params:
            self.synapse = self.synapse.with_parameters(**synapse_params)
        self.constants = list(constants)
        for k in self.constants:
            if k in PARAM_NAMES:
                raise RecurrentError(f"'{k}' is a weight array, not a model constant")
        self.system: DiscreteSystem = derive_system(self.neuron, self.synapse, self.constants)
        self.voltage = (self.neuron.voltage or {}).get("name", self.system.states[0])
        self._built = None
        self.timings: Dict[str, float] = {}
        self.last_backward: Dict[str, Any] = {}
        # (path for the binary, mapping, descriptor) of the last runs: _recording_buffer
        self._recordings: List[Tuple[str, mmap.mmap, int]] = []

    # ------------------------------------------------------------------ parameters
    def init_params(self, seed) -> Dict[str, np.ndarray]:
        """Random initial parameters (float64, SI units).

        ``U ~ N(0, 1/n_in)``, ``W ~ N(0, (0.02 s)^2 / n_hidden)`` (a neuron firing at 20 Hz has
        ``s ~ 20 Hz``, so the recurrent input is O(1)), ``O ~ N(0, (0.05 s)^2 / n_hidden)``,
        ``I0 ~ U(-0.1, 0.6)`` (the theta neuron fires for ``I > 0``).
        """
        rng = np.random.default_rng(seed)
        N = self.n_hidden
        params = {
            "U": rng.normal(0.0, 1.0 / np.sqrt(self.n_in), (N, self.n_in)),
            "W": rng.normal(0.0, 0.02 / np.sqrt(N), (N, N)),
            "O": rng.normal(0.0, 0.05 / np.sqrt(N), (self.n_out, N)),
            "I0": rng.uniform(-0.1, 0.6, N),
        }
        params.update(self.constant_defaults())
        return params

    def constant_defaults(self) -> Dict[str, np.ndarray]:
        """The trainable constants at the models' values (SI, 0-d arrays)."""
        return {k: np.asarray(float(self._constant_default(k))) for k in self.constants}

    def _constant_default(self, k):
        return (self.neuron.parameters if k in self.neuron.parameters
                else self.synapse.parameters)[k]

    def check_params(self, params) -> Dict[str, np.ndarray]:
        from brian2 import second
        from brian2.units.fundamentalunits import have_same_dimensions

        shapes = {"U": (self.n_hidden, self.n_in), "W": (self.n_hidden, self.n_hidden),
                  "O": (self.n_out, self.n_hidden), "I0": (self.n_hidden,)}
        if not isinstance(params, dict):
            raise RecurrentError(f"params must be a dict with keys {', '.join(PARAM_NAMES)}")
        names = list(PARAM_NAMES) + self.constants
        missing = [k for k in names if k not in params]
        if missing:
            raise RecurrentError(f"params lack {', '.join(missing)} (need {', '.join(names)})")
        out = {}
        for k in self.constants:
            a = np.asarray(params[k], dtype=np.float64)
            if a.shape != () or not np.isfinite(a):
                raise RecurrentError(f"params['{k}'] must be one finite number (SI), got {a!r}")
            if have_same_dimensions(self._constant_default(k), second) and not a > 0:
                raise RecurrentError(f"params['{k}'] is a time constant and must be > 0 s, "
                                     f"got {float(a)}")
            out[k] = a
        for k, shape in shapes.items():
            a = np.asarray(params[k], dtype=np.float64)
            if a.shape != shape:
                raise RecurrentError(f"params['{k}'] has shape {a.shape}, expected {shape}")
            if not np.all(np.isfinite(a)):
                raise RecurrentError(f"params['{k}'] contains NaN or inf")
            out[k] = a
        return out

    def check_input(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        shape = (self.batch, self.steps, self.n_in)
        if x.shape != shape:
            raise RecurrentError(f"input x has shape {x.shape}, expected (batch, steps, n_in) = "
                                 f"{shape}")
        if not np.all(np.isfinite(x)):
            raise RecurrentError("input x contains NaN or inf")
        return x

    # ------------------------------------------------------------------ building
    @property
    def weight_unit(self):
        """Brian2 unit of the recurrent weights ``W``: the neuron's input unit over the synapse
        trace's unit (``second`` for the theta neuron's gated synapse)."""
        return self._units()["w_q"]

    def _units(self):
        from brian2 import get_unit, second
        from brian2.units.fundamentalunits import DIMENSIONLESS, get_dimensions

        in_unit = evaluate_expression(self.neuron.input["unit"], {}) \
            if self.neuron.input["unit"] != "1" else 1.0
        in_dim = getattr(in_unit, "dim", None)

        in_dim = get_dimensions(in_unit) if in_dim is not None else DIMENSIONLESS
        tr_dim = self.system._funcs["trace_dim"]

        def ustr(dim):
            # as a product of base units: Brian2's equation parser accepts no derived powers
            # such as 'hertz2'
            base = ("metre", "kilogram", "second", "amp", "kelvin", "mole", "candela")
            parts = [f"{b}**{e:g}" if e != 1 else b for b, e in zip(base, dim._dims) if e != 0]
            return " * ".join(parts) if parts else "1"

        return {"I": ustr(in_dim), "Irate": ustr(in_dim / second.dim),
                "trace": ustr(tr_dim), "D": ustr(tr_dim / second.dim),
                "w": ustr(in_dim / tr_dim),
                "I_q": get_unit(in_dim), "trace_q": get_unit(tr_dim),
                "D_q": get_unit(tr_dim / second.dim), "w_q": get_unit(in_dim / tr_dim)}

    def _build_objects(self, x_values):
        """Brian2 objects of the batch network (for the currently active device)."""
        import brian2
        from brian2 import Equations, get_unit
        from brian2.units.fundamentalunits import get_dimensions

        u = self._units()
        sysm = self.system
        N, B, K = self.n_hidden, self.batch, self.n_in
        uid = next(_uid)
        eqs = self.neuron.brian2_equations()
        # the trace as its linear part plus the stored drive (the same Euler map: h_s = a s + D,
        # D stored once per step before the update), so the gate is evaluated once per step
        pre = pre_equations(self.synapse, self.neuron, SYN_SUFFIX, keep=self.constants)
        eqs += Equations([e for name, e in pre.items() if name != sysm.trace])
        eqs += Equations(f"d{sysm.trace}/dt = a_J*{sysm.trace} + D_store : {u['trace']}")
        Iname = sysm.input_name
        terms = " + ".join(f"u{k}*xin(t, bidx*{K} + {k})" for k in range(K))
        extra = [f"{Iname} = J_rec + I0 + {terms} : {u['I']}",
                 f"dJ_rec/dt = a_J*J_rec + J_in : {u['I']}",
                 "a_J : hertz (constant)",
                 f"J_in : {u['Irate']}",
                 f"I0 : {u['I']}",
                 "bidx : integer (constant)",
                 f"D_drive = {sysm.brian2_D} : {u['D']}",
                 f"D_store : {u['D']}",
                 f"I_store : {u['I']}"]
        extra += [f"u{k} : {u['I']}" for k in range(K)]
        if self.shared_weights:  # the trial's block of the weight table (its parameter set)
            extra.append("wset : integer (constant)")
        # trainable constants: per-neuron values set at run time (all equal within a copy)
        extra += [f"{k} : {unit_string(get_unit(get_dimensions(self._constant_default(k))))} "
                  "(constant)" for k in self.constants]
        eqs += Equations("\n".join(extra))
        xin = brian2.TimedArray(x_values, dt=self.dt, name=f"xin_{uid}")
        namespace = {k: v for k, v in self.neuron.parameters.items() if k not in self.constants}
        namespace.update({"trace_unit_zero": u["trace_q"], "D_zero": 0 * u["D_q"], "xin": xin})
        kwargs = {}
        if self.neuron.threshold:
            kwargs["threshold"] = self.neuron.threshold
        if self.neuron.reset:
            kwargs["reset"] = self.neuron.reset
        shared = self.shared_weights
        # the event 'zone': the neurons whose drive can be non-zero at this step
        kwargs["events"] = {"zone": sysm.brian2_zone or "D_drive != D_zero"}
        G = brian2.NeuronGroup(N * B, eqs, method="euler", namespace=namespace, dt=self.dt,
                               name=f"rsnn_{uid}", **kwargs)
        G.set_event_schedule("zone", when="before_groups", order=-2)
        # once per step and neuron: store I_n, clear the drive and (synapse pathway) the summed
        # input (the shared table's function writes all of J_in itself); then store
        # D(y_n, I_n) for the neurons in the zone only (the gate and dV/dt are evaluated
        # there alone, and the pathway reads one number per neuron)
        clear = f"D_store = 0*D_store\nI_store = {Iname}"
        clear = G.run_regularly(clear if shared else "J_in = 0*J_in\n" + clear,
                                when="before_groups", order=-3, name=f"rsnn_clear_{uid}")
        G.run_on_event("zone", "D_store = D_drive", when="before_groups", order=-1)
        for k, val in self.neuron.initial.items():
            if k in G.variables and k not in sysm.states:
                G.__setattr__(k, val)
        for k in sysm.states:
            G.__setattr__(k + "_", sysm.initial[k])
        G.bidx = np.repeat(np.arange(B), N)
        objs = {"G": G, "xin": xin, "clear": clear, "units": u}
        if shared:
            objs.update(self._shared_pathway(G, u, uid))
        else:
            objs["mon"] = brian2.StateMonitor(G, list(sysm.states) + ["I_store"], record=True,
                                              when="before_groups", order=0,
                                              name=f"rsnn_mon_{uid}")
            objs.update(self._synapse_pathway(G, u, uid, namespace))
        if self.neuron.threshold:
            objs["spikes"] = brian2.SpikeMonitor(G, name=f"rsnn_spikes_{uid}")
        objs["all"] = [o for o in (G, clear, objs.get("mon"), objs.get("spikes"),
                                   *objs["pathway"]) if o is not None]
        return objs

    def _synapse_pathway(self, G, u, uid, namespace):
        """``J_in = W D`` as Brian2 ``Synapses``, one block-diagonal copy of ``W`` per trial:
        in-zone neurons (the ``zone`` event) add ``w * D_store`` to their targets."""
        import brian2

        N, B = self.n_hidden, self.batch
        S = brian2.Synapses(G, G, model=f"w : {u['w']}", on_pre="J_in_post += w*D_store_pre",
                            on_event={"pre": "zone"}, namespace=namespace,
                            **synapse_clock(self.dt, G.clock),
                            name=f"rsnn_rec_{uid}")
        pre, post = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
        pre, post = pre.ravel(), post.ravel()
        offs = np.repeat(np.arange(B) * N, N * N)
        S.connect(i=np.tile(pre, B) + offs, j=np.tile(post, B) + offs)
        S.pre.when = "before_groups"
        S.pre.order = 1
        return {"S": S, "pre": pre, "post": post, "pathway": [S]}

    def _shared_pathway(self, G, u, uid):
        """``J_in = W D`` from one weight table for the whole batch (cpp_standalone): a
        parameter-only group holds ``weight_sets`` blocks ``w[k, pre, post] = W_k[post, pre]``
        (no per-step code of its own), and a C++ :class:`brian2.Function`, called once per
        step for each chunk of trials by a group of one element per chunk (one chunk per
        OpenMP thread of the binary) between storing the drive and the state update, adds for
        every trial ``b`` and in-zone neuron ``pre`` the contiguous row ``w[k_b, pre, :]``
        times ``D_pre`` into the trial's ``J_in`` (the same terms, in the same order, as the
        synapse pathway: identical numbers).  Another function of that group records the
        states (see ``_CPP_RECORD``)."""
        import brian2

        N, B = self.n_hidden, self.batch
        C = min(self.build_threads, B)
        dev = brian2.get_device()
        table = brian2.NeuronGroup(self.weight_sets * N * N, f"w : {u['w']}",
                                   name=f"rsnn_wtab_{uid}")
        code = _CPP_RECURRENT.format(
            uid=uid, B=B, N=N, C=C, D=dev.get_array_name(G.variables["D_store"]),
            J=dev.get_array_name(G.variables["J_in"]),
            w=dev.get_array_name(table.variables["w"]),
            wset=dev.get_array_name(G.variables["wset"]))
        fn = brian2.Function(pyfunc=None, arg_units=[1], return_unit=1, arg_types=["integer"],
                             return_type="float", stateless=False)
        fn.implementations.add_implementation("cpp", code, name=f"rsnn_recurrent_{uid}")
        recorded = list(self.system.states) + ["I_store"]
        for k in recorded:
            if G.variables[k].dtype != np.float64:
                raise RecurrentError(f"'{k}' is {G.variables[k].dtype}: the recording needs "
                                     "float64 (Brian2's core.default_float_dtype)")
        rec_code = _CPP_RECORD.format(
            uid=uid, T=self.steps, M=B * N, K=len(recorded), N=N, B=B, C=C, env=RECORD_ENV,
            sources=", ".join(f"brian::{dev.get_array_name(G.variables[k])}" for k in recorded),
            timestep=dev.get_array_name(G.clock.variables["timestep"]))
        rec = brian2.Function(pyfunc=None, arg_units=[1], return_unit=1, arg_types=["integer"],
                              return_type="float", stateless=False)
        rec.implementations.add_implementation("cpp", rec_code, name=f"rsnn_record_{uid}",
                                               compiler_kwds={"headers": _RECORD_HEADERS})
        step = brian2.NeuronGroup(C, "done : 1", clock=G.clock, name=f"rsnn_pathway_{uid}",
                                  namespace={"rsnn_recurrent": fn, "rsnn_record": rec})
        record = step.run_regularly("done = rsnn_record(i)", when="before_groups", order=0,
                                    name=f"rsnn_record_op_{uid}")
        op = step.run_regularly("done = rsnn_recurrent(i)", when="before_groups", order=1,
                                name=f"rsnn_pathway_op_{uid}")
        return {"table": table, "recorded": recorded, "pathway": [table, step, record, op]}

    def _x_values(self, x):
        # (batch, steps, n_in) -> (steps, batch*n_in), column b*n_in + k
        return np.ascontiguousarray(np.transpose(x, (1, 0, 2)).reshape(self.steps, -1))

    def _param_values(self, objs, plist):
        """Per-neuron / per-synapse values (SI floats) of one parameter set per group of
        ``batch / len(plist)`` consecutive trials."""
        reps = self.batch // len(plist)

        def cat(f):
            return np.concatenate([np.tile(f(p), reps) for p in plist])

        N = self.n_hidden
        vals = {"I0": cat(lambda p: p["I0"])}
        if "table" in objs:  # block k = set k: w[k, pre, post] = W_k[post, pre]; unused blocks 0
            table = np.zeros((self.weight_sets, N, N))
            for k, p in enumerate(plist):
                table[k] = p["W"].T
            vals["w"] = table.ravel()
            vals["wset"] = np.repeat(np.arange(len(plist), dtype=np.int32), reps * N)
        else:
            vals["w"] = cat(lambda p: p["W"][objs["post"], objs["pre"]])
        for k in range(self.n_in):
            vals[f"u{k}"] = cat(lambda p: p["U"][:, k])
        for k in self.constants:
            vals[k] = cat(lambda p: np.full(N, float(p[k])))
        vals["a_J"] = cat(lambda p: np.full(N, self.system.a_at(
            {k: float(p[k]) for k in self.constants})))
        return vals

    def _group_values(self, objs, vals):
        """(variable, Brian2 value with units) of every per-neuron run-time value of ``G``."""
        from brian2 import get_unit, second
        from brian2.units.fundamentalunits import get_dimensions

        u = objs["units"]
        out = [("I0", vals["I0"] * u["I_q"]), ("a_J", vals["a_J"] / second)]
        out += [(f"u{k}", vals[f"u{k}"] * u["I_q"]) for k in range(self.n_in)]
        out += [(k, vals[k] * get_unit(get_dimensions(self._constant_default(k))))
                for k in self.constants]
        return out

    # ------------------------------------------------------------------ forward
    def forward(self, params, x) -> Trace:
        """Simulate the batch ``x`` (batch, steps, n_in) with ``params``; see :class:`Trace`."""
        p = self.check_params(params)
        x = self.check_input(x)
        return self._forward([p], x)

    def readouts(self, param_sets, x) -> List[np.ndarray]:
        """Readouts ``o`` of several parameter sets in ONE simulation: the batch is split into
        ``len(param_sets)`` groups of ``batch / len(param_sets)`` trials, group ``c`` runs with
        ``param_sets[c]`` on ``x`` (``(batch / len(param_sets), steps, n_in)``).  Used to
        evaluate many finite-difference perturbations at the cost of one run."""
        M = len(param_sets)
        if M < 1 or self.batch % M:
            raise RecurrentError(f"{M} parameter sets do not divide the batch of {self.batch}")
        if self.shared_weights and M > self.weight_sets:
            raise RecurrentError(f"{M} parameter sets in one run need a network built with "
                                 f"weight_sets >= {M} (this one holds {self.weight_sets})")
        plist = [self.check_params(p) for p in param_sets]
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.batch // M, self.steps, self.n_in):
            raise RecurrentError(f"input x has shape {x.shape}, expected "
                                 f"{(self.batch // M, self.steps, self.n_in)}")
        full = np.concatenate([x] * M, axis=0)
        trace = self._forward(plist, full)
        reps = self.batch // M
        s = trace.s
        return [np.einsum("btn,on->bto", s[c * reps:(c + 1) * reps], p["O"], optimize=True)
                for c, p in enumerate(plist)]

    def _forward(self, plist, x) -> Trace:
        p = plist[0]
        if self.backend == "runtime":
            objs, timings = self._run_runtime(plist, x)
        else:
            objs, timings = self._run_standalone(plist, x)
        t0 = time.perf_counter()
        trace = self._collect(objs, p, x)
        timings["collect"] = time.perf_counter() - t0
        trace.timings = timings
        return trace

    def _run_runtime(self, plist, x):
        import brian2

        with runtime_device("numpy"):
            objs = self._build_objects(self._x_values(x))
            vals = self._param_values(objs, plist)
            u = objs["units"]
            objs["S"].w = vals["w"] * u["w_q"]
            for var, value in self._group_values(objs, vals):
                objs["G"].__setattr__(var, value)
            net = brian2.Network(objs["all"])
            t0 = time.perf_counter()
            net.run(self.steps * self.dt, namespace={})
            return objs, {"run": time.perf_counter() - t0}

    def build(self, compile: bool = True) -> StandaloneEngine:
        """Generate (and unless ``compile=False``, compile) the network without running it
        (standalone backends; otherwise the first :meth:`forward` does it) and return its
        :class:`~brainkit.engine.StandaloneEngine`.  A ``cuda_standalone`` network builds
        without a GPU; running it then raises :class:`brainkit.backends.GPUNotFound`."""
        if self.backend == "runtime":
            raise RecurrentError("backend 'runtime' builds no project")
        if self._built is not None:
            raise RecurrentError(f"the network is built already (in "
                                 f"{self._built[0].project_dir})")
        self._build_standalone(compile)
        return self._built[0]

    def _build_standalone(self, compile: bool = True):
        import brian2

        # IEEE arithmetic: the adjoint and the gradient check compare against these numbers
        engine = StandaloneEngine(self.backend, self.build_dir, prefix="brainkit-rsnn-",
                                  ieee=True, threads=self.build_threads)
        t0 = time.perf_counter()
        with engine.compiling(compile=compile):
            objs = self._build_objects(np.zeros((self.steps, self.batch * self.n_in)))
            brian2.Network(objs["all"]).run(self.steps * self.dt, namespace={})
        self.timings["compile"] = time.perf_counter() - t0
        self._built = (engine, objs)

    def _run_standalone(self, plist, x):
        if self._built is None:
            self._build_standalone()
        engine, objs = self._built
        u = objs["units"]
        vals = self._param_values(objs, plist)
        weights = objs["table"].w if "table" in objs else objs["S"].w
        run_args = {weights: vals["w"] * u["w_q"], objs["xin"]: self._x_values(x)}
        if "table" in objs:
            run_args[objs["G"].wset] = vals["wset"]
        for var, value in self._group_values(objs, vals):
            run_args[getattr(objs["G"], var)] = value
        if "recorded" not in objs:
            engine.run(run_args)
            return objs, {"run": engine.run_s}
        K, T, B, N = len(objs["recorded"]), self.steps, self.batch, self.n_hidden
        path, buffer = self._recording_buffer(K * T * B * N * 8)
        engine.run(run_args, env={RECORD_ENV: path})
        objs = dict(objs, recording=np.frombuffer(buffer, np.float64).reshape(K, T, B, N))
        return objs, {"run": engine.run_s}

    def _recording_buffer(self, size: int) -> Tuple[str, mmap.mmap]:
        """The file the binary records into (the path it opens) and its mapping here.

        The file lives in memory (``/dev/shm`` where the system has it) and is unlinked at
        once: the open descriptor keeps it, and the binary opens it as
        ``/proc/<this process>/fd/<fd>``; its pages go with the last array viewing them
        (without ``/proc`` the file keeps its name until the network lets it go: at
        :meth:`close`, or when a third file replaces it while traces hold both).  The
        files of the last two runs are kept and one is used again once no array views it any
        more (a trace that is still held keeps its numbers: it is never written over), which
        spares the binary allocating, and this process mapping, hundreds of MB of fresh pages
        per run (two: a training loop holds the last step's trace while it runs the next)."""
        for entry in self._recordings:
            # a free buffer is referenced by its entry and getrefcount's argument only
            if len(entry[1]) == size and sys.getrefcount(entry[1]) == 2:
                return entry[0], entry[1]
        while len(self._recordings) >= 2:  # held by traces: theirs now, not ours to reuse
            self._release(self._recordings.pop(0))
        folder = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
        fd, path = tempfile.mkstemp(prefix="brainkit-rsnn-", suffix=".rec", dir=folder)
        try:
            os.ftruncate(fd, size)
            buffer = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            os.remove(path)
            raise
        linked = f"/proc/{os.getpid()}/fd/{fd}"
        if os.path.exists(linked):
            os.remove(path)
            path = linked
        self._recordings.append((path, buffer, fd))
        return path, buffer

    @staticmethod
    def _release(entry) -> None:
        """Close a recording file's descriptor and remove its name if it has one (its pages
        stay while arrays view them)."""
        path, _, fd = entry
        os.close(fd)
        if not path.startswith("/proc/"):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass

    def _release_recordings(self) -> None:
        while self._recordings:
            self._release(self._recordings.pop())

    def _monitored(self, mon, k) -> np.ndarray:
        """A StateMonitor's recording of ``k`` as ``(steps, batch, n_hidden)`` float64."""
        T, B, N = self.steps, self.batch, self.n_hidden
        raw = mon.variables[k].get_value()  # (T, B*N)
        # runtime: a view of Brian2's memory, copied; cuda_standalone: a fresh array read from
        # the results file (copying its hundreds of MB again costs seconds of page faults)
        raw = copy_out(raw) if self.backend == "runtime" else raw
        if raw.dtype != np.float64:
            raw = raw.astype(np.float64)
        if raw.shape != (T, B * N):
            raw = raw.reshape(-1, B * N)[:T]
        return raw.reshape(T, B, N)

    def _collect(self, objs, p, x) -> Trace:
        B, N = self.batch, self.n_hidden
        if "recording" in objs:  # cpp_standalone: views of the mapped recording file
            states = dict(zip(objs["recorded"], objs["recording"]))
        else:
            states = {k: self._monitored(objs["mon"], k) for k in objs["mon"].record_variables}
        I = states.pop("I_store")
        s = states[self.system.trace]
        o = np.einsum("tbn,on->bto", s, p["O"], optimize=True)
        spikes = []
        if "spikes" in objs:
            sm = objs["spikes"]
            ii = copy_out(sm.i[:]).astype(np.int64)
            tt = np.rint(copy_out(sm.t_[:]) / self.dt_s).astype(np.int64)
            for b in range(B):
                sel = (ii >= b * N) & (ii < (b + 1) * N)
                spikes.append((ii[sel] - b * N, tt[sel]))
        else:
            spikes = [(np.zeros(0, np.int64), np.zeros(0, np.int64)) for _ in range(B)]
        return Trace(o=o, states=states, I=I, spikes=spikes, x=x,
                     params={k: v.copy() for k, v in p.items()}, voltage=self.voltage,
                     trace_name=self.system.trace)

    # ------------------------------------------------------------------ gradients
    def backward(self, trace: Trace, dl_do) -> Dict[str, np.ndarray]:
        """Exact gradients (discrete adjoint) of ``sum_n l_n(o_n)`` given ``dl/do`` of shape
        like ``trace.o``."""
        dl_do = np.asarray(dl_do, dtype=np.float64)
        if dl_do.shape != trace.o.shape:
            raise RecurrentError(f"dloss_do has shape {dl_do.shape}, expected the readout's "
                                 f"shape {trace.o.shape}")
        t0 = time.perf_counter()
        grads, info = adjoint_gradients(self.system, trace.states, trace.I, trace.x,
                                        trace.params, dl_do, self.dt_s, self.threads)
        info["backward_s"] = time.perf_counter() - t0
        self.last_backward = info
        return grads

    def loss_and_grad(self, params, x, loss_fn: Callable) -> Tuple[float, Dict, Trace]:
        """``loss_fn(o) -> (loss, dloss_do)``; returns ``(loss, grads like params, trace)``."""
        trace = self.forward(params, x)
        loss, dl_do = loss_fn(trace.o)
        grads = self.backward(trace, dl_do)
        return float(loss), grads, trace

    def loss(self, params, x, loss_fn: Callable) -> float:
        """The loss alone (one forward pass)."""
        return float(loss_fn(self.forward(params, x).o)[0])

    def close(self) -> None:
        """Delete the generated C++ project (if this object created it)."""
        if self._built is not None:
            self._built[0].close()
        self._built = None
        self._release_recordings()


__all__ = ["RecurrentSNN", "Trace", "RecurrentError", "NotDifferentiableError"]


def benchmark(n_hidden: int, batch: int = 16, steps: int = 2000, repeats: int = 2,
              neuron: str = "theta", seed: int = 0) -> Dict[str, float]:
    """Time forward (Brian2 cpp_standalone re-run + reading the recordings) and backward
    (adjoint) of one batch: ``init_params(seed)``, 2 input channels of random sinusoids,
    2 readouts, MSE to a random target.  Returns seconds (best of ``repeats``), the compile time,
    the firing rate and the share of neuron-steps inside the active zone.

    ``python -c "from brainkit.training.recurrent import benchmark; print(benchmark(100))"``
    """
    net = RecurrentSNN(2, n_hidden, 2, steps, batch=batch, neuron=neuron)
    try:
        rng = np.random.default_rng(seed)
        p = net.init_params(seed)
        t = np.arange(steps) * net.dt_s
        x = np.sin(2 * np.pi * rng.uniform(2, 20, (batch, 1, 2)) * t[None, :, None])
        y = rng.normal(0, 1, (batch, steps, 2))

        def loss_fn(o):
            d = o - y
            return float(np.mean(d * d)), 2 * d / d.size

        net.forward(p, x)  # compiles
        fwd, bwd, run = [], [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            tr = net.forward(p, x)
            fwd.append(time.perf_counter() - t0)
            run.append(tr.timings["run"])
            loss, dl = loss_fn(tr.o)
            t0 = time.perf_counter()
            net.backward(tr, dl)
            bwd.append(time.perf_counter() - t0)
        n_spk = sum(len(s[0]) for s in tr.spikes)
        return {"n_hidden": n_hidden, "batch": batch, "steps": steps,
                "compile_s": net.timings.get("compile"), "forward_s": min(fwd),
                "binary_run_s": min(run), "backward_s": min(bwd),
                "rate_hz": n_spk / (batch * n_hidden * steps * net.dt_s),
                "zone_fraction": net.last_backward["zone_fraction"]}
    finally:
        net.close()
