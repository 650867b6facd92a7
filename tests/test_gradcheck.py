"""``brainkit gradcheck`` end to end: the command line runs, prints its table, writes
``metrics.json`` and the adjoint meets the 1e-6 relative-error target against finite
differences of the Brian2 simulation (runtime/numpy backend, tiny network: ~20 s).
"""

import json
import os
import subprocess
import sys

import pytest

from brainkit.cli import main as cli_main
from brainkit.training import NotDifferentiableError


def test_gradcheck_cli_writes_metrics_and_meets_threshold(tmp_path):
    out = tmp_path / "gc"
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-m", "brainkit", "gradcheck", "--model", "theta", "--neurons", "2",
         "--steps", "300", "--seed", "3", "--backend", "runtime", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "max_rel_error" in proc.stdout and "PASS" in proc.stdout
    m = json.loads((out / "metrics.json").read_text())
    # every entry of the 2-neuron net: U 2x2, W 2x2, O 2x2, I0 2, and tau, tau_s
    assert m["n_checked"] == 16 == len(m["entries"])
    assert {"tau", "tau_s"} <= {e["param"] for e in m["entries"]}
    assert m["max_rel_error"] <= 1e-6 and m["passed"] is True
    assert m["spikes"] > 0
    assert max(e["rel_error"] for e in m["entries"]) == m["max_rel_error"]
    # not a trivial check: some gradients are large, and they were compared
    assert max(abs(e["adjoint"]) for e in m["entries"]) > 1.0


def test_gradcheck_refuses_a_model_with_a_reset(tmp_path, capsys):
    from brainkit.gradcheck import run_check

    with pytest.raises(NotDifferentiableError, match="reset 'v = V_r'"):
        run_check("lif", 2, 10, 0, "runtime", verbose=False)
    # the command: one line, exit 2
    assert cli_main(["gradcheck", "--model", "lif", "--neurons", "2", "--steps", "10",
                     "--backend", "runtime", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("brainkit gradcheck: ") and "reset 'v = V_r'" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "metrics.json").exists()
