"""The package's layers import only downward, and an export to NIR needs no simulator.

Layers (low to high): the model library and the network file -> equation composition ->
the compiled-run engine and :class:`brainkit.Network` -> training -> (exporters, pure) ->
:mod:`brainkit.loihi` -> the command line.  Read from the source (every ``import``, also
those inside functions), so a lazy import cannot hide an upward dependency.
"""

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: what each part of the package may import from brainkit (besides itself)
ALLOWED = {
    "exporters": {"brainkit.fileio", "brainkit.netfile", "brainkit.library",
                  "brainkit.connectivity", "brainkit.exporters"},  # connectivity: NIR Conv2d
    "brainkit/training": {"brainkit.training", "brainkit.fileio", "brainkit.library",
                          "brainkit.netfile", "brainkit.tasknet", "brainkit.equations",
                          "brainkit.engine", "brainkit.backends", "brainkit.network",
                          "brainkit.results", "brainkit.plotting", "brainkit.connectivity",
                          "brainkit.progress", "brainkit.build_cache", "brainkit.sweep"},
}
FORBIDDEN_EVERYWHERE_BELOW_CLI = {"brainkit.cli", "brainkit.demo"}
CORE_FORBIDDEN = {"brainkit.training", "brainkit.loihi", "brainkit.exporters"}
CORE_EXCEPTIONS = {"cli.py", "demo.py", "gradcheck.py", "__main__.py"}


def _modules(folder: str):
    return sorted((ROOT / folder).rglob("*.py"))


def _package_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] == "exporters":
        parts = ["brainkit", "exporters"] + parts[1:]
    return ".".join(parts[:-1])  # a module's package; for __init__ the package itself


def _imports(path: Path):
    """(absolute module name, line) of every brainkit import in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    package = _package_of(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            targets = [name] + [f"{name}.{a.name}" for a in node.names]
            if name.startswith("brainkit"):
                yield name, node.lineno, [a.name for a in node.names], targets
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("brainkit"):
                    yield a.name, node.lineno, [], [a.name]


def _under(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("folder", ["exporters", "brainkit/training"])
def test_exporters_and_training_import_only_the_layers_below_them(folder):
    """The exporters import neither training nor a simulator; training nothing above it."""
    bad = []
    for path in _modules(folder):
        for name, line, _, _ in _imports(path):
            if not _under(name, ALLOWED[folder]):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


def test_core_modules_import_no_layer_above_them():
    bad = []
    for path in sorted((ROOT / "brainkit").glob("*.py")):
        if path.name in CORE_EXCEPTIONS:
            continue
        for name, line, _, targets in _imports(path):
            if any(_under(t, CORE_FORBIDDEN | FORBIDDEN_EVERYWHERE_BELOW_CLI) for t in targets):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    for path in _modules("brainkit/loihi"):
        for name, line, _, targets in _imports(path):
            if any(_under(t, FORBIDDEN_EVERYWHERE_BELOW_CLI) for t in targets):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("folder", ["brainkit", "exporters", "examples", "benchmarks"])
def test_no_module_imports_another_modules_private_name(folder):
    bad = []
    for path in _modules(folder):
        for name, line, names, _ in _imports(path):
            private = [n for n in names if n.startswith("_")]
            if private:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {private} from {name}")
    assert not bad, "\n".join(bad)


def test_nir_export_of_a_trained_network_loads_no_lava_and_runs_no_simulation(tmp_path):
    """``brainkit export NET.h5 --to nir`` on a trained theta/gated network: the CUBA LIF
    mapping is written without importing Lava or running Brian2 (both are made to fail)."""
    import numpy as np

    from brainkit.tasknet import TaskNetwork, save_task_network

    from brian2 import ms

    rng = np.random.default_rng(0)
    net = TaskNetwork(U=rng.normal(size=(6, 2)), W=rng.normal(0, 0.01, (6, 6)),
                      O=rng.normal(size=(1, 6)), bias=rng.uniform(-0.1, 0.5, 6),
                      neuron="theta", synapse="gated", dt=1e-3, task="xor",
                      readout_tau_s=0.01, neuron_params={"tau": 10 * ms, "gate_width": 0.5},
                      synapse_params={"tau_s": 10 * ms}, weight_unit="second")
    save_task_network(tmp_path / "net.h5", net)
    script = textwrap.dedent(f"""
        import sys
        import brainkit
        from brainkit.training.recurrent import RecurrentSNN

        def refuse(*a, **k):
            raise AssertionError("a simulation ran")

        brainkit.Network.run = refuse
        RecurrentSNN.forward = refuse
        from brainkit.cli import main
        rc = main(["export", {str(tmp_path / 'net.h5')!r}, "--to", "nir", "--out",
                   {str(tmp_path / 'nir')!r}])
        assert rc == 0, rc
        lava = sorted(m for m in sys.modules if m == "lava" or m.startswith("lava."))
        assert not lava, lava
        print("ok")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "ok" in run.stdout
    assert (tmp_path / "nir" / "network.nir").stat().st_size > 0
