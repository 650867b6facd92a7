"""brainkit: spiking neural networks as Brian2 equation strings.

Models are data (``models/``), networks are built with :class:`Network` and run on Brian2
devices (``cpp_standalone`` by default).

The names below are imported on first use, so that ``brainkit.exporters`` (numpy only) can
be used where Brian2 is not installed, e.g. in the Lava environment.
"""

from importlib import import_module

_EXPORTS = {
    "BACKENDS": "backends", "BackendNotAvailable": "backends",
    "Model": "library", "ModelError": "library", "add_model_path": "library",
    "list_models": "library", "load_model": "library",
    "Network": "network", "NetworkError": "network",
    "Results": "results",
}
_SUBMODULES = ("analysis", "connectivity", "library", "plotting", "results", "training", "loihi",
               "exporters")

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'brainkit' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_SUBMODULES))
