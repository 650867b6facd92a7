"""Lava in its own environment (.venv-lava: Python 3.10, lava-nc 0.10.0, numpy < 2).

The core never imports lava; the Lava environment has no Brian2 and still runs an exported
network, through brainkit's runner and through the README's snippet for Lava users."""

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from brainkit.exporters.cuba import to_cuba
from brainkit.exporters.fixed_point import quantise_inputs, to_fixed
from brainkit.exporters.inputs import input_values
from brainkit.exporters.loihi_ref import simulate
from brainkit.loihi.lava_env import LavaUnavailable, lava_python, run_lava
from brainkit.loihi.random_network import random_cuba_network

README = Path(__file__).resolve().parents[1] / "README.md"


def _lava(code: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(lava_python()), "-c", code, *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_the_lava_environment_has_lava_and_no_brian2():
    run = _lava("import sys, numpy, lava.magma.core.run_configs\n"
                "import brainkit.exporters.lava\n"
                "try:\n    import brian2\nexcept ImportError:\n    print('no brian2')\n"
                "print(sys.version_info[:2], numpy.__version__)")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "no brian2" in run.stdout and "(3, 10)" in run.stdout


def test_the_readme_snippet_for_lava_users_runs_an_exported_network(tmp_path):
    from brainkit.exporters.cuba import save_cuba

    _, spec = random_cuba_network(n_in=6, n=10, steps=100, seed=5, w_in=0.2)
    fixed = to_fixed(to_cuba(spec), input_values(spec, 100), 100)
    P = fixed.populations["p"]
    P.vth = 200  # v > 200 * 64 in about 4 steps from a bias of 4095: spikes without input
    P.bias, P.bias_exp = np.full(P.n, 4095), np.zeros(P.n, np.int64)
    fixed.connections["p->p"].weights[:] = 0
    path = tmp_path / "lava_network.npz"
    save_cuba(path, fixed)
    text = README.read_text()
    snippet = re.search(r"<!-- lava-user-example -->\s*```python\n(.*?)```", text, re.S).group(1)
    assert "out/xor_lava/lava_network.npz" in snippet
    code = snippet.replace("out/xor_lava/lava_network.npz", str(path))
    code += f"\nnp.save({str(tmp_path / 'spikes.npy')!r}, spikes)\n"
    run = _lava(code)
    assert run.returncode == 0, run.stderr[-2000:]
    spikes = np.load(tmp_path / "spikes.npy")
    zeros = {"in": np.zeros((100, 6), np.int64)}
    ref = simulate(fixed, zeros, 100)
    assert ref.spikes["p"].sum() > 10
    np.testing.assert_array_equal(spikes.astype(bool), ref.spikes["p"])


def test_runs_go_through_the_lava_environment_and_match_the_reference():
    _, spec = random_cuba_network(n_in=8, n=12, steps=150, seed=6, w_in=0.1)
    x = input_values(spec, 150)
    fixed = to_fixed(to_cuba(spec), x, 150)
    xi = quantise_inputs(fixed, x)
    lava = run_lava(fixed, xi, 150)
    ref = simulate(fixed, xi, 150)
    assert ref.spikes["p"].sum() > 10
    np.testing.assert_array_equal(lava.spikes["p"], ref.spikes["p"])
    np.testing.assert_array_equal(lava.v["p"], ref.v["p"])


def test_a_missing_lava_environment_says_how_to_build_it(monkeypatch, tmp_path):
    monkeypatch.setenv("BRAINKIT_LAVA_PYTHON", str(tmp_path / "nowhere" / "python"))
    net = to_cuba(random_cuba_network(n_in=2, n=3, steps=10)[1])
    with pytest.raises(LavaUnavailable, match=r"make venv-lava.*python3\.10"):
        run_lava(net, {"in": np.zeros((10, 2))}, 10)


def test_spike_bits_records_what_lavas_ring_buffer_records(tmp_path):
    """The packed recorder (32 steps per value read back) and Lava's own RingBuffer sink,
    both listening to one LIF in one fixed_pt run of 75 steps (not a multiple of 32), give the
    same spikes; the word count is ceil(75/32) per neuron."""
    code = (
        "import sys, numpy as np\n"
        "from lava.magma.core.run_conditions import RunSteps\n"
        "from lava.magma.core.run_configs import Loihi2SimCfg\n"
        "from lava.proc.io.sink import RingBuffer\n"
        "from lava.proc.lif.process import LIF\n"
        "from brainkit.exporters.lava_procs.spike_bits import SpikeBits\n"
        "n, T = 7, 75\n"
        "lif = LIF(shape=(n,), du=4095, dv=512, vth=2000, bias_mant=np.arange(1, n + 1) * 300,"
        " bias_exp=6)\n"
        "ring, bits = RingBuffer(shape=(n,), buffer=T), SpikeBits(shape=(n,), steps=T)\n"
        "lif.s_out.connect(ring.a_in); lif.s_out.connect(bits.a_in)\n"
        "lif.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag='fixed_pt'))\n"
        "np.save(sys.argv[1], ring.data.get().T.astype(bool))\n"
        "np.save(sys.argv[2], bits.spikes()); np.save(sys.argv[3], bits.bits.get())\n"
        "lif.stop()\n")
    paths = [tmp_path / f"{k}.npy" for k in ("ring", "bits", "words")]
    run = _lava(code, *paths)
    assert run.returncode == 0, run.stderr[-2000:]
    ring, bits, words = (np.load(p) for p in paths)
    assert ring.shape == bits.shape == (75, 7) and words.shape == (7, 3)
    assert 20 < ring.sum() < ring.size  # neurons spike at different rates
    np.testing.assert_array_equal(bits, ring)
