"""Input channel values of a network spec, one row per time step (row ``k`` = Brian2 step
``k`` = Lava step ``k + 1``): the spikes of a 'spikes' input, Bernoulli draws of a 'poisson'
input, or given values (analog 'current' inputs)."""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from brainkit.netfile import NetworkFileError, NetworkSpec


def input_values(spec: NetworkSpec, steps: int, seed: int = 0,
                 values: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, np.ndarray]:
    """Input channel values ``{input: (steps, n)}``, row ``k`` = step ``k``: the spikes of a
    'spikes' input (its ``indices``/``times``), Bernoulli draws ``p = rate dt`` of a 'poisson'
    input (``seed``), or given ``values`` (needed for 'current' inputs)."""
    from brian2 import second

    values = values or {}
    rng = np.random.default_rng(seed)
    dt = float(spec.dt / second)
    out = {}
    for name, inp in spec.inputs.items():
        if name in values:
            x = np.asarray(values[name], dtype=float)
            if x.shape != (steps, inp.n):
                raise NetworkFileError(f"input '{name}': values of shape {x.shape}, expected "
                                       f"({steps}, {inp.n})")
            out[name] = x
        elif inp.kind == "spikes":
            x = np.zeros((steps, inp.n))
            idx = np.asarray(inp.parameters.get("indices", []), dtype=int)
            t = inp.parameters.get("times", np.zeros(0) * second)
            rows = np.round(np.asarray(t / second, dtype=float) / dt).astype(int)
            keep = rows < steps
            x[rows[keep], idx[keep]] = 1.0
            out[name] = x
        elif inp.kind == "poisson":
            rates = np.broadcast_to(np.asarray(inp.parameters["rates"], dtype=float), (inp.n,))
            p = rates * dt
            if np.any(p > 1):
                raise NetworkFileError(f"input '{name}': rate x dt = {p.max():g} > 1")
            out[name] = (rng.random((steps, inp.n)) < p).astype(float)
        else:
            raise NetworkFileError(f"input '{name}' (kind '{inp.kind}'): give its values")
    return out
