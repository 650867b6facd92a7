"""The compiled-run engine: one Brian2 standalone project, compiled once and run many times.

Brian2's standalone devices turn the objects of one network into a C++ project, compile it and
run the binary; the binary can run again with new values for any array or
:class:`~brian2.TimedArray` (``device.run(run_args=...)``) without a recompile.  A
:class:`StandaloneEngine` owns that lifecycle for one network, as Brian2's own ``Device``
owns one project: its own device object and build folder, the compile settings, the build, the
runs and the clean-up.  Everything in brainkit that compiles a network uses it.

>>> engine = StandaloneEngine(prefix="brainkit-demo-")
>>> with engine.compiling():                 # objects made here belong to the engine's device
...     G = brian2.NeuronGroup(10, "dv/dt = -v/(10*ms) : 1", dt=0.1*ms)
...     brian2.Network(G).run(100*ms)        # generated, then compiled when the block ends
>>> engine.run({G.v: np.linspace(0, 1, 10)})  # runs the binary with new initial values
>>> engine.close()                            # deletes the build folder (also when collected)

The backend's compile settings live here, in one place: :func:`compile_prefs` (the C++
compiler's flags, for every backend's host code) and :func:`cuda_prefs` (brian2cuda's:
the GPU architecture, ``nvcc`` flags and cuRAND), which :meth:`StandaloneEngine.compiling` sets
for the build and restores afterwards.  A ``cuda_standalone`` engine generates and compiles on
any machine with ``nvcc``; :meth:`StandaloneEngine.run` needs a GPU and raises
:class:`brainkit.backends.GPUNotFound` where there is none.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import weakref
from contextlib import contextmanager
from typing import Any, Dict, Optional

from . import build_cache
from .backends import find_cuda, new_device, require_gpu

__all__ = ["StandaloneEngine", "compile_prefs", "cuda_prefs", "runtime_device", "synapse_clock",
           "variable_run_window"]

#: environment variables read by a cpp_standalone binary made with :func:`variable_run_window`:
#: the time its run starts at and its duration (seconds; unset: 0 and the compiled duration)
RUN_START_ENV = "BRAINKIT_RUN_START"
RUN_DURATION_ENV = "BRAINKIT_RUN_DURATION"
#: set (to 1) when a run continues the last one: the binary reads back the spikes in flight
#: in every synaptic pathway and (unless the run is seeded anew) the random generators'
#: state, which Brian2's binary wrote at the end of the last run into its results folder
RUN_CONTINUE_ENV = "BRAINKIT_RUN_CONTINUE"
#: set by a seeded run (``Network.run(seed=...)``): the generators are seeded, not restored
RUN_SEED_ENV = "BRAINKIT_RUN_SEED"

#: environment variable: the compute capability (e.g. ``8.0``) a cuda_standalone build targets,
#: instead of the GPU's (or, without a GPU, the oldest the ``nvcc`` supports)
CUDA_CC_ENV = "BRAINKIT_CUDA_COMPUTE_CAPABILITY"


#: the C++ flags of Brian2's defaults that trade IEEE floating point for speed (the compiler
#: may reorder, contract and approximate arithmetic); left out of an ``ieee`` build
FAST_MATH_FLAGS = ("-ffast-math", "-fno-finite-math-only", "-funsafe-math-optimizations",
                   "-fassociative-math", "-freciprocal-math", "-Ofast")


def compile_prefs(ieee: bool = False, compile_args=None, threads: int = 1) -> Dict[str, Any]:
    """Brian2's C++ preferences for a brainkit build, as a dict of preference names to values
    (:meth:`StandaloneEngine.compiling` sets them for the build and restores them after).

    * Compiler flags: ``compile_args`` if given; else Brian2's own
      (``prefs.codegen.cpp.extra_compile_args_gcc``: its defaults ``-O3 -ffast-math
      -fno-finite-math-only -march=native``, or what the user set there), as a plain Brian2
      script compiles; with ``ieee=True`` without the fast-math flags
      (:data:`FAST_MATH_FLAGS`; ``-Ofast`` becomes ``-O3``), so that results follow IEEE
      arithmetic: training and gradient checks, whose adjoint and finite differences
      compare against these numbers, build that way.
    * ``make -j<cores>`` (Brian2's default ``-j`` starts one compiler per source file at
      once, dozens, which thrashes a small machine).
    * ``threads > 1``: Brian2's OpenMP code (``devices.cpp_standalone.openmp_threads``; every
      group's loop split over that many threads, the same numbers as one thread).
    """
    import brian2

    flags = list(compile_args) if compile_args is not None else list(
        brian2.prefs["codegen.cpp.extra_compile_args_gcc"])
    if ieee:
        # -fno-math-errno changes no result (only that libm sets errno), and lets the compiler
        # compute a repeated cos(x) once
        flags = ["-O3" if f == "-Ofast" else f for f in flags if f not in FAST_MATH_FLAGS[:-1]]
        flags += ["-fno-math-errno"]
    prefs = {"codegen.cpp.extra_compile_args_gcc": flags,
             "devices.cpp_standalone.extra_make_args_unix": [f"-j{os.cpu_count() or 1}"]}
    if threads > 1:
        prefs["devices.cpp_standalone.openmp_threads"] = int(threads)
    return prefs


def cuda_prefs(project_dir: str) -> Dict[str, Any]:
    """brian2cuda's preferences for a build in ``project_dir`` on this machine (a dict of
    Brian2 preference names to values; :meth:`StandaloneEngine.compiling` sets and restores
    them).

    * GPU architecture: with a GPU, brian2cuda's own detection (``nvidia-smi``) picks the GPU
      and its compute capability; without one, detection is off
      (``cuda_backend.detect_gpus=False``, ``gpu_id=0``) and the build targets the oldest
      architecture the ``nvcc`` supports, so that it compiles (and later runs on any newer
      GPU).  ``$BRAINKIT_CUDA_COMPUTE_CAPABILITY`` (e.g. ``9.0``) overrides both.
    * ``nvcc`` flags: ``-std=c++17`` (CUDA 13's Thrust/CUB need C++17; brian2cuda's makefile
      says ``-std=c++11`` first, and the last one counts) and no ``-use_fast_math`` (IEEE
      arithmetic, whatever the C++ host code's flags).
    * cuRAND: its library folder (``-L``, and an rpath so that the binary finds it) and,
      where the toolkit lacks it and NVIDIA's ``nvidia-curand`` wheel provides it, the
      wheel's include folder and a ``libcurand.so`` link in ``project_dir/brainkit_lib``
      (brian2cuda links ``-lcurand``; the wheel ships only ``libcurand.so.10``).
    """
    from .backends import cuda_gpus

    cuda = find_cuda()
    cb = "devices.cuda_standalone.cuda_backend."
    env_cc = os.environ.get(CUDA_CC_ENV)
    gpu = bool(cuda_gpus())
    cc = float(env_cc) if env_cc else (None if gpu else cuda.default_compute_capability)
    nvcc_flags = ["-w", "-std=c++17"]
    if cuda.curand_include:
        nvcc_flags.append(f"-I{cuda.curand_include}")
    libdir = cuda.curand_lib
    if not os.path.exists(os.path.join(libdir, "libcurand.so")):
        libdir = os.path.join(os.path.abspath(project_dir), "brainkit_lib")
        os.makedirs(libdir, exist_ok=True)
        so = os.path.join(libdir, "libcurand.so")
        if not os.path.lexists(so):
            target = sorted(f for f in os.listdir(cuda.curand_lib) if f.startswith("libcurand.so"))
            os.symlink(os.path.join(cuda.curand_lib, target[0]), so)
    # the binary finds libcurand where it was linked, also where no loader path names it
    link = [f"-L{libdir}", "-Xlinker", f"-rpath,{cuda.curand_lib}"]
    import brian2

    return {cb + "detect_gpus": gpu, cb + "gpu_id": None if gpu else 0,
            cb + "compute_capability": cc, cb + "detect_cuda": True,
            cb + "cuda_path": cuda.root, cb + "extra_compile_args_nvcc": nvcc_flags,
            "codegen.cpp.extra_link_args": list(brian2.prefs["codegen.cpp.extra_link_args"])
            + link}


def variable_run_window(device) -> None:
    """Let the last network run generated on cpp_standalone ``device`` start at any time and
    last any duration, read when the binary starts from ``$BRAINKIT_RUN_START`` and
    ``$BRAINKIT_RUN_DURATION`` (seconds; :meth:`StandaloneEngine.run` sets them), so that one
    binary runs for other durations and continues a previous run's time without a recompile.

    Brian2 writes the run as ``net.run(<duration>, ...)`` with the duration as a constant;
    this replaces it, in the device's queue of ``main()`` lines (before the project is
    written), by a variable, and sets the network's and its clocks' time before it (Brian2's
    ``Network::run`` then runs its clocks from ``net.t`` to ``net.t + duration``, the same
    arithmetic as a second ``run()`` in one Brian2 script).  Without the variables the binary
    runs as compiled."""
    import brian2

    for k in range(len(device.main_queue) - 1, -1, -1):
        func, args = device.main_queue[k]
        if func == "run_network":
            break
    else:
        raise RuntimeError("variable_run_window: the device has no network run to change")
    net, lines = args
    at = next(n for n, line in enumerate(lines) if line.startswith(f"{net.name}.run("))
    duration = lines[at][len(f"{net.name}.run("):].split(",")[0]
    pathways = sorted({p.name for obj in net.objects for p in getattr(obj, "_pathways", [])})
    restore = "\n".join(
        f"""    {{ std::ifstream _f(results_dir + "{name}_queue");
      for (size_t _k = 0; _f.is_open() && _k < {name}.queue.size(); _k++) _f >> *{name}.queue[_k]; }}"""
        for name in pathways)
    # a SpikeGeneratorGroup's next spike: the first at or after the start (Brian2 finds it
    # for t = 0 before the run; its index cannot be a run argument, being read-only)
    generators = []
    for obj in sorted(net.objects, key=lambda o: o.name):
        if isinstance(obj, brian2.SpikeGeneratorGroup):
            last = device.get_array_name(obj.variables["_lastindex"])
            bins = device.get_array_name(obj.variables["_timebins"], access_data=False)
            period = device.get_array_name(obj.variables["_period_bins"])
            generators.append(
                f"{{ int64_t _ts = {obj.clock.name}.timestep[0]; size_t _k = 0;\n"
                f"          if ({period}[0] > 0) _ts = _ts % {period}[0];\n"
                f"          while (_k < {bins}.size() && {bins}[_k] < _ts) _k++;\n"
                f"          {last}[0] = _k; }}")
    set_clocks = []
    for clock in sorted(net._clocks, key=lambda c: c.name):
        if isinstance(clock, brian2.Clock):  # not an EventClock: its times are its own
            set_clocks.append(f"{clock.name}.timestep[0] = (int64_t)fround(_t0/{clock.name}.dt[0]);"
                              f" {clock.name}.t[0] = {clock.name}.timestep[0]*{clock.name}.dt[0];")
    block = f"""double _brainkit_duration = {duration};
{{
    const char* _d = std::getenv("{RUN_DURATION_ENV}");
    if (_d != nullptr && _d[0] != '\\0') _brainkit_duration = std::strtod(_d, nullptr);
    const char* _s = std::getenv("{RUN_START_ENV}");
    if (_s != nullptr && _s[0] != '\\0') {{
        const double _t0 = std::strtod(_s, nullptr);
        {net.name}.t = _t0;
        {chr(10).join(set_clocks)}
        {chr(10).join(generators)}
    }}
    const char* _c = std::getenv("{RUN_CONTINUE_ENV}");
    if (_c != nullptr && _c[0] == '1') {{  // the last run's spikes in flight, random state
{restore}
        const char* _seeded = std::getenv("{RUN_SEED_ENV}");
        std::ifstream _r(results_dir + "random_generator_state");
        if ((_seeded == nullptr || _seeded[0] == '\\0') && _r.is_open())
            for (size_t _k = 0; _k < _random_generators.size(); _k++) _r >> _random_generators[_k];
    }}
}}"""
    run_line = lines[at].replace(f"{net.name}.run({duration},",
                                 f"{net.name}.run(_brainkit_duration,", 1)
    device.main_queue[k] = (func, (net, lines[:at] + [block, run_line] + lines[at + 1:]))


def synapse_clock(dt, clock=None) -> Dict[str, Any]:
    """Keyword arguments that put a ``Synapses`` object on a clock of time step ``dt``:
    ``{'clock': clock}`` if one is given, else ``{'dt': dt}`` -- except while a
    ``cuda_standalone`` device is the current one: brian2cuda 1.0b1's synaptic pathway
    (``templates/synapses.cu``) tests ``defaultclock.timestep`` whatever the synapses' own
    clock, which does not compile unless the synapses run on the defaultclock (and would count
    another clock's steps if they ran beside it).  There the device's own defaultclock gets
    ``dt`` and the synapses run on it (ticking with the groups' clocks of the same ``dt``)."""
    from brian2.devices.device import get_device

    cuda = sys.modules.get("brian2cuda.device")
    device = get_device()
    if cuda is not None and isinstance(device, cuda.CUDAStandaloneDevice):
        device.defaultclock.dt = dt
        return {"clock": device.defaultclock}
    return {"clock": clock} if clock is not None else {"dt": dt}


@contextmanager
def _prefs_set(values: Dict[str, Any], quiet: tuple = ()):
    """Brian2 preferences set to ``values`` for the block, restored afterwards; the loggers
    named in ``quiet`` log warnings and errors only meanwhile (brian2cuda logs every one of
    its preferences at INFO, which Brian2 prints, for every build)."""
    import logging

    import brian2

    old = {k: brian2.prefs[k] for k in values}
    levels = {name: logging.getLogger(name).level for name in quiet}
    try:
        for name in quiet:
            logging.getLogger(name).setLevel(logging.WARNING)
        for k, v in values.items():
            brian2.prefs[k] = v
        yield
    finally:
        for k, v in old.items():
            brian2.prefs[k] = v
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def runtime_device(codegen_target: str = "numpy"):
    """Run the block on Brian2's runtime device with ``codegen_target`` (``'numpy'`` needs no
    compiler, ``'cython'``); the previous device and target are restored afterwards."""
    import brian2
    from brian2.devices.device import get_device, reset_device, set_device

    previous = get_device()
    set_device("runtime")
    old_target = brian2.prefs.codegen.target
    brian2.prefs.codegen.target = codegen_target
    try:
        yield
    finally:
        brian2.prefs.codegen.target = old_target
        reset_device(previous)


def _compiler_interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is Brian2's "Project compilation failed (error code: X)" for a ``make``
    stopped by Ctrl-C: the C library's ``system()``, which runs it, ignores SIGINT in Python
    meanwhile, so the Ctrl-C shows only in the wait status X (killed by SIGINT, or the shell's
    exit status 128 + SIGINT)."""
    import re
    import signal

    if not isinstance(exc, RuntimeError):
        return False
    m = re.search(r"compilation failed \(error code: (\d+)\)", str(exc))
    if m is None:
        return False
    status = int(m.group(1))
    return status & 0x7F == signal.SIGINT or status >> 8 == 128 + signal.SIGINT


class StandaloneEngine:
    """One Brian2 standalone project: compiled once, run many times with new values.

    Parameters
    ----------
    backend : str
        A standalone backend of :mod:`brainkit.backends` (``'cpp_standalone'``,
        ``'cuda_standalone'``, ``'genn'``).
    directory : str, optional
        Build folder, kept afterwards.  By default a new folder under ``$BRAINKIT_BUILD_ROOT``
        (or the system temp folder), deleted by :meth:`close`, when its build fails or is
        interrupted, or when the engine is collected.
    prefix : str
        Name prefix of the default build folder.
    ieee : bool
        Compile without fast-math (IEEE floating point; see :func:`compile_prefs`): for
        builds whose numbers are compared exactly (training, gradient checks).
    compile_args : list of str, optional
        The C++ compiler flags, instead of Brian2's preference.
    threads : int
        OpenMP threads of the cpp_standalone binary (:func:`compile_prefs`; default 1).

    Attributes
    ----------
    device : Brian2 device
        This engine's own device object (standalone devices hold one project each).
    project_dir : str
        The build folder.
    generated, compiled : bool
        Whether the project was written, and compiled (a binary ``project_dir/main`` exists).
    compile_s, run_s : float or None
        Seconds the build (code generation and compiler) and the last run of the binary took.
    cache_hit : bool
        Whether the build took its binary from :mod:`brainkit.build_cache` (cpp_standalone:
        the same generated code was compiled before) instead of the compiler.
    """

    def __init__(self, backend: str = "cpp_standalone", directory: Optional[str] = None,
                 prefix: str = "brainkit-", ieee: bool = False, compile_args=None,
                 threads: int = 1):
        self.backend = backend
        self.ieee = bool(ieee)
        self.threads = int(threads)
        self.compile_args = None if compile_args is None else list(compile_args)
        self.device = new_device(backend)
        self.project_dir = directory or tempfile.mkdtemp(
            prefix=prefix, dir=os.environ.get("BRAINKIT_BUILD_ROOT"))
        self._finalizer = None if directory else weakref.finalize(
            self, shutil.rmtree, self.project_dir, True)
        self.generated = False
        self.compiled = False
        self.compile_s: Optional[float] = None
        self.run_s: Optional[float] = None
        self.cache_hit = False

    @contextmanager
    def compiling(self, compile: bool = True):
        """Make this engine's device the current one for the block, with :func:`compile_prefs`
        (and :func:`cuda_prefs` on ``cuda_standalone``; both restored afterwards): the Brian2
        objects created and run inside form its project, which is generated and (unless
        ``compile=False``) compiled when the block ends without an error.  The previous device
        is restored."""
        from brian2.devices.device import get_device, reset_device, set_device

        if self.generated:
            raise RuntimeError(f"the project in {self.project_dir} is "
                               f"{'compiled' if self.compiled else 'generated'} already")
        if self._finalizer is not None and not self._finalizer.alive:
            raise RuntimeError(f"this engine is closed (its build folder {self.project_dir} "
                               f"is deleted): make a new StandaloneEngine")
        previous = get_device()
        extra, quiet = {}, ()
        if self.backend == "cuda_standalone":
            from brian2cuda.utils.gputools import reset_gpu_selection

            reset_gpu_selection()  # brian2cuda caches the GPU it chose across builds
            extra, quiet = cuda_prefs(self.project_dir), ("brian2.brian2cuda",)
        prefs = compile_prefs(self.ieee, self.compile_args, self.threads)
        if self.backend == "cuda_standalone":
            # nvcc hands these to the host compiler after its own -std=c++17: Brian2's
            # -std=c++11 among them would undo it, and CUDA 13's Thrust/CUB refuse C++11
            gcc = "codegen.cpp.extra_compile_args_gcc"
            prefs[gcc] = [f for f in prefs[gcc] if not f.startswith("-std=")] + ["-std=c++17"]
        set_device(self.device, directory=self.project_dir, build_on_run=False)
        try:
            with _prefs_set({**prefs, **extra}, quiet):
                yield self.device
                t0 = time.perf_counter()
                if self.backend == "cpp_standalone":
                    self._build_cached(compile)
                else:
                    self.device.build(directory=self.project_dir, compile=compile, run=False)
            self.generated = True
            self.compiled = bool(compile)
            if compile:
                self.compile_s = time.perf_counter() - t0
        except BaseException as exc:
            # a failed or interrupted build: a folder of this engine's own goes at once (not
            # when the engine is collected, which a traceback holding it would delay)
            self.close()
            if _compiler_interrupted(exc):
                raise KeyboardInterrupt("interrupted") from exc
            raise
        finally:
            reset_device(previous)

    def _build_cached(self, compile: bool) -> None:
        """Generate the project, then take its binary from :mod:`brainkit.build_cache` where
        the same code was compiled before (``cache_hit``), else compile and keep it there."""
        from brian2.codegen.cpp_prefs import get_compiler_and_args

        self.device.build(directory=self.project_dir, compile=False, run=False)
        if not compile:
            return
        key = build_cache.project_key(self.project_dir)
        self.cache_hit = build_cache.fetch(key, self.project_dir)
        if not self.cache_hit:
            compiler, _ = get_compiler_and_args()
            self.device.compile_source(self.project_dir, compiler, False, False)
            build_cache.store(key, self.project_dir)

    def run(self, run_args: Optional[Dict[Any, Any]] = None, with_output: bool = False,
            start: Optional[float] = None, duration: Optional[float] = None,
            continues: bool = False, env: Optional[Dict[str, str]] = None) -> None:
        """Run the compiled binary once.  ``run_args`` maps ``group.variable`` views or
        :class:`~brian2.TimedArray` objects to values that replace the compiled-in ones for
        this run; the array files Brian2 writes for them (named by a hash of their content)
        are deleted afterwards, so that repeated runs do not fill the disk.  ``start`` and
        ``duration`` (seconds) are the run's time window in a binary made with
        :func:`variable_run_window` (default: from 0, the compiled duration), and
        ``continues=True`` makes it read back the last run's spikes in flight and random
        state (the state variables come as ``run_args``).  ``env``: further environment
        variables of the binary for this run."""
        if not self.compiled:
            raise RuntimeError(
                f"StandaloneEngine.run: the project in {self.project_dir} was generated but "
                "not compiled (compiling(compile=False))" if self.generated else
                "StandaloneEngine.run: nothing compiled yet (use compiling())")
        if self.backend == "cuda_standalone":
            require_gpu(f"the CUDA project in {self.project_dir} (compiled: "
                        f"{os.path.join(self.project_dir, 'main')})")
        from brian2 import Network

        t0 = time.perf_counter()
        Network._globally_stopped = False
        window = {RUN_START_ENV: "" if start is None else repr(float(start)),
                  RUN_DURATION_ENV: "" if duration is None else repr(float(duration)),
                  RUN_CONTINUE_ENV: "1" if continues else "", **(env or {})}
        try:
            os.environ.update(window)  # the binary inherits this process's environment
            self.device.run(run_args=run_args or {}, with_output=with_output)
            self.run_s = time.perf_counter() - t0
        except RuntimeError as exc:
            # Brian2's own Ctrl-C handler turns a SIGINT during a run into a stop request;
            # the binary (which got the Ctrl-C too) then fails: that is an interrupt
            if Network._globally_stopped:
                raise KeyboardInterrupt("interrupted") from exc
            raise
        finally:
            for k in window:
                os.environ.pop(k, None)
            Network._globally_running = False
            static = os.path.join(self.device.project_dir, "static_arrays")
            for name in list(self.device.run_args_arrays):
                for f in (name, name + ".lock"):
                    try:
                        os.remove(os.path.join(static, f))
                    except FileNotFoundError:
                        pass
            self.device.run_args_arrays.clear()
        # Brian2 reads a 2-D recording (a StateMonitor's) back with the shape it guessed at
        # the first read; a run of another duration wrote another number of samples
        for var in list(self.device.arrays):
            if getattr(var, "dynamic", False) and isinstance(var.size, tuple) \
                    and len(var.size) == 2:
                var.size = (0, var.size[1])
        if Network._globally_stopped:  # a stop requested while the binary ran to its end
            Network._globally_stopped = False
            raise KeyboardInterrupt("interrupted")

    def close(self) -> None:
        """Delete the build folder now, if this engine made it (a given ``directory`` is
        kept).  Also done when a build in :meth:`compiling` fails or is interrupted, and when
        the engine is collected or the interpreter exits (also after a Ctrl-C)."""
        if self._finalizer is not None:
            self._finalizer()
