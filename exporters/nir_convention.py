"""How a discrete-time simulator reads a NIR graph: the two choices NIR leaves open.

NIR states its neurons in continuous time (``tau dv/dt = v_leak - v + r I``) and its spikes as
events; a simulator stepping at ``dt`` must choose

* **spike** - what one spike (or one input value ``x``) is worth:
  ``"step"`` (default): the value ``x`` held for one step, so it adds ``dt/tau * r * x`` to a
  LIF's ``v`` (Euler) - how snnTorch 1.0 and Norse 1.1 run a graph (a spike adds its weight
  once per step); ``"delta"``: a Dirac pulse of area ``x``, so it moves ``v`` by
  ``r * x / tau`` whatever ``dt`` - NIR's continuous reading, ``1/dt`` times larger.
* **discretisation** - the decay per step ``d`` of a time constant ``tau``:
  ``"euler"`` (default): ``d = dt / tau`` (snnTorch, Norse: forward Euler);
  ``"exp"``: ``d = 1 - exp(-dt / tau)`` (the exact decay; Lava-dl, brainkit's files before).

Whatever the choice, brainkit runs the graph as Lava's two-stage CUBA map (``cuba_lif``)::

    u[t] = (1 - d_u) u[t-1] + g * x[t]          g: the node's input gain (below)
    v[t] = (1 - d_v) v[t-1] + u[t] + d_v (v_leak - v_reset)     (v measured from v_reset)

and delivers a spike one step after it is emitted on every edge (as Lava and Loihi do; the
peers deliver feed-forward spikes within the step).  The gain ``g`` of a node (the change of
``v`` per unit of input) is, for ``spike="step"`` and ``spike="delta"``:

=============  =========================  ============================
node           step                       delta
=============  =========================  ============================
CubaLIF/CubaLI d_u d_v r w_in             d_v r w_in / tau_syn
LIF/LI         d_v r                      r / tau
IF/I           dt r                       r
Threshold      1                          1
=============  =========================  ============================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .cuba import ExportError

SPIKES = ("step", "delta")
DISCRETISATIONS = ("euler", "exp")


@dataclass(frozen=True)
class Convention:
    """The reading of a graph at time step ``dt`` (seconds); see the module docstring."""

    dt: float
    spike: str = "step"
    discretisation: str = "euler"

    def __post_init__(self):
        if self.spike not in SPIKES:
            raise ExportError(f"spike convention '{self.spike}' is not one of {SPIKES}")
        if self.discretisation not in DISCRETISATIONS:
            raise ExportError(f"discretisation '{self.discretisation}' is not one of "
                              f"{DISCRETISATIONS}")
        if not (math.isfinite(self.dt) and self.dt > 0):
            raise ExportError(f"dt = {self.dt} s must be a positive time step")

    def decay(self, tau: float, where: str) -> float:
        """The decay per step ``d`` of time constant ``tau`` (0 for ``tau = inf``)."""
        if math.isinf(tau) and tau > 0:
            return 0.0
        if not (math.isfinite(tau) and tau > 0):
            raise ExportError(f"{where}: time constant {tau} s must be positive")
        if self.discretisation == "exp":
            return -math.expm1(-self.dt / tau)
        d = self.dt / tau
        if d > 1:
            raise ExportError(f"{where}: time constant {tau:g} s is shorter than dt = "
                              f"{self.dt:g} s (forward Euler would overshoot: decay {d:g} > 1)")
        return d

    def tau(self, d: float, where: str) -> float:
        """The time constant whose decay per step is ``d`` (``inf`` for ``d = 0``)."""
        if d == 0:
            return math.inf
        if not 0 < d <= 1 or (d == 1 and self.discretisation == "exp"):
            raise ExportError(f"{where}: a decay per step of {d} has no time constant under "
                              f"the '{self.discretisation}' discretisation")
        return self.dt / d if self.discretisation == "euler" else -self.dt / math.log1p(-d)

    def metadata(self) -> dict:
        """What a graph says of its reading (plain NIR graph metadata, not brainkit's)."""
        return {"dt": self.dt, "spike_amplitude": self.spike,
                "discretisation": self.discretisation}
