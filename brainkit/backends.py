"""Simulation backends: Brian2 devices selected by name, and what each needs on this machine.

=================== ==========================================================================
name                what runs
=================== ==========================================================================
``runtime``         Brian2 runtime mode (code generation to Cython, or numpy with
                    ``codegen_target='numpy'``); objects are rebuilt for every run
``cpp_standalone``  Brian2 C++ standalone: compiled once per network, re-run with new values
                    through ``device.run(run_args=...)`` (no recompile;
                    :class:`brainkit.engine.StandaloneEngine`)
``cuda_standalone`` brian2cuda (the ``brainkit[cuda]`` extra): the same life cycle as
                    ``cpp_standalone`` with a CUDA project compiled by ``nvcc``.  Generating
                    and compiling need brian2cuda, ``nvcc`` and cuRAND (the toolkit's, or the
                    ``nvidia-curand`` wheel's) and work without a GPU; *running* needs an NVIDIA
                    GPU and raises :class:`GPUNotFound` where ``nvidia-smi`` lists none
``genn``            brian2genn: not available.  brian2genn needs brian2 < 2.6 (brainkit runs on
                    brian2 2.10) and the GeNN code generator, which is on no package registry;
                    selecting it raises :class:`BackendNotAvailable` saying so
=================== ==========================================================================

This module only *finds* things (brian2cuda, the CUDA toolkit, cuRAND, GPUs); the Brian2
preferences that follow from them are set in one place, :mod:`brainkit.engine`.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import List, Optional, Tuple

BACKENDS = ("runtime", "cpp_standalone", "cuda_standalone", "genn")
STANDALONE = ("cpp_standalone", "cuda_standalone", "genn")

#: brian2cuda 1.0b1 refuses to generate code for compute capabilities below this
MIN_COMPUTE_CAPABILITY = 5.0


class BackendNotAvailable(ImportError):
    """The chosen backend needs something that is not installed here."""


class GPUNotFound(BackendNotAvailable):
    """A CUDA project was generated (and compiled) but there is no NVIDIA GPU to run it on."""


@dataclass(frozen=True)
class CudaToolkit:
    """The CUDA compiler brainkit builds ``cuda_standalone`` projects with.

    Attributes
    ----------
    nvcc : str
        The ``nvcc`` that runs (``$CUDA_PATH/bin/nvcc``, else the one on ``PATH``).
    root : str
        The toolkit folder (``nvcc``'s ``bin/..``): brian2cuda's ``cuda_path``.
    version : float or None
        The CUDA release, e.g. ``13.0``.
    archs : tuple of float
        The compute capabilities this ``nvcc`` compiles for (``nvcc --list-gpu-arch``).
    curand_lib : str
        The folder of ``libcurand.so*`` (the toolkit's, or the ``nvidia-curand`` wheel's).
    curand_include : str or None
        The folder of ``curand.h`` when cuRAND comes from the wheel (None: the toolkit's,
        which ``nvcc`` finds by itself).
    """

    nvcc: str
    root: str
    version: Optional[float]
    archs: Tuple[float, ...]
    curand_lib: str
    curand_include: Optional[str] = None

    @property
    def default_compute_capability(self) -> float:
        """What a build targets where no GPU says otherwise: the oldest architecture this
        ``nvcc`` supports that brian2cuda accepts (its code then runs on every newer GPU)."""
        ok = [a for a in self.archs if a >= MIN_COMPUTE_CAPABILITY]
        return min(ok) if ok else 7.5


def _run(cmd: List[str], timeout: float = 60.0) -> Optional[str]:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout + out.stderr if out.returncode == 0 else None


def _nvcc_path() -> Optional[str]:
    cuda_path = os.environ.get("CUDA_PATH")
    if cuda_path and os.path.exists(os.path.join(cuda_path, "bin", "nvcc")):
        return os.path.join(cuda_path, "bin", "nvcc")
    return shutil.which("nvcc")


def _wheel_curand() -> Tuple[Optional[str], Optional[str]]:
    """(include folder, lib folder) of cuRAND from NVIDIA's wheels (``nvidia-curand`` for
    CUDA 13: ``nvidia/cu13/``; ``nvidia-curand-cu12``: ``nvidia/curand/``), or (None, None)."""
    try:
        import nvidia  # namespace package of NVIDIA's wheels
    except ImportError:
        return None, None
    for base in list(getattr(nvidia, "__path__", [])):
        for inc in sorted(glob.glob(os.path.join(base, "*", "include", "curand.h"))):
            lib = os.path.join(os.path.dirname(os.path.dirname(inc)), "lib")
            if glob.glob(os.path.join(lib, "libcurand.so*")):
                return os.path.dirname(inc), lib
    return None, None


@functools.lru_cache(maxsize=None)
def _find_cuda(nvcc: str) -> CudaToolkit:
    dry = _run([nvcc, "--dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull]) or ""
    top = re.search(r"^#\$ TOP=(.*)$", dry, re.M)
    root = os.path.realpath(top.group(1).strip()) if top else os.path.dirname(
        os.path.dirname(os.path.realpath(nvcc)))
    incs = re.findall(r'-I"?([^"\s]+)"?', " ".join(re.findall(r"^#\$ INCLUDES=(.*)$", dry, re.M)))
    libs = re.findall(r'-L"?([^"\s]+)"?', " ".join(re.findall(r"^#\$ LIBRARIES=(.*)$", dry, re.M)))
    incs = [os.path.normpath(d) for d in incs + [os.path.join(root, "include")]]
    libs = [os.path.normpath(d) for d in libs + [os.path.join(root, "lib64"),
                                                 os.path.join(root, "lib")]]
    version_text = _run([nvcc, "--version"]) or ""
    m = re.search(r"release (\d+\.\d+)", version_text)
    version = float(m.group(1)) if m else None
    archs = tuple(sorted({int(a[:-1]) + int(a[-1]) / 10 for a in re.findall(
        r"compute_(\d+)", _run([nvcc, "--list-gpu-arch"]) or "")}))
    lib = next((d for d in libs if os.path.exists(os.path.join(d, "libcurand.so"))), None)
    if lib is not None and any(os.path.exists(os.path.join(d, "curand.h")) for d in incs):
        return CudaToolkit(nvcc, root, version, archs, curand_lib=lib)
    inc, lib = _wheel_curand()
    if inc is None:
        raise BackendNotAvailable(
            f"backend 'cuda_standalone' needs cuRAND, which the CUDA toolkit in {root} lacks: "
            "install NVIDIA's wheel (pip install nvidia-curand for CUDA 13, "
            "nvidia-curand-cu12 for CUDA 12) or the toolkit's libcurand-dev package")
    return CudaToolkit(nvcc, root, version, archs, curand_lib=lib, curand_include=inc)


def find_cuda() -> CudaToolkit:
    """The CUDA toolkit that compiles ``cuda_standalone`` projects here, with cuRAND.

    Raises
    ------
    BackendNotAvailable
        No ``nvcc`` (on ``PATH`` or in ``$CUDA_PATH/bin``), or no cuRAND for it.
    """
    nvcc = _nvcc_path()
    if nvcc is None:
        raise BackendNotAvailable(
            "backend 'cuda_standalone' needs the CUDA compiler nvcc (on PATH, or set CUDA_PATH "
            "to the toolkit folder) to compile its project; none was found")
    return _find_cuda(nvcc)


def cuda_gpus() -> List[str]:
    """Names of the NVIDIA GPUs ``nvidia-smi -L`` lists (the ones ``CUDA_VISIBLE_DEVICES``
    leaves visible), ``[]`` where there is no ``nvidia-smi``, no driver or no GPU."""
    if shutil.which("nvidia-smi") is None:
        return []
    out = _run(["nvidia-smi", "-L"], timeout=30.0) or ""
    gpus = [m.group(1) for m in re.finditer(r"^GPU \d+: (.*?)(?: \(UUID.*)?$", out, re.M)]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [int(s) for s in visible.split(",") if s.strip().isdigit()]
        gpus = [gpus[i] for i in ids if i < len(gpus)]
    return gpus


def require_gpu(what: str = "this cuda_standalone project") -> List[str]:
    """The visible GPUs' names; raise :class:`GPUNotFound` naming ``what`` where there are
    none."""
    gpus = cuda_gpus()
    if not gpus:
        why = ("there is no nvidia-smi (no NVIDIA driver)" if shutil.which("nvidia-smi") is None
               else "nvidia-smi lists no GPU" + (
                   " visible through CUDA_VISIBLE_DEVICES" if "CUDA_VISIBLE_DEVICES" in os.environ
                   else ""))
        raise GPUNotFound(f"cannot run {what}: backend 'cuda_standalone' runs on an NVIDIA GPU "
                          f"and this machine has none ({why}); generating and compiling work "
                          "here, running needs a machine with a GPU")
    return gpus


def check_backend(name: str) -> None:
    """Raise a clear error if backend ``name`` is unknown or cannot build on this machine
    (``cuda_standalone``: brian2cuda, nvcc and cuRAND; a GPU is checked only when a project
    runs, see :func:`require_gpu`)."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend '{name}': choose one of {', '.join(BACKENDS)}")
    if name == "cuda_standalone":
        try:
            import brian2cuda  # noqa: F401
        except ImportError:
            raise BackendNotAvailable(
                "backend 'cuda_standalone' is not available: install brian2cuda "
                "(pip install 'brainkit[cuda]'; upstream it needs Python >= 3.12) and the CUDA "
                "toolkit (nvcc)") from None
        find_cuda()
    if name == "genn":
        try:
            import brian2genn  # noqa: F401
        except ImportError:
            raise BackendNotAvailable(
                "backend 'genn' is not available: install brian2genn and GeNN "
                "(brian2genn needs brian2 < 2.6, so it cannot share an environment with "
                "brainkit's brian2 2.10; GeNN is not on any package registry)") from None


def new_device(name: str):
    """A fresh Brian2 device object for one network (standalone devices hold one project)."""
    check_backend(name)
    if name == "cpp_standalone":
        from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

        return CPPStandaloneDevice()
    if name == "cuda_standalone":
        from brian2cuda.device import CUDAStandaloneDevice

        return CUDAStandaloneDevice()
    if name == "genn":  # pragma: no cover - cannot be installed beside brian2 2.10
        from brian2genn.device import GeNNDevice

        return GeNNDevice()
    from brian2.devices.device import RuntimeDevice

    return RuntimeDevice()
