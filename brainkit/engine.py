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
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import weakref
from contextlib import contextmanager
from typing import Any, Dict, Optional

from .backends import new_device

__all__ = ["StandaloneEngine", "compile_prefs", "runtime_device"]


def compile_prefs() -> None:
    """Set Brian2's C++ preferences for brainkit's builds: ``-O3 -march=native`` without
    ``-ffast-math``, so that results follow IEEE arithmetic (the adjoint and finite-difference
    checks compare against these numbers), and ``make -j<cores>`` (Brian2's default ``-j``
    starts one compiler per source file at once, dozens, which thrashes a small machine)."""
    import brian2

    brian2.prefs.codegen.cpp.extra_compile_args_gcc = ["-w", "-O3", "-march=native"]
    brian2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]


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


class StandaloneEngine:
    """One Brian2 standalone project: compiled once, run many times with new values.

    Parameters
    ----------
    backend : str
        A standalone backend of :mod:`brainkit.backends` (``'cpp_standalone'``,
        ``'cuda_standalone'``, ``'genn'``).
    directory : str, optional
        Build folder, kept afterwards.  By default a new folder under ``$BRAINKIT_BUILD_ROOT``
        (or the system temp folder), deleted by :meth:`close` or when the engine is collected.
    prefix : str
        Name prefix of the default build folder.

    Attributes
    ----------
    device : Brian2 device
        This engine's own device object (standalone devices hold one project each).
    project_dir : str
        The build folder.
    compile_s, run_s : float or None
        Seconds the build (code generation and compiler) and the last run of the binary took.
    """

    def __init__(self, backend: str = "cpp_standalone", directory: Optional[str] = None,
                 prefix: str = "brainkit-"):
        self.device = new_device(backend)
        self.project_dir = directory or tempfile.mkdtemp(
            prefix=prefix, dir=os.environ.get("BRAINKIT_BUILD_ROOT"))
        self._finalizer = None if directory else weakref.finalize(
            self, shutil.rmtree, self.project_dir, True)
        self.compiled = False
        self.compile_s: Optional[float] = None
        self.run_s: Optional[float] = None

    @contextmanager
    def compiling(self):
        """Make this engine's device the current one for the block, with :func:`compile_prefs`:
        the Brian2 objects created and run inside form its project, which is generated and
        compiled when the block ends without an error.  The previous device is restored."""
        from brian2.devices.device import get_device, reset_device, set_device

        if self.compiled:
            raise RuntimeError(f"the project in {self.project_dir} is compiled already")
        previous = get_device()
        set_device(self.device, directory=self.project_dir, build_on_run=False)
        try:
            compile_prefs()
            yield self.device
            t0 = time.perf_counter()
            self.device.build(directory=self.project_dir, compile=True, run=False)
            self.compile_s = time.perf_counter() - t0
            self.compiled = True
        finally:
            reset_device(previous)

    def run(self, run_args: Optional[Dict[Any, Any]] = None, with_output: bool = False) -> None:
        """Run the compiled binary once.  ``run_args`` maps ``group.variable`` views or
        :class:`~brian2.TimedArray` objects to values that replace the compiled-in ones for
        this run; the array files Brian2 writes for them (named by a hash of their content)
        are deleted afterwards, so that repeated runs do not fill the disk."""
        if not self.compiled:
            raise RuntimeError("StandaloneEngine.run: nothing compiled yet (use compiling())")
        t0 = time.perf_counter()
        try:
            self.device.run(run_args=run_args or {}, with_output=with_output)
            self.run_s = time.perf_counter() - t0
        finally:
            static = os.path.join(self.device.project_dir, "static_arrays")
            for name in list(self.device.run_args_arrays):
                for f in (name, name + ".lock"):
                    try:
                        os.remove(os.path.join(static, f))
                    except FileNotFoundError:
                        pass
            self.device.run_args_arrays.clear()

    def close(self) -> None:
        """Delete the build folder now, if this engine made it."""
        if self._finalizer is not None:
            self._finalizer()
