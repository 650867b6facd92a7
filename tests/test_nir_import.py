"""NIR graphs as other tools write them: every primitive brainkit can represent imports and
runs as the peers' documented equations say (tests/nir_reference.py), the rest is refused by
name; exported graphs run in the reference as brainkit runs them."""

import nir
import numpy as np
import pytest
from brian2 import ms

from brainkit.exporters.cuba import ExportError, to_cuba
from brainkit.exporters.loihi_ref import simulate
from brainkit.exporters.nir import from_nir, to_nir
from brainkit.loihi.random_network import random_cuba_network

from nir_reference import simulate as reference

DT = 1e-3
T = 150


def _inputs(graph, seed=0, p=0.3):
    rng = np.random.default_rng(seed)
    return {k: (rng.random((T, int(np.prod(v.input_type["input"])))) < p).astype(float)
            for k, v in graph.nodes.items() if isinstance(v, nir.Input)}


def _brainkit_outputs(graph, x, **kw):
    """Import ``graph``, run it (loihi_ref: the map Brian2 runs) and return its Outputs."""
    spec = from_nir(graph, dt=DT, **kw)
    names = spec.metadata["nir_names"]
    own = {b: a for a, b in names.items()}
    res = simulate(to_cuba(spec), {own[k]: v for k, v in x.items()}, T,
                   record={r.population: ["v"] for r in spec.readouts.values()})
    out = {}
    for o, where in spec.metadata.get("nir_outputs", {}).items():
        if where.endswith(".spikes"):
            out[o] = res.spikes[where[:-len(".spikes")]].astype(float)
        else:
            r = spec.readouts[own[o]]
            out[o] = res.traces[r.population]["v"] @ np.asarray(r.weights).T
    return spec, out


def _agree(graph, seed=0, p=0.3, min_spikes=20, **kw):
    x = _inputs(graph, seed, p)
    spec, mine = _brainkit_outputs(graph, x, **kw)
    ref = reference(graph, x, DT, timing="brainkit")
    assert set(mine) == set(ref)
    for k in ref:
        np.testing.assert_allclose(mine[k], ref[k], rtol=1e-9, atol=1e-9, err_msg=k)
    spikes = sum(float(np.sum(v)) for k, v in ref.items() if set(np.unique(v)) <= {0.0, 1.0})
    assert spikes >= min_spikes, f"a test without activity: {spikes} spikes"
    return spec


def _lif(n, **kw):
    p = dict(tau=np.full(n, 5e-3), r=np.full(n, 2.0), v_leak=np.full(n, 0.1),
             v_threshold=np.full(n, 1.0), v_reset=np.full(n, 0.0))
    p.update(kw)
    return nir.LIF(**p)


def _cuba(n, **kw):
    p = dict(tau_syn=np.full(n, 4e-3), tau_mem=np.full(n, 8e-3), r=np.full(n, 3.0),
             v_leak=np.zeros(n), v_threshold=np.full(n, 0.5), v_reset=np.zeros(n),
             w_in=np.full(n, 1.5))
    p.update(kw)
    return nir.CubaLIF(**p)


def _w(rng, n_out, n_in, scale=1.0):
    return rng.normal(0.6, 0.5, (n_out, n_in)) * scale


def test_snntorch_style_names_feed_forward_lif_and_cubalif():
    rng = np.random.default_rng(1)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([5])),
        "0": nir.Linear(weight=_w(rng, 6, 5, 2)),
        "1_LIFNeuronTorch": _lif(6, v_leak=np.zeros(6), v_reset=np.full(6, -0.2)),
        "2": nir.Affine(weight=_w(rng, 4, 6, 3), bias=np.zeros(4)),
        "3": _cuba(4, r=np.array([3.0, 2.0, 4.0, 3.0])),   # r differs per neuron: fine
        "output": nir.Output(output_type=np.array([4]))},
        edges=[("input", "0"), ("0", "1_LIFNeuronTorch"), ("1_LIFNeuronTorch", "2"),
               ("2", "3"), ("3", "output")])
    spec = _agree(g)
    assert set(spec.populations) == {"n1_LIFNeuronTorch", "n3"}


@pytest.mark.parametrize("spike,disc", [("step", "exp"), ("delta", "euler"), ("delta", "exp")])
def test_other_conventions_scale_the_input_as_documented(spike, disc):
    """delta: a spike moves a LIF's v by r w / tau (not d_v r w); exp: d = 1 - exp(-dt/tau)."""
    g = nir.NIRGraph(nodes={"x": nir.Input(input_type=np.array([1])),
                            "w": nir.Linear(weight=np.array([[0.5]])),
                            "lif": _lif(1, v_threshold=np.array([1e9])),
                            "y": nir.Output(output_type=np.array([1]))},
                     edges=[("x", "w"), ("w", "lif"), ("lif", "y")])
    spec = from_nir(g, dt=DT, spike=spike, discretisation=disc)
    P = spec.populations["lif"]
    d = DT / 5e-3 if disc == "euler" else -np.expm1(-DT / 5e-3)
    assert P.parameters["d_v"] == pytest.approx(d, rel=1e-12)
    gain = d * 2.0 if spike == "step" else 2.0 / 5e-3
    assert spec.connections["x->lif"].weights[0, 0] == pytest.approx(0.5 * gain, rel=1e-12)
    np.testing.assert_allclose(P.initial["bias"], d * 0.1, rtol=1e-12)


def test_recurrence_direct_edges_bias_and_zero_dim_parameters():
    """Input -> LIF and LIF -> LIF edges without a Linear (identity), a recurrent Linear, an
    Affine bias into a LIF (a constant drive), scalar (0-d) parameters, thresholds that
    differ between neurons."""
    rng = np.random.default_rng(2)
    n = 5
    W = rng.normal(0, 0.8, (n, n))
    np.fill_diagonal(W, 0)
    g = nir.NIRGraph(nodes={
        "x": nir.Input(input_type=np.array([n])),
        "a": nir.LIF(tau=np.array(4e-3), r=np.array(4.0), v_leak=np.array(0.0),
                     v_threshold=np.array(0.8), v_reset=np.array(0.0)),
        "rec": nir.Affine(weight=W, bias=np.full(n, 0.05)),
        "b": _lif(n, v_threshold=np.linspace(0.6, 1.4, n)),  # v in units of each threshold
        "y": nir.Output(output_type=np.array([n]))},
        edges=[("x", "a"), ("a", "rec"), ("rec", "a"), ("a", "b"), ("b", "y")],
        type_check=False)  # nir's type check cannot infer 0-d parameters
    spec = _agree(g)
    assert spec.populations["a"].n == n
    assert spec.connections["x->a"].weights.shape == (n, n)


def test_if_threshold_scale_and_integrators_read_out():
    rng = np.random.default_rng(3)
    g = nir.NIRGraph(nodes={
        "x": nir.Input(input_type=np.array([4])),
        "s": nir.Scale(scale=np.array([1.0, 2.0, 0.5, 1.5])),
        "if": nir.IF(r=np.full(4, 300.0), v_threshold=np.full(4, 1.0), v_reset=np.zeros(4)),
        "w": nir.Linear(weight=_w(rng, 3, 4)),
        "th": nir.Threshold(threshold=np.full(3, 0.7)),
        "w2": nir.Linear(weight=_w(rng, 2, 3)),
        "li": nir.LI(tau=np.full(2, 6e-3), r=np.full(2, 1.0), v_leak=np.zeros(2)),
        "cli": nir.CubaLI(tau_syn=np.full(2, 3e-3), tau_mem=np.full(2, 7e-3), r=np.ones(2),
                          v_leak=np.full(2, 0.1), w_in=np.ones(2)),
        "int": nir.I(r=np.full(2, 10.0)),
        "y_li": nir.Output(output_type=np.array([2])),
        "y_cli": nir.Output(output_type=np.array([2])),
        "y_int": nir.Output(output_type=np.array([2])),
        "y_lin": nir.Output(output_type=np.array([2])),
        "y_th": nir.Output(output_type=np.array([3]))},
        edges=[("x", "s"), ("s", "if"), ("if", "w"), ("w", "th"), ("th", "w2"),
               ("w2", "li"), ("w2", "cli"), ("w2", "int"), ("w2", "y_lin"),
               ("li", "y_li"), ("cli", "y_cli"), ("int", "y_int"), ("th", "y_th")])
    spec = _agree(g)
    assert set(spec.readouts) == {"y_li", "y_cli", "y_int", "y_lin"}
    assert spec.populations["li"].parameters["vth"] == np.inf


def test_convolution_pooling_flatten_and_a_nested_subgraph():
    rng = np.random.default_rng(4)
    C, H, W = 2, 6, 6
    conv = nir.Conv2d(input_shape=(H, W), weight=rng.normal(0.3, 0.4, (4, 1, 3, 3)),
                      stride=1, padding=1, dilation=1, groups=2, bias=np.full(4, 0.0))
    sub = nir.NIRGraph(nodes={
        "in": nir.Input(input_type=np.array([4 * 3 * 3])),
        "lin": nir.Linear(weight=_w(rng, 5, 36, 0.5)),
        "lif": _lif(5),
        "out": nir.Output(output_type=np.array([5]))},
        edges=[("in", "lin"), ("lin", "lif"), ("lif", "out")])
    g = nir.NIRGraph(nodes={
        "x": nir.Input(input_type=np.array([C, H, W])),
        "conv": conv,
        "lif1": nir.LIF(**{k: np.full((4, H, W), v) for k, v in dict(  # an image of neurons
            tau=5e-3, r=2.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0).items()}),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                              padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([4, 3, 3])}, start_dim=0),
        "sub": sub,
        "y": nir.Output(output_type=np.array([5]))},
        edges=[("x", "conv"), ("conv", "lif1"), ("lif1", "pool"), ("pool", "flat"),
               ("flat", "sub"), ("sub", "y")], type_check=False)
    spec = _agree(g, p=0.4)
    assert spec.populations["sub_lif"].n == 5 and spec.populations["lif1"].n == 4 * H * W


def test_conv1d_and_avgpool_match_the_reference():
    rng = np.random.default_rng(5)
    g = nir.NIRGraph(nodes={
        "x": nir.Input(input_type=np.array([2, 10])),
        "c": nir.Conv1d(input_shape=10, weight=rng.normal(0.5, 0.3, (3, 2, 3)), stride=2,
                        padding=1, dilation=1, groups=1, bias=np.array([0.0, 0.1, -0.1])),
        "lif": _lif(15, v_leak=np.zeros(15)),
        "y": nir.Output(output_type=np.array([15]))},
        edges=[("x", "c"), ("c", "lif"), ("lif", "y")], type_check=False)
    _agree(g, p=0.5)
    g2 = nir.NIRGraph(nodes={
        "x": nir.Input(input_type=np.array([1, 4, 4])),
        "p": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                           padding=np.array([0, 0])),
        "lif": _lif(4, v_leak=np.zeros(4), r=np.full(4, 8.0)),
        "y": nir.Output(output_type=np.array([4]))},
        edges=[("x", "p"), ("p", "lif"), ("lif", "y")], type_check=False)
    _agree(g2, p=0.5, min_spikes=5)


def _graph(node, n=3, extra_edges=(), **nodes):
    base = {"x": nir.Input(input_type=np.array([n])), "w": nir.Linear(weight=np.eye(n)),
            "z": node, "y": nir.Output(output_type=np.array([n]))}
    base.update(nodes)
    return nir.NIRGraph(nodes=base, edges=[("x", "w"), ("w", "z"), ("z", "y"),
                                           *extra_edges], type_check=False)


@pytest.mark.parametrize("graph,message", [
    (lambda: _graph(nir.Delay(delay=np.ones(3))), r"'z' \(Delay\): .*no per-connection delays"),
    (lambda: _graph(_cuba(3), extra_edges=[("x", "b"), ("b", "z")],
                    b=nir.Affine(weight=np.eye(3), bias=np.ones(3))),
     None),
    (lambda: _graph(_lif(3, tau=np.array([5e-3, 6e-3, 5e-3]))), "'z' .*tau differs"),
    (lambda: _graph(_lif(3), extra_edges=[("z", "q")], q=_lif(3)), None),
    (lambda: _graph(nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3)),
                    extra_edges=[("z", "q"), ("q", "y")], q=_lif(3)),
     "'z' \\(LI\\) feeds 'q': it does not spike"),
    (lambda: _graph(_lif(3), extra_edges=[("w", "nowhere")]), "no node 'nowhere'"),
    (lambda: _graph(nir.Linear(weight=np.eye(3)), extra_edges=[("z", "w")]), "algebraic loop"),
])
def test_what_brainkit_cannot_run_is_refused_by_name(graph, message):
    g = graph()
    if message is None:  # graphs that must import (a check that the refusals are specific)
        if "b" in g.nodes:  # an Affine bias into a CubaLIF: refused
            with pytest.raises(ExportError, match="'z' \\(CubaLIF\\): a constant input"):
                from_nir(g, dt=DT)
            return
        from_nir(g, dt=DT)
        return
    with pytest.raises(ExportError, match=message):
        from_nir(g, dt=DT)


def test_dt_is_required_and_checked_against_the_graph(tmp_path):
    g = _graph(_lif(3))
    with pytest.raises(ExportError, match="does not state its time step: give dt"):
        from_nir(g)
    assert from_nir(g, dt=0.5 * ms).dt == 0.5 * ms
    _, spec = random_cuba_network(n_in=3, n=4, steps=20, seed=0)
    written = to_nir(spec)
    with pytest.raises(ExportError, match="states dt = 0.001, not 0.002"):
        from_nir(written, dt=2e-3)
    with pytest.raises(ExportError, match="states spike_amplitude = step, not delta"):
        from_nir(written, spike="delta")


def test_an_exported_network_runs_in_the_reference_as_in_brainkit():
    """brainkit -> NIR (numbers only) -> the peers' equations: the same spikes, both timings
    (peer timing: the single recurrent layer's spikes come one step earlier)."""
    x, spec = random_cuba_network(n_in=6, n=10, steps=T, seed=3, w_in=0.6, w_rec=0.3)
    graph = to_nir(spec, readouts=False)
    for node in graph.nodes.values():
        node.metadata = {}
    from brainkit.exporters.inputs import input_values

    inp = input_values(spec, T)
    mine = simulate(to_cuba(spec), inp, T).spikes["p"].astype(float)
    assert mine.sum() > 50
    np.testing.assert_array_equal(reference(graph, inp, DT, "brainkit")["p.spikes"], mine)
    np.testing.assert_array_equal(reference(graph, inp, DT, "peer")["p.spikes"][:-1], mine[1:])


def test_cli_imports_a_graph(tmp_path, capsys):
    from brainkit.cli import main
    from brainkit.netfile import load_network

    path = tmp_path / "g.nir"
    nir.write(path, _graph(_lif(3)))
    out = tmp_path / "net.h5"
    assert main(["import", str(path), "--dt", "0.5ms", "--out", str(out)]) == 0
    spec = load_network(out)
    assert spec.dt == 0.5 * ms and spec.populations["z"].model == "cuba_lif"
    assert main(["import", str(path), "--out", str(tmp_path / "b.h5")]) == 2
    assert "give dt" in capsys.readouterr().err
    assert main(["import", str(path), "--dt", "1ms", "--out", str(out)]) == 2  # no overwrite
    assert "exists" in capsys.readouterr().err
