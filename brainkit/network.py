"""Build networks from library models and run them on a Brian2 backend.

>>> from brainkit import Network
>>> from brian2 import ms, nA
>>> net = Network(dt=0.1 * ms, backend="cpp_standalone")
>>> exc = net.population("exc", "lif", 100)
>>> net.poisson_source("inp", 200, rates=20 * Hz)
>>> net.connect("inp", "exc", "exp_current", weights=0.1 * nA, p=0.1, seed=1)
>>> net.record("exc", "spikes"); net.record("exc", "v", indices=[0, 1])
>>> res = net.run(500 * ms)                       # compiles once
>>> res = net.run(500 * ms)                       # continues to t = 1 s, as in Brian2
>>> res = net.run(200 * ms, weights={"inp->exc": W2}, restart=True)  # from t = 0: no recompile

Every population's input variable (``I`` for the LIF) is composed by the builder as
``I = I_ext + <stimulus>(t, i) + sum of synaptic currents`` where ``I_ext`` is a per-neuron
constant that :meth:`Network.run` can change, the stimulus is a :class:`brian2.TimedArray`
set with :meth:`Network.current_input`, and each incoming connection adds its current.

On ``cpp_standalone`` the network is generated and compiled at the first :meth:`run` (into its
own build folder) and every later run executes the same binary with new weights, inputs and
initial values passed as ``run_args`` (only those that differ from the compiled-in ones; initial
values given as expressions of other variables are re-evaluated for the new numbers), for any
duration.  A run continues where the last one stopped (state, weights, time, spikes in
flight) unless ``restart=True``.  Structure (populations, connection indices, recorded
variables, spike-generator spikes) is fixed once built; changing it needs a new
:class:`Network`.

Brian2's own objects are part of the description and built with the rest:
``record(pop, 'rate')`` (a ``PopulationRateMonitor``), ``record('pre->post', 'w')`` (a
``StateMonitor`` on the Synapses), :meth:`Network.poisson_input` (``PoissonInput``),
:meth:`Network.run_regularly` and, for anything else Brian2 has, :meth:`Network.add` with a
factory called on the built objects (its monitors read back into ``Results.extra``).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import connectivity
from .build_cache import cached_method
from .backends import STANDALONE, check_backend
from .engine import (RUN_SEED_ENV, StandaloneEngine, runtime_device, synapse_clock,
                     variable_run_window)
from .equations import (integration_methods, post_equations, pre_equations,
                        scale_weight_parameters, suffix_names, unit_string, weight_unit)
from .library import Model, ModelError, fill_unit_placeholders, load_model
from .results import Results

_counter = itertools.count()

#: C++ inserted into main() after the network's initialisation, before its run: re-seeds
#: Brian2's generators as brian2.seed(s) does (generator k gets s + k) when the variable is set
_RESEED = f"""{{
    const char* _run_seed = std::getenv("{RUN_SEED_ENV}");
    if (_run_seed != nullptr && _run_seed[0] != '\\0') {{
        const unsigned long _s = std::strtoul(_run_seed, nullptr, 10);
        for (size_t _i = 0; _i < brian::_random_generators.size(); _i++)
            brian::_random_generators[_i].seed(_s + _i);
    }}
}}"""


class NetworkError(ValueError):
    """A network was described wrongly (unknown population, bad weight shape, ...)."""


@dataclass
class Population:
    """``n`` neurons of one library model, as :meth:`Network.population` describes them."""

    name: str
    model: Model
    n: int
    init: Dict[str, Any] = field(default_factory=dict)
    stimulus: Any = None  # (values, dt) of a TimedArray current
    method: Optional[str] = None  # integration method overriding the model's
    external_current: bool = True  # a per-neuron I_ext term (run(I_ext=...))

    @property
    def per_neuron(self) -> Dict[str, Any]:
        """The model's parameters given one value per neuron (``params={'tau_m': array}``):
        constant variables of the group, not names of its namespace."""
        return {k: v for k, v in self.model.parameters.items() if np.ndim(v) == 1}

    def initial_values(self) -> Dict[str, Any]:
        """What the group is set to before a run, in order: per-neuron parameters, the
        model's initial values, the population's ``init``."""
        return {**self.per_neuron, **self.model.initial, **self.init}


@dataclass
class Source:
    """Input neurons: given spikes, Poisson or renewal trains."""

    name: str
    kind: str  # 'spikes' | 'poisson' | 'renewal'
    n: int
    indices: Any = None
    times: Any = None
    rates: Any = None
    options: Dict[str, Any] = field(default_factory=dict)  # 'renewal': order, refractory, ...


@dataclass
class Connection:
    """Synapses ``pre -> post`` (pairs ``i``, ``j``) of one synapse model, its variables
    suffixed with ``suffix`` in the groups they are added to."""

    name: str
    pre: str
    post: str
    synapse: Model
    plasticity: Optional[Model]
    i: np.ndarray
    j: np.ndarray
    weights: Any
    delay: Any = None
    suffix: str = ""
    shared_weight: bool = False  # one weight for all synapses (a shared Brian2 variable)
    namespace: Dict[str, Any] = field(default_factory=dict)  # names its expressions use
    pre_start: int = 0  # a subgroup 'pre[a:b]' as the source: its first neuron a
    post_start: int = 0
    shape: tuple = (0, 0)  # (neurons of the source, of the target): the subgroups' if given

    @property
    def local_indices(self):
        """``(i, j)`` counted from the start of the source and target subgroups (as Brian2's
        ``Synapses`` of two subgroups numbers them; ``i``, ``j`` otherwise)."""
        return self.i - self.pre_start, self.j - self.post_start

    @property
    def per_synapse(self) -> Dict[str, Any]:
        """The synapse model's parameters given one value per synapse (``params={'nu':
        array}``): constant variables of the Synapses, not names of their namespace."""
        return {k: v for k, v in self.synapse.parameters.items() if np.ndim(v) == 1}


@dataclass
class _Setting:
    """One value a run sets before it starts: ``group.var = value``."""

    group: Any
    var: str
    value: Any  # a Quantity, or a string: an expression Brian2 evaluates
    kind: str  # 'weight' | 'initial' | 'I_ext' | 'rates'
    shared: bool = False  # a shared variable (one value for the group)
    population: Optional[str] = None  # 'initial': the population's name
    given: bool = False  # 'initial': given to this run (not the description's)

    def numbers(self) -> np.ndarray:
        """The value as SI floats, one per element of the group."""
        size = 1 if self.shared else len(self.group)
        return np.broadcast_to(np.asarray(self.value, dtype=float), (size,)).copy()


class Network:
    """A network of library models, compiled once, run many times.

    Parameters
    ----------
    dt : Quantity
        Simulation time step.
    backend : str
        ``'cpp_standalone'`` (default), ``'runtime'``, ``'cuda_standalone'`` or ``'genn'``
        (see :mod:`brainkit.backends`; ``cuda_standalone`` compiles anywhere with ``nvcc``
        and runs on an NVIDIA GPU).
    build_dir : str, optional
        Folder for the generated C++ project; by default a new folder under
        ``$BRAINKIT_BUILD_ROOT`` (or the system temp folder), one per network.
    seed : int, optional
        Seed of Brian2's random numbers (Poisson sources, ``rand()`` in equations).
    codegen_target : str
        Runtime code generation target: ``'numpy'`` (default, no compiler) or ``'cython'``.
    ieee : bool
        Standalone builds without fast-math, so that the binary's arithmetic is IEEE (and
        equal to the runtime backend's to rounding); default: Brian2's own compiler flags
        (``-O3 -ffast-math -fno-finite-math-only -march=native``, or what
        ``brian2.prefs.codegen.cpp.extra_compile_args_gcc`` says), as a plain Brian2 script.
    compile_args : list of str, optional
        The C++ compiler's flags for this network's build, instead of Brian2's preference.
    """

    def __init__(self, dt=None, backend: str = "cpp_standalone", build_dir: Optional[str] = None,
                 seed: Optional[int] = None, codegen_target: str = "numpy", name: str = "net",
                 ieee: bool = False, compile_args: Optional[Sequence[str]] = None):
        from brian2 import ms

        check_backend(backend)
        self.dt = 0.1 * ms if dt is None else dt
        self.backend = backend
        self.seed = seed
        self.codegen_target = codegen_target
        self.name = name
        self.ieee = bool(ieee)
        self.compile_args = None if compile_args is None else list(compile_args)
        self.build_dir = build_dir
        self.populations: Dict[str, Population] = {}
        self.sources: Dict[str, Source] = {}
        self.connections: Dict[str, Connection] = {}
        self.recordings: List[tuple] = []
        self.poisson_inputs: Dict[str, Dict[str, Any]] = {}  # poisson_input(), by name
        self.regular: Dict[str, Dict[str, Any]] = {}  # run_regularly(), by name
        self.factories: Dict[str, Any] = {}  # add(), by name
        self._built = None  # standalone: (engine, objects, duration)
        self._baked: Optional[Dict[Any, np.ndarray]] = None  # values compiled into the binary
        self.last_run_args: List[str] = []  # what the last standalone run passed
        self.timings: Dict[str, float] = {}
        self.t = 0.0  # seconds: the network's time, where a continuing run starts
        self._runtime = None  # runtime: (objects, brian2.Network, structure) of the last run
        self._ran = False  # a run happened since the start (or the last restart)

    # ----------------------------------------------------------------- description
    def population(self, name: str, model: Union[str, Model], n: int, variant: Optional[str] = None,
                   params: Optional[Dict[str, Any]] = None, init: Optional[Dict[str, Any]] = None,
                   method: Optional[str] = None, external_current: bool = True) -> Population:
        """Add ``n`` neurons of library ``model`` (name or :class:`Model`).  ``params``
        overrides its parameters (units checked): one value, or one per neuron (an array of
        ``n``, e.g. heterogeneous ``tau_m``), which becomes a constant variable of the group
        that ``run(init={name: {'tau_m': ...}})`` can change.  ``method``
        overrides the integration method chosen from the model (see
        :func:`brainkit.equations.integration_methods`).
        ``external_current=False`` leaves out the per-neuron constant current ``I_ext`` (set
        by ``run(I_ext=...)``), which every neuron otherwise reads at every step."""
        self._check_new(name)
        m = load_model(model, variant=variant) if isinstance(model, str) else model
        if m.kind != "neuron":
            raise ModelError(f"model '{m.name}' is a {m.kind} model, not a neuron model", m.path)
        n = _count(n, f"population '{name}': n")
        if params:
            for k, v in params.items():
                if not isinstance(v, str) and np.ndim(v) not in (0, 1) or (
                        np.ndim(v) == 1 and len(v) != n):
                    raise NetworkError(f"population '{name}': parameter '{k}' has shape "
                                       f"{np.shape(v)}; give one value or one per neuron "
                                       f"({n},)")
            m = m.with_parameters(**params)
        pop = Population(name, m, n, dict(init or {}), method=method,
                         external_current=bool(external_current))
        self.populations[name] = pop
        return pop

    def spike_source(self, name: str, n: int, indices, times) -> Source:
        """Neurons that spike at given ``times`` (Quantity) with given ``indices``."""
        self._check_new(name)
        indices = np.asarray(indices, dtype=int)
        if len(indices) and (indices.min() < 0 or indices.max() >= n):
            raise NetworkError(f"spike source '{name}': indices must lie in [0, {n})")
        src = Source(name, "spikes", int(n), indices=indices, times=times)
        self.sources[name] = src
        return src

    def poisson_source(self, name: str, n: int, rates) -> Source:
        """``n`` independent Poisson spike trains with ``rates`` (Hz; scalar or per neuron);
        the rates can be changed in every :meth:`run`."""
        self._check_new(name)
        src = Source(name, "poisson", int(n), rates=rates)
        self.sources[name] = src
        return src

    def renewal_source(self, name: str, n: int, rates, order: int = 1, refractory=None,
                       rate_dt=None) -> Source:
        """``n`` independent renewal spike trains: Poisson (``order=1``), gamma of integer
        ``order`` k, either with an absolute ``refractory`` (dead) time d, with a constant or
        time-varying rate.

        The trains are generated exactly in rescaled time, by thresholding the integrated
        hazard (Brian2 integrates it exactly: it is piecewise constant over each step)::

            dL/dt = h(t)  (frozen while refractory),   spike when L >= L_next,
            then  L_next <- L_next + (E_1 + ... + E_k)/k,   E_m = -log(1 - U_m) ~ Exp(1)

        with the hazard h(t) = r(t)/(1 - r(t) d), so that ``rates`` r is the mean output rate
        (for a constant r: ISI = d + Gamma(k, scale 1/(k h)), mean 1/r).  Spike times are the
        continuous process's times on the dt grid (each one in the step that contains it; the
        dead time is rounded to a whole number of steps).
        Theory for a constant rate: CV = (1 - r d)/sqrt(k); the Fano factor of long windows
        tends to CV^2; order 1 without dead time is Poisson (CV = Fano = 1).  The trains start
        at t = 0 with a fresh interval (an ordinary renewal process).

        Parameters
        ----------
        rates : Quantity (Hz)
            scalar or one per neuron (constant), or time-varying: shape (T,) or (T, n) sampled
            every ``rate_dt`` (a :class:`brian2.TimedArray`; inhomogeneous Poisson for k = 1).
        order : int >= 1
        refractory : Quantity, optional
            dead time d; needs r d < 1 everywhere.
        """
        from brian2 import Hz, second
        from brian2.units.fundamentalunits import get_dimensions, have_same_dimensions

        self._check_new(name)
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
            raise NetworkError(f"renewal source '{name}': order must be an integer >= 1, "
                               f"got {order!r}")
        if not have_same_dimensions(rates, Hz):
            raise NetworkError(f"renewal source '{name}': rates must be in Hz, got units "
                               f"{get_dimensions(rates)!s}")
        r = np.asarray(rates / Hz, dtype=float)
        if not np.all(np.isfinite(r)) or np.any(r < 0):
            raise NetworkError(f"renewal source '{name}': rates must be finite and >= 0")
        if rate_dt is not None:
            if r.ndim not in (1, 2) or (r.ndim == 2 and r.shape[1] != n):
                raise NetworkError(f"renewal source '{name}': time-varying rates have shape "
                                   f"(T,) or (T, {n}), got {r.shape}")
        elif r.ndim > 1 or (r.ndim == 1 and len(r) != n):
            raise NetworkError(f"renewal source '{name}': {r.size} rates for {n} neurons (give "
                               "rate_dt for rates that vary in time)")
        d = 0.0
        if refractory is not None:
            if not have_same_dimensions(refractory, second) or float(refractory) < 0:
                raise NetworkError(f"renewal source '{name}': refractory must be a time >= 0, "
                                   f"got {refractory!r}")
            d = float(refractory / second)
            if np.any(r * d >= 1):
                raise NetworkError(f"renewal source '{name}': rate x refractory must be < 1 "
                                   f"(max rate {r.max()} Hz, dead time {d} s)")
        src = Source(name, "renewal", int(n), rates=rates,
                     options=dict(order=int(order), refractory=refractory, rate_dt=rate_dt))
        self.sources[name] = src
        return src

    def current_input(self, population: str, values, dt=None) -> None:
        """Drive ``population`` with a time-varying current: ``values`` of shape (T,) or
        (T, n) in the population's input unit, sampled every ``dt`` (default: the network dt).
        New values of the same shape can be given to every :meth:`run` (``inputs=``)."""
        pop = self._population(population)
        pop.stimulus = (values, dt if dt is not None else self.dt)

    def connect(self, pre: str, post: str, synapse: Union[str, Model] = "exp_current",
                weights=None, plasticity: Union[str, Model, None] = None,
                p: Union[float, str, None] = None, rule: Optional[str] = None, i=None, j=None,
                seed: Optional[int] = None, delay=None, params: Optional[Dict[str, Any]] = None,
                plasticity_params: Optional[Dict[str, Any]] = None,
                name: Optional[str] = None, in_degree: Optional[int] = None,
                rule_params: Optional[Dict[str, Any]] = None,
                shared_weight: bool = False, n: Union[int, str] = 1,
                namespace: Optional[Dict[str, Any]] = None) -> Connection:
        """Connect ``pre`` to ``post`` with a library synapse model.

        ``pre`` and ``post`` name a population (or, ``pre``, a source) or a contiguous
        subgroup of it in Brian2's slice notation, ``'exc[0:3200]'``, ``'exc[3200:]'``,
        ``'exc[5]'``: as for Brian2's ``Synapses(P[:30], Q[10:20])``, indices ``i``, ``j``,
        conditions, weight matrices and expressions count from the subgroup's first neuron,
        and the connection is named ``'exc[0:3200]->exc'`` unless ``name`` is given.

        Which pairs connect: ``weights`` as an (n_pre, n_post) matrix (its non-zero entries),
        or explicit index arrays ``i``, ``j``, or ``rule`` (``'all_to_all'``, ``'one_to_one'``),
        or a connection probability ``p`` (drawn here with ``seed``, once: the compiled binary
        never re-draws it).  ``weights`` is then a scalar, one value per synapse, or a Brian2
        expression evaluated here for every synapse (``'rand()*10*pA'``,
        ``'0.5*nA*exp(-abs(i-j)/10)'``; its units are checked).

        As in Brian2's ``Synapses.connect(condition=..., p=..., n=...)``: ``rule`` may be a
        condition on ``i``, ``j`` (``'i != j'``, ``'abs(i-j) <= 2'``), ``p`` a number or an
        expression (``'exp(-(i-j)**2/50)'``) and ``n`` the synapses per pair (a number or an
        expression): among the pairs meeting the condition each connects with probability
        ``p``.  Brian2 itself draws them (numpy code generation) after ``brian2.seed(seed)``,
        so a seed gives the same synapses as a plain Brian2 script with that seed.
        Expressions know ``i``, ``j``, ``N_pre``, ``N_post``, Brian2's functions and units,
        and the names in ``namespace`` (not neuron variables).  A number ``p`` without a
        condition is drawn by :func:`brainkit.connectivity.fixed_probability` (as before).

        More rules (:mod:`brainkit.connectivity`, drawn here with ``seed``): ``in_degree=k``
        (each post neuron gets exactly k distinct random pre neurons); ``rule='distance'`` with
        ``rule_params={'p0', 'sigma', 'pos_pre', 'pos_post'[, 'periodic'][, 'autapses']}``
        (p(d) = p0 exp(-d^2 / (2 sigma^2)) on a 2-D sheet; positions (n, 2), or a grid shape
        (rows, cols) at unit spacing); ``rule='conv2d'`` with ``rule_params={'in_shape',
        'kernel'[, 'stride'][, 'padding']}`` (a shared kernel (K_y, K_x, C_in, C_out) with
        units over an (H, W, C_in) pre population: the weights come from the kernel).
        ``delay`` is a scalar or one delay per synapse (Quantity), or a Brian2 expression
        (``'1*ms + 2*ms*rand()'``) evaluated here for every synapse and checked.

        ``params`` overrides the synapse model's parameters (units checked): one value, or
        one per synapse (an array as long as the connection), which becomes a constant
        variable of the Synapses that ``run(init={name: {'nu': ...}})`` can change without a
        recompile (what a sweep over a synaptic parameter needs).

        ``shared_weight=True`` stores one weight for the whole connection (a shared Brian2
        variable) instead of one per synapse, as a plain Brian2 script writes ``ge += we``: for
        millions of synapses that saves their memory and the time to set them up and write them
        back.  ``weights`` (at connect and at every run) must then be a scalar, and no
        plasticity rule can change it.
        """
        name = name or f"{pre}->{post}"
        if name in self.connections:
            raise NetworkError(f"a connection named '{name}' exists already")
        (pre, pre_start, npre), (post, post_start, npost) = (
            self._endpoint(x, f"connection '{name}'") for x in (pre, post))
        if post not in self.populations:
            raise NetworkError(f"connection '{name}': target '{post}' is not a population")
        syn = load_model(synapse) if isinstance(synapse, str) else synapse
        if syn.kind != "synapse":
            raise ModelError(f"model '{syn.name}' is a {syn.kind} model, not a synapse model",
                             syn.path)
        if params:
            syn = syn.with_parameters(**params)
        plast = None
        if plasticity is not None:
            plast = load_model(plasticity) if isinstance(plasticity, str) else plasticity
            if plast.kind != "plasticity":
                raise ModelError(f"model '{plast.name}' is not a plasticity rule", plast.path)
            if plast.post_equations:  # e.g. rstdp: a neuromodulator state in the target group
                raise NetworkError(
                    f"connection '{name}': plasticity rule '{plast.name}' keeps state in the "
                    "target group (post_equations), which Network.connect cannot build; "
                    "compose it with Brian2 objects as its description says")
            plast = scale_weight_parameters(plast, syn, plasticity_params or {},
                                            self.populations[post].model)
        try:
            ii, jj, weights = connectivity.rule_indices(
                npre, npost, weights=weights, i=i, j=j, rule=rule, p=p, in_degree=in_degree,
                rule_params=rule_params, seed=seed, n=n, namespace=namespace,
                weight_unit=self._weight_unit_string(syn, post))
        except ValueError as exc:
            raise NetworkError(f"connection '{name}': {exc}") from None
        delay = _check_delay(name, delay, ii, jj, npre, npost, namespace, seed)
        if shared_weight and (plast is not None or weights is None or np.ndim(weights) != 0):
            raise NetworkError(f"connection '{name}': shared_weight=True needs one scalar "
                               "weight and no plasticity rule (got "
                               + ("plasticity '" + plast.name + "'" if plast is not None else
                                  f"weights of shape {np.shape(weights)}") + ")")
        for k, v in (params or {}).items():
            if not isinstance(v, str) and np.ndim(v) not in (0, 1) or (
                    np.ndim(v) == 1 and len(v) != len(ii)):
                raise NetworkError(f"connection '{name}': parameter '{k}' has shape "
                                   f"{np.shape(v)}; give one value or one per synapse "
                                   f"({len(ii)},)")
        conn = Connection(name, pre, post, syn, plast, ii + pre_start, jj + post_start,
                          weights, delay, suffix=f"_c{len(self.connections)}",
                          shared_weight=bool(shared_weight), namespace=dict(namespace or {}),
                          pre_start=pre_start, post_start=post_start, shape=(npre, npost))
        self._check_weights(conn, weights)
        self.connections[name] = conn
        return conn

    def record(self, target: str, what: Union[str, Sequence[str]] = "spikes", indices=True,
               dt=None) -> None:
        """Record spikes, the population rate or state variables of ``target`` (a
        population, a source, or a connection's name such as ``'inp->exc'``).

        A subgroup ``'exc[0:100]'`` records those neurons of ``exc`` (``indices`` then count
        from its first neuron); the results are under ``exc`` with ``exc``'s indices.

        Parameters
        ----------
        what : str or list of str
            ``'spikes'`` (a Brian2 ``SpikeMonitor``: ``Results.spikes``), ``'rate'`` (a
            ``PopulationRateMonitor`` of all the neurons: ``Results.population_rates``; a
            model variable named ``rate`` is then recorded through :meth:`add`), or
            names of the population's variables (checked here; the variables a connection
            adds, such as ``g_c0``, when the network is built).  For a connection: its
            synaptic variables (a ``StateMonitor`` on the Synapses, ``Results.traces[name]``);
            ``'w'`` is the weight whatever its internal name (``w_syn`` where the neuron model
            owns a ``w``).
        indices : True or int or sequence of int
            The neurons recorded (True: all); for a connection, the synapses (indices into its
            ``i``, ``j``).  Spikes of the others are left out of the
            results, which keep each neuron's own index in ``target`` (not renumbered from 0
            as a Brian2 ``SpikeMonitor`` of a subgroup would).
        dt : Quantity, optional
            Sampling step of state variables (default: the network's ``dt``).
        """
        if target in self.connections:
            return self._record_connection(target, what, indices, dt)
        if "[" in target:  # a subgroup 'exc[0:100]': its neurons (indices into it, if given)
            target, start, n_sub = self._endpoint(target, f"record('{target}')")
            sub = np.arange(start, start + n_sub)
            indices = sub if indices is True else sub[_checked_indices(target, indices, n_sub,
                                                                         "neuron")]
        n = self.size(target)
        if indices is not True:
            indices = _checked_indices(target, indices, n, "neuron")
        names = [what] if isinstance(what, str) else list(what)
        if "rate" in names and indices is not True:
            raise NetworkError(f"record('{target}', 'rate'): the population rate is of all "
                               "its neurons; record it without indices")
        for w in names:
            if w not in ("spikes", "rate") and target in self.populations:
                self._check_recordable(self.populations[target], w)
            self.recordings.append((target, w, indices, dt))

    def _record_connection(self, name: str, what, indices, dt) -> None:
        """``record()`` of synaptic variables of connection ``name`` (checked at build)."""
        n_syn = len(self.connections[name].i)
        idx = np.arange(n_syn) if indices is True else _checked_indices(name, indices, n_syn,
                                                                         "synapse")
        names = [what] if isinstance(what, str) else list(what)
        for w in names:
            if w in ("spikes", "rate"):
                raise NetworkError(f"record('{name}', '{w}'): '{name}' is a connection; record "
                                   f"'{w}' of its populations, or its synaptic variables")
            self.recordings.append((name, w, idx, dt))

    def poisson_input(self, target: str, var: str, N: int, rate, weight,
                      when: str = "synapses", order: int = 0,
                      name: Optional[str] = None) -> str:
        """Add ``N`` independent Poisson inputs of ``rate`` to variable ``var`` of population
        (or source) ``target``: Brian2's ``PoissonInput(target, var, N, rate, weight)``,
        which adds ``weight`` times a binomial number of spikes to ``var`` every step.

        Parameters
        ----------
        target : str
            Population or source, or a subgroup of it (``'exc[0:800]'``).
        var : str
            Its variable that receives the input (e.g. ``'v'``; checked at build).
        N : int
            Number of inputs.
        rate : Quantity (Hz)
            Rate of every input, fixed when the network is built (a compiled binary has it
            as a constant; change it with a new Network).
        weight : Quantity or str
            Added per input spike, in ``var``'s unit, or a Brian2 expression in the target's
            variables and parameters (``'0.5*mV'``, ``'w0*(1 + 0.1*i)'``).
        when, order : str, int
            Scheduling slot, as in Brian2 (default ``'synapses'``).
        name : str, optional
            Defaults to ``'<target>.<var>'`` (numbered if taken).

        Returns
        -------
        str : the name.
        """
        from brian2 import Hz
        from brian2.units.fundamentalunits import have_same_dimensions

        self._endpoint(target, f"poisson_input('{target}')")
        self._check_built(f"poisson_input('{target}')")
        n = _count(N, f"poisson_input('{target}'): N")
        if not have_same_dimensions(rate, Hz) or np.ndim(rate) != 0 or float(rate) < 0:
            raise NetworkError(f"poisson_input('{target}'): rate must be one rate >= 0 in Hz, "
                               f"got {rate!r}")
        if float(rate * self.dt) > 1:
            raise NetworkError(f"poisson_input('{target}'): rate*dt = {float(rate * self.dt)}"
                               " > 1; use a smaller dt or rate")
        if not isinstance(weight, str) and np.ndim(weight) != 0:
            raise NetworkError(f"poisson_input('{target}'): weight must be one value or a "
                               f"Brian2 expression, got shape {np.shape(weight)}")
        name = self._new_name(name, f"{target}.{var}", self.poisson_inputs)
        self.poisson_inputs[name] = dict(target=target, var=var, N=n, rate=rate, weight=weight,
                                         when=when, order=order)
        return name

    def run_regularly(self, target: str, code: str, dt=None, when: str = "start",
                      order: int = 0, name: Optional[str] = None) -> str:
        """Run Brian2 ``code`` on population (or source) ``target`` every ``dt``: Brian2's
        ``group.run_regularly(code, dt=dt, when=when, order=order)``.

        Parameters
        ----------
        target : str
            Population or source, or a subgroup of it (``'exc[0:800]'``; ``i`` in ``code``
            then counts from its first neuron, as in Brian2).
        code : str
            Statements in the group's variables and parameters (``'v = E_L'``,
            ``'I_ext = 0.5*nA*rand()'``); checked by Brian2 when the network runs.
        dt : Quantity, optional
            Interval (default: every step of the network's dt).
        when, order : str, int
            Scheduling slot, as in Brian2 (default ``'start'``).
        name : str, optional
            Defaults to ``'<target>.regularly'`` (numbered if taken).

        Returns
        -------
        str : the name.
        """
        from brian2 import second
        from brian2.units.fundamentalunits import have_same_dimensions

        self._endpoint(target, f"run_regularly('{target}')")
        self._check_built(f"run_regularly('{target}')")
        if not isinstance(code, str) or not code.strip():
            raise NetworkError(f"run_regularly('{target}'): code must be Brian2 statements "
                               f"(a non-empty string), got {code!r}")
        if dt is not None and (not have_same_dimensions(dt, second) or float(dt) <= 0):
            raise NetworkError(f"run_regularly('{target}'): dt must be a time > 0, got {dt!r}")
        name = self._new_name(name, f"{target}.regularly", self.regular)
        self.regular[name] = dict(target=target, code=code, dt=dt, when=when, order=order)
        return name

    def add(self, factory, name: Optional[str] = None) -> str:
        """Add Brian2 objects made by ``factory(objects)`` when the network is built: anything
        Brian2 has (monitors, Synapses, NeuronGroups, ``network_operation``).

        ``objects`` maps every population, source and connection name to its built Brian2
        ``NeuronGroup`` / ``SpikeGeneratorGroup`` / ``Synapses`` (built anew for every runtime
        run, once for cpp_standalone).  The factory returns one Brian2 object, a list or a
        dict of them; they run with the network.  The monitors among them are read back into
        ``Results.extra[name]`` in the same structure (copies with units, see
        :func:`brainkit.results.read_monitor`): e.g. ``lambda o: brian2.StateMonitor(
        o['exc'], 'v', record=0)`` gives ``res.extra[name]['v']``.

        A ``NetworkOperation`` (a Python function run every step) works only on the runtime
        backend; on a standalone backend it is a :class:`NetworkError`, as Brian2 refuses it.

        Parameters
        ----------
        factory : callable
            ``factory(objects) -> object | list | dict``.
        name : str, optional
            Key of ``Results.extra``; defaults to the factory's ``__name__`` (numbered if
            taken).

        Returns
        -------
        str : the name.
        """
        if not callable(factory):
            raise NetworkError(f"add(): factory must be callable (objects -> Brian2 objects), "
                               f"got {factory!r}")
        self._check_built("add()")
        base = getattr(factory, "__name__", "extra")
        name = self._new_name(name, "extra" if base == "<lambda>" else base, self.factories)
        self.factories[name] = factory
        return name

    def _new_name(self, name, default, taken) -> str:
        if name is not None:
            if name in taken:
                raise NetworkError(f"the name '{name}' is taken already")
            return name
        name, k = default, 1
        while name in taken:
            k += 1
            name = f"{default}{k}"
        return name

    def _check_built(self, what: str) -> None:
        if self._built is not None:
            raise NetworkError(f"{what}: this network is compiled already; its structure "
                               "cannot change")

    def _check_recordable(self, pop: Population, var: str) -> None:
        """A NetworkError unless ``var`` is a variable of ``pop``'s model, its input or
        ``I_ext``, or one a connection adds (``<name>_c<k>``, checked at build)."""
        m = pop.model
        try:
            known = set(m.brian2_equations(check=True).names)
        except ModelError:  # reported when the network is built
            return
        known |= {m.input["name"]} if m.input else set()
        known |= {"I_ext"} if pop.external_current else set()
        known |= {"lastspike", "not_refractory"} if m.refractory is not None else set()
        if var not in known and not re.search(r"_c\d+", var):
            raise NetworkError(f"record('{pop.name}', '{var}'): model '{m.name}' has no variable "
                               f"'{var}' (variables: {', '.join(sorted(known))})")

    # ------------------------------------------------------------------- running
    def run(self, duration, weights: Optional[Dict[str, Any]] = None,
            inputs: Optional[Dict[str, Any]] = None, init: Optional[Dict[str, Dict]] = None,
            rates: Optional[Dict[str, Any]] = None, I_ext: Optional[Dict[str, Any]] = None,
            report: Optional[str] = None, seed: Optional[int] = None,
            restart: bool = False) -> Results:
        """Simulate for ``duration``, continuing from where the last run stopped (as a second
        ``run()`` does in Brian2: the state, the weights and the time ``self.t`` carry on;
        ``Results`` hold this run's recordings, at the network's times), or with
        ``restart=True`` from the initial state at t = 0 (what repeated trials and training
        need).  Optionally with new ``weights`` (by connection name),
        stimulus ``inputs`` (by population), initial values ``init`` ({population: {var: v}},
        and {connection: {parameter: values}} for its per-synapse parameters),
        Poisson ``rates`` (by source) and constant currents ``I_ext`` (by population).
        New weights are as :meth:`connect` takes them: a Brian2 expression is evaluated for
        every synapse here, with this run's ``seed``.

        ``seed`` (an integer >= 0) seeds the random numbers of this run (Poisson sources,
        noise, ``rand()`` during the run), after the network is built: the same seed replays
        the same run, another seed draws fresh ones, and the structure (connections drawn
        with the Network's ``seed``) stays.  On ``cpp_standalone`` the compiled binary is
        re-seeded at its start (no recompile); without ``seed`` it uses the Network's seed
        (the same numbers every run) or, with none, fresh random ones.

        On a standalone backend the first call generates and compiles the network; later calls
        re-run the compiled binary, for any ``duration`` on ``cpp_standalone`` (the binary
        reads its time window when it starts; ``self.timings`` says how long compile and run
        took).  A continuing cpp_standalone run passes the last run's final state (every
        variable of the groups and synapses) to the binary, which reads back the spikes
        still in flight on delayed synapses and the random generators' state from the files
        Brian2 wrote at the end of the last run: two runs give what one run of their summed
        duration gives, spike for spike.
        """
        weights, inputs, init = dict(weights or {}), inputs or {}, init or {}
        rates, I_ext = rates or {}, I_ext or {}
        for n in weights:
            if n not in self.connections:
                raise NetworkError(f"no connection named '{n}' "
                                   f"(connections: {', '.join(self.connections)})")
            c = self.connections[n]
            if isinstance(weights[n], str):  # an expression: evaluated here, with this seed
                try:
                    weights[n] = connectivity.rule_indices(
                        *c.shape, i=c.local_indices[0], j=c.local_indices[1],
                        weights=weights[n],
                        namespace=c.namespace, seed=seed,
                        weight_unit=self._weight_unit_string(c.synapse, c.post))[2]
                except ValueError as exc:
                    raise NetworkError(f"connection '{n}': {exc}") from None
            self._check_weights(c, weights[n])
        for n in list(inputs) + list(I_ext):
            self._population(n)
        for n, values in init.items():
            self._check_init(n, values)
        for n in I_ext:
            if not self.populations[n].external_current:
                raise NetworkError(f"population '{n}' was made with external_current=False: "
                                   "it has no I_ext to set")
        for n in rates:
            if n not in self.sources or self.sources[n].kind != "poisson":
                raise NetworkError(f"'{n}' is not a Poisson source")
        if seed is not None:
            if (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                    or not 0 <= seed < 2**32):
                raise NetworkError(f"run(seed=...) must be an integer in [0, 2**32), "
                                   f"got {seed!r}")
            if self.backend not in ("cpp_standalone", "runtime"):
                raise NetworkError(f"run(seed=...) is for cpp_standalone and runtime networks "
                                   f"(this one is {self.backend}): seed the Network instead")
        from brian2 import second
        from brian2.units.fundamentalunits import have_same_dimensions

        if not have_same_dimensions(duration, second) or not float(duration) > 0:
            raise NetworkError(f"run(): duration must be a time > 0, got {duration!r}")
        if restart:
            self.t, self._ran = 0.0, False
        run = self._run_standalone if self.backend in STANDALONE else self._run_runtime
        results = run(duration, weights, inputs, init, rates, I_ext, report, seed)
        results.duration = duration
        results.t_start = self.t * second
        self.t += float(duration)
        self._ran = True
        return results

    def _run_runtime(self, duration, weights, inputs, init, rates, I_ext, report,
                     seed) -> Results:
        import brian2

        with runtime_device(self.codegen_target):
            if inputs:
                raise NetworkError("runtime networks take new stimuli through "
                                   "current_input() before run()")
            if self._ran and self._runtime is not None:  # continue: the objects carry on
                objects, net, structure = self._runtime
                if structure != self._structure():
                    raise NetworkError("the network's description changed since its last "
                                       "run: run(..., restart=True) to build it anew")
                _apply(self._given_settings(objects, weights, init, rates, I_ext))
            else:
                if self.seed is not None:
                    brian2.seed(self.seed)
                objects = self._build_objects()
                _apply(self._settings(objects, weights, init, rates, I_ext))
                net = brian2.Network(objects["all"])
                self._runtime = (objects, net, self._structure())
            if seed is not None:
                brian2.seed(seed)
            t0 = time.perf_counter()
            with _named_errors(objects):
                net.run(duration, report=report)
            self.timings = {"run": time.perf_counter() - t0}
            return Results.collect(self, objects, t_from=self.t)

    def _structure(self) -> tuple:
        """What a runtime network was built from (a continuing run needs the same)."""
        return (tuple(self.populations), tuple(self.sources), tuple(self.connections),
                len(self.recordings), tuple(self.poisson_inputs), tuple(self.regular),
                tuple(self.factories),
                tuple(id(p.stimulus) for p in self.populations.values()))

    def _given_settings(self, objects, weights, init, rates, I_ext) -> List[_Setting]:
        """The values given to a continuing run (the rest carries on from the last run)."""
        out = [s for s in self._settings(objects, weights, {}, {}, {}, all_weights=False)
               if s.kind == "weight"]
        out += [_Setting(objects["groups"][n], "I_ext", v, "I_ext") for n, v in I_ext.items()]
        out += [_Setting(objects["groups"][n], "rates", v, "rates") for n, v in rates.items()]
        for pname, values in init.items():
            if pname in self.connections:
                out += self._synapse_settings(objects, pname, values, given=values)
                continue
            out += [_Setting(objects["groups"][pname], var, val, "initial", population=pname,
                             given=True) for var, val in values.items()]
        return out

    def _run_standalone(self, duration, weights, inputs, init, rates, I_ext, report,
                        seed) -> Results:
        window = self.backend == "cpp_standalone"  # the binary reads start and duration
        if self._built is not None and not window and (
                self._ran or not np.isclose(float(self._built[2]), float(duration))):
            raise NetworkError(
                f"a {self.backend} binary runs for the duration it was compiled for "
                f"({self._built[2]}), from the start: run({self._built[2]}, restart=True), "
                "or build a new Network for another duration")
        if self._built is None:
            self._compile(duration, report)
        engine, objects, _ = self._built
        run_args = {}
        if self._ran:  # continue: the last run's final state, then this run's own values
            state = self._final_state(objects)
            for s in self._given_settings(objects, weights, init, rates, I_ext):
                state[(s.group, s.var)] = self._setting_value(s)
            run_args = {group.state(var, use_units=True): value
                        for (group, var), value in state.items()}
            run_args.update(self._stimuli(objects, inputs))
        else:
            run_args = self._run_args(objects, weights, inputs, init, rates, I_ext)
        self.last_run_args = sorted(f"{k.group_name}.{k.name}" if hasattr(k, "group_name")
                                    else k.name for k in run_args)
        if self.backend == "cpp_standalone":
            # read by _RESEED in the binary, which inherits this process's environment
            os.environ[RUN_SEED_ENV] = "" if seed is None else str(int(seed))
        if window:
            engine.run(run_args, start=self.t, duration=float(duration), continues=self._ran)
        else:
            engine.run(run_args)
        self.timings["run"] = engine.run_s
        return Results.collect(self, objects)

    def _setting_value(self, s: _Setting):
        """A value given to a continuing standalone run, as numbers with the variable's unit
        (an expression is evaluated by Brian2 on a copy of the group, as a run would)."""
        if isinstance(s.value, str):
            raise NetworkError(f"{s.kind} value of {s.population or s.group.name}.{s.var}: "
                               "give numbers (with units), not an expression, to a compiled "
                               "standalone network")
        return s.numbers() * _unit_of(s.group, s.var)

    def _final_state(self, objects) -> Dict[Any, Any]:
        """Every variable of the groups and synapses at the end of the last standalone run
        (read back from the binary's results), by ``(group, variable name)``: the run
        arguments that continue it."""
        import brian2
        from brian2 import Quantity
        from brian2.units.fundamentalunits import DIMENSIONLESS

        state = {}
        kinds = (brian2.NeuronGroup, brian2.SpikeGeneratorGroup, brian2.Synapses)
        for obj in objects["all"]:
            if not isinstance(obj, kinds):
                continue
            for var in obj._full_state():  # Brian2's own list of an object's state
                v = obj.variables.get(var)  # (Python-side entries such as '_previous_dt' not)
                if v is None or var == "_spikespace" or v.read_only:
                    continue
                values = np.array(v.get_value(), copy=True)
                state[(obj, var)] = Quantity(values, dim=v.dim) \
                    if v.dim is not DIMENSIONLESS else values
        return state

    def _compile(self, duration, report, compile: bool = True) -> None:
        """Generate and compile the network with its described values (those go into the
        binary; every run passes what differs from them)."""
        import brian2

        engine = StandaloneEngine(self.backend, self.build_dir, prefix=f"brainkit-{self.name}-",
                                  ieee=self.ieee, compile_args=self.compile_args)
        with engine.compiling(compile=compile):
            if self.seed is not None:
                brian2.seed(self.seed)
            objects = self._build_objects()
            settings = self._settings(objects, {}, {}, {}, {})
            _apply(settings)
            self._baked = {(s.group.name, s.var): s.numbers() for s in settings
                           if not isinstance(s.value, str)}
            if self.backend == "cpp_standalone":
                brian2.get_device().insert_code("main", _RESEED)
            with _named_errors(objects):
                brian2.Network(objects["all"]).run(duration, report=report)
            if self.backend == "cpp_standalone":
                variable_run_window(brian2.get_device())
        self._built = (engine, objects, duration)
        self.timings = {"compile": engine.compile_s}

    def build(self, duration, compile: bool = True,
              report: Optional[str] = None) -> StandaloneEngine:
        """Generate (and unless ``compile=False``, compile) the network for ``duration``
        without running it (standalone backends only), as Brian2's ``device.build(compile=,
        run=False)``, and return its :class:`~brainkit.engine.StandaloneEngine`.  After a
        compile, :meth:`run` for that duration runs the binary; a project generated only
        is for reading (``engine.project_dir``).  A ``cuda_standalone`` network builds on a
        machine without a GPU (its :meth:`run` then raises
        :class:`brainkit.backends.GPUNotFound`)."""
        if self.backend not in STANDALONE:
            raise NetworkError(f"backend '{self.backend}' builds no project: build() is for "
                               f"the standalone backends ({', '.join(STANDALONE)})")
        if self._built is not None:
            raise NetworkError(f"this network is built already (in "
                               f"{self._built[0].project_dir})")
        self._compile(duration, report, compile=compile)
        return self._built[0]

    @property
    def engine(self) -> Optional[StandaloneEngine]:
        """The :class:`~brainkit.engine.StandaloneEngine` of a compiled standalone network
        (None before the first run and after :meth:`close`)."""
        return self._built[0] if self._built is not None else None

    def close(self) -> None:
        """Delete the generated C++ project now (if this network created it; it is also
        deleted when the network is garbage-collected).  A later :meth:`run` compiles again."""
        if self._built is not None:
            self._built[0].close()
        self._built = None

    # ------------------------------------------------------------------ building
    def _build_objects(self) -> Dict[str, Any]:
        """The Brian2 objects of the network (for the current device): ``groups`` and
        ``synapses`` by name, stimulus ``timed`` arrays, ``monitors`` and ``all``."""
        import brian2

        objs: Dict[str, Any] = {"groups": {}, "synapses": {}, "timed": {}, "monitors": [],
                                "all": [], "weight_var": {}, "spike_indices": {}}
        uid = next(_counter)
        for src in self.sources.values():
            if src.kind == "spikes":
                g = brian2.SpikeGeneratorGroup(src.n, src.indices, src.times,
                                               dt=self.dt, name=f"{src.name}_{uid}*")
            elif src.kind == "renewal":
                g = _renewal_group(src, self.dt, uid)
            else:
                g = brian2.NeuronGroup(src.n, "rates : Hz", threshold="rand() < rates*dt",
                                       dt=self.dt, name=f"{src.name}_{uid}*")
            objs["groups"][src.name] = g
        for c in self.connections.values():
            if c.synapse.pre_equations:  # they go into the source: it must be a population
                self._population(c.pre)
        for pop in self.populations.values():
            objs["groups"][pop.name] = self._neuron_group(pop, objs["timed"], uid)
        renames = {}
        for c in self.connections.values():
            objs["synapses"][c.name], renames[c.name] = self._build_synapses(
                c, objs["groups"], uid)
            objs["weight_var"][c.name] = renames[c.name].get("w", "w")
        objs["synapse_renames"] = renames
        for target, what, indices, rec_dt in self.recordings:
            if target in self.connections:
                S = objs["synapses"][target]
                var = renames[target].get(what, what)
                if var not in S.variables or var.startswith("_") or var in ("i", "j"):
                    user = {v: k for k, v in renames[target].items()}
                    own = sorted({user.get(v, v) for v in S.equations.names} | {"delay"})
                    raise NetworkError(f"record('{target}', '{what}'): connection '{target}' "
                                       f"has no synaptic variable '{what}' (variables: "
                                       f"{', '.join(own)})")
                kw = {"dt": rec_dt} if rec_dt is not None else {}
                mon = brian2.StateMonitor(S, var, record=indices,
                                          name=f"trace_syn_{uid}*", **kw)
                objs["monitors"].append((target, what, mon))
                continue
            g = objs["groups"][target]
            if what == "rate":
                mon = brian2.PopulationRateMonitor(g, name=f"rate_{target}_{uid}*")
            elif what == "spikes":
                if indices is not True:  # Results.collect keeps only these neurons' spikes
                    objs["spike_indices"][target] = indices
                    if isinstance(g, brian2.NeuronGroup):  # the smallest subgroup with them
                        g = g[int(indices.min()):int(indices.max()) + 1]
                mon = brian2.SpikeMonitor(g, name=f"spikes_{target}_{uid}*")
            elif what not in g.variables:
                own = sorted(v for v in g.variables if not v.startswith("_")
                             and v not in ("i", "t", "dt", "N", "t_in_timesteps"))
                raise NetworkError(f"record('{target}', '{what}'): '{target}' has no variable "
                                   f"'{what}' (variables: {', '.join(own)})")
            else:
                kw = {"dt": rec_dt} if rec_dt is not None else {}
                mon = brian2.StateMonitor(g, what, record=indices,
                                          name=f"trace_{target}_{what}_{uid}*", **kw)
            objs["monitors"].append((target, what, mon))
        objs["all"] = (list(objs["groups"].values()) + list(objs["synapses"].values())
                       + [m for _, _, m in objs["monitors"]])
        who = objs.setdefault("who", {})  # Brian2 name -> what the user called it
        for name, g in objs["groups"].items():
            pop = self.populations.get(name)
            who[g.name] = (f"population '{name}' (model '{pop.model.name}', {pop.model.path})"
                           if pop is not None else f"source '{name}'")
        for name, S in objs["synapses"].items():
            c = self.connections[name]
            who[S.name] = (f"connection '{name}' (synapse '{c.synapse.name}', {c.synapse.path}"
                           + (f"; plasticity '{c.plasticity.name}', {c.plasticity.path}"
                              if c.plasticity is not None else "") + ")")
        for target, what, mon in objs["monitors"]:
            who[mon.name] = f"record('{target}', '{what}')"
        objs["suffixes"] = {c.suffix: name for name, c in self.connections.items()}
        seen = {id(o) for o in objs["all"]}
        for o in self._build_extras(objs, uid):  # a factory may return a built group too
            if id(o) not in seen:
                seen.add(id(o))
                objs["all"].append(o)
        return objs

    def _build_extras(self, objs, uid) -> List[Any]:
        """The PoissonInputs, run_regularly operations and ``add()`` objects (those also go
        into ``objs['extra']`` by name)."""
        import brian2
        from brian2.units.fundamentalunits import DimensionMismatchError

        out = []
        who = objs.setdefault("who", {})  # Brian2 name -> what the user called it
        def group(spec):  # a population or source, or a subgroup 'name[a:b]' of it
            name, start, n = self._endpoint(spec, spec)
            g = objs["groups"][name]
            return g if (start, n) == (0, len(g)) else g[start:start + n]

        for pname, p in self.poisson_inputs.items():
            g = group(p["target"])
            if p["var"] not in g.variables:
                raise NetworkError(f"poisson_input '{pname}': '{p['target']}' has no variable "
                                   f"'{p['var']}'")
            try:
                out.append(brian2.PoissonInput(g, p["var"], p["N"], p["rate"], p["weight"],
                                               when=p["when"], order=p["order"]))
                who[out[-1].name] = f"poisson_input '{pname}' on '{p['target']}'"
            except (DimensionMismatchError, ValueError, KeyError, TypeError) as exc:
                msg = str(exc).replace("\n", " ")
                raise NetworkError(f"poisson_input '{pname}' on '{p['target']}': {msg}") from None
        for k, (rname, r) in enumerate(self.regular.items()):
            g = group(r["target"])
            try:
                op = g.run_regularly(r["code"], dt=r["dt"], when=r["when"], order=r["order"],
                                     name=f"{g.name}_regularly_{k}")
                who[op.name] = f"run_regularly '{rname}' on '{r['target']}'"
            except Exception as exc:  # noqa: BLE001
                msg = str(exc).replace("\n", " ")
                raise NetworkError(f"run_regularly '{rname}' on '{r['target']}': {msg}") \
                    from None
        built = {**objs["groups"], **objs["synapses"]}
        objs["extra"] = {}
        for fname, factory in self.factories.items():
            made = factory(dict(built))
            items = _flatten(made)
            for obj in items:
                if not isinstance(obj, brian2.BrianObject):
                    raise NetworkError(f"add('{fname}'): the factory returned {obj!r}, not a "
                                       "Brian2 object")
                if isinstance(obj, brian2.NetworkOperation) and self.backend != "runtime":
                    raise NetworkError(
                        f"add('{fname}'): a network_operation (Python code every step) runs "
                        f"only on the runtime backend, not {self.backend}")
            objs["extra"][fname] = made
            who.update({obj.name: f"add('{fname}')" for obj in items if obj.name not in who})
            out += items
        return out

    def _neuron_group(self, pop: Population, timed: Dict[str, Any], uid):
        """The NeuronGroup of ``pop``: the model's equations, its input composed as
        ``I = I_ext + stimulus(t, i) + synaptic currents``, and the equations its connections
        add: post-side ones (an exponential current's ``g``) and pre-side ones (a gated
        synapse's trace); a continuous synapse sums its current in its Synapses object into
        ``I_c<k>``.  A stimulus TimedArray is added to ``timed``."""
        import brian2

        m = pop.model
        incoming = [c for c in self.connections.values() if c.post == pop.name]
        outgoing = [c for c in self.connections.values() if c.pre == pop.name]
        currents = [c.synapse.current + c.suffix if c.synapse.post_equations else f"I{c.suffix}"
                    for c in incoming]
        eqs = m.brian2_equations()
        inp = m.input or {}
        if inp:
            unit = inp["unit"]
            terms = (["I_ext"] if pop.external_current else []) + currents
            if pop.stimulus is not None:
                ta = brian2.TimedArray(_as_2d(pop.stimulus[0], pop.n), dt=pop.stimulus[1],
                                       name=f"stim_{pop.name}_{uid}")
                timed[pop.name] = ta
                terms.append(f"{ta.name}(t, i)")
            total = " + ".join(terms) if terms else f"0*{unit}"
            eqs = _compose(eqs, brian2.Equations(
                f"{inp['name']} = {total} : {unit}"
                + (f"\nI_ext : {unit}" if pop.external_current else "")), pop, "its input")
        elif currents:
            raise ModelError(f"neuron model '{m.name}' declares no input variable, so "
                             f"population '{pop.name}' cannot receive connections", m.path)
        for c in incoming:
            if c.synapse.post_equations:
                eqs = _compose(eqs, post_equations(c.synapse, c.suffix), pop,
                               f"connection '{c.name}'")
        for c in outgoing:
            if c.synapse.pre_equations:
                eqs = _compose(eqs, pre_equations(c.synapse, m, c.suffix), pop,
                               f"connection '{c.name}'")
        for c in incoming:
            if not c.synapse.post_equations:
                eqs = _compose(eqs, brian2.Equations(f"I{c.suffix} : {unit}"), pop,
                               f"connection '{c.name}'")
        per_neuron = pop.per_neuron
        if per_neuron:
            eqs = eqs + brian2.Equations("\n".join(
                f"{k} : {unit_string(_unit_or_one(v))} (constant)" for k, v in per_neuron.items()))
        namespace = {k: v for k, v in m.namespace().items() if k not in per_neuron}
        if pop.name in timed:
            namespace[timed[pop.name].name] = timed[pop.name]
        kwargs = {}
        if m.threshold:
            kwargs["threshold"] = m.threshold
        if m.reset:
            kwargs["reset"] = m.reset
        if m.refractory is not None:
            kwargs["refractory"] = m.refractory
        if m.events:
            kwargs["events"] = dict(m.events)
        for c in outgoing:
            if c.synapse.events:
                kwargs.setdefault("events", {}).update(
                    {k + c.suffix: suffix_names(c.synapse, v, c.suffix)
                     for k, v in c.synapse.events.items()})
        method = pop.method if pop.method is not None else integration_methods(
            m, len(eqs.diff_eq_names), [
                c.synapse for c in self.connections.values()
                if (c.post == pop.name and c.synapse.post_equations)
                or (c.pre == pop.name and c.synapse.pre_equations)])
        try:
            return brian2.NeuronGroup(pop.n, eqs, method=cached_method(method),
                                      namespace=namespace,
                                      dt=self.dt, name=f"{pop.name}_{uid}*", **kwargs)
        except Exception as exc:  # noqa: BLE001 - re-raise with the model's name
            raise ModelError(f"population '{pop.name}' (model '{m.name}'): {exc}",
                             m.path) from exc

    def _build_synapses(self, c: Connection, groups, uid):
        import brian2

        syn, plast = c.synapse, c.plasticity
        per_synapse = c.per_synapse
        namespace = {k: v for k, v in syn.parameters.items() if k not in per_synapse}
        model = fill_unit_placeholders(
            syn.equations,
            weight_unit=unit_string(weight_unit(syn, self.populations[c.post].model)))
        if c.shared_weight:  # 'w : unit' -> 'w : unit (shared, constant)'
            model, n = re.subn(r"(?m)^(\s*w\s*:\s*[^(#\n]*?)\s*$",
                               r"\1 (shared, constant)", model)
            if n != 1:
                raise ModelError(f"connection '{c.name}': shared_weight=True needs synapse "
                                 f"'{syn.name}' to declare its weight as a plain 'w : unit' "
                                 "line", syn.path, syn.line_of("equations"))
        if per_synapse:
            model = model + "\n" + "\n".join(
                f"{k} : {unit_string(_unit_or_one(v))} (constant)" for k, v in per_synapse.items())
        on_pre = suffix_names(syn, syn.on_pre or "", c.suffix, pre_post=True)
        on_post = ""
        if not syn.post_equations:  # continuous synapse: summed current into the target
            post_unit = self.populations[c.post].model.input["unit"]
            cur = suffix_names(syn, syn.current, c.suffix, pre_post=True)
            model = model + f"\nI{c.suffix}_post = {cur} : {post_unit} (summed)"
        if plast is not None:
            model = model + "\n" + plast.equations
            namespace.update(plast.parameters)
            on_pre = "\n".join(x for x in (on_pre, plast.on_pre or "") if x)
            on_post = plast.on_post or ""
        renamed = _synaptic_renames(model, groups[c.pre], groups[c.post])
        if renamed:  # the synapse's own names clash with the neurons' (AdEx's w): rename ours
            from brian2.utils.stringtools import word_substitute

            model, on_pre, on_post = (word_substitute(x, renamed)
                                      for x in (model, on_pre, on_post))
        kwargs = {}
        if on_post:
            kwargs["on_post"] = on_post
        if syn.events:
            kwargs["on_event"] = {"pre": next(iter(syn.events)) + c.suffix}
        try:
            S = brian2.Synapses(groups[c.pre], groups[c.post], model=model,
                                on_pre=on_pre or None, namespace=namespace,
                                **synapse_clock(self.dt),
                                method=cached_method(syn.method or "euler"),
                                name=f"syn_{c.pre}_{c.post}_{uid}*", **kwargs)
            S.connect(i=c.i, j=c.j)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"connection '{c.name}' (synapse '{syn.name}'"
                             + (f", plasticity '{plast.name}'" if plast else "")
                             + f"): {exc}", syn.path) from exc
        if c.delay is not None:
            S.delay = c.delay
        return S, renamed

    # ------------------------------------------------------------------ run values
    def _settings(self, objs, weights, init, rates, I_ext,
                  all_weights: bool = True) -> List[_Setting]:
        """The values a run sets, in the order the runtime backend applies them: weights (all,
        or with ``all_weights=False`` only those given to this run), every population's
        initial values (the model's, then the population's, then the run's ``init``) and
        ``I_ext``, and the Poisson rates."""
        out = []
        for cname, c in self.connections.items():
            if not all_weights and cname not in weights:
                continue
            w = weights.get(cname, c.weights)
            if w is not None:
                out.append(_Setting(objs["synapses"][cname], objs["weight_var"][cname],
                                    self._per_synapse(c, w),
                                    "weight", shared=c.shared_weight))
        for cname, c in self.connections.items():
            given = init.get(cname, {})
            out += self._synapse_settings(objs, cname, {**c.per_synapse, **given}, given)
        for pname, pop in self.populations.items():
            g = objs["groups"][pname]
            given = init.get(pname, {})
            for var, val in {**pop.initial_values(), **given}.items():
                out.append(_Setting(g, var, val, "initial", population=pname,
                                    given=var in given))
            if pname in I_ext:
                out.append(_Setting(g, "I_ext", I_ext[pname], "I_ext"))
        for sname, src in self.sources.items():
            if src.kind == "poisson":
                out.append(_Setting(objs["groups"][sname], "rates",
                                    rates.get(sname, src.rates), "rates"))
        return out

    @staticmethod
    def _synapse_settings(objs, cname, values, given) -> List[_Setting]:
        """Per-synapse parameter values of connection ``cname`` as settings of its Synapses
        (under their Brian2 names; ``given``: those given to this run)."""
        renames = objs["synapse_renames"][cname]
        return [_Setting(objs["synapses"][cname], renames.get(var, var), val, "initial",
                         given=var in given) for var, val in values.items()]

    def _run_args(self, objs, weights, inputs, init, rates, I_ext) -> Dict[Any, Any]:
        """``run_args`` of a standalone run: only the values that differ from those compiled
        into the binary (``self._baked``).  Every run argument is a file the binary reads,
        and for millions of synapses that I/O would cost more than the simulation; the
        weights of connections this run gives none for are the compiled-in ones."""
        run_args: Dict[Any, Any] = {}
        renewed = {}  # populations given new initial numbers (in order)
        for s in self._settings(objs, weights, init, rates, I_ext, all_weights=False):
            if isinstance(s.value, str):  # evaluated in the binary's initialisation, as built
                if s.given:
                    raise NetworkError(
                        f"initial value of {s.population}.{s.var}: give numbers (with units), "
                        "not an expression, to a compiled standalone network")
                continue
            arr = s.numbers()
            baked = self._baked.get((s.group.name, s.var))
            if baked is not None and np.array_equal(baked, arr):
                continue
            run_args[getattr(s.group, s.var)] = arr * _unit_of(s.group, s.var)
            if s.kind == "initial" and s.population is not None:
                renewed[s.population] = True
        # numbers passed for this run are set just before the network runs, after the binary
        # evaluated the expressions (e.g. hh_traub_miles' gates m = alpha_m/(alpha_m + beta_m)
        # of v): re-evaluate those that depend on them here
        for pname in renewed:
            pop, g = self.populations[pname], objs["groups"][pname]
            built = pop.initial_values()
            values = {**built, **init.get(pname, {})}
            for var, arr in _reevaluated_initial(g, pop.model, built, values).items():
                run_args[getattr(g, var)] = arr * _unit_of(g, var)
        run_args.update(self._stimuli(objs, inputs))
        return run_args

    def _stimuli(self, objs, inputs) -> Dict[Any, Any]:
        """New ``current_input`` values by TimedArray, those that differ from the compiled-in
        ones (checked: each population has a stimulus of that shape)."""
        out = {}
        for pname, pop in self.populations.items():
            if pname not in inputs:
                continue
            ta = objs["timed"].get(pname)
            if ta is None:
                raise NetworkError(f"population '{pname}' has no current_input() stimulus")
            values = _as_2d(inputs[pname], pop.n)
            if values.shape != ta.values.shape:
                raise NetworkError(f"input for '{pname}' has shape {values.shape}; the "
                                   f"network was built with {ta.values.shape}")
            if not np.array_equal(values, ta.values):  # ta.values: compiled in
                out[ta] = values
        return out

    # ------------------------------------------------------------------- helpers
    def _weight_unit_string(self, synapse: Model, post: str) -> str:
        """The unit of ``synapse``'s weight onto population ``post`` as Brian2 writes it."""
        return unit_string(weight_unit(synapse, self.populations[post].model))

    def _per_synapse(self, c: Connection, w):
        if w is not None and np.ndim(w) == 2:
            return np.asarray(w)[c.local_indices] * _unit_or_one(w)
        return w

    def _check_weights(self, c: Connection, w):
        if w is None:
            return
        from brian2.units.fundamentalunits import get_dimensions, have_same_dimensions

        unit = weight_unit(c.synapse, self.populations[c.post].model)
        if not have_same_dimensions(w, unit):
            raise NetworkError(f"connection '{c.name}': weights have units "
                               f"{get_dimensions(w)!s}, synapse '{c.synapse.name}' needs "
                               f"{get_dimensions(unit)!s} ({unit})")
        if c.shared_weight and np.ndim(w) != 0:
            raise NetworkError(f"connection '{c.name}' was built with shared_weight=True: give "
                               f"one scalar weight, not an array of shape {np.shape(w)}")
        if np.ndim(w) == 1 and len(w) != len(c.i):
            raise NetworkError(f"connection '{c.name}': {len(w)} weights for {len(c.i)} synapses")
        if np.ndim(w) == 2 and np.shape(w) != tuple(c.shape):
            raise NetworkError(f"connection '{c.name}': weight matrix of shape "
                               f"{np.shape(w)}, expected {tuple(c.shape)}")
        if not np.all(np.isfinite(np.asarray(w, dtype=float))):
            raise NetworkError(f"connection '{c.name}': weights contain NaN or inf")
        w_max = c.plasticity.parameters.get("w_max") if c.plasticity is not None else None
        if w_max is not None:  # a bounded rule clips to [0, w_max]: never clip the input
            values = np.asarray(w, dtype=float)
            if values.min() < 0 or values.max() > float(w_max):
                raise NetworkError(f"connection '{c.name}': initial weights must lie in "
                                   f"[0, w_max = {w_max}] of plasticity rule "
                                   f"'{c.plasticity.name}', got values in "
                                   f"[{values.min()}, {values.max()}] (SI units)")

    def _endpoint(self, spec: str, where: str):
        """``(name, first neuron, number of neurons)`` of a connection's source or target
        ``spec``: a population or source name, or a contiguous subgroup ``'name[a:b]'``
        (Python's slice rules: ``[a:]``, ``[:b]``, negative ends, one neuron ``[k]``)."""
        m = re.fullmatch(r"\s*([^\[\]]+?)\s*\[\s*(-?\d*)\s*(:?)\s*(-?\d*)\s*\]\s*", spec)
        if m is None:
            return spec, 0, self.size(spec)
        name, a, colon, b = m.groups()
        n = self.size(name)
        if not colon:
            if not a:
                raise NetworkError(f"{where}: '{spec}' is not a subgroup "
                                   f"(write '{name}[a:b]' or '{name}[k]')")
            k = int(a)
            if not -n <= k < n:
                raise NetworkError(f"{where}: neuron {k} of '{spec}' is "
                                   f"outside '{name}' ({n} neurons)")
            return name, k % n, 1
        start, stop, _ = slice(int(a) if a else None, int(b) if b else None).indices(n)
        if stop <= start:
            raise NetworkError(f"{where}: subgroup '{spec}' of '{name}' "
                               f"({n} neurons) is empty")
        return name, start, stop - start

    def _check_new(self, name):
        if name in self.populations or name in self.sources:
            raise NetworkError(f"a population or source named '{name}' exists already")
        if self._built is not None:
            raise NetworkError("this network is compiled already; its structure cannot change")

    def _check_init(self, name, values) -> None:
        """``run(init={name: values})``: ``name`` is a population, or a connection whose
        per-synapse parameters ``values`` sets (one value or one per synapse)."""
        if name not in self.connections:
            if name not in self.populations:
                raise NetworkError(
                    f"run(init=...): no population or connection named '{name}' (populations: "
                    f"{', '.join(self.populations) or 'none'}; connections: "
                    f"{', '.join(self.connections) or 'none'})")
            return
        c = self.connections[name]
        for var, val in values.items():
            if var not in c.per_synapse:
                raise NetworkError(
                    f"run(init={{'{name}': ...}}): '{var}' is not a per-synapse parameter of "
                    f"connection '{name}' (those given one value per synapse at connect(): "
                    f"{', '.join(c.per_synapse) or 'none'})")
            if isinstance(val, str) or np.ndim(val) not in (0, 1) or (
                    np.ndim(val) == 1 and len(val) != len(c.i)):
                raise NetworkError(f"run(init={{'{name}': ...}}): '{var}' has shape "
                                   f"{np.shape(val)}; give one value or one per synapse "
                                   f"({len(c.i)},)")
            from brian2.units.fundamentalunits import get_dimensions

            if get_dimensions(val) != get_dimensions(c.per_synapse[var]):
                raise NetworkError(f"run(init={{'{name}': ...}}): '{var}' must be in "
                                   f"{_unit_or_one(c.per_synapse[var])!r}'s units, got "
                                   f"{val!r}")

    def _population(self, name) -> Population:
        if name not in self.populations:
            raise NetworkError(f"no population named '{name}' "
                               f"(populations: {', '.join(self.populations) or 'none'})")
        return self.populations[name]

    def size(self, name) -> int:
        """Number of neurons of population ``name`` or channels of source ``name``."""
        if name in self.populations:
            return self.populations[name].n
        if name in self.sources:
            return self.sources[name].n
        raise NetworkError(f"no population or source named '{name}' (have: "
                           f"{', '.join(list(self.populations) + list(self.sources)) or 'none'})")


# ----------------------------------------------------------------------- functions
def _reevaluated_initial(group, model: Model, built: Dict[str, Any],
                         values: Dict[str, Any]) -> Dict[str, np.ndarray]:
    """Initial values given as expressions, re-evaluated for a standalone run that passes new
    numbers for other variables: ``built`` are the initial values compiled into the binary,
    ``values`` those of this run (both applied in order, as the runtime backend does).  Both
    are evaluated on Brian2's runtime device (numpy) with ``group``'s equations; the
    expressions whose values change are returned (SI floats), so that the run's state is the
    one the runtime backend would set up.  Expressions with random numbers (``rand()``,
    ``randn()``) keep the values the binary draws."""
    import brian2

    exprs = [var for var, val in values.items()
             if isinstance(val, str) and not any(f in val for f in ("rand(", "randn("))]
    if not exprs:
        return {}
    with runtime_device("numpy"):
        evaluated = []
        for vals in (built, values):
            kwargs = {"refractory": model.refractory} if model.refractory is not None else {}
            rg = brian2.NeuronGroup(len(group), group.user_equations,
                                    namespace=dict(group.namespace), **kwargs)
            for var, val in vals.items():
                rg.__setattr__(var, val)
            evaluated.append({var: np.array(rg.variables[var].get_value(), dtype=float,
                                            copy=True) for var in exprs})
            brian2.Network(rg)  # used: no "never included in a network" warning
    return {var: evaluated[1][var] for var in exprs
            if not np.array_equal(evaluated[0][var], evaluated[1][var])}


def _compose(eqs, more, pop, what: str):
    """``eqs + more`` (what brainkit adds to a population's equations for ``what``), or a
    ModelError naming the population's own names it would redefine."""
    clash = set(more.names) & (set(eqs.names) | set(pop.model.parameters))
    if clash:
        raise ModelError(f"population '{pop.name}': neuron model '{pop.model.name}' defines "
                         f"{', '.join(sorted(clash))}, which brainkit adds for {what} (an "
                         "external current I_ext, synaptic currents I_c<k>, synapse traces); "
                         "rename it in the model", pop.model.path)
    return eqs + more


def _synaptic_renames(model: str, pre, post) -> Dict[str, str]:
    """``{name: name_syn}`` for the variables a Synapses ``model`` declares (its weight ``w``,
    a plasticity rule's traces) that are also variables of the source or target group:
    Brian2 refuses the ambiguity, and a neuron model owns its names (AdEx's adaptation
    current ``w``), so brainkit renames its own (``w`` -> ``w_syn``)."""
    from brian2 import Equations

    names = {n for n in Equations(model).names if not n.endswith(("_post", "_pre"))}
    taken = set(pre.variables) | set(post.variables) | names
    renames = {}
    for name in sorted(names & (set(pre.variables) | set(post.variables))):
        new = name + "_syn"
        while new in taken:
            new += "_"
        taken.add(new)
        renames[name] = new
    return renames


def _renewal_group(src: Source, dt, uid):
    """The NeuronGroup of :meth:`Network.renewal_source` (integrated-hazard thresholding)."""
    import brian2
    from brian2 import Hz

    k, d, rate_dt = src.options["order"], src.options["refractory"], src.options["rate_dt"]
    d_s = 0.0 if d is None else float(d / brian2.second)
    # one rand() per statement (Brian2 does not allow two stateful calls in one expression)
    draw = "\n".join(["L_next += -log(1 - rand())/k_order"] * k)
    namespace = {"k_order": float(k), "t_dead": d_s * brian2.second}
    if rate_dt is not None:
        r = np.asarray(src.rates / Hz, dtype=float)
        ta = brian2.TimedArray(r * Hz, dt=rate_dt, name=f"rate_{src.name}_{uid}")
        namespace[ta.name] = ta
        rate_eq = f"rate = {ta.name}(t{', i' if r.ndim == 2 else ''}) : Hz"
    else:
        rate_eq = "rate : Hz"
    unless = " (unless refractory)" if d_s > 0 else ""
    eqs = (f"dL/dt = rate/(1 - rate*t_dead) : 1{unless}\n"
           f"L_next : 1\n{rate_eq}")
    # the spike's step already integrated the hazard to the step's end, so the clock must stay
    # frozen for the next round(d/dt) updates: Brian2's refractoriness of d + dt does that
    # (it blocks the updates of the steps s+1 .. s+round(d/dt) after a spike at step s)
    kwargs = {"refractory": d_s * brian2.second + dt} if d_s > 0 else {}
    g = brian2.NeuronGroup(src.n, eqs, threshold="L >= L_next",
                           reset=draw, method="euler",
                           namespace=namespace, dt=dt, name=f"{src.name}_{uid}*", **kwargs)
    if rate_dt is None:
        g.rate = src.rates
    for _ in range(k):
        g.L_next = "L_next - log(1 - rand())/k_order"
    return g


@contextlib.contextmanager
def _named_errors(objects):
    """Brian2's errors in an object of the network (found when it runs: units that do not
    fit, an unknown name, an integration method that cannot integrate the equations) as a
    one-line NetworkError naming it as the user did -- the population or connection with
    its model files, a ``record``, ``poisson_input``, ``run_regularly`` or ``add()`` -- not
    by Brian2's internal name (``B_1``, ``syn_A_B_0_pre``); other errors pass unchanged."""
    from brian2.core.base import BrianObjectException

    try:
        yield
    except BrianObjectException as exc:
        name, who = getattr(exc, "_brian_objname", None) or "", objects.get("who", {})
        # the object itself, or one of its parts ('<group>_stateupdater', '<synapses>_pre')
        owners = [n for n in who if name == n or name.startswith(n + "_")]
        if not owners:
            raise
        what = who[max(owners, key=len)]
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        msg = " ".join(str(cause).split())
        # the variables a connection adds ('I_syn_c0', 'g_c2'): say whose they are
        suffixes = objects.get("suffixes", {})
        named = sorted({m.group(0) for m in re.finditer(r"\b\w+(_c\d+)\b", msg)
                        if m.group(1) in suffixes})
        if named:
            owner = {v: suffixes[re.search(r"_c\d+$", v).group(0)] for v in named}
            msg += " (" + "; ".join(f"{v}: connection '{c}'" for v, c in owner.items()) + ")"
        raise NetworkError(f"{what}: {msg}") from exc


def _flatten(made) -> List[Any]:
    """The objects of an ``add()`` factory's result (one object, a list/tuple or a dict)."""
    if isinstance(made, dict):
        return [o for v in made.values() for o in _flatten(v)]
    if isinstance(made, (list, tuple)):
        return [o for v in made for o in _flatten(v)]
    return [made]


def _count(n, what: str) -> int:
    """``n`` as a number of neurons: an integer >= 1 (2.7 or True is refused, not rounded)."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer, float, np.floating)) \
            or not float(n).is_integer() or n < 1:
        raise NetworkError(f"{what} = {n!r} must be a whole number >= 1")
    return int(n)


def _checked_indices(target: str, indices, n: int, kind: str) -> np.ndarray:
    """``indices`` given to ``record(target, ...)`` as an int array, each in [0, n) (``kind``:
    'neuron' or 'synapse', for the message)."""
    idx = np.asarray(indices).reshape(-1)
    if idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise NetworkError(f"record('{target}'): indices must be True or {kind} indices "
                           f"(integers), got {indices!r}")
    if idx.min() < 0 or idx.max() >= n:
        what = "indices" if kind == "neuron" else f"{kind} indices"
        raise NetworkError(f"record('{target}'): {what} must lie in [0, {n}), got values from "
                           f"{idx.min()} to {idx.max()}")
    return idx.astype(int)


def _check_delay(name, delay, ii, jj, n_pre, n_post, namespace=None, seed=None):
    """A delay is a scalar or one per synapse, a non-negative finite time.  A string (a Brian2
    expression) is evaluated here, so that it is checked too and drawn once: numbers, units
    and the synapse indices ``i``, ``j`` directly, others (``rand()``, Brian2's functions,
    ``namespace``) by Brian2 for every synapse, with ``seed + 1`` (independent of the
    weights' ``rand()``, drawn with ``seed``)."""
    from brian2 import second
    from brian2.units.fundamentalunits import get_dimensions, have_same_dimensions

    n_syn = len(ii)
    if delay is None:
        return None
    if isinstance(delay, str):
        from .library import evaluate_expression

        try:
            delay = evaluate_expression(delay, {"i": np.asarray(ii), "j": np.asarray(jj)})
        except Exception:  # noqa: BLE001 - not a plain expression: Brian2 evaluates it
            try:
                delay = connectivity.brian2_connect(
                    n_pre, n_post, i=ii, j=jj, values={"delay": ("second", delay)},
                    namespace=namespace, seed=None if seed is None else seed + 1)[2]["delay"]
            except ValueError as exc:
                raise NetworkError(f"connection '{name}': {exc}") from None
    if not have_same_dimensions(delay, second):
        raise NetworkError(f"connection '{name}': delay must be a time (e.g. 1.5*ms), got "
                           f"units {get_dimensions(delay)!s}")
    values = np.asarray(delay / second, dtype=float)
    if values.ndim > 1 or (values.ndim == 1 and len(values) != n_syn):
        raise NetworkError(f"connection '{name}': {values.size} delays for {n_syn} synapses "
                           "(give one delay, or one per synapse)")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise NetworkError(f"connection '{name}': delays must be finite and >= 0 (got "
                           f"{np.min(values) * 1e3:g} ms)")
    return delay


def _apply(settings: Sequence[_Setting]) -> None:
    """Set the values on the Brian2 objects, in order (expressions are evaluated by Brian2)."""
    for s in settings:
        s.group.__setattr__(s.var, s.value)


def _unit_of(group, var):
    from brian2 import get_unit

    return get_unit(group.variables[var].dim)


def _unit_or_one(x):
    from brian2 import get_unit
    from brian2.units.fundamentalunits import get_dimensions

    return get_unit(get_dimensions(x))


def _as_2d(values, n):
    from brian2 import Quantity

    arr = values if isinstance(values, Quantity) else np.asarray(values)
    if arr.ndim == 1:
        arr = arr[:, None] * np.ones((1, n))
    if arr.shape[1] != n:
        raise NetworkError(f"stimulus has {arr.shape[1]} columns, the population {n} neurons")
    return arr
