"""Export to NIR: files load with nir.read and type-check, round trips keep weights and
parameters, graphs from other tools import, unsupported models are refused."""

import argparse
import json

import nir
import numpy as np
import pytest
from brian2 import Mohm, ms, mV

from brainkit.loihi.cli import export_main as main
from brainkit.exporters.cuba import ExportError
from brainkit.loihi.random_network import random_cuba_network
from brainkit.exporters.nir import from_nir, read_nir, to_nir, write_nir
from brainkit.netfile import ReadoutSpec, save_network


def _close(a, b):
    if isinstance(a, str):
        return a == b
    return np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=0) and \
        getattr(a, "dim", None) == getattr(b, "dim", None)


@pytest.mark.parametrize("model", ["cuba_lif", "lif"])
def test_written_file_type_checks_and_round_trips(tmp_path, model):
    _, spec = random_cuba_network(n_in=4, n=6, steps=50, seed=1, model=model)
    spec.readouts["out"] = ReadoutSpec("out", "p", "spikes",
                                       np.random.default_rng(0).normal(size=(2, 6)), None)
    path = write_nir(tmp_path / "net.nir", spec)
    graph = nir.read(path, type_check=True)  # nir's own reader and type check
    assert {k: type(v).__name__ for k, v in graph.nodes.items()} == {
        "in": "Input", "in->p": "Linear", "p->p": "Linear", "p": "CubaLIF", "out": "Affine",
        "out.out": "Output"}
    assert ("p", "p->p") in graph.edges and ("p->p", "p") in graph.edges
    lif = graph.nodes["p"]
    tau_syn = float(lif.tau_syn[0])
    # NIR semantics: an input spike moves I by weight / tau_syn, i.e. the brainkit jump w
    np.testing.assert_allclose(graph.nodes["in->p"].weight,
                               spec.connections["in->p"].weights.T * tau_syn, rtol=1e-12)
    if model == "lif":
        P = spec.populations["p"].parameters
        assert tau_syn == pytest.approx(5e-3)
        np.testing.assert_allclose(lif.tau_mem, float(P["tau_m"]))
        np.testing.assert_allclose(lif.r, float(P["R"]))
        np.testing.assert_allclose(lif.v_threshold, float(P["V_th"]))
        np.testing.assert_allclose(lif.v_leak, float(P["E_L"]))
    else:  # the same decay per step: exp(-dt/tau) = 1 - d
        np.testing.assert_allclose(np.exp(-1e-3 / lif.tau_syn), 1 - 0.2, rtol=1e-12)
        np.testing.assert_allclose(np.exp(-1e-3 / lif.tau_mem), 1 - 0.1, rtol=1e-12)
    back = read_nir(path)
    assert back.dt == spec.dt and back.metadata == spec.metadata
    for name, c in spec.connections.items():
        d = back.connections[name]
        assert (d.pre, d.post, d.synapse, d.weight_unit) == (c.pre, c.post, c.synapse,
                                                             c.weight_unit)
        np.testing.assert_allclose(d.weights, c.weights, rtol=1e-12, atol=0)
        assert set(d.parameters) == set(c.parameters)
        assert all(_close(d.parameters[k], v) for k, v in c.parameters.items())
    p, q = spec.populations["p"], back.populations["p"]
    assert (q.model, q.n, q.equations, q.threshold, q.reset) == (p.model, p.n, p.equations,
                                                                 p.threshold, p.reset)
    assert set(q.parameters) == set(p.parameters)
    assert all(_close(q.parameters[k], v) for k, v in p.parameters.items())
    assert all(_close(q.initial[k], v) for k, v in p.initial.items())
    np.testing.assert_array_equal(back.readouts["out"].weights, spec.readouts["out"].weights)
    i, t = spec.inputs["in"].parameters["indices"], spec.inputs["in"].parameters["times"]
    np.testing.assert_array_equal(back.inputs["in"].parameters["indices"], i)
    np.testing.assert_allclose(back.inputs["in"].parameters["times"] / ms, t / ms)


def test_a_foreign_cubalif_graph_imports_as_lif():
    n = 3
    ones = np.ones(n)
    graph = nir.NIRGraph(nodes={
        "x": nir.Input(input_type=np.array([2])),
        "w": nir.Linear(weight=np.full((n, 2), 2e-12)),
        "lif": nir.CubaLIF(tau_syn=4e-3 * ones, tau_mem=20e-3 * ones, r=5e7 * ones,
                           v_leak=-0.065 * ones, v_threshold=-0.05 * ones,
                           v_reset=-0.065 * ones),
        "y": nir.Output(output_type=np.array([n]))},
        edges=[("x", "w"), ("w", "lif"), ("lif", "y")])
    spec = from_nir(graph)
    P = spec.populations["lif"].parameters
    assert P["tau_m"] == 20 * ms and P["R"] == 50 * Mohm and P["V_th"] == -50 * mV
    c = spec.connections["w"]
    assert c.synapse == "exp_current" and c.parameters["tau_syn"] == 4 * ms
    np.testing.assert_allclose(c.weights, np.full((2, n), 2e-12 / 4e-3))  # jumps in amp
    graph.nodes["lif"].tau_mem = np.array([0.02, 0.03, 0.02])
    with pytest.raises(ExportError, match="tau_mem differs between neurons"):
        from_nir(graph)


def test_unsupported_models_and_bad_files_are_refused(tmp_path):
    from brainkit import load_model
    from brainkit.netfile import NetworkSpec, PopulationSpec

    m = load_model("theta")
    spec = NetworkSpec(dt=0.1 * ms)
    spec.populations["h"] = PopulationSpec("h", "theta", 2, m.equations, m.threshold, m.reset,
                                           None, m.method, dict(m.parameters), dict(m.initial))
    with pytest.raises(ExportError, match="model 'theta' has no NIR form"):
        to_nir(spec)
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"nonsense")
    with pytest.raises(ExportError, match=r"bad\.nir: not a readable NIR file"):
        read_nir(bad)


def test_cli_writes_a_nir_file(tmp_path):
    _, spec = random_cuba_network(n_in=5, n=6, steps=100, seed=2, w_in=0.2)
    path = save_network(tmp_path / "net.h5", spec)
    out = tmp_path / "nir"
    assert main(argparse.Namespace(network=str(path), to="nir", out=str(out), steps=100,
                                   trials=None, check=True)) == 0
    assert isinstance(nir.read(out / "network.nir"), nir.NIRGraph)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["nir_roundtrip_max_weight_error"] < 1e-12
    assert metrics["spike_mismatches"] == 0


def test_lif_nodes_export_and_import(tmp_path):
    """cuba_lif with d_u = 1 (no current memory) is NIR's LIF; a foreign LIF imports as it."""
    from brainkit.exporters.inputs import input_values
    from brainkit.exporters.cuba import to_cuba
    from brainkit.exporters.loihi_ref import simulate

    _, spec = random_cuba_network(n_in=5, n=6, steps=200, seed=3, w_in=0.4)
    spec.populations["p"].parameters["d_u"] = 1.0
    graph = nir.read(write_nir(tmp_path / "lif.nir", spec))
    assert type(graph.nodes["p"]).__name__ == "LIF"
    back = read_nir(tmp_path / "lif.nir")
    np.testing.assert_allclose(back.connections["p->p"].weights,
                               spec.connections["p->p"].weights, rtol=1e-12)
    # without brainkit's metadata the native numbers give the same network
    for node in graph.nodes.values():
        node.metadata = {}
    graph.metadata = {}
    foreign = from_nir(graph, dt=spec.dt)  # a foreign graph does not carry dt
    assert foreign.populations["p"].parameters["d_v"] == pytest.approx(
        spec.populations["p"].parameters["d_v"], rel=1e-12)
    x = input_values(spec, 200)
    spec.populations["p"].initial["bias"] = 0.0  # NIR's LIF has no bias
    a = simulate(to_cuba(spec), x, 200).spikes["p"]
    b = simulate(to_cuba(foreign), x, 200).spikes["p"]
    assert a.sum() > 20
    np.testing.assert_array_equal(a, b)
