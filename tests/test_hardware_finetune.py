"""Hardware-aware fine-tuning (brainkit.loihi.finetune) against references outside it:

* the forward pass is Lava's CUBA LIF: spike for spike equal to the exporter's float reference
  (:func:`brainkit.exporters.loihi_ref.simulate`) on the same network and inputs;
* the backward pass is the exact gradient of the smooth network (``soft=True``): finite
  differences, every parameter;
* the quantiser in the loop is the exporter's: the weights it trains with are exactly those
  :func:`brainkit.exporters.fixed_point.to_fixed` puts on the chip (at the same scale).
"""

import numpy as np
import pytest

from brainkit.exporters.cuba import CubaConnection, CubaNetwork, CubaPopulation
from brainkit.exporters.fixed_point import population_scale, to_fixed
from brainkit.exporters.loihi_ref import simulate
from brainkit.loihi.finetune import LoihiLIFModel, backward, chip_quantiser, forward
from brainkit.loihi.mapping import whiten_inputs
from brainkit.training.losses import cross_entropy


def _random(seed=1, B=3, T=60, K=2, N=8):
    rng = np.random.default_rng(seed)
    params = {"U": rng.normal(0.3, 0.6, (N, K)), "W": rng.normal(0, 0.4, (N, N)),
              "bias": rng.normal(0.05, 0.05, N), "O": rng.normal(0, 1, (2, N))}
    z = rng.normal(0, 1, (B, T, K))
    return params, z


def test_forward_is_lavas_cuba_lif():
    params, z = _random(B=1, T=200)
    m = LoihiLIFModel(d_u=0.2, d_v=0.1, vth=1.0, tau_s_steps=5.0)
    tr = forward(params, z, m)
    N, K = params["U"].shape
    net = CubaNetwork(dt=1e-3, inputs={"in": K}, graded_inputs={"in": True})
    net.populations["h"] = CubaPopulation("h", N, 0.2, 0.1, 1.0, params["bias"])
    net.connections["in"] = CubaConnection("in", "in", "h", params["U"], graded=True)
    net.connections["rec"] = CubaConnection("rec", "h", "h", params["W"])
    ref = simulate(net, {"in": z[0]}, z.shape[1])
    assert ref.spikes["h"].sum() > 20
    np.testing.assert_array_equal(tr.s[:, 0, :].astype(bool), ref.spikes["h"])


def test_whitened_inputs_give_the_unfiltered_current():
    """u[t] = U x[t] exactly when the generator sends z[k] = x[k+1] - (1 - d_u) x[k] (trials
    start at rest, x[0] = 0, as every task's do)."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (2, 50, 3))
    x[:, 0] = 0
    d_u = 0.1
    z = whiten_inputs(x, d_u)
    u = np.zeros((2, 3))
    for t in range(50):
        u = (1 - d_u) * u + (z[:, t - 1] if t > 0 else 0)
        np.testing.assert_allclose(u, x[:, t], atol=1e-12)


@pytest.mark.parametrize("detach", [False])
def test_backward_is_the_exact_gradient_of_the_smooth_network(detach):
    params, z = _random()
    m = LoihiLIFModel(d_u=0.2, d_v=0.1, vth=1.0, tau_s_steps=5.0, beta=3.0,
                      detach_reset=detach)
    labels = np.array([0, 1, 1])
    win = np.zeros(z.shape[:2])
    win[:, 30:50] = 1

    def loss(p):
        tr = forward(p, z, m, soft=True)
        return cross_entropy(tr.o, labels, win), tr

    (_, g), tr = loss(params)
    grads = backward(tr, g, m, soft=True)
    h = 1e-6
    for k, v in params.items():
        num = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            plus = {a: b.copy() for a, b in params.items()}
            minus = {a: b.copy() for a, b in params.items()}
            plus[k][i] += h
            minus[k][i] -= h
            num[i] = (loss(plus)[0][0] - loss(minus)[0][0]) / (2 * h)
        err = np.max(np.abs(num - grads[k])) / np.max(np.abs(num))
        assert err < 1e-6, (k, err)


def test_surrogate_gradient_is_finite_and_reaches_silent_neurons():
    """Hard spikes: the surrogate passes gradient through neurons below threshold."""
    params, z = _random()
    params["bias"][:] = -0.5  # mostly silent
    m = LoihiLIFModel(d_u=0.2, d_v=0.1, tau_s_steps=5.0, beta=2.0)
    tr = forward(params, z, m)
    win = np.zeros(z.shape[:2])
    win[:, 30:50] = 1
    _, g = cross_entropy(tr.o + 0.1, np.array([0, 1, 1]), win)
    grads = backward(tr, g, m)
    assert all(np.all(np.isfinite(v)) for v in grads.values())
    assert np.count_nonzero(grads["W"]) > 0.5 * grads["W"].size


def test_quantiser_in_the_loop_is_the_exporters():
    params, z = _random(N=12)
    m = LoihiLIFModel(d_u=0.2, d_v=0.1, vth=1.0, s_in=32.0)
    N, K = params["U"].shape
    net = CubaNetwork(dt=1e-3, inputs={"in": K}, graded_inputs={"in": True})
    net.populations["h"] = CubaPopulation("h", N, 0.2, 0.1, 1.0, params["bias"])
    net.connections["in"] = CubaConnection("in", "in", "h", params["U"], graded=True)
    net.connections["rec"] = CubaConnection("rec", "h", "h", params["W"])
    inputs = {"in": np.round(z[0] * 32) / 32}
    fixed = to_fixed(net, inputs, z.shape[1])
    rep = fixed.report
    state = rep["populations"]["h"]["state_peak_used"]
    lam = population_scale(1.0, state, float(np.max(np.abs(params["bias"]))))[0]
    assert lam == rep["populations"]["h"]["scale"]
    assert rep["inputs"]["in"]["scale"] == 32.0
    quantise, info = chip_quantiser(m, state, float(np.max(np.abs(params["bias"]))))
    q = quantise(params)
    for name, key, s_in in (("rec", "W", 1.0), ("in", "U", 32.0)):
        c = fixed.connections[name]
        chip = c.weights * 2.0 ** c.weight_exp / (lam / 64 / s_in)
        np.testing.assert_array_equal(q[key], chip)
    assert not np.array_equal(q["W"], params["W"])  # 8 bits lose something


def test_exporter_keeps_the_fine_tuned_scale_where_it_fits():
    """A network fine-tuned at scale lam holds weights on lam's 8-bit grid: the exporter uses
    that scale when it fits the state peaks of the inputs at hand, else the largest that
    fits, and says which (``scale_from``)."""
    params, z = _random(N=12)
    N, K = params["U"].shape
    net = CubaNetwork(dt=1e-3, inputs={"in": K}, graded_inputs={"in": True})
    net.populations["h"] = CubaPopulation("h", N, 0.2, 0.1, 1.0, params["bias"])
    net.connections["in"] = CubaConnection("in", "in", "h", params["U"], graded=True)
    net.connections["rec"] = CubaConnection("rec", "h", "h", params["W"])
    inputs = {"in": z[0]}
    free = to_fixed(net, inputs, z.shape[1]).report["populations"]["h"]
    assert free["scale_from"] == "largest that fits"
    bias = float(np.max(np.abs(params["bias"])))
    smaller = population_scale(1.0, 2 * free["state_peak_used"], bias)[0]
    kept = to_fixed(net, inputs, z.shape[1], population_scales={"h": smaller})
    kept = kept.report["populations"]["h"]
    assert (kept["scale"], kept["scale_from"]) == (smaller, "given")
    assert kept["vth"] * 64 == smaller
    over = to_fixed(net, inputs, z.shape[1], population_scales={"h": 4 * free["scale"]})
    rep = over.report["populations"]["h"]
    assert rep["scale"] == free["scale"] and rep["scale_from"].startswith("largest that fits:")


def test_finetune_cli_refuses_a_network_without_a_task(tmp_path, capsys):
    from argparse import Namespace

    from brainkit.loihi.random_network import random_cuba_network
    from brainkit.netfile import save_network
    from brainkit.loihi.cli import finetune_main as main

    _, spec = random_cuba_network(steps=20)
    save_network(tmp_path / "net.h5", spec)
    out = tmp_path / "out"
    args = Namespace(network=str(tmp_path / "net.h5"), out=str(out), steps=5, lr=0.01,
                     trials=4)
    assert main(args) == 2
    assert "not a task network (no metadata 'task')" in capsys.readouterr().err
    assert not out.exists()
    args.steps = 0
    assert main(args) == 2
    assert "--steps and --trials must be >= 1" in capsys.readouterr().err
