"""Exact-gradient training of recurrent spiking networks with gated synapses.

:class:`RecurrentSNN` simulates the network in Brian2 (compiled once, re-run with new
parameters) and computes exact gradients of the discrete simulation by the discrete adjoint,
whose Jacobians sympy derives from the model library's equation strings
(:mod:`brainkit.training.adjoint`).
"""

from .adjoint import NotDifferentiableError, derive_system
from .recurrent import RecurrentError, RecurrentSNN, Trace

__all__ = ["RecurrentSNN", "Trace", "RecurrentError", "NotDifferentiableError", "derive_system"]
