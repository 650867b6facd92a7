"""The README's Python blocks run as written (the Quick start is the first code a new user tries)."""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.standalone
def test_quick_start_runs_as_written(tmp_path, monkeypatch):
    text = README.read_text()
    section = text.split("## Quick start", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, "README.md: Quick start", "exec"), scope)  # noqa: S102
    assert (tmp_path / "out" / "raster.png").stat().st_size > 0
    assert len(scope["i"]) == len(scope["t"]) > 0
    assert scope["v"].shape[0] == 2


def test_brian2_words_block_runs_on_a_network_of_its_names():
    """The block of *Brian2's own words in a brainkit network*, on a 50-neuron population
    called "exc" (runtime backend)."""
    text = README.read_text()
    section = text.split("## Brian2's own words in a brainkit network", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    setup = ("import brian2\nfrom brian2 import Hz, ms, mV, nA\nimport brainkit as bk\n"
             "net = bk.Network(dt=0.1 * ms, backend='runtime')\n"
             "net.population('exc', 'lif', 50)\n")
    scope = {}
    exec(compile(setup + code, "README.md: Brian2's own words", "exec"), scope)  # noqa: S102
    res = scope["res"]
    assert set(res.population_rates) == {"exc"} and res.extra["mine"]["v"].shape[0] == 1
    assert res.traces["exc->exc"]["w"].shape[0] == 2
    assert set(np.unique(res.spikes["exc"][0])) <= {0, 1, 2}


@pytest.mark.standalone
def test_subgroups_and_continuing_runs_block_runs_as_written():
    """The second block of that section (subgroups, per-neuron parameters, continuing runs),
    on cpp_standalone with 400 neurons instead of 4000 (the same calls)."""
    text = README.read_text()
    section = text.split("## Brian2's own words in a brainkit network", 1)[1]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[1]
    code = code.replace("4000", "400").replace("3200", "320")
    setup = ("import numpy as np\nfrom brian2 import ms, nA\nimport brainkit as bk\n"
             "net = bk.Network(dt=0.1 * ms, seed=1)\n")
    scope = {}
    exec(compile(setup + code, "README.md: subgroups and continuing runs", "exec"), scope)  # noqa: S102
    net = scope["net"]
    assert float(scope["later"].t_start) == 0.1 and net.t == 0.1
    assert net.connections["P[:320]->P"].i.max() < 320
