"""A persistent cache of compiled standalone binaries, keyed by the generated code.

Brian2 writes a network's C++ project (its code, with sizes and compiled-in constants) and
compiles it; the values a run changes are data files read at run time (``static_arrays/``,
run arguments).  Two projects with the same source files and the same compiler therefore build
the same binary, so a script run again, or another network with the same structure, takes the
binary from the cache instead of the compiler::

    key = SHA-256( compiler identity, (path, content) of every source file and the makefile )
    <cache>/<key[:2]>/<key>/main

Before the compiler, Brian2 derives each group's numerical integration from its equations
(sympy; for ``method='exact'`` a matrix exponential that takes seconds for a neuron with
two synapses).  :func:`cached_method` keeps those results too (``<cache>/integration/``),
keyed by everything they depend on, so that an unchanged script spends well under a second
before its simulation starts.

The cache folder is ``$BRAINKIT_BUILD_CACHE``, by default ``$XDG_CACHE_HOME/brainkit/builds``
(``~/.cache/brainkit/builds``); ``BRAINKIT_BUILD_CACHE=off`` turns it off.  Entries are
written atomically (a copy, then a rename), so parallel builds never see half a binary; the
least recently used ones beyond :data:`MAX_ENTRIES` are deleted.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Optional

__all__ = ["CACHE_ENV", "MAX_ENTRIES", "cache_dir", "project_key", "fetch", "store",
           "cached_method"]

#: environment variable: the cache folder, or ``off``
CACHE_ENV = "BRAINKIT_BUILD_CACHE"
#: binaries kept (each a few MB); the least recently used beyond this are deleted
MAX_ENTRIES = 200
#: what a project's key covers: its sources and the makefile (not its data or its results)
SOURCE_SUFFIXES = (".cpp", ".h", ".hpp", ".c", ".cu", ".cuh")
SKIPPED_DIRS = ("static_arrays", "results")


def cache_dir() -> Optional[Path]:
    """The cache folder, or None when ``$BRAINKIT_BUILD_CACHE`` is ``off``, ``0`` or empty."""
    given = os.environ.get(CACHE_ENV)
    if given is not None:
        return None if given.strip().lower() in ("", "0", "off", "no", "false") else Path(given)
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "brainkit" / "builds"


def _compiler_identity() -> bytes:
    """What else decides the binary: the compiler the makefile runs (``$CXX`` or the
    system's ``c++``/``g++``: its path, size and time) and the platform."""
    parts = [os.uname().sysname, os.uname().machine, os.environ.get("CXX", "")]
    for name in (os.environ.get("CXX", "").split() or ["g++"])[:1] + ["c++"]:
        path = shutil.which(name)
        if path:
            st = os.stat(os.path.realpath(path))
            parts += [os.path.realpath(path), str(st.st_size), str(st.st_mtime_ns)]
    return "\0".join(parts).encode()


def project_key(project_dir) -> str:
    """SHA-256 of the compiler's identity and of every source file (and makefile) of the
    generated project in ``project_dir``, by relative path."""
    root = Path(project_dir)
    h = hashlib.sha256(_compiler_identity())
    files = sorted(p for p in root.rglob("*") if p.is_file()
                   and p.relative_to(root).parts[0] not in SKIPPED_DIRS
                   and (p.suffix in SOURCE_SUFFIXES or p.name in ("makefile", "win_makefile")))
    for p in files:
        h.update(b"\0" + str(p.relative_to(root)).encode() + b"\0")
        h.update(_canonical(p.read_bytes()))
    return h.hexdigest()


#: lines of main.cpp that Brian2 writes in the order of a set of clocks, which changes from
#: one Python process to the next, and whose order does not matter: a clock reset before a
#: run, and a clock without code added to the network (``net.add(&clock, NULL);``)
_CLOCK_RESET = re.compile(rb"^\s*(_array_\w+_clock_(timestep|t)\[0\] = [^;]*|"
                          rb"\w+\.add\(&\w+, NULL\));\s*$")


def _canonical(source: bytes) -> bytes:
    """``source`` with each run of consecutive clock-reset (or code-less clock) lines sorted
    (their order does not change what the program does; everything else stays in order)."""
    lines = source.split(b"\n")
    out, block = [], []
    for line in lines + [b""]:
        if _CLOCK_RESET.match(line):
            block.append(line)
            continue
        out.extend(sorted(block))
        block = []
        out.append(line)
    return b"\n".join(out[:-1])


def _entry(key: str) -> Optional[Path]:
    root = cache_dir()
    return None if root is None else root / key[:2] / key


def fetch(key: str, project_dir, binary: str = "main") -> bool:
    """Copy the cached binary of ``key`` into ``project_dir``; False if there is none."""
    entry = _entry(key)
    if entry is None or not (entry / binary).is_file():
        return False
    target = Path(project_dir) / binary
    shutil.copy2(entry / binary, target)
    os.utime(entry)  # recently used
    return True


def store(key: str, project_dir, binary: str = "main") -> None:
    """Keep ``project_dir``'s compiled binary under ``key`` (atomically; best effort: a
    cache that cannot be written is skipped, never an error of the build)."""
    entry = _entry(key)
    if entry is None or not (Path(project_dir) / binary).is_file():
        return
    try:
        entry.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=entry, prefix=f".{binary}-")
        os.close(fd)
        shutil.copy2(Path(project_dir) / binary, tmp)
        os.replace(tmp, entry / binary)
        _prune(entry.parent.parent)
    except OSError:
        return


def _prune(root: Path) -> None:
    """Delete the least recently used entries beyond :data:`MAX_ENTRIES`."""
    entries = [e for d in root.iterdir() if d.is_dir() for e in d.iterdir() if e.is_dir()]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat().st_mtime)
    for e in entries[:len(entries) - MAX_ENTRIES]:
        shutil.rmtree(e, ignore_errors=True)


def _integration_key(name: str, equations, variables, method_options) -> str:
    """What a state updater's result depends on: the versions of Brian2 and sympy, the
    method, the equations, the options, and every name the equations use (its kind, units,
    and value where it is a constant)."""
    import brian2
    import sympy

    h = hashlib.sha256(f"{brian2.__version__}\0{sympy.__version__}\0{name}\0".encode())
    h.update(str(equations).encode() + b"\0" + repr(sorted((method_options or {}).items()),
                                                      ).encode())
    for ident in sorted(equations.identifiers | set(equations.names)):
        var = (variables or {}).get(ident)
        parts = [ident, type(var).__name__]
        if var is not None:
            parts += [str(getattr(var, "dim", "")), str(getattr(var, "scalar", "")),
                      str(getattr(var, "constant", ""))]
            if type(var).__name__ == "Constant":
                parts.append(repr(var.value))
        h.update("\0".join(parts).encode() + b"\n")
    return h.hexdigest()


class _CachedMethod:
    """A Brian2 state updater (a callable ``(equations, variables, method_options) ->
    abstract code``, which Brian2 accepts as ``method=``) that returns Brian2's own method's
    result from the cache, or derives it with that method and keeps it."""

    def __init__(self, name: str):
        self.name = name
        self.__name__ = name  # what Brian2 logs

    def __str__(self) -> str:
        return self.name

    def can_integrate(self, equations, variables, method_options=None) -> bool:
        from brian2 import StateUpdateMethod

        method = StateUpdateMethod.stateupdaters[self.name]
        return getattr(method, "can_integrate", lambda *a: True)(equations, variables,
                                                                 method_options)

    def __call__(self, equations, variables=None, method_options=None) -> str:
        from brian2 import StateUpdateMethod

        method = StateUpdateMethod.stateupdaters[self.name]
        root = cache_dir()
        if root is None:
            return method(equations, variables, method_options)
        path = root / "integration" / _integration_key(self.name, equations, variables,
                                                       method_options)
        try:
            return path.read_text()
        except OSError:
            pass
        code = method(equations, variables, method_options)  # may raise: not kept
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".su-")
            with os.fdopen(fd, "w") as f:
                f.write(code)
            os.replace(tmp, path)
        except OSError:
            pass
        return code


def cached_method(method):
    """``method`` (a Brian2 integration method name, or a list of them, as ``NeuronGroup``
    and ``Synapses`` take) with each name replaced by a state updater that keeps its result in
    the cache; anything else (a callable, None) unchanged.  With the cache off it is
    Brian2's method as it is."""
    from brian2 import StateUpdateMethod

    if isinstance(method, str) and method.lower() in StateUpdateMethod.stateupdaters:
        return _CachedMethod(method.lower())
    if isinstance(method, (list, tuple)) and all(isinstance(m, str) for m in method):
        return [cached_method(m) for m in method]
    return method
