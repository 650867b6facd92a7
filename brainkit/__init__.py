"""brainkit: spiking neural networks as Brian2 equation strings.

Models are data (``models/``), networks are built with :class:`Network` and run on Brian2
devices (``cpp_standalone`` by default).
"""

from .backends import BACKENDS, BackendNotAvailable
from .library import Model, ModelError, add_model_path, list_models, load_model
from .network import Network, NetworkError
from .results import Results

__all__ = ["BACKENDS", "BackendNotAvailable", "Model", "ModelError", "Network", "NetworkError",
           "Results", "add_model_path", "list_models", "load_model"]
__version__ = "0.1.0"
