"""The registry of export targets: ``{name: Target}`` (``brainkit export --to NAME``).

Each target converts a :class:`~brainkit.netfile.NetworkSpec` (``convert``: pure, raises
:class:`~brainkit.exporters.cuba.ExportError` naming what cannot be exported) and writes the
result into a folder (``write``: one file, atomically).  ``convert`` returns the target's
object and a JSON-able report of how it was mapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from brainkit.netfile import NetworkSpec

Inputs = Optional[Dict[str, np.ndarray]]


@dataclass(frozen=True)
class Target:
    """An export target.

    Attributes
    ----------
    name : str
        What ``--to`` takes.
    help : str
        One line for ``brainkit export --help``.
    filename : str
        The file ``write`` creates in the output folder.
    convert : callable
        ``convert(spec, inputs, steps) -> (object, report)``; ``inputs`` ({input: (steps, n)}
        float values, :func:`brainkit.exporters.inputs.input_values`) are representative
        input values where the conversion needs them (the fixed-point scales), else None.
    write : callable
        ``write(object, path)``, atomically.
    needs_inputs : bool
        Whether ``convert`` uses ``inputs``.
    trials_side_by_side : bool
        A task network goes to this target as the held-out trials it is checked on, one
        block-diagonal copy per trial (Loihi runs trials in parallel); else as one copy.
    """

    name: str
    help: str
    filename: str
    convert: Callable[[NetworkSpec, Inputs, Optional[int]], Tuple[Any, Dict[str, Any]]]
    write: Callable[[Any, Path], Any]
    needs_inputs: bool = False
    trials_side_by_side: bool = False

    def export(self, spec: NetworkSpec, out, inputs: Inputs = None,
               steps: Optional[int] = None) -> Tuple[Path, Dict[str, Any]]:
        """Convert ``spec`` and write it into the folder ``out``: ``(path, report)``."""
        obj, report = self.convert(spec, inputs, steps)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        path = out / self.filename
        self.write(obj, path)
        return path, report


def _lava_float(spec, inputs, steps):
    from .cuba import to_cuba

    return to_cuba(spec), {}


def _lava_fixed(spec, inputs, steps):
    from .cuba import to_cuba
    from .fixed_point import to_fixed

    meta = spec.metadata if isinstance(spec.metadata, dict) else {}
    fixed = to_fixed(to_cuba(spec), inputs, steps,
                     population_scales=meta.get("fixed_point_scales"))
    return fixed, {"fixed_point": fixed.report}


def _save_cuba(net, path):
    from .cuba import save_cuba

    save_cuba(path, net)


def _nir(spec, inputs, steps):
    from .nir import from_nir, to_nir

    graph = to_nir(spec)
    back = from_nir(graph)
    error = max((float(np.max(np.abs(back.connections[c].weights - spec.connections[c].weights),
                              initial=0)) for c in spec.connections), default=0.0)
    return graph, {"nir_nodes": {k: type(v).__name__ for k, v in graph.nodes.items()},
                   "nir_roundtrip_max_weight_error": error}


def _write_nir(graph, path):
    from .nir import write_graph

    write_graph(path, graph)


TARGETS: Dict[str, Target] = {t.name: t for t in (
    Target("lava", "Lava floating point (CUBA LIF + Dense registers as floats)",
           "lava_network.npz", _lava_float, _save_cuba, trials_side_by_side=True),
    Target("lava-fixed", "Loihi fixed point (Lava's bit-accurate integer registers)",
           "lava_network.npz", _lava_fixed, _save_cuba, needs_inputs=True,
           trials_side_by_side=True),
    Target("nir", "NIR graph (nir.write), for snnTorch, Norse, Rockpool, SpiNNaker2, ...",
           "network.nir", _nir, _write_nir),
)}
