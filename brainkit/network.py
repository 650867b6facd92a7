"""Build networks from library models and run them on a Brian2 backend.

>>> from brainkit import Network
>>> from brian2 import ms, nA
>>> net = Network(dt=0.1 * ms, backend="cpp_standalone")
>>> exc = net.population("exc", "lif", 100)
>>> net.poisson_source("inp", 200, rates=20 * Hz)
>>> net.connect("inp", "exc", "exp_current", weights=0.1 * nA, p=0.1, seed=1)
>>> net.record("exc", "spikes"); net.record("exc", "v", indices=[0, 1])
>>> res = net.run(500 * ms)                       # compiles once
>>> res = net.run(500 * ms, weights={"inp->exc": W2})   # re-runs the binary: no recompile

Every population's input variable (``I`` for the LIF) is composed by the builder as
``I = I_ext + <stimulus>(t, i) + sum of synaptic currents`` where ``I_ext`` is a per-neuron
constant that :meth:`Network.run` can change, the stimulus is a :class:`brian2.TimedArray`
set with :meth:`Network.current_input`, and each incoming connection adds its current.

On ``cpp_standalone`` the network is generated and compiled at the first :meth:`run` (into its
own build folder) and every later run executes the same binary with new weights, inputs and
initial values passed as ``run_args`` (only those that differ from the compiled-in ones; initial
values given as expressions of other variables are re-evaluated for the new numbers).
Structure (populations, connection indices, duration, recorded variables, spike-generator
spikes) is fixed once built; changing it needs a new :class:`Network`.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from .backends import STANDALONE, check_backend, new_device
from .library import Model, ModelError, load_model
from .results import Results

_counter = itertools.count()


class NetworkError(ValueError):
    """A network was described wrongly (unknown population, bad weight shape, ...)."""


@dataclass
class Population:
    name: str
    model: Model
    n: int
    init: Dict[str, Any] = field(default_factory=dict)
    currents: List[str] = field(default_factory=list)  # post-side current variables
    extra_equations: List[str] = field(default_factory=list)
    stimulus: Any = None  # (values, dt) of a TimedArray current
    method: Optional[str] = None  # integration method overriding the model's
    group: Any = None
    external_current: bool = True  # a per-neuron I_ext term (run(I_ext=...))


@dataclass
class Source:
    name: str
    kind: str  # 'spikes' | 'poisson'
    n: int
    indices: Any = None
    times: Any = None
    rates: Any = None
    group: Any = None
    options: Dict[str, Any] = field(default_factory=dict)  # 'renewal': order, refractory, ...


@dataclass
class Connection:
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
    synapses: Any = None
    shared_weight: bool = False  # one weight for all synapses (a shared Brian2 variable)


def _weight_unit(model: Model, post: Model):
    """Unit of the weight ``w``: as declared, or for a continuous synapse (``{WEIGHT_UNIT}``)
    the unit that turns its presynaptic trace (1/second) into the target's input unit."""
    from brian2 import get_unit, second

    if "{WEIGHT_UNIT}" in model.equations:
        from .library import evaluate_expression

        return get_unit((evaluate_expression(post.input["unit"], {}) * second).dim) \
            if post.input["unit"] != "1" else second
    eqs = model.brian2_equations()
    if "w" not in eqs:
        raise ModelError(f"synapse model '{model.name}' declares no weight 'w'", model.path)
    return get_unit(eqs["w"].dim)


class Network:
    """A network of library models, compiled once, run many times.

    Parameters
    ----------
    dt : Quantity
        Simulation time step.
    backend : str
        ``'cpp_standalone'`` (default), ``'runtime'``, ``'cuda_standalone'`` or ``'genn'``.
    build_dir : str, optional
        Folder for the generated C++ project; by default a new folder under
        ``$BRAINKIT_BUILD_ROOT`` (or the system temp folder), one per network.
    seed : int, optional
        Seed of Brian2's random numbers (Poisson sources, ``rand()`` in equations).
    codegen_target : str
        Runtime code generation target: ``'numpy'`` (default, no compiler) or ``'cython'``.
    """

    def __init__(self, dt=None, backend: str = "cpp_standalone", build_dir: Optional[str] = None,
                 seed: Optional[int] = None, codegen_target: str = "numpy", name: str = "net"):
        from brian2 import ms

        check_backend(backend)
        self.dt = 0.1 * ms if dt is None else dt
        self.backend = backend
        self.seed = seed
        self.codegen_target = codegen_target
        self.name = name
        self.build_dir = build_dir
        self.populations: Dict[str, Population] = {}
        self.sources: Dict[str, Source] = {}
        self.connections: Dict[str, Connection] = {}
        self.recordings: List[tuple] = []
        self._built = None  # standalone: (device, objects, duration)
        self._baked: Optional[Dict[Any, np.ndarray]] = None  # values compiled into the binary
        self.last_run_args: List[str] = []  # what the last standalone run passed
        self.timings: Dict[str, float] = {}

    # ----------------------------------------------------------------- description
    def population(self, name: str, model: Union[str, Model], n: int, variant: Optional[str] = None,
                   params: Optional[Dict[str, Any]] = None, init: Optional[Dict[str, Any]] = None,
                   method: Optional[str] = None, external_current: bool = True) -> Population:
        """Add ``n`` neurons of library ``model`` (name or :class:`Model`); ``method``
        overrides the integration method chosen from the model (see ``_group_methods``).
        ``external_current=False`` leaves out the per-neuron constant current ``I_ext`` (set
        by ``run(I_ext=...)``), which every neuron otherwise reads at every step."""
        self._check_new(name)
        m = load_model(model, variant=variant) if isinstance(model, str) else model
        if m.kind != "neuron":
            raise ModelError(f"model '{m.name}' is a {m.kind} model, not a neuron model", m.path)
        if params:
            m = m.with_parameters(**params)
        pop = Population(name, m, int(n), dict(init or {}), method=method,
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
                weights=None, plasticity: Union[str, Model, None] = None, p: Optional[float] = None,
                rule: Optional[str] = None, i=None, j=None, seed: Optional[int] = None,
                delay=None, params: Optional[Dict[str, Any]] = None,
                plasticity_params: Optional[Dict[str, Any]] = None,
                name: Optional[str] = None, in_degree: Optional[int] = None,
                rule_params: Optional[Dict[str, Any]] = None,
                shared_weight: bool = False) -> Connection:
        """Connect ``pre`` to ``post`` with a library synapse model.

        Which pairs connect: ``weights`` as an (n_pre, n_post) matrix (its non-zero entries),
        or explicit index arrays ``i``, ``j``, or ``rule`` (``'all_to_all'``, ``'one_to_one'``),
        or a connection probability ``p`` (drawn here with ``seed``, once: the compiled binary
        never re-draws it).  ``weights`` is then a scalar or one value per synapse.

        More rules (:mod:`brainkit.connectivity`, drawn here with ``seed``): ``in_degree=k``
        (each post neuron gets exactly k distinct random pre neurons); ``rule='distance'`` with
        ``rule_params={'p0', 'sigma', 'pos_pre', 'pos_post'[, 'periodic'][, 'autapses']}``
        (p(d) = p0 exp(-d^2 / (2 sigma^2)) on a 2-D sheet; positions (n, 2), or a grid shape
        (rows, cols) at unit spacing); ``rule='conv2d'`` with ``rule_params={'in_shape',
        'kernel'[, 'stride'][, 'padding']}`` (a shared kernel (K_y, K_x, C_in, C_out) with
        units over an (H, W, C_in) pre population: the weights come from the kernel).
        ``delay`` is a scalar or one delay per synapse (Quantity).

        ``shared_weight=True`` stores one weight for the whole connection (a shared Brian2
        variable) instead of one per synapse, as a plain Brian2 script writes ``ge += we``: for
        millions of synapses that saves their memory and the time to set them up and write them
        back.  ``weights`` (at connect and at every run) must then be a scalar, and no
        plasticity rule can change it.
        """
        npre, npost = self._size(pre), self._size(post)
        name = name or f"{pre}->{post}"
        if name in self.connections:
            raise NetworkError(f"a connection named '{name}' exists already")
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
            plast = _scale_weight_parameters(plast, syn, plasticity_params or {},
                                             self.populations[post].model)
        matrix = weights is not None and np.ndim(weights) == 2
        if matrix:
            if np.shape(weights) != (npre, npost):
                raise NetworkError(f"connection '{name}': weight matrix has shape "
                                   f"{np.shape(weights)}, expected ({npre}, {npost})")
            ii, jj = np.nonzero(np.asarray(weights))
        elif i is not None or j is not None:
            ii, jj = np.asarray(i, dtype=int), np.asarray(j, dtype=int)
            if ii.shape != jj.shape:
                raise NetworkError(f"connection '{name}': i and j differ in length")
        elif rule == "one_to_one":
            if npre != npost:
                raise NetworkError(f"connection '{name}': one_to_one needs equal sizes, "
                                   f"got {npre} and {npost}")
            ii = jj = np.arange(npre)
        elif in_degree is not None:
            from . import connectivity

            if p is not None or rule is not None:
                raise NetworkError(f"connection '{name}': give one rule: in_degree, p or rule")

            try:
                ii, jj = connectivity.fixed_in_degree(npre, npost, in_degree, seed=seed)
            except ValueError as exc:
                raise NetworkError(f"connection '{name}': {exc}") from None
        elif rule in ("distance", "conv2d"):
            ii, jj, weights = _rule_connectivity(name, rule, rule_params, npre, npost, seed,
                                                 weights)
        elif p is not None:
            rng = np.random.default_rng(seed)
            ii, jj = np.nonzero(rng.random((npre, npost)) < p)
        elif rule in (None, "all_to_all"):
            ii, jj = (a.ravel() for a in np.meshgrid(np.arange(npre), np.arange(npost),
                                                     indexing="ij"))
        else:
            raise NetworkError(f"connection '{name}': unknown rule '{rule}' "
                               "(all_to_all, one_to_one, or give p, i/j or a weight matrix)")
        if len(ii) and (ii.min() < 0 or ii.max() >= npre or jj.min() < 0 or jj.max() >= npost):
            raise NetworkError(f"connection '{name}': indices outside the populations")
        delay = _check_delay(name, delay, len(ii))
        if shared_weight and (plast is not None or weights is None or np.ndim(weights) != 0):
            raise NetworkError(f"connection '{name}': shared_weight=True needs one scalar "
                               "weight and no plasticity rule (got "
                               + ("plasticity '" + plast.name + "'" if plast is not None else
                                  f"weights of shape {np.shape(weights)}") + ")")
        conn = Connection(name, pre, post, syn, plast, ii, jj, weights, delay,
                          suffix=f"_c{len(self.connections)}", shared_weight=bool(shared_weight))
        self._check_weights(conn, weights)
        self.connections[name] = conn
        return conn

    def record(self, target: str, what: Union[str, Sequence[str]] = "spikes", indices=True,
               dt=None) -> None:
        """Record ``'spikes'`` of a population or source, or state variables (names) of a
        population, for ``indices`` (True: all), sampled every ``dt``."""
        self._size(target)
        names = [what] if isinstance(what, str) else list(what)
        for w in names:
            self.recordings.append((target, w, indices, dt))

    # ------------------------------------------------------------------- running
    def run(self, duration, weights: Optional[Dict[str, Any]] = None,
            inputs: Optional[Dict[str, Any]] = None, init: Optional[Dict[str, Dict]] = None,
            rates: Optional[Dict[str, Any]] = None, I_ext: Optional[Dict[str, Any]] = None,
            report: Optional[str] = None) -> Results:
        """Simulate for ``duration``; optionally with new ``weights`` (by connection name),
        stimulus ``inputs`` (by population), initial values ``init`` ({population: {var: v}}),
        Poisson ``rates`` (by source) and constant currents ``I_ext`` (by population).

        On a standalone backend the first call generates and compiles the network; later calls
        with the same ``duration`` re-run the compiled binary (``self.timings`` says how long
        compile and run took).
        """
        weights, inputs, init = weights or {}, inputs or {}, init or {}
        rates, I_ext = rates or {}, I_ext or {}
        for n in weights:
            if n not in self.connections:
                raise NetworkError(f"no connection named '{n}' "
                                   f"(connections: {', '.join(self.connections)})")
            self._check_weights(self.connections[n], weights[n])
        for n in list(inputs) + list(I_ext):
            self._population(n)
        for n in I_ext:
            if not self.populations[n].external_current:
                raise NetworkError(f"population '{n}' was made with external_current=False: "
                                   "it has no I_ext to set")
        for n in rates:
            if n not in self.sources or self.sources[n].kind != "poisson":
                raise NetworkError(f"'{n}' is not a Poisson source")
        run = self._run_standalone if self.backend in STANDALONE else self._run_runtime
        results = run(duration, weights, inputs, init, rates, I_ext, report)
        results.duration = duration
        return results

    def _run_runtime(self, duration, weights, inputs, init, rates, I_ext, report) -> Results:
        import brian2

        from brian2.devices.device import get_device, reset_device, set_device

        previous = get_device()
        set_device("runtime")
        old_target = brian2.prefs.codegen.target
        brian2.prefs.codegen.target = self.codegen_target
        try:
            if self.seed is not None:
                brian2.seed(self.seed)
            objects = self._build_objects()
            self._assign(objects, weights, inputs, init, rates, I_ext, runtime=True)
            net = brian2.Network(objects["all"])
            t0 = time.perf_counter()
            net.run(duration, report=report)
            self.timings = {"run": time.perf_counter() - t0}
            return Results.collect(self, objects)
        finally:
            brian2.prefs.codegen.target = old_target
            reset_device(previous)

    def _run_standalone(self, duration, weights, inputs, init, rates, I_ext, report) -> Results:
        import brian2
        from brian2.devices.device import get_device, reset_device, set_device

        if self._built is not None and not np.isclose(float(self._built[2]), float(duration)):
            raise NetworkError(
                f"this network was compiled for a duration of {self._built[2]}; a standalone "
                f"binary cannot run for {duration}: build a new Network for another duration")
        if self._built is None:
            device = new_device(self.backend)
            directory = self.build_dir or tempfile.mkdtemp(
                prefix=f"brainkit-{self.name}-", dir=os.environ.get("BRAINKIT_BUILD_ROOT"))
            previous = get_device()
            set_device(device, directory=directory, build_on_run=False)
            try:
                _compile_prefs()
                if self.seed is not None:
                    brian2.seed(self.seed)
                objects = self._build_objects()
                # default values go into the binary; every run overrides what it is given
                self._assign(objects, {}, {}, {}, {}, {}, runtime=True)
                self._baked = {}
                self._assign(objects, {}, {}, {}, {}, {}, runtime=False, baked=self._baked)
                net = brian2.Network(objects["all"])
                net.run(duration, report=report)
                t0 = time.perf_counter()
                device.build(directory=directory, compile=True, run=False)
                compile_s = time.perf_counter() - t0
            finally:
                reset_device(previous)
            self._built = (device, objects, duration)
            self.timings = {"compile": compile_s}
            if self.build_dir is None:  # our temporary folder goes when this network goes
                self._finalizer = weakref.finalize(self, shutil.rmtree, directory, True)
        device, objects, _ = self._built
        run_args = self._assign(objects, weights, inputs, init, rates, I_ext, runtime=False)
        self.last_run_args = sorted(f"{k.group_name}.{k.name}" if hasattr(k, "group_name")
                                    else k.name for k in run_args)
        t0 = time.perf_counter()
        device.run(run_args=run_args, with_output=False)
        self.timings["run"] = time.perf_counter() - t0
        return Results.collect(self, objects)

    def close(self) -> None:
        """Delete the generated C++ project now (if this network created it; it is also
        deleted when the network is garbage-collected).  A later :meth:`run` compiles again."""
        if self._built is not None and self.build_dir is None:
            self._finalizer()
        self._built = None

    # ------------------------------------------------------------------ building
    def _build_objects(self) -> Dict[str, Any]:
        import brian2

        objs: Dict[str, Any] = {"groups": {}, "synapses": {}, "timed": {}, "monitors": [],
                                "all": []}
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
        # post-side synapse equations go into their target group; continuous (summed) synapses
        # define their current in the Synapses object; pre-side equations into the source.
        post_eqs: Dict[str, List] = {n: [] for n in self.populations}
        pre_eqs: Dict[str, List] = {n: [] for n in self.populations}
        currents: Dict[str, List[str]] = {n: [] for n in self.populations}
        for c in self.connections.values():
            syn = c.synapse
            if syn.post_equations:
                post_eqs[c.post].append(_rename(syn, syn.post_equations, c.suffix, syn.parameters))
                currents[c.post].append(syn.current + c.suffix)
            else:
                currents[c.post].append(f"I{c.suffix}")
            if syn.pre_equations:
                pre = self._population(c.pre)
                pre_eqs[c.pre].append(_pre_equations(syn, pre.model, c.suffix))
        for pop in self.populations.values():
            m = pop.model
            eqs = m.brian2_equations()
            inp = m.input or {}
            if inp:
                unit = inp["unit"]
                terms = (["I_ext"] if pop.external_current else []) + currents[pop.name]
                if pop.stimulus is not None:
                    ta = brian2.TimedArray(_as_2d(pop.stimulus[0], pop.n), dt=pop.stimulus[1],
                                           name=f"stim_{pop.name}_{uid}")
                    objs["timed"][pop.name] = ta
                    terms.append(f"{ta.name}(t, i)")
                total = " + ".join(terms) if terms else f"0*{unit}"
                eqs += brian2.Equations(f"{inp['name']} = {total} : {unit}"
                                        + (f"\nI_ext : {unit}" if pop.external_current else ""))
            elif currents[pop.name]:
                raise ModelError(f"neuron model '{m.name}' declares no input variable, so "
                                 f"population '{pop.name}' cannot receive connections", m.path)
            for extra in post_eqs[pop.name] + pre_eqs[pop.name]:
                eqs += extra
            for c in self.connections.values():
                if c.post == pop.name and not c.synapse.post_equations:
                    eqs += brian2.Equations(f"I{c.suffix} : {unit}")
            namespace = m.namespace()
            if pop.name in objs["timed"]:
                namespace[objs["timed"][pop.name].name] = objs["timed"][pop.name]
            kwargs = {}
            if m.threshold:
                kwargs["threshold"] = m.threshold
            if m.reset:
                kwargs["reset"] = m.reset
            if m.refractory is not None:
                kwargs["refractory"] = m.refractory
            if m.events:
                kwargs["events"] = dict(m.events)
            for c in self.connections.values():
                if c.pre == pop.name and c.synapse.events:
                    kwargs.setdefault("events", {}).update(
                        {k + c.suffix: _rename(c.synapse, v, c.suffix, {}, text=True)
                         for k, v in c.synapse.events.items()})
            try:
                g = brian2.NeuronGroup(pop.n, eqs, method=_group_methods(self, pop, len(eqs.diff_eq_names)),
                                       namespace=namespace, dt=self.dt,
                                       name=f"{pop.name}_{uid}*", **kwargs)
            except Exception as exc:  # noqa: BLE001 - re-raise with the model's name
                raise ModelError(f"population '{pop.name}' (model '{m.name}'): {exc}",
                                 m.path) from exc
            objs["groups"][pop.name] = g
        for c in self.connections.values():
            objs["synapses"][c.name] = self._build_synapses(c, objs["groups"], uid)
        for target, what, indices, rec_dt in self.recordings:
            g = objs["groups"][target]
            if what == "spikes":
                mon = brian2.SpikeMonitor(g, name=f"spikes_{target}_{uid}*")
            else:
                kw = {"dt": rec_dt} if rec_dt is not None else {}
                mon = brian2.StateMonitor(g, what, record=indices,
                                          name=f"trace_{target}_{what}_{uid}*", **kw)
            objs["monitors"].append((target, what, mon))
        objs["all"] = (list(objs["groups"].values()) + list(objs["synapses"].values())
                       + [m for _, _, m in objs["monitors"]])
        return objs

    def _build_synapses(self, c: Connection, groups, uid):
        import brian2

        syn, plast = c.synapse, c.plasticity
        namespace = dict(syn.parameters)
        model = syn.equations.replace(
            "{WEIGHT_UNIT}",
            _unit_string(_weight_unit(syn, self.populations[c.post].model)))
        if c.shared_weight:  # 'w : unit' -> 'w : unit (shared, constant)'
            model, n = re.subn(r"(?m)^(\s*w\s*:\s*[^(#\n]*?)\s*$",
                               r"\1 (shared, constant)", model)
            if n != 1:
                raise ModelError(f"connection '{c.name}': shared_weight=True needs synapse "
                                 f"'{syn.name}' to declare its weight as a plain 'w : unit' "
                                 "line", syn.path, syn.line_of("equations"))
        on_pre = _rename(syn, syn.on_pre or "", c.suffix, {}, text=True, post=True)
        on_post = ""
        if not syn.post_equations:  # continuous synapse: summed current into the target
            post_unit = self.populations[c.post].model.input["unit"]
            cur = _rename(syn, syn.current, c.suffix, {}, text=True, post=True)
            model = model + f"\nI{c.suffix}_post = {cur} : {post_unit} (summed)"
        if plast is not None:
            model = model + "\n" + plast.equations
            namespace.update(plast.parameters)
            on_pre = "\n".join(x for x in (on_pre, plast.on_pre or "") if x)
            on_post = plast.on_post or ""
        kwargs = {}
        if on_post:
            kwargs["on_post"] = on_post
        if syn.events:
            kwargs["on_event"] = {"pre": next(iter(syn.events)) + c.suffix}
        try:
            S = brian2.Synapses(groups[c.pre], groups[c.post], model=model,
                                on_pre=on_pre or None, namespace=namespace, dt=self.dt,
                                method=syn.method or "euler",
                                name=f"syn_{c.pre}_{c.post}_{uid}*", **kwargs)
            S.connect(i=c.i, j=c.j)
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"connection '{c.name}' (synapse '{syn.name}'"
                             + (f", plasticity '{plast.name}'" if plast else "")
                             + f"): {exc}", syn.path) from exc
        if c.delay is not None:
            S.delay = c.delay
        return S

    def _assign(self, objs, weights, inputs, init, rates, I_ext, runtime: bool,
                baked: Optional[Dict[Any, np.ndarray]] = None):
        """Put values into the objects (runtime) or into a run_args dict (standalone).

        A standalone run passes only the values that differ from those compiled into the
        binary (``self._baked``, recorded at build time into ``baked``): every run argument is
        a file the binary reads, and for millions of synapses that I/O would cost more than
        the simulation.
        """
        run_args: Dict[Any, Any] = {}
        in_binary = self._baked if baked is None else None

        def unchanged(key, arr):
            if baked is not None:
                baked[key] = arr
                return False
            return in_binary is not None and key in in_binary and np.array_equal(
                in_binary[key], arr)

        def put(group, var, value, shared=False):
            if runtime:
                group.__setattr__(var, value)
                return
            size = 1 if shared else len(group)
            arr = np.broadcast_to(np.asarray(value, dtype=float), (size,)).copy()
            if not unchanged((group.name, var), arr):
                run_args[getattr(group, var)] = arr * _unit_of(group, var)

        for cname, c in self.connections.items():
            if not runtime and baked is None and cname not in weights:
                continue  # the compiled-in weights: no need to copy and compare them
            w = weights.get(cname, c.weights)
            if w is None:
                continue
            put(objs["synapses"][cname], "w", self._per_synapse(c, w), shared=c.shared_weight)
        for pname, pop in self.populations.items():
            g = objs["groups"][pname]
            m = pop.model
            values = dict(m.initial)
            values.update(pop.init)
            values.update(init.get(pname, {}))
            n_args = len(run_args)
            for var, val in values.items():
                if isinstance(val, str):
                    if not runtime:  # evaluated in the binary's initialisation, as built
                        if var in init.get(pname, {}):
                            raise NetworkError(
                                f"initial value of {pname}.{var}: give numbers (with units), not "
                                "an expression, to a compiled standalone network")
                        continue
                    g.__setattr__(var, val)
                else:
                    put(g, var, val)
            if not runtime and baked is None and len(run_args) > n_args:
                # numbers passed for this run are set just before the network runs, after the
                # binary evaluated the expressions (e.g. hh_traub_miles' gates m = alpha_m/
                # (alpha_m + beta_m) of v): re-evaluate those that depend on them here
                built = dict(m.initial)
                built.update(pop.init)
                for var, arr in _reevaluated_initial(g, m, built, values).items():
                    run_args[getattr(g, var)] = arr * _unit_of(g, var)
            if pname in I_ext:
                put(g, "I_ext", I_ext[pname])
            if pname in inputs:
                ta = objs["timed"].get(pname)
                if ta is None:
                    raise NetworkError(f"population '{pname}' has no current_input() stimulus")
                values = _as_2d(inputs[pname], pop.n)
                if values.shape != ta.values.shape:
                    raise NetworkError(f"input for '{pname}' has shape {values.shape}; the "
                                       f"network was built with {ta.values.shape}")
                if runtime:
                    raise NetworkError("runtime networks take new stimuli through "
                                       "current_input() before run()")
                if not np.array_equal(values, ta.values):  # ta.values: compiled in
                    run_args[ta] = values
        for sname, src in self.sources.items():
            if src.kind == "poisson":
                put(objs["groups"][sname], "rates", rates.get(sname, src.rates))
        return run_args

    # ------------------------------------------------------------------- helpers
    def _per_synapse(self, c: Connection, w):
        if w is not None and np.ndim(w) == 2:
            return np.asarray(w)[c.i, c.j] * _unit_or_one(w)
        return w

    def _check_weights(self, c: Connection, w):
        if w is None:
            return
        from brian2.units.fundamentalunits import get_dimensions, have_same_dimensions

        unit = _weight_unit(c.synapse, self.populations[c.post].model)
        if not have_same_dimensions(w, unit):
            raise NetworkError(f"connection '{c.name}': weights have units "
                               f"{get_dimensions(w)!s}, synapse '{c.synapse.name}' needs "
                               f"{get_dimensions(unit)!s} ({unit})")
        if c.shared_weight and np.ndim(w) != 0:
            raise NetworkError(f"connection '{c.name}' was built with shared_weight=True: give "
                               f"one scalar weight, not an array of shape {np.shape(w)}")
        if np.ndim(w) == 1 and len(w) != len(c.i):
            raise NetworkError(f"connection '{c.name}': {len(w)} weights for {len(c.i)} synapses")
        if np.ndim(w) == 2:
            npre, npost = self._size(c.pre), self._size(c.post)
            if np.shape(w) != (npre, npost):
                raise NetworkError(f"connection '{c.name}': weight matrix of shape "
                                   f"{np.shape(w)}, expected ({npre}, {npost})")
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

    def _check_new(self, name):
        if name in self.populations or name in self.sources:
            raise NetworkError(f"a population or source named '{name}' exists already")
        if self._built is not None:
            raise NetworkError("this network is compiled already; its structure cannot change")

    def _population(self, name) -> Population:
        if name not in self.populations:
            raise NetworkError(f"no population named '{name}' "
                               f"(populations: {', '.join(self.populations) or 'none'})")
        return self.populations[name]

    def _size(self, name) -> int:
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
    from brian2.devices.device import get_device, reset_device, set_device

    exprs = [var for var, val in values.items()
             if isinstance(val, str) and not any(f in val for f in ("rand(", "randn("))]
    if not exprs:
        return {}
    previous = get_device()
    set_device("runtime")
    old_target = brian2.prefs.codegen.target
    brian2.prefs.codegen.target = "numpy"
    try:
        evaluated = []
        for vals in (built, values):
            kwargs = {"refractory": model.refractory} if model.refractory is not None else {}
            rg = brian2.NeuronGroup(len(group), group.user_equations,
                                    namespace=dict(group.namespace), **kwargs)
            for var, val in vals.items():
                rg.__setattr__(var, val)
            evaluated.append({var: np.asarray(rg.variables[var].get_value(), dtype=float).copy()
                              for var in exprs})
    finally:
        brian2.prefs.codegen.target = old_target
        reset_device(previous)
    return {var: evaluated[1][var] for var in exprs
            if not np.array_equal(evaluated[0][var], evaluated[1][var])}


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


def _rule_connectivity(name, rule, rule_params, npre, npost, seed, weights):
    """(i, j, weights) of the ``'distance'`` and ``'conv2d'`` rules of :meth:`Network.connect`."""
    from . import connectivity

    rp = dict(rule_params or {})
    try:
        if rule == "distance":
            missing = {"p0", "sigma", "pos_pre", "pos_post"} - set(rp)
            if missing:
                raise ValueError(f"rule 'distance' needs rule_params {sorted(missing)}")
            pos = []
            for key, n in (("pos_pre", npre), ("pos_post", npost)):
                p = rp.pop(key)
                p = connectivity.grid_positions(p) if np.ndim(p) == 1 else np.asarray(p, float)
                if len(p) != n:
                    raise ValueError(f"{key} has {len(p)} positions for {n} neurons")
                pos.append(p)
            autapses = rp.pop("autapses", True)
            ii, jj = connectivity.distance_gaussian(pos[0], pos[1], rp.pop("p0"),
                                                    rp.pop("sigma"), seed=seed,
                                                    periodic=rp.pop("periodic", None),
                                                    allow_autapses=autapses)
        else:
            missing = {"in_shape", "kernel"} - set(rp)
            if missing:
                raise ValueError(f"rule 'conv2d' needs rule_params {sorted(missing)}")
            if weights is not None:
                raise ValueError("rule 'conv2d' takes its weights from the kernel; give no "
                                 "weights")
            in_shape = tuple(rp.pop("in_shape"))
            if int(np.prod(in_shape)) != npre:
                raise ValueError(f"in_shape {in_shape} has {int(np.prod(in_shape))} neurons, "
                                 f"the pre population {npre}")
            ii, jj, weights, out = connectivity.conv2d(in_shape, rp.pop("kernel"),
                                                       rp.pop("stride", 1), rp.pop("padding", 0))
            if int(np.prod(out)) != npost:
                raise ValueError(f"the output shape {out} has {int(np.prod(out))} neurons, "
                                 f"the post population {npost}")
        if rp:
            raise ValueError(f"unknown rule_params {sorted(rp)} for rule '{rule}'")
    except ValueError as exc:
        raise NetworkError(f"connection '{name}': {exc}") from None
    return ii, jj, weights


def _check_delay(name, delay, n_syn):
    """A delay is a scalar or one per synapse, a non-negative finite time."""
    if delay is None or isinstance(delay, str):  # a string is a Brian2 expression
        return delay
    from brian2 import second
    from brian2.units.fundamentalunits import get_dimensions, have_same_dimensions

    if not have_same_dimensions(delay, second):
        raise NetworkError(f"connection '{name}': delay must be a time (e.g. 1.5*ms), got "
                           f"units {get_dimensions(delay)!s}")
    values = np.asarray(delay / second, dtype=float)
    if values.ndim > 1 or (values.ndim == 1 and len(values) != n_syn):
        raise NetworkError(f"connection '{name}': {values.size} delays for {n_syn} synapses "
                           "(give one delay, or one per synapse)")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise NetworkError(f"connection '{name}': delays must be finite and >= 0")
    return delay


def _scale_weight_parameters(plast: Model, syn: Model, overrides: Dict[str, Any],
                             post: Optional[Model] = None) -> Model:
    """A plasticity rule's ``weight_parameters`` (e.g. ``w_max``) are written as plain numbers
    in its file and take the unit of the synapse's weight ``w`` it is attached to (for a
    continuous synapse, ``{WEIGHT_UNIT}``, that unit depends on the target neuron ``post``);
    then the user's overrides are checked against those units."""
    import copy

    from brian2 import get_unit
    from brian2.units.fundamentalunits import get_dimensions

    if "{WEIGHT_UNIT}" in syn.equations:
        if post is None:
            raise ModelError(f"plasticity rule '{plast.name}' on synapse '{syn.name}': the "
                             "weight unit depends on the target neuron, which was not given")
        unit = _weight_unit(syn, post)
    else:
        eqs = syn.brian2_equations(check=True)
        if "w" not in eqs:
            raise ModelError(f"plasticity rule '{plast.name}' acts on a weight 'w', but synapse "
                             f"model '{syn.name}' declares none", syn.path)
        unit = get_unit(eqs["w"].dim)
    m = copy.deepcopy(plast)
    for name in m.weight_parameters:
        if name not in m.parameters:
            raise ModelError(f"plasticity rule '{m.name}': weight parameter '{name}' is not one "
                             "of its parameters", m.path, m.line_of("weight_parameters"))
        if not get_dimensions(m.parameters[name]).is_dimensionless:
            raise ModelError(f"plasticity rule '{m.name}': weight parameter '{name}' = "
                             f"{m.parameters[name]!r} must be a plain number in the file (it "
                             "takes the unit of the synapse's weight w)", m.path,
                             m.line_of(f"parameters.{name}"))
        m.parameters[name] = float(m.parameters[name]) * unit
    return m.with_parameters(**overrides) if overrides else m


MAX_EXACT_STATES = 3


def _group_methods(network: "Network", pop: Population, n_odes: int):
    """Integration methods for ``pop``'s group, tried in order: the neuron model's own, then
    the ``method`` of every synapse model that adds equations to the group (a conductance
    synapse's ``g (E_rev - v)`` or a gated synapse's ``g(V) dV/dt`` make a linear neuron
    nonlinear, so ``exact`` no longer applies).  Brian2 uses the first that can integrate the
    composed equations.  ``Network.population(method=...)`` overrides the choice; a model whose
    method is ``exact`` falls back to ``exponential_euler`` when the composed group has more
    than ``MAX_EXACT_STATES`` differential equations."""
    if pop.method is not None:
        return pop.method
    methods = [pop.model.method or "euler"]
    if methods[0] == "exact" and n_odes > MAX_EXACT_STATES:
        # sympy's exact solution of an n-dimensional linear system takes minutes beyond a few
        # states (a LIF with 8 exponential synapses: 157 s to build); exponential Euler is exact
        # for each state's own linear decay and first order in the couplings.
        methods = ["exponential_euler"]
    for c in network.connections.values():
        adds = ((c.post == pop.name and c.synapse.post_equations)
                or (c.pre == pop.name and c.synapse.pre_equations))
        if adds and c.synapse.method and c.synapse.method not in methods:
            methods.append(c.synapse.method)
    return methods[0] if len(methods) == 1 else methods


def _compile_prefs():
    """C++ flags: optimised, but without -ffast-math, so that results follow IEEE arithmetic
    (the adjoint and finite-difference checks compare against these numbers).  ``make`` runs
    as many compilers as there are cores (Brian2's default ``-j`` starts one per source
    file at once, dozens, which thrashes a small machine)."""
    import os

    import brian2

    brian2.prefs.codegen.cpp.extra_compile_args_gcc = ["-w", "-O3", "-march=native"]
    brian2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]


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


def _rename(model: Model, source: str, suffix: str, values: Dict[str, Any],
            text: bool = False, post: bool = False):
    """Suffix the synapse model's own variables (so two connections of one model can target
    the same group) and substitute its parameters by their values."""
    from brian2 import Equations
    from brian2.utils.stringtools import word_substitute

    owned = _owned_names(model)
    mapping = {}
    for v in owned:
        mapping[v] = v + suffix
        if post:
            mapping[v + "_post"] = v + suffix + "_post"
            mapping[v + "_pre"] = v + suffix + "_pre"
    if text:
        return word_substitute(source, mapping)
    eqs = Equations(source)
    subs = {k: v for k, v in values.items() if k in eqs.identifiers}
    subs.update({k: v for k, v in mapping.items() if k in eqs.names})
    return eqs.substitute(**subs)


def _owned_names(model: Model) -> List[str]:
    names = []
    for key in ("post_equations", "pre_equations"):
        if getattr(model, key):
            names += list(model.brian2_equations(key, check=True).names)
    return names


def _pre_equations(syn: Model, neuron: Model, suffix: str, keep=()):
    """The presynaptic part of a continuous synapse (the gated synapse's ``s``), written for
    ``neuron``: ``dVdt`` becomes the right-hand side of the neuron's voltage equation, ``V`` its
    voltage and ``zone_distance`` the neuron's distance to its gate centre.  The synapse's
    parameters are written in as values, except those named in ``keep``."""
    from brian2 import Equations, get_unit
    from brian2.utils.stringtools import word_substitute

    volt = neuron.voltage or {}
    if not {"name", "distance", "width"} <= set(volt):
        raise ModelError(f"synapse '{syn.name}' needs the presynaptic neuron's voltage, but "
                         f"neuron model '{neuron.name}' declares no "
                         "'voltage: {name, distance, width}'",
                         neuron.path, neuron.line_of("voltage"))
    eqs = neuron.brian2_equations()
    vname = volt["name"]
    if vname not in eqs.diff_eq_names:
        raise ModelError(f"neuron model '{neuron.name}': voltage '{vname}' has no differential "
                         "equation", neuron.path)
    rhs = str(eqs[vname].expr)
    vunit = get_unit(eqs[vname].dim)
    vu = _unit_string(vunit)
    text = syn.pre_equations.replace("{GATE_UNIT}", "1" if vu == "1" else f"1/{vu}")
    text = word_substitute(text, {"dVdt": f"({rhs})", "zone_distance": f"({volt['distance']})",
                                  "zone_width": f"({volt['width']})", "V": vname})
    eqs = Equations(text)
    subs = {k: v for k, v in syn.parameters.items() if k in eqs.identifiers and k not in keep}
    subs.update({n: n + suffix for n in eqs.names})
    return eqs.substitute(**subs)


def _unit_string(unit) -> str:
    s = repr(unit)
    return "1" if s in ("Unit(1)", "1", "radian") else s
