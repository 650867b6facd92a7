"""Run an exported network on Lava, which lives in its own Python environment.

lava-nc 0.10.0 (the last release) installs only on Python 3.10 with numpy < 2, so brainkit's
core environment never imports it.  :func:`run_lava` writes the network
(:func:`brainkit.exporters.cuba.save_cuba`) and its inputs to a temporary folder, runs
``python -m brainkit.exporters.lava`` with the Lava environment's interpreter and reads the
spikes back.  Where lava is importable in this process (inside that environment) it runs
in-process.

The interpreter: ``$BRAINKIT_LAVA_PYTHON``, else ``.venv-lava/bin/python`` beside the
brainkit source tree (``make venv-lava`` builds it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from ..exporters.cuba import CubaNetwork, ExportError, save_cuba
from ..exporters.lava import LavaRun, load_run

#: the Lava environment's folder, relative to the source tree (the Makefile builds it there)
LAVA_VENV = ".venv-lava"


class LavaUnavailable(ExportError):
    """The Lava environment is missing or broken; the message says how to build it."""


def lava_python() -> Path:
    """The interpreter of the Lava environment (see the module docstring)."""
    given = os.environ.get("BRAINKIT_LAVA_PYTHON")
    if given:
        return Path(given)
    return Path(__file__).resolve().parents[2] / LAVA_VENV / "bin" / "python"


def lava_in_process() -> bool:
    """Whether lava-nc is importable here (then runs need no other interpreter)."""
    return importlib.util.find_spec("lava") is not None


def run_lava(net: CubaNetwork, inputs: Dict[str, np.ndarray], steps: int) -> LavaRun:
    """Run ``net`` on Lava's CPU simulator (``floating_pt`` or, for a fixed-point network,
    the bit-accurate ``fixed_pt`` models) for ``steps`` steps on ``inputs`` ({input: (T, n)}).

    Raises
    ------
    LavaUnavailable
        no Lava environment (says how to build one).
    ExportError
        Lava refused the network or the inputs (its message).
    """
    return run_lava_many([(net, inputs, steps)])[0]


def run_lava_many(jobs: Sequence[Tuple[CubaNetwork, Dict[str, np.ndarray], int]]
                  ) -> List[LavaRun]:
    """:func:`run_lava` for several ``(net, inputs, steps)``, in one start of the Lava
    environment (its interpreter and lava's import take seconds)."""
    if lava_in_process():
        from ..exporters.lava import run_processes

        return [run_processes(net, inputs, steps) for net, inputs, steps in jobs]
    python = lava_python()
    if not python.is_file():
        raise LavaUnavailable(
            f"Lava runs in its own Python 3.10 environment, and there is none at {python}: "
            "run 'make venv-lava' in the brainkit folder (it needs python3.10, e.g. "
            "'pyenv install 3.10'), or set BRAINKIT_LAVA_PYTHON to an interpreter with "
            "lava-nc 0.10.0 and brainkit")
    with tempfile.TemporaryDirectory(prefix="brainkit_lava_") as tmp:
        tmp = Path(tmp)
        manifest = []
        for k, (net, inputs, steps) in enumerate(jobs):
            job = {"network": str(tmp / f"net{k}.npz"), "inputs": str(tmp / f"inputs{k}.npz"),
                   "steps": int(steps), "out": str(tmp / f"run{k}.npz")}
            save_cuba(job["network"], net)
            np.savez(job["inputs"], **{n: np.asarray(v) for n, v in inputs.items()})
            manifest.append(job)
        (tmp / "jobs.json").write_text(json.dumps(manifest))
        run = subprocess.run([str(python), "-m", "brainkit.exporters.lava",
                              str(tmp / "jobs.json")], capture_output=True, text=True, cwd=tmp)
        if run.returncode == 2:
            raise ExportError(run.stderr.strip().splitlines()[-1].removeprefix("lava: "))
        if run.returncode != 0:
            tail = "\n".join(run.stderr.strip().splitlines()[-5:])
            raise LavaUnavailable(f"the Lava environment ({python}) failed (exit "
                                  f"{run.returncode}):\n{tail}")
        return [load_run(job["out"]) for job in manifest]
