"""Exporters: pure functions from a network file's :class:`~brainkit.netfile.NetworkSpec` to a
target format.  They import neither a simulator nor :mod:`brainkit.training`; checking an
export against Brian2 and Lava is :mod:`brainkit.loihi.check`'s job.

:data:`TARGETS` is the one registry of export targets (``brainkit export --to NAME`` reads
it): ``{name: Target}``.  Adding a target = one module with a ``convert`` and a ``write``
function and one entry here.
"""

from .targets import TARGETS, Target

__all__ = ["TARGETS", "Target"]
