"""Simulation backends: Brian2 devices selected by name.

=================== ==========================================================================
name                what runs
=================== ==========================================================================
``runtime``         Brian2 runtime mode (code generation to Cython, or numpy with
                    ``codegen_target='numpy'``); objects are rebuilt for every run
``cpp_standalone``  Brian2 C++ standalone: compiled once per network, re-run with new values
                    through ``device.run(run_args=...)`` (no recompile;
                    :class:`brainkit.engine.StandaloneEngine`)
``cuda_standalone`` brian2cuda (needs the ``brainkit[cuda]`` extra and an NVIDIA GPU)
``genn``            brian2genn (needs brian2 < 2.6 and GeNN: not installable beside brian2 2.9)
=================== ==========================================================================
"""

from __future__ import annotations

import shutil

BACKENDS = ("runtime", "cpp_standalone", "cuda_standalone", "genn")
STANDALONE = ("cpp_standalone", "cuda_standalone", "genn")


class BackendNotAvailable(ImportError):
    """The chosen backend needs something that is not installed here."""


def check_backend(name: str) -> None:
    """Raise a clear error if backend ``name`` is unknown or cannot run on this machine."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend '{name}': choose one of {', '.join(BACKENDS)}")
    if name == "cuda_standalone":
        try:
            import brian2cuda  # noqa: F401
        except ImportError:
            raise BackendNotAvailable(
                "backend 'cuda_standalone' is not available: install brian2cuda "
                "(pip install 'brainkit[cuda]'; upstream it needs Python >= 3.12) and the CUDA "
                "toolkit (nvcc) on a machine with an NVIDIA GPU") from None
        if shutil.which("nvidia-smi") is None or shutil.which("nvcc") is None:
            raise BackendNotAvailable(
                "backend 'cuda_standalone' is not available: brian2cuda is installed but no "
                "NVIDIA GPU/driver (nvidia-smi) or CUDA compiler (nvcc) was found")
    if name == "genn":
        try:
            import brian2genn  # noqa: F401
        except ImportError:
            raise BackendNotAvailable(
                "backend 'genn' is not available: install brian2genn and GeNN "
                "(brian2genn needs brian2 < 2.6, so it cannot share an environment with "
                "brainkit's brian2 2.9; GeNN is not on any package registry)") from None


def new_device(name: str):
    """A fresh Brian2 device object for one network (standalone devices hold one project)."""
    check_backend(name)
    if name == "cpp_standalone":
        from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

        return CPPStandaloneDevice()
    if name == "cuda_standalone":  # pragma: no cover - needs a GPU machine
        import brian2cuda  # noqa: F401
        from brian2cuda.device import CUDAStandaloneDevice

        return CUDAStandaloneDevice()
    if name == "genn":  # pragma: no cover - cannot be installed beside brian2 2.9
        from brian2genn.device import GeNNDevice

        return GeNNDevice()
    from brian2.devices.device import RuntimeDevice

    return RuntimeDevice()
