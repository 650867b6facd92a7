"""Trained theta/gated networks -> CUBA LIF (an approximation): the pieces are checked
against their definitions, the pipeline end to end on a small random network."""

import numpy as np
import pytest

from brainkit.exporters.cli import compare_task
from brainkit.exporters.cuba import to_cuba
from brainkit.exporters.gated import (fit_lif, lif_inputs, lif_rate, map_to_cuba_lif, readout,
                                      theta_rate)
from brainkit.exporters.loihi_ref import simulate


def _theta_spec(seed=0):
    from brainkit.training.cli import build_model, network_spec, settings
    from brainkit.training.tasks import get_task

    task = get_task("xor")
    h = settings("xor", quick=True)
    h["n_hidden"] = 12
    model = build_model(task, h, backend="runtime")
    return network_spec(model, model.init_params(seed), task, h,
                        dict(task="xor", seed=seed, gate_width=1.0, tau_s=0.01)), task


def test_fitted_lif_follows_the_theta_f_i_curve():
    d_v, c, err = fit_lif(1e-3, 10e-3, 3.0)
    I = np.linspace(0.2, 3.0, 8)
    theta, lif = theta_rate(I, 1e-3, 10e-3), lif_rate(I + c, d_v)
    assert err < 0.005  # spikes per step, rms over [-0.5, 3]
    np.testing.assert_allclose(lif, theta, atol=0.01)
    # the theta neuron's own rate: sqrt(I) / (pi tau) in continuous time
    assert theta[-1] == pytest.approx(np.sqrt(3.0) / (np.pi * 10.0), rel=0.1)


def test_prewhitened_input_gives_the_unfiltered_current():
    """No spikes (huge threshold): Lava's u must equal d_v U x[k] at every step."""
    spec, task = _theta_spec()
    mapped, info = map_to_cuba_lif(spec, batch=2)
    mapped.populations["hidden"].parameters["vth"] = 1e9
    batch = task.test_batch(0, 2)
    z = lif_inputs(batch.x, info["d_u"])
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


def test_task_network_export_pipeline():
    spec, _ = _theta_spec(1)
    m, cuba, fixed, runs = compare_task(spec, trials=4, chunk=2)  # two chunks of trials
    assert m["fixed_point_chunks"] == 2
    assert m["spike_mismatches"] == 0
    assert m["rate_correlation_float"] == pytest.approx(1.0)
    assert m["accuracy_lif_brian2"] == m["accuracy_lava_float"]
    for k in ("accuracy_brian2", "accuracy_lava_fixed"):
        assert 0.0 <= m[k] <= 1.0
    assert runs["reference"].spikes["hidden"].sum() > 0


def test_mapped_task_network_is_a_valid_nir_graph(tmp_path):
    import nir

    from brainkit.exporters.gated import task_network
    from brainkit.exporters.nir import read_nir, write_nir

    spec, _ = _theta_spec(2)
    with pytest.raises(Exception, match="model 'theta' has no NIR form"):
        write_nir(tmp_path / "theta.nir", spec)
    mapped = task_network(spec)
    path = write_nir(tmp_path / "mapped.nir", mapped)
    graph = nir.read(path, type_check=True)
    assert type(graph.nodes["hidden"]).__name__ == "CubaLIF"
    back = read_nir(path)
    np.testing.assert_array_equal(back.readouts["out"].weights, spec.readouts["out"].weights)
    np.testing.assert_allclose(back.connections["hidden->hidden"].weights,
                               mapped.connections["hidden->hidden"].weights, rtol=1e-12)


def test_finetuned_network_runs_the_same_in_brainkit_brian2_and_lava(tmp_path):
    """``brainkit finetune`` writes a cuba_lif task network holding the chip's weights; its
    export runs it in Brian2, Lava float and Lava fixed_pt, and brainkit's hardware model
    (what the fine-tuning trains) scores the held-out trials exactly as Brian2 does."""
    from brainkit.netfile import load_network, save_network
    from brainkit.training.hardware import (finetune_file, forward, params_from_spec,
                                            whiten_inputs)

    spec, task = _theta_spec(3)
    save_network(tmp_path / "theta.h5", spec)
    m = finetune_file(tmp_path / "theta.h5", tmp_path / "ft", steps=15, trials=16,
                      progress=False)
    assert {"accuracy_hardware_before", "accuracy_hardware_after"} <= set(m)
    assert (tmp_path / "ft" / "finetune.png").stat().st_size > 0
    tuned = load_network(tmp_path / "ft" / "network.h5")
    assert next(iter(tuned.populations.values())).model == "cuba_lif"
    e, *_ = compare_task(tuned, trials=16, chunk=8)
    assert e["spike_mismatches"] == 0
    assert e["accuracy_brian2"] == e["accuracy_lif_brian2"] == e["accuracy_lava_float"]
    params, model, _ = params_from_spec(tuned)
    batch = task.test_batch(3, 16)
    tr = forward(params, whiten_inputs(batch.x, model.d_u), model)
    assert task.score(tr.o, batch) == e["accuracy_lif_brian2"]
