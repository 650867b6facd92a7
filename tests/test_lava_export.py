"""Export to Lava: float export equals Brian2, fixed-point export equals the Loihi reference,
bad input is refused with the reason (and the CLI writes nothing then)."""

import argparse
import json

import numpy as np
import pytest
from brian2 import ms, mV

from brainkit import load_model
from brainkit.exporters.inputs import input_values
from brainkit.loihi.check import compare
from brainkit.loihi.cli import export_main as main
from brainkit.exporters.cuba import (CONVERTERS, CubaConnection, CubaNetwork, CubaPopulation,
                                     ExportError, load_cuba, to_cuba)
from brainkit.loihi.random_network import random_cuba_network
from brainkit.network_spec import simulate_brian2
from brainkit.exporters.fixed_point import to_fixed
from brainkit.loihi.lava_env import run_lava
from brainkit.netfile import NetworkSpec, PopulationSpec, save_network


@pytest.mark.parametrize("model,steps", [("cuba_lif", 400), ("lif", 200)])
def test_lava_float_equals_brian2_spike_for_spike(model, steps):
    """Same network, same input spikes: Lava floating_pt and Brian2 spike at the same steps
    (both deliver a spike to its targets one step later)."""
    _, spec = random_cuba_network(n_in=20, n=25, steps=steps, seed=1, model=model)
    x = input_values(spec, steps)
    brian2_spikes, _ = simulate_brian2(spec, x, steps)
    lava = run_lava(to_cuba(spec), x, steps)
    b, lv = brian2_spikes["p"], lava.spikes["p"]
    assert b.sum() > 100
    np.testing.assert_array_equal(b.sum(0), lv.sum(0))  # spike counts per neuron
    assert int(np.sum(b != lv)) == 0  # and the steps


def test_fixed_point_export_matches_the_reference_and_follows_the_float_network():
    _, spec = random_cuba_network(n_in=20, n=30, steps=500, seed=3)
    metrics, cuba, fixed, runs = compare(spec, 500)
    assert metrics["spike_mismatches"] == 0
    assert metrics["populations"]["p"]["final_state_equal_fixed"]
    assert metrics["rate_correlation_float"] == pytest.approx(1.0)
    assert metrics["rate_correlation_fixed"] > 0.95
    assert runs["reference"].spikes["p"].sum() > 200
    rep = fixed.report["populations"]["p"]
    P = fixed.populations["p"]
    # registers from the documented formulas: d_u = 0.2, d_v = 0.1
    assert (P.d_u, P.d_v) == (round(4096 * 0.2) - 1, round(4096 * 0.1))
    assert P.vth * 64 == pytest.approx(rep["scale"] * cuba.populations["p"].vth)
    assert rep["scale"] * rep["state_peak_used"] * 2 <= 2 ** 23  # headroom 2
    for name, c in fixed.connections.items():
        info = fixed.report["connections"][name]
        assert np.abs(c.weights).max() <= 256 and info["relative_error"] < 0.05
        # W_int 2^e = w lam / 64
        np.testing.assert_allclose(c.weights * 2.0 ** c.weight_exp,
                                   cuba.connections[name].weights * rep["scale"] / 64,
                                   atol=2.0 ** c.weight_exp)


def _spec_with(model, **params):
    m = load_model(model)
    spec = NetworkSpec(dt=1 * ms)
    p = dict(m.parameters)
    p.update(params)
    spec.populations["p"] = PopulationSpec("p", model, 3, m.equations, m.threshold, m.reset,
                                           None if m.refractory is None else str(m.refractory),
                                           m.method, p, dict(m.initial))
    return spec


def test_models_lava_cannot_express_are_refused_by_name():
    with pytest.raises(ExportError, match=r"population 'p': model 'theta' cannot be exported "
                                          r"to Lava \(models with a converter: cuba_lif, lif"):
        to_cuba(_spec_with("theta"))
    with pytest.raises(ExportError, match="refractory period t_ref = 2 ms cannot be expressed"):
        to_cuba(_spec_with("lif"))
    with pytest.raises(ExportError, match="reset V_r = -65 mV differs from rest"):
        to_cuba(_spec_with("lif", t_ref=0 * ms, V_r=-65 * mV))
    spec = _spec_with("lif", t_ref=0 * ms)
    spec.populations["p"].equations = "dv/dt = -v/tau_m : volt"
    with pytest.raises(ExportError, match="its equations differ from library model 'lif'"):
        to_cuba(spec)
    assert set(CONVERTERS) == {"cuba_lif", "lif"}


def test_different_synaptic_time_constants_into_one_population_are_refused():
    net, spec = random_cuba_network(n_in=3, n=4, steps=10, model="lif")
    spec.connections["p->p"].parameters["tau_syn"] = 8 * ms
    with pytest.raises(ExportError, match="different tau_syn"):
        to_cuba(spec)


def _float_net(w):
    net = CubaNetwork(dt=1e-3, inputs={"in": w.shape[1]})
    net.populations["p"] = CubaPopulation("p", w.shape[0], 0.2, 0.1, 1.0,
                                          bias=np.zeros(w.shape[0]))
    net.connections["in->p"] = CubaConnection("in->p", "in", "p", w)
    return net


def test_weights_beyond_8_bits_and_exponent_are_refused_with_the_numbers():
    rng = np.random.default_rng(0)
    w = rng.uniform(0.01, 0.02, (10, 10))
    w[0, 0] = 40.0  # one weight 2000x the others: neurons 1..9 lose all their inputs
    with pytest.raises(ExportError, match=r"connection 'in->p': weights do not fit 8 bits \+ a "
                                          r"shared exponent: they span .* bits of dynamic range"):
        to_fixed(_float_net(w))
    fine = to_fixed(_float_net(rng.uniform(0.01, 0.02, (10, 10))))
    assert fine.report["connections"]["in->p"]["relative_error"] < 0.01


def test_state_that_cannot_fit_24_bits_and_bad_decays_are_refused():
    net = _float_net(np.full((4, 4), 0.5))
    net.populations["p"].vth = 1e-6  # 1e6 x below the state it reaches
    with pytest.raises(ExportError, match=r"population 'p': cannot map to 24-bit state: .* "
                                          r"peak \|u\|, \|v\|"):
        to_fixed(net)
    net = _float_net(np.full((4, 4), 0.5))
    net.populations["p"].d_u = 0.0  # no current decay: Loihi's minimum is 1/4096
    with pytest.raises(ExportError, match="current decay d_u = 0 .* has no 12-bit register"):
        to_fixed(net)


def _args(network, to, out, steps=200, check=True):
    return argparse.Namespace(network=str(network), to=to, out=str(out), steps=steps,
                              trials=None, check=check)


def test_cli_exports_and_writes_metrics(tmp_path):
    _, spec = random_cuba_network(n_in=10, n=12, steps=200, seed=4, w_in=0.06)
    path = save_network(tmp_path / "net.h5", spec)
    out = tmp_path / "fixed"
    assert main(_args(path, "lava-fixed", out)) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["spike_mismatches"] == 0
    assert metrics["rate_correlation_float"] == pytest.approx(1.0)
    assert metrics["populations"]["p"]["spikes_reference"] > 20
    exported = load_cuba(out / "lava_network.npz")
    assert exported.fixed and exported.populations["p"].d_u == 818
    # the exported file runs on Lava and gives the spikes the metrics were computed from
    from brainkit.exporters.fixed_point import quantise_inputs
    from brainkit.exporters.loihi_ref import simulate

    x = quantise_inputs(exported, input_values(spec, 200))
    again = run_lava(exported, x, 200)
    np.testing.assert_array_equal(again.spikes["p"], simulate(exported, x, 200).spikes["p"])
    assert int(again.spikes["p"].sum()) == metrics["populations"]["p"]["spikes_lava_fixed"]


def test_cli_refuses_bad_files_and_models_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 50)  # an HDF5 signature, then nothing
    out = tmp_path / "out"
    assert main(_args(bad, "lava", out)) == 2
    assert "bad.h5: not a readable HDF5 file" in capsys.readouterr().err
    assert not out.exists()
    izh = save_network(tmp_path / "izh.h5", _spec_with("izhikevich"))
    assert main(_args(izh, "lava-fixed", out)) == 2
    assert "model 'izhikevich' cannot be exported to Lava" in capsys.readouterr().err
    lif = save_network(tmp_path / "lif.h5", _spec_with("lif"))
    assert main(_args(lif, "nir", out)) == 2
    assert "refractory period t_ref = 2 ms" in capsys.readouterr().err
    theta = save_network(tmp_path / "theta.h5", _spec_with("theta"))  # no task to check on
    assert main(_args(theta, "lava", out)) == 2
    assert "needs its metadata 'task'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.long
@pytest.mark.parametrize("model,n_in,n", [("cuba_lif", 40, 100), ("lif", 20, 40)])
def test_long_export_runs_stay_identical(model, n_in, n):
    """10,000 steps through the whole export: Brian2 == Lava float spike for spike, Lava
    fixed == the Loihi reference."""
    steps = 10_000
    _, spec = random_cuba_network(n_in=n_in, n=n, steps=steps, seed=7, model=model,
                                  w_in=0.6 / n_in, w_rec=0.02)
    metrics, _, _, runs = compare(spec, steps)
    assert runs["reference"].spikes["p"].sum() > 5000
    assert metrics["spike_mismatches"] == 0
    assert metrics["populations"]["p"]["spike_time_mismatches_float"] == 0
    assert metrics["spike_count_max_difference_float"] == 0
