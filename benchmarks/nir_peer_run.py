"""Run NIR graphs in a peer simulator (snnTorch or Norse), or export a peer's own network to NIR.

Runs inside the peer environment ``.venv-bench`` (Python 3.11, torch CPU, snntorch 1.0.0,
norse 1.1.0, nir 1.0.8, nirtorch 2.6) and never imports brainkit; ``benchmarks/nir_peers.py``
drives it through ``subprocess``::

    .venv-bench/bin/python benchmarks/nir_peer_run.py run --peer snntorch|norse \\
        --graph G.nir --inputs X.npz --out Y.npz [--dt SECONDS]
    .venv-bench/bin/python benchmarks/nir_peer_run.py export --peer snntorch|norse \\
        --kind ff_lif|ff_cubalif|rec_cubalif --seed S --dt SECONDS --inputs X.npz \\
        --out-graph G.nir --out Y.npz

``run`` reads the graph (``nir.read``), imports it with the peer's own importer
(``snntorch.import_nir.import_from_nir``; ``norse.torch.from_nir(graph, dt=dt)``), drives it
one step at a time with the arrays of X.npz (one per Input node, (steps, n), batch dimension 1
added) and saves every Output node's value per step in Y.npz, keyed by the Output node's name.

``export`` builds a small network natively in the peer (two layers: Linear -> LIF/CubaLIF ->
Linear -> LIF/CubaLIF, the first layer recurrent for ``rec_cubalif``; seeded weights), exports
it with the peer's own exporter (``snntorch.export_nir.export_to_nir``,
``norse.torch.to_nir``), writes it with ``nir.write`` and saves the NATIVE network's output
spikes on X.npz (its single input) in Y.npz under ``output`` (steps, n).  The graph's time step
is reported in the summary (``graph_dt``): snnTorch's exporter writes its time constants for a
hard-coded dt = 1e-4 s whatever ``--dt`` says.

When the peer refuses or crashes (or its exporter writes a graph that contradicts the native
network, e.g. Norse 1.1's ``tau = dt * tau``), Y.npz holds ``__error__``: one line, the error's
type and message; the exit status is still 0 (the caller reports it).  Bad arguments exit 2.
Everything the peers print goes to stderr; stdout carries one JSON summary line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import traceback
from pathlib import Path

import numpy as np

SNNTORCH_DT = 1e-4  # snntorch/export_nir.py and import_nir.py hard-code this time step


class RunnerError(ValueError):
    """Bad arguments or input files (not the peer's doing): exit status 2."""


class PeerBug(RuntimeError):
    """The peer's exporter wrote a graph that does not describe the native network;
    ``arrays``: what the native run gave (saved beside ``__error__``, for inspection)."""

    def __init__(self, message: str, arrays=None):
        super().__init__(message)
        self.arrays = arrays or {}


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or "(no message)"
    where = ""
    tb = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(tb):  # the innermost frame inside the peer's packages
        if "site-packages" in fr.filename:
            pkg = fr.filename.split("site-packages/")[-1]
            where = f" [{pkg}:{fr.lineno}]"
            break
    return f"{type(exc).__name__}: {msg}{where}"


def _load_inputs(path: str) -> dict:
    with np.load(path) as f:
        return {k: np.asarray(f[k], np.float32) for k in f.files}


def _save(path: str, arrays: dict) -> None:
    """np.savez to ``path`` through a temporary file + rename (readers never see half)."""
    import os
    import tempfile

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".npz", dir=p.parent)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _error_arrays(text: str) -> dict:
    return {"__error__": np.array(text)}


# ------------------------------------------------------------------------ run
def _graph_io(graph):
    import nir

    ins = [k for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    outs = [k for k, v in graph.nodes.items() if isinstance(v, nir.Output)]
    return ins, outs


def _to_numpy(y) -> np.ndarray:
    import torch

    if isinstance(y, torch.Tensor):
        y = y.detach()
        if y.is_sparse:
            y = y.to_dense()
        y = y.numpy()
    y = np.asarray(y, np.float32)
    return y.reshape(y.shape[1:]) if y.ndim >= 2 and y.shape[0] == 1 else y.ravel()


def run_snntorch(graph, x: np.ndarray, outs, steps: int) -> dict:
    """snnTorch: ``import_from_nir`` -> a nirtorch (torch.fx) GraphModule,
    ``module(input, state) -> (*outputs, state)``.  Its neurons are built with
    ``init_hidden=True`` (state inside the modules: reset before the run); the fx state dict
    carries the previous outputs of recurrent nodes (passed back each step)."""
    import torch
    import snntorch.utils
    from snntorch.import_nir import import_from_nir

    net = import_from_nir(graph)
    snntorch.utils.reset(net)  # zeroes the hidden state of every snnTorch neuron
    state = None
    rec = {k: [] for k in outs}
    with torch.no_grad():
        for t in range(steps):
            res = net(torch.from_numpy(x[t][None]), state)
            if not isinstance(res, tuple) or len(res) != len(outs) + 1:
                raise RuntimeError(f"the imported module returned {type(res).__name__} of "
                                   f"length {len(res) if isinstance(res, tuple) else '-'}, "
                                   f"expected {len(outs)} output(s) + state")
            *ys, state = res
            for k, y in zip(outs, ys):
                rec[k].append(_to_numpy(y))
    return {k: np.stack(v) for k, v in rec.items()}


def run_norse(graph, x: np.ndarray, outs, steps: int, dt: float) -> dict:
    """Norse: ``from_nir(graph, dt=dt)`` -> a nirtorch GraphExecutor,
    ``module(input, state) -> (last output, state)``; ``state.cache`` holds every node's output
    of the step, so each Output node is read from there."""
    import torch
    from nirtorch.utils import sanitize_name
    from norse.torch import from_nir

    net = from_nir(graph, dt=dt)
    state = None
    rec = {k: [] for k in outs}
    with torch.no_grad():
        for t in range(steps):
            _, state = net(torch.from_numpy(x[t][None]), state)
            for k in outs:
                key = sanitize_name(k)
                if key not in state.cache:
                    raise RuntimeError(f"Output node '{k}' was not computed by the executor "
                                       f"(computed: {sorted(state.cache)})")
                rec[k].append(_to_numpy(state.cache[key]))
    return {k: np.stack(v) for k, v in rec.items()}


def cmd_run(a) -> dict:
    import nir

    graph = nir.read(a.graph)
    inputs = _load_inputs(a.inputs)
    ins, outs = _graph_io(graph)
    if len(ins) != 1:
        raise RunnerError(f"the graph has {len(ins)} Input nodes ({ins}); both peers' "
                         "executors drive exactly one")
    if ins[0] not in inputs:
        raise RunnerError(f"{a.inputs} has no array for Input node '{ins[0]}' "
                         f"(has {sorted(inputs)})")
    x = inputs[ins[0]]
    if x.ndim != 2:
        raise RunnerError(f"input '{ins[0]}' has shape {x.shape}, expected (steps, n)")
    steps = x.shape[0]
    if a.peer == "snntorch":
        return run_snntorch(graph, x, outs, steps)
    return run_norse(graph, x, outs, steps, a.dt)


# --------------------------------------------------------------------- export
SIZES = {"n_in": 20, "n_h": 30, "n_out": 10}
# per-step decays of the native networks (snnTorch's alpha/beta; Norse: dt/tau)
BETA, ALPHA = 0.9, 0.8


def _weights(rng, n_post, n_pre, mean, sd):
    return rng.normal(mean, sd, (n_post, n_pre)).astype(np.float32)


def _layer_weights(kind: str, seed: int, gain: float):
    """Seeded weights (post, pre) of the two layers (+ recurrent), scaled by ``gain`` (the
    input -> membrane gain of a unit weight in the peer's neuron)."""
    rng = np.random.default_rng(seed)
    n_in, n_h, n_out = SIZES["n_in"], SIZES["n_h"], SIZES["n_out"]
    W1 = _weights(rng, n_h, n_in, 0.08, 0.1) / gain
    W2 = _weights(rng, n_out, n_h, 0.1, 0.15) / gain
    Wr = None
    if kind == "rec_cubalif":
        Wr = (_weights(rng, n_h, n_h, 0.0, 0.1) * (rng.random((n_h, n_h)) < 0.5)) / gain
        np.fill_diagonal(Wr, 0)
    return W1, W2, Wr


def _linear(W):
    import torch

    m = torch.nn.Linear(W.shape[1], W.shape[0], bias=False)
    m.weight.data = torch.from_numpy(np.ascontiguousarray(W))
    return m


def export_snntorch(kind: str, seed: int, x: np.ndarray):
    """snnTorch: nn.Sequential(Linear, Leaky|Synaptic|RSynaptic, Linear, Leaky|Synaptic), reset
    to zero without delay, state inside the modules (init_hidden=True)."""
    import torch
    import snntorch as snn
    import snntorch.utils
    from snntorch.export_nir import export_to_nir

    cuba = kind != "ff_lif"
    # a unit input moves mem by 1 (Leaky) or by 1/(1-alpha) in all (Synaptic)
    W1, W2, Wr = _layer_weights(kind, seed, 1.0 / (1 - ALPHA) if cuba else 1.0)

    def neuron(n, recurrent=False, output=False):
        # per-neuron tensors: with scalar beta/threshold (snnTorch's documented usage) the
        # exporter writes 0-d LIF/CubaLIF parameters and nir's type inference (called by
        # export_to_nir) fails: "type mismatch: 0.output: [[30]] -> 1.input: []"
        kw = dict(beta=torch.full((n,), BETA), threshold=torch.ones(n), reset_mechanism="zero",
                  reset_delay=False, init_hidden=True, output=output)
        if recurrent:
            m = snn.RSynaptic(alpha=torch.full((n,), ALPHA), all_to_all=True,
                              linear_features=n, **kw)
            m.recurrent.weight.data = torch.from_numpy(Wr)
            m.recurrent.bias.data.zero_()
            return m
        if cuba:
            return snn.Synaptic(alpha=torch.full((n,), ALPHA), **kw)
        return snn.Leaky(**kw)

    net = torch.nn.Sequential(_linear(W1), neuron(SIZES["n_h"], recurrent=Wr is not None),
                              _linear(W2), neuron(SIZES["n_out"], output=True))

    def native():
        snntorch.utils.reset(net)
        out = []
        with torch.no_grad():
            for t in range(x.shape[0]):
                y = net(torch.from_numpy(x[t][None]))
                out.append(_to_numpy(y[0] if isinstance(y, tuple) else y))
        return np.stack(out)

    spikes = native()  # before the export: the exporter runs the network on sample data
    snntorch.utils.reset(net)
    with torch.no_grad():
        # ignore_dims=[0]: the batch dimension of the sample (without it nir's type inference
        # fails: "input.output: [[ 1 20]] -> 0.input: [[20]]")
        graph = export_to_nir(net, torch.zeros(1, SIZES["n_in"]), ignore_dims=[0])
    return graph, spikes, SNNTORCH_DT


def export_norse(kind: str, seed: int, x: np.ndarray, dt: float):
    """Norse: SequentialState(Linear, LIFBoxCell|LIFCell|LIFRecurrentCell, Linear,
    LIFBoxCell|LIFCell) with per-neuron parameter tensors (nir.write refuses Norse's scalar
    defaults), run with its state passed back every step."""
    import torch
    import norse.torch as nt
    from norse.torch import to_nir

    d_v, d_u = 1 - BETA, 1 - ALPHA
    tau_mem, tau_syn = dt / d_v, dt / d_u
    cuba = kind != "ff_lif"
    # LIFBox: a unit input moves v by d_v; LIF: i jumps by the input, v gets d_v i per step
    W1, W2, Wr = _layer_weights(kind, seed, d_v / d_u if cuba else d_v)

    def params(n, recurrent=False):
        ones = torch.ones(n)
        if recurrent:  # LIFRecurrentCell fills its initial v with v_leak: needs a scalar
            return nt.LIFParameters(tau_syn_inv=ones / tau_syn, tau_mem_inv=ones / tau_mem,
                                    v_leak=torch.as_tensor(0.0), v_th=ones, v_reset=0 * ones)
        if cuba:
            return nt.LIFParameters(tau_syn_inv=ones / tau_syn, tau_mem_inv=ones / tau_mem,
                                    v_leak=0 * ones, v_th=ones, v_reset=0 * ones)
        return nt.LIFBoxParameters(tau_mem_inv=ones / tau_mem, v_leak=0 * ones, v_th=ones,
                                   v_reset=0 * ones)

    def neuron(n):
        return nt.LIFCell(params(n), dt=dt) if cuba else nt.LIFBoxCell(params(n), dt=dt)

    n_in, n_h, n_out = SIZES["n_in"], SIZES["n_h"], SIZES["n_out"]
    if Wr is not None:
        rec = nt.LIFRecurrentCell(n_in, n_h, p=params(n_h, True), dt=dt, autapses=False)
        rec.input_weights.data = torch.from_numpy(W1)
        rec.recurrent_weights.data = torch.from_numpy(Wr)
        net = nt.SequentialState(rec, _linear(W2), neuron(n_out))
    else:
        net = nt.SequentialState(_linear(W1), neuron(n_h), _linear(W2), neuron(n_out))

    out, state = [], None
    with torch.no_grad():
        for t in range(x.shape[0]):
            y, state = net(torch.from_numpy(x[t][None]), state)
            out.append(_to_numpy(y))
    spikes = np.stack(out)
    with torch.no_grad():
        graph = to_nir(net, torch.zeros(n_in), dt=dt)
    return graph, spikes, dt, lambda: _check_norse_graph(graph, net, kind, dt)


def _check_norse_graph(graph, net, kind: str, dt: float) -> None:
    """Refuse (PeerBug) a Norse graph that lost a layer or does not describe the native
    layers (Norse 1.1, norse/torch/utils/export_nir.py): time constants written as
    ``dt / tau_mem_inv`` (= dt * tau, lines 29-30, 37, 44), and a LIFCell, whose current jumps
    by its whole input, written as a CubaLIF with w_in = 1 (NIR's tau_syn dI/dt = -I + w_in S
    read per step, as Norse's own from_nir reads it, needs w_in = tau_syn / dt)."""
    import nir
    import norse.torch as nt

    cells = [m for m in net if isinstance(m, (nt.LIFCell, nt.LIFBoxCell, nt.LIFRecurrentCell))]
    nodes = [v for v in graph.nodes.values() if isinstance(v, (nir.LIF, nir.CubaLIF))]
    if len(nodes) != len(cells):
        names = [type(m).__name__ for m in net]
        raise PeerBug(f"norse.torch.to_nir wrote {len(nodes)} neuron node(s) for the "
                      f"{len(cells)} neuron layer(s) of {names}")
    problems = []
    first = lambda v: float(np.asarray(v).flat[0])  # noqa: E731
    for cell, node in zip(cells, nodes):
        tau_mem = 1.0 / first(cell.p.tau_mem_inv)
        written = first(node.tau_mem if isinstance(node, nir.CubaLIF) else node.tau)
        if not np.isclose(written, tau_mem, rtol=1e-5):
            problems.append(f"tau = {written:.3g} s for a layer with tau_mem = {tau_mem:.3g} s "
                            "(dt / tau_mem_inv = dt * tau; norse/torch/utils/export_nir.py:29-44)")
        if isinstance(node, nir.CubaLIF):
            want = (1.0 / first(cell.p.tau_syn_inv)) / dt
            if not np.isclose(first(node.w_in), want, rtol=1e-5):
                problems.append(f"w_in = {first(node.w_in):g} for a LIFCell whose current jumps "
                                f"by its whole input (per-step reading: w_in = tau_syn / dt = "
                                f"{want:g}; norse/torch/utils/export_nir.py:27-33)")
    if problems:
        uniq = list(dict.fromkeys(problems))
        raise PeerBug("norse.torch.to_nir wrote " + "; ".join(uniq))


def cmd_export(a):
    import nir

    inputs = _load_inputs(a.inputs)
    if len(inputs) != 1:
        raise RunnerError(f"{a.inputs} must hold one input array, has {sorted(inputs)}")
    x = next(iter(inputs.values()))
    if x.ndim != 2 or x.shape[1] != SIZES["n_in"]:
        raise RunnerError(f"input of shape {x.shape}, expected (steps, {SIZES['n_in']})")
    check = None
    if a.peer == "snntorch":
        graph, spikes, graph_dt = export_snntorch(a.kind, a.seed, x)
    else:
        graph, spikes, graph_dt, check = export_norse(a.kind, a.seed, x, a.dt)
    missing = [k for k, v in graph.nodes.items() if v is None]
    if missing:
        raise PeerBug(f"{a.peer}'s exporter returned no NIR node for module(s) {missing} (no "
                      "rule for them: the layer is dropped"
                      + ("; norse/torch/utils/export_nir.py:61 'return None' for "
                         "LIFRecurrentCell)" if a.peer == "norse" else ")"))
    Path(a.out_graph).parent.mkdir(parents=True, exist_ok=True)
    nir.write(a.out_graph, graph)  # written even when refused below, to be inspected
    nir.read(a.out_graph)  # what the caller will read: fail here, with the peer named
    if check is not None:
        try:
            check()
        except PeerBug as exc:
            raise PeerBug(str(exc), {"output": spikes}) from None
    return {"output": spikes}, graph_dt


# ----------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a NIR graph in a peer")
    r.add_argument("--peer", choices=("snntorch", "norse"), required=True)
    r.add_argument("--graph", required=True)
    r.add_argument("--inputs", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--dt", type=float, default=1e-3, help="seconds (Norse's integration step)")
    e = sub.add_parser("export", help="export a peer-native network to NIR and run it")
    e.add_argument("--peer", choices=("snntorch", "norse"), required=True)
    e.add_argument("--kind", choices=("ff_lif", "ff_cubalif", "rec_cubalif"), required=True)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--dt", type=float, default=SNNTORCH_DT, help="seconds")
    e.add_argument("--inputs", required=True)
    e.add_argument("--out-graph", required=True)
    e.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    for p in ([a.graph] if a.cmd == "run" else []) + [a.inputs]:
        if not Path(p).is_file():
            print(json.dumps({"cmd": a.cmd, "peer": a.peer, "ok": False,
                              "error": f"{p} does not exist"}))
            return 2

    summary = {"cmd": a.cmd, "peer": a.peer}
    if a.cmd == "export":
        summary.update(kind=a.kind, seed=a.seed)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            if a.cmd == "run":
                arrays, graph_dt = cmd_run(a), None
            else:
                arrays, graph_dt = cmd_export(a)
    except RunnerError as exc:
        print(json.dumps(dict(summary, ok=False, error=str(exc))))
        return 2
    except Exception as exc:  # noqa: BLE001 - any failure of the peer is a result
        text = _one_line(exc)
        _save(a.out, dict(getattr(exc, "arrays", {}), **_error_arrays(text)))
        summary.update(ok=False, error=text)
    else:
        _save(a.out, arrays)
        summary.update(ok=True, spikes={k: int(np.sum(v != 0)) for k, v in arrays.items()},
                       shapes={k: list(v.shape) for k, v in arrays.items()})
        if graph_dt is not None:
            summary["graph_dt"] = graph_dt
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
