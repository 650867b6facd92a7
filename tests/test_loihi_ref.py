"""brainkit's numpy Loihi reference against Lava's bit-accurate models (PyLifModelBitAcc,
PyDenseModelBitAcc under Loihi2SimCfg(select_tag='fixed_pt')) and against hand arithmetic."""

import numpy as np
import pytest

from brainkit.exporters.cuba import CubaConnection, CubaNetwork, CubaPopulation
from brainkit.loihi.lava_env import run_lava
from brainkit.exporters.loihi_ref import (LoihiOverflowError, effective_weights, simulate)


def _random_fixed(n_in, n, seed, w_lo=-100, w_hi=255, rate=0.2, steps=200, weight_exp=0,
                  rec_exp=0, du=None, dv=None, vth=None):
    """A random fixed-point network: input spikes -> n LIF (with a recurrent Dense)."""
    rng = np.random.default_rng(seed)
    net = CubaNetwork(dt=1e-3, inputs={"in": n_in}, graded_inputs={"in": False}, fixed=True)
    net.populations["p"] = CubaPopulation(
        "p", n, int(rng.integers(0, 4096) if du is None else du),
        int(rng.integers(0, 4096) if dv is None else dv),
        int(rng.integers(100, 3000) if vth is None else vth),
        bias=rng.integers(-4096, 4096, n), bias_exp=rng.integers(0, 4, n),
        u0=rng.integers(-2000, 2000, n), v0=rng.integers(-2000, 2000, n))
    net.connections["in->p"] = CubaConnection("in->p", "in", "p",
                                              rng.integers(w_lo, w_hi + 1, (n, n_in)),
                                              weight_exp)
    W = rng.integers(-256, 256, (n, n)) * (rng.random((n, n)) < 0.3)
    net.connections["p->p"] = CubaConnection("p->p", "p", "p", W, rec_exp)
    x = {"in": (rng.random((steps, n_in)) < rate).astype(np.int64)}
    return net, x


def _assert_lava_equals_reference(net, x, steps):
    ref = simulate(net, x, steps, on_overflow="wrap")
    lava = run_lava(net, x, steps)
    mismatches = int(np.sum(lava.spikes["p"] != ref.spikes["p"]))
    assert mismatches == 0, f"{mismatches} spike mismatches"
    np.testing.assert_array_equal(lava.u["p"], ref.u["p"])
    np.testing.assert_array_equal(lava.v["p"], ref.v["p"])
    return ref


def test_effective_weights_are_lavas_clip_and_truncate(tmp_path):
    """Lava's own clip_weights/truncate_weights (run in the Lava environment) give the
    weights brainkit's reference uses."""
    import subprocess

    from brainkit.loihi.lava_env import lava_python

    rng = np.random.default_rng(0)
    ws = {f"w{k}": rng.integers(lo, hi + 1, (7, 9)) for k, (lo, hi) in
          enumerate(((-400, 400), (0, 400), (-400, 0), (-256, 255), (-3, 3)))}
    np.savez(tmp_path / "w.npz", **ws)
    script = (
        "import sys, numpy as np\n"
        "from lava.utils.weightutils import (SignMode, clip_weights, determine_sign_mode,\n"
        "                                    truncate_weights)\n"
        "f = np.load(sys.argv[1])\n"
        "out = {k: truncate_weights(clip_weights(f[k], determine_sign_mode(f[k]), num_bits=8),\n"
        "                           determine_sign_mode(f[k]), 8) for k in f.files}\n"
        "assert SignMode.MIXED == determine_sign_mode(np.array([[-1, 1]]))\n"
        "np.savez(sys.argv[2], **out)\n")
    run = subprocess.run([str(lava_python()), "-c", script, str(tmp_path / "w.npz"),
                          str(tmp_path / "lava.npz")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    with np.load(tmp_path / "lava.npz") as lava:
        for k, w in ws.items():
            np.testing.assert_array_equal(effective_weights(w), lava[k])
    np.testing.assert_array_equal(effective_weights(np.array([[-3, 3, 255, -256]])),
                                  [[-4, 2, 254, -256]])  # mixed sign: even, toward -inf


def test_hand_computed_steps():
    """Three input spikes of weight 50 into a neuron that keeps no current (du = 4095) and
    no leak (dv = 0): v = 3 * 50 * 64 = 9600 (the measurement in docs/loihi-fixed-point.md)."""
    net = CubaNetwork(dt=1e-3, inputs={"in": 1}, fixed=True)
    net.populations["p"] = CubaPopulation("p", 1, 4095, 0, 1000, bias=np.zeros(1, int),
                                          bias_exp=np.zeros(1, int))
    net.connections["c"] = CubaConnection("c", "in", "p", np.array([[50]]))
    x = {"in": np.array([[1], [1], [1], [0], [0]])}
    ref = simulate(net, x, 5, record={"p": ["u", "v"]})
    # one-step delay: the spike of step 1 reaches u at step 2
    np.testing.assert_array_equal(ref.traces["p"]["u"][:, 0], [0, 3200, 3200, 3200, 0])
    np.testing.assert_array_equal(ref.traces["p"]["v"][:, 0], [0, 3200, 6400, 9600, 9600])
    # decay rounds the magnitude down (toward zero), for both signs:
    # u = -1000 with du = 100: -((1000 * (4096 - 101)) >> 12) = -975
    net.populations["p"] = CubaPopulation("p", 1, 100, 2000, 1000, bias=np.array([5]),
                                          bias_exp=np.array([3]), u0=np.array([-1000]),
                                          v0=np.array([777]))
    ref = simulate(net, {"in": np.zeros((1, 1), int)}, 1, record={"p": ["u", "v"]})
    assert ref.traces["p"]["u"][0, 0] == -975
    assert ref.traces["p"]["v"][0, 0] == (777 * 2096 >> 12) - 975 + (5 << 3)
    with pytest.raises(Exception, match="no input values given for input 'in'"):
        simulate(net, {}, 1)


@pytest.mark.parametrize("n_in,n,seed", [(3, 4, 5), (16, 24, 2), (40, 80, 3)])
def test_random_networks_match_lava_bit_for_bit(n_in, n, seed):
    net, x = _random_fixed(n_in, n, seed)
    ref = _assert_lava_equals_reference(net, x, 200)
    assert ref.spikes["p"].sum() > 10  # the comparison covers spiking neurons


@pytest.mark.parametrize("w_lo,w_hi,exp,rec_exp", [(-256, 255, 0, 0), (200, 255, -2, 1),
                                                    (-255, -200, 3, -3), (-256, -250, 1, 2)])
def test_weights_at_the_8_bit_limits_and_exponents(w_lo, w_hi, exp, rec_exp):
    net, x = _random_fixed(10, 12, 5, w_lo=w_lo, w_hi=w_hi, weight_exp=exp, rec_exp=rec_exp,
                           rate=0.3)
    _assert_lava_equals_reference(net, x, 150)


def test_overflow_raises_with_the_numbers_or_wraps_exactly_like_lava():
    """Large weights at exponent 7 and a slow current decay: u passes 2^23."""
    net, x = _random_fixed(8, 6, 9, w_lo=200, w_hi=255, weight_exp=7, du=0, dv=100,
                           vth=131071, rate=0.9)
    with pytest.raises(LoihiOverflowError, match=r"step \d+, population 'p', neuron \d+: "):
        simulate(net, x, 100)
    ref = _assert_lava_equals_reference(net, x, 100)  # Lava wraps; so does 'wrap'
    assert ref.peaks["p"]["u"] > 2 ** 22


def test_float_reference_matches_lava_floating_pt():
    rng = np.random.default_rng(4)
    net = CubaNetwork(dt=1e-3, inputs={"in": 12})
    net.populations["p"] = CubaPopulation("p", 20, 0.15, 0.05, 1.0, bias=rng.normal(0, .02, 20),
                                          u0=np.zeros(20), v0=rng.normal(0, .3, 20))
    net.connections["in->p"] = CubaConnection("in->p", "in", "p", rng.normal(.1, .1, (20, 12)))
    net.connections["p->p"] = CubaConnection("p->p", "p", "p", rng.normal(0, .05, (20, 20)))
    x = {"in": (rng.random((300, 12)) < 0.2).astype(float)}
    ref = simulate(net, x, 300)
    lava = run_lava(net, x, 300)
    assert ref.spikes["p"].sum() > 50
    np.testing.assert_array_equal(lava.spikes["p"], ref.spikes["p"])
    np.testing.assert_allclose(lava.v["p"], ref.v["p"], rtol=1e-12, atol=1e-12)


@pytest.mark.long
@pytest.mark.parametrize("n_in,n,seed", [(20, 50, 11), (64, 200, 12)])
def test_long_runs_match_lava_bit_for_bit(n_in, n, seed):
    """10,000 steps."""
    net, x = _random_fixed(n_in, n, seed, steps=10_000, rate=0.05)
    ref = _assert_lava_equals_reference(net, x, 10_000)
    assert ref.spikes["p"].sum() > 1000
