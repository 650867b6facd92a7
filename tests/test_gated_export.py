"""Trained reset-free/gated networks -> CUBA LIF (an approximation): the pieces are checked
against their definitions, the pipeline end to end on a small random network."""

import numpy as np
import pytest

from brainkit.exporters.cuba import to_cuba
from brainkit.exporters.loihi_ref import simulate
from brainkit.library import load_model
from brainkit.loihi.check import compare_task
from brainkit.loihi.mapping import (fit_lif, lif_inputs, lif_rate, neuron_rate, readout, tile,
                                    to_cuba_lif)
from brainkit.tasknet import TaskNetwork


def _task_network(seed=0, neuron="theta"):
    from brainkit.training.cli import build_model, settings, task_network
    from brainkit.training.tasks import get_task

    task = get_task("xor")
    h = settings("xor", quick=True, neuron=neuron)
    h["n_hidden"] = 12
    model = build_model(task, h, backend="runtime")
    return task_network(model, model.init_params(seed), task, h,
                        dict(task="xor", seed=seed, gate_width=1.0, tau_s=0.01)), task


def test_fitted_lif_follows_the_theta_f_i_curve():
    theta = load_model("theta")
    d_v, c, err = fit_lif(theta, 1e-3, 3.0)
    I = np.linspace(0.2, 3.0, 8)
    rate, lif = neuron_rate(theta, I, 1e-3), lif_rate(I + c, d_v)
    assert err < 0.005  # spikes per step, rms over [-0.5, 3]
    np.testing.assert_allclose(lif, rate, atol=0.01)
    # the theta neuron's own rate: sqrt(I) / (pi tau) in continuous time
    assert rate[-1] == pytest.approx(np.sqrt(3.0) / (np.pi * 10.0), rel=0.1)


def test_neuron_rate_is_the_rotators_analytic_rate():
    """Active rotator, tau dtheta/dt = 1 + I - sin theta: period 2 pi tau / sqrt(I (2 + I))."""
    rot = load_model("rotator")
    I = np.array([-0.2, 0.3, 1.0, 2.0])
    rate = neuron_rate(rot, I, 1e-4, steps=20000)  # spikes per 0.1 ms step
    expected = np.sqrt(np.clip(I * (2 + I), 0, None)) / (2 * np.pi * 10e-3) * 1e-4
    np.testing.assert_allclose(rate, expected, atol=2e-4 * 1e-4 * 1e3 + 1.0 / 20000)


def test_task_network_file_round_trip_keeps_the_orientation(tmp_path):
    from brainkit.tasknet import load_task_network, save_task_network

    net, _ = _task_network(4)
    save_task_network(tmp_path / "net.h5", net)
    back = load_task_network(tmp_path / "net.h5")
    for k in ("U", "W", "O", "bias"):
        np.testing.assert_array_equal(getattr(back, k), getattr(net, k))
    assert (back.neuron, back.synapse, back.task, back.seed) == ("theta", "gated", "xor", 4)
    assert back.readout_tau_s == net.readout_tau_s and back.weight_unit == "second"
    spec = net.to_spec()  # the file stores (n_pre, n_post)
    np.testing.assert_array_equal(spec.connections["hidden->hidden"].weights, net.W.T)


def test_prewhitened_input_gives_the_unfiltered_current():
    """No spikes (huge threshold): Lava's u must equal d_v U x[k] at every step."""
    net, task = _task_network()
    lif = to_cuba_lif(net)
    mapped = tile(lif.to_spec(), 2)
    mapped.populations["hidden"].parameters["vth"] = 1e9
    batch = task.test_batch(0, 2)
    z = lif_inputs(batch.x, lif.neuron_params["d_u"])
    net = to_cuba(mapped)
    net.connections["hidden->hidden"].weights[:] = 0
    ref = simulate(net, {"in": z}, task.steps, record={"hidden": ["u"]})
    U = mapped.connections["in->hidden"].weights  # (batch*n_in, batch*n), d_v U per block
    x = np.transpose(batch.x, (1, 0, 2)).reshape(task.steps, -1)
    np.testing.assert_allclose(ref.traces["hidden"]["u"][1:], (x @ U)[1:], atol=1e-12)


def test_readout_is_the_threshold_synapse_trace():
    spikes = np.zeros((6, 2), bool)
    spikes[1, 0] = True
    o = readout(spikes, np.array([[1.0, 0.0]]), 1e-3, 10e-3, batch=1)
    np.testing.assert_allclose(o[0, :, 0], [0, 0, 100, 90, 81, 72.9])


@pytest.mark.parametrize("neuron", ["theta", "rotator"])
def test_task_network_export_pipeline(neuron):
    net, _ = _task_network(1, neuron)
    m, cuba, fixed, runs = compare_task(net, trials=4, chunk=2)  # two chunks of trials
    assert m["fixed_point_chunks"] == 2
    assert m["spike_mismatches"] == 0
    assert m["rate_correlation_float"] == pytest.approx(1.0)
    assert m["accuracy_lif_brian2"] == m["accuracy_lava_float"]
    for k in ("accuracy_brian2", "accuracy_lava_fixed"):
        assert 0.0 <= m[k] <= 1.0
    assert runs["reference"].spikes["hidden"].sum() > 0


def test_mapped_task_network_is_a_valid_nir_graph(tmp_path):
    import nir

    from brainkit.exporters.nir import read_nir, write_nir

    net, _ = _task_network(2)
    spec = net.to_spec()
    with pytest.raises(Exception, match="model 'theta' cannot be exported to NIR"):
        write_nir(tmp_path / "theta.nir", spec)
    mapped = to_cuba_lif(net).to_spec()
    path = write_nir(tmp_path / "mapped.nir", mapped)
    graph = nir.read(path, type_check=True)
    assert type(graph.nodes["hidden"]).__name__ == "CubaLIF"
    back = read_nir(path)
    np.testing.assert_array_equal(back.readouts["out"].weights, spec.readouts["out"].weights)
    np.testing.assert_allclose(back.connections["hidden->hidden"].weights,
                               mapped.connections["hidden->hidden"].weights, rtol=1e-12)
    # from the numbers alone: the readout trace is the graph's LI filter, o = O s exactly
    from brainkit.exporters.nir import from_nir

    foreign = from_nir(graph, use_metadata=False, analog_inputs=True)
    r = foreign.readouts["out_out"]
    x = {"in": np.random.default_rng(0).normal(0.5, 1.0, (300, 2))}
    ref = simulate(to_cuba(mapped), x, 300)
    mine = simulate(to_cuba(foreign), x, 300, record={r.population: ["v"]})
    np.testing.assert_array_equal(mine.spikes["hidden"], ref.spikes["hidden"])
    o = readout(ref.spikes["hidden"].astype(float), mapped.readouts["out"].weights, 1e-3,
                mapped.metadata["readout_tau_s"], 1)[0]
    assert ref.spikes["hidden"].sum() > 20 and np.ptp(o) > 0
    np.testing.assert_allclose(mine.traces[r.population]["v"] @ r.weights.T, o, atol=1e-12)


def test_finetuned_network_runs_the_same_in_brainkit_brian2_and_lava(tmp_path):
    """``brainkit finetune`` writes a cuba_lif task network holding the chip's weights; its
    export runs it in Brian2, Lava float and Lava fixed_pt, and brainkit's hardware model
    (what the fine-tuning trains) scores the held-out trials exactly as Brian2 does."""
    from brainkit.loihi.finetune import finetune_file, forward, params_from_network
    from brainkit.loihi.mapping import whiten_inputs
    from brainkit.tasknet import load_task_network, save_task_network

    net, task = _task_network(3)
    save_task_network(tmp_path / "theta.h5", net)
    m = finetune_file(tmp_path / "theta.h5", tmp_path / "ft", steps=15, trials=16,
                      progress=False)
    assert {"accuracy_hardware_before", "accuracy_hardware_after"} <= set(m)
    assert (tmp_path / "ft" / "finetune.png").stat().st_size > 0
    tuned = load_task_network(tmp_path / "ft" / "network.h5")
    assert tuned.neuron == "cuba_lif" and tuned.fixed_point_scales["hidden"] > 0
    e, *_ = compare_task(tuned, trials=16, chunk=8)
    assert e["spike_mismatches"] == 0
    assert e["accuracy_brian2"] == e["accuracy_lif_brian2"] == e["accuracy_lava_float"]
    params, model = params_from_network(tuned)
    batch = task.test_batch(3, 16)
    tr = forward(params, whiten_inputs(batch.x, model.d_u), model)
    assert task.score(tr.o, batch) == e["accuracy_lif_brian2"]


@pytest.mark.long
@pytest.mark.standalone
def test_a_rotator_network_trains_finetunes_and_exports_end_to_end(tmp_path):
    """Nothing in training or export is theta-specific: ``brainkit train xor --neuron rotator``,
    then ``finetune`` and ``export`` (NIR; Lava fixed point checked against Brian2 and the
    Loihi reference) work on the active-rotator network with no rotator code."""
    import json

    import nir

    from brainkit.cli import main
    from brainkit.tasknet import load_task_network

    net_dir, ft, out = tmp_path / "rot", tmp_path / "ft", tmp_path / "lava"
    assert main(["train", "xor", "--quick", "--neuron", "rotator", "--steps", "3",
                 "--out", str(net_dir)]) == 0
    net = load_task_network(net_dir / "network.h5")
    assert (net.neuron, net.synapse) == ("rotator", "gated")
    assert main(["export", str(net_dir / "network.h5"), "--to", "nir",
                 "--out", str(tmp_path / "nir")]) == 0
    graph = nir.read(tmp_path / "nir" / "network.nir")
    assert type(graph.nodes["hidden"]).__name__ == "CubaLIF"
    assert main(["finetune", str(net_dir / "network.h5"), "--out", str(ft), "--steps", "3",
                 "--trials", "4"]) == 0
    assert main(["export", str(ft / "network.h5"), "--to", "lava-fixed", "--out", str(out),
                 "--check", "--trials", "4"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["spike_mismatches"] == 0 and m["checked"]
    assert m["accuracy_brian2"] == m["accuracy_lif_brian2"] == m["accuracy_lava_float"]
    assert (out / "lava_network.npz").stat().st_size > 0
