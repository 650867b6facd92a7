"""Shared test setup: Brian2 standalone builds go to a per-session temporary folder, without
the binary cache; the ``run_example`` fixture runs an example script."""

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="session", autouse=True)
def _build_root(tmp_path_factory):
    """Builds go to a session folder, and every test compiles (the binary cache is off, so
    that tests of compiling, such as Ctrl-C during a compile, see one; test_build_cache.py
    turns it on for itself)."""
    root = tmp_path_factory.mktemp("brainkit-builds")
    old = {k: os.environ.get(k) for k in ("BRAINKIT_BUILD_ROOT", "BRAINKIT_BUILD_CACHE")}
    os.environ["BRAINKIT_BUILD_ROOT"] = str(root)
    os.environ["BRAINKIT_BUILD_CACHE"] = "off"
    yield root
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def run_example(tmp_path):
    """``run_example(name, *flags, files=(), timeout=3000)``: run ``examples/<name>.py *flags
    --out DIR`` in a subprocess (DIR under ``tmp_path``), fail with its output if it exits
    non-zero, check that each of ``files`` was written (more than 1 kB: a real figure or
    file), and return ``(metrics.json as a dict, DIR)``."""
    root = Path(__file__).resolve().parent.parent

    def run(name, *flags, files=(), timeout=3000):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, str(root / "examples" / f"{name}.py"), *flags,
                               "--out", str(out)], capture_output=True, text=True, cwd=root,
                              timeout=timeout)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
        for f in files:
            assert (out / f).stat().st_size > 1000, f
        return json.loads((out / "metrics.json").read_text()), out

    return run
