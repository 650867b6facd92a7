"""NIR interoperability: brainkit against snnTorch and Norse, spike for spike, both directions.

    .venv/bin/python benchmarks/nir_peers.py [--peer-python .venv-bench/bin/python]
        [--xor out/xor_loihi/network.h5] [--steps 250] [--seed 0] [--dt-ms 0.1]
        [--out out/nir_peers/results.json]

The peers live in their own environment (``.venv-bench``: Python 3.11, torch CPU, snntorch
1.0.0, norse 1.1.0, nir, nirtorch); this script runs them through ``subprocess`` with
``benchmarks/nir_peer_run.py`` (which does not import brainkit).

* **brainkit -> peer**: random CUBA networks (:func:`brainkit.loihi.random_network.
  random_cuba_network`: one ``cuba_lif`` population fed by 20 spike inputs; feed-forward (the
  recurrent connection removed) and recurrent, each without and with the random per-neuron
  bias) and, with ``--xor``, the fine-tuned XOR network (``brainkit.netfile.load_network``,
  readout left out).  Exported with ``to_nir(spec, spike="step", discretisation="euler",
  readouts=False)``; each peer imports the graph with its own importer and runs it on the same
  input; brainkit's spikes are :func:`brainkit.exporters.loihi_ref.simulate` of
  ``to_cuba(spec)`` (what Brian2 produces, tested elsewhere).
* **peer -> brainkit**: ``nir_peer_run.py export`` builds a two-layer network natively in the
  peer (``ff_lif``, ``ff_cubalif``, ``rec_cubalif``), exports it with the peer's exporter and
  runs the native network; brainkit imports the graph (``from_nir(graph, dt=...)``, at the
  time step the peer's graph is written for: snnTorch hard-codes 1e-4 s) and simulates it as
  above.

Inputs are seeded Bernoulli spike trains (probability ``--rate`` per channel and step).  The
random networks run at ``--dt-ms`` (default 0.1 ms: snnTorch's importer assumes dt = 1e-4 s
whatever the graph says - at another dt it refuses a CubaLIF, ``r != tau_mem / 1e-4``, and
would integrate a LIF with the wrong decay; one more feed-forward network at dt = 1 ms shows
it); the XOR network keeps its own dt.

**Timing convention.** brainkit (like Lava and Loihi) delivers a spike one step after it is
emitted, on every edge; the peers deliver feed-forward spikes within the same step (recurrent
edges: one step later in both).  So the spikes brainkit computes for a population at
feed-forward depth ``k`` (the fewest neuron layers on a path from the input, itself included;
computed from the graph's edges) are the peer's delayed by ``k`` steps: the script compares
``brainkit[k:]`` with ``peer[:-k]`` and counts every step and neuron where the two differ
(a spike in one and not the other), over every Output of the graph.

Each brainkit -> peer row also says whether ``to_nir(spec, peer=...)`` (brainkit's export
for that peer) refuses the graph for a known limit or bug of the peer
(:func:`brainkit.exporters.nir.peer_problems`; the reasons are in the JSON): a mismatch or a
peer's refusal should come with such a refusal.

Outcomes: ``identical (K spikes)``; ``N mismatching spike events of K`` (K: brainkit's spikes
in the compared window); ``peer refused: ...`` (the peer's importer/exporter raised, or wrote a
graph contradicting its own network; the peer's source line is named); ``brainkit refused:
...``.  The table is printed and the results written (atomically) to ``--out``.  Exit status
0 whatever the outcomes; 2 when the peer environment or brainkit's NIR API is missing.
"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).resolve().with_name("nir_peer_run.py")
PEERS = ("snntorch", "norse")
KINDS = ("ff_lif", "ff_cubalif", "rec_cubalif")
N_IN_PEER = 20  # nir_peer_run.SIZES["n_in"]
MAKE_HINT = "create it with `make .venv-bench/.installed`"


class Refused(Exception):
    """A side refused or failed; str() is the one-line outcome."""


def _fail(message: str):
    print(f"nir_peers: {message}", file=sys.stderr)
    sys.exit(2)


# ----------------------------------------------------------------- environment
def check_peer_python(py: str) -> str:
    """The peer interpreter's path, or SystemExit(2) with one line naming the make target."""
    p = Path(py)
    if not p.is_absolute() and not p.exists():
        p = ROOT / p
    if not p.exists():
        _fail(f"peer interpreter {py} not found; {MAKE_HINT} "
                 "(Python 3.11 with torch, snntorch, norse, nir, nirtorch)")
    try:
        r = subprocess.run([str(p), "-c", "import snntorch, norse.torch, nir, nirtorch"],
                           capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _fail(f"cannot run {p}: {exc}; {MAKE_HINT}")
    if r.returncode != 0:
        last = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        _fail(f"{p} cannot import snntorch/norse/nir/nirtorch ({last}); "
                 f"{MAKE_HINT}")
    return str(p)


def check_brainkit_api():
    from brainkit.exporters import nir as bnir

    if "spike" not in inspect.signature(bnir.to_nir).parameters:
        _fail("brainkit.exporters.nir.to_nir has no 'spike' argument (the NIR "
                 "convention API is missing from this checkout)")
    return bnir


# ---------------------------------------------------------------------- peers
def run_peer(py: str, args, timeout: float = 900):
    """Run nir_peer_run.py with ``args``; (summary dict, arrays of --out) or Refused."""
    out = args[args.index("--out") + 1]
    try:
        r = subprocess.run([py, str(RUNNER), *args], capture_output=True, text=True,
                           timeout=timeout, cwd=str(ROOT))
    except subprocess.TimeoutExpired:
        raise Refused(f"peer runner timed out after {timeout:.0f} s") from None
    lines = [ln for ln in r.stdout.strip().splitlines() if ln.startswith("{")]
    summary = json.loads(lines[-1]) if lines else {}
    if r.returncode != 0 or not lines or not Path(out).is_file():
        tail = summary.get("error") or (r.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise Refused(f"peer runner failed (exit {r.returncode}): {tail}")
    with np.load(out) as f:
        arrays = {k: f[k] for k in f.files}
    if "__error__" in arrays:
        raise Refused(f"peer refused: {arrays['__error__'].item()}")
    return summary, arrays


# ----------------------------------------------------------------- graph depth
NEURON_TYPES = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Threshold", "NIRGraph")


def feedforward_depth(graph):
    """{node: fewest neuron nodes on a path from an Input to it, itself included} (0-1
    shortest paths: entering a neuron node costs one step of delay in brainkit)."""
    import heapq

    import nir

    succ = {}
    for a, b in graph.edges:
        succ.setdefault(a, []).append(b)
    cost = {k: int(type(v).__name__ in NEURON_TYPES) for k, v in graph.nodes.items()}
    dist = {}
    heap = [(0, k) for k, v in graph.nodes.items() if isinstance(v, nir.Input)]
    while heap:
        d, k = heapq.heappop(heap)
        if k in dist:
            continue
        dist[k] = d
        for b in succ.get(k, []):
            if b not in dist:
                heapq.heappush(heap, (d + cost.get(b, 0), b))
    return dist


def output_sources(graph):
    """{Output node: the node feeding it}."""
    import nir

    pre = {}
    for a, b in graph.edges:
        pre.setdefault(b, []).append(a)
    out = {}
    for k, v in graph.nodes.items():
        if isinstance(v, nir.Output):
            src = pre.get(k, [])
            if len(src) != 1:
                raise Refused(f"Output '{k}' has {len(src)} sources; expected one")
            out[k] = src[0]
    return out


# ---------------------------------------------------------------- comparison
def compare(brainkit: dict, peer: dict, shifts: dict) -> dict:
    """Count differing (step, neuron) spike events, per Output, over ``brainkit[k:]`` vs
    ``peer[:-k]``."""
    per, total_mis, total_b, total_p = {}, 0, 0, 0
    for name, b in brainkit.items():
        p = np.asarray(peer[name]) != 0
        b = np.asarray(b, bool)
        if p.shape != b.shape:
            raise Refused(f"output '{name}': peer shape {p.shape}, brainkit {b.shape}")
        k = shifts[name]
        bb, pp = (b[k:], p[:len(p) - k]) if k > 0 else (b, p)
        mis = int(np.sum(bb != pp))
        rows = np.flatnonzero(np.any(bb != pp, axis=1))
        per[name] = {"shift": k, "mismatches": mis, "brainkit_spikes": int(bb.sum()),
                     "peer_spikes": int(pp.sum()), "compared_steps": int(len(bb)),
                     "first_mismatch_step": int(rows[0] + k) if len(rows) else None}
        total_mis += mis
        total_b += int(bb.sum())
        total_p += int(pp.sum())
    outcome = (f"identical ({total_b} spikes)" if total_mis == 0 else
               f"{total_mis} mismatching spike events of {total_b}")
    return {"outcome": outcome, "status": "identical" if total_mis == 0 else "mismatch",
            "mismatches": total_mis, "brainkit_spikes": total_b, "peer_spikes": total_p,
            "outputs": per}


def bernoulli(rng, steps: int, n: int, rate: float) -> np.ndarray:
    return (rng.random((steps, n)) < rate).astype(np.float32)


def brainkit_spikes(spec, inputs: dict, steps: int) -> dict:
    from brainkit.exporters.cuba import to_cuba
    from brainkit.exporters.loihi_ref import simulate

    return simulate(to_cuba(spec), inputs, steps).spikes


# ------------------------------------------------------- brainkit -> peer
def brainkit_networks(a):
    """[(name, spec, inputs {name: (steps, n)})]."""
    from brainkit.exporters.inputs import input_values
    from brainkit.loihi.random_network import random_cuba_network

    nets = []
    for rec in (False, True):
        for bias in (False, True):
            _, spec = random_cuba_network(n_in=20, n=30, steps=a.steps, seed=a.seed,
                                          rate=a.rate, dt_ms=a.dt_ms)
            if not rec:
                del spec.connections["p->p"]
            if not bias:
                spec.populations["p"].initial["bias"] = np.zeros(spec.populations["p"].n)
            name = f"random {'recurrent' if rec else 'feed-forward'}{' + bias' if bias else ''}"
            nets.append((name, spec, input_values(spec, a.steps)))
    if a.dt_ms != 1.0:  # the same feed-forward network at dt = 1 ms (snnTorch assumes 0.1 ms)
        _, spec = random_cuba_network(n_in=20, n=30, steps=a.steps, seed=a.seed, rate=a.rate,
                                      dt_ms=1.0)
        del spec.connections["p->p"]
        spec.populations["p"].initial["bias"] = np.zeros(spec.populations["p"].n)
        nets.append(("random feed-forward, 1 ms", spec, input_values(spec, a.steps)))
    if a.xor:
        from brainkit.netfile import load_network

        spec = load_network(a.xor)
        rng = np.random.default_rng(a.seed + 1)
        x = {k: bernoulli(rng, a.steps, inp.n, a.xor_rate) for k, inp in spec.inputs.items()}
        nets.append(("xor fine-tuned", spec, x))
    return nets


def brainkit_to_peer(a, py: str, work: Path, bnir):
    from brian2 import second

    rows = []
    for name, spec, x in brainkit_networks(a):
        dt = float(spec.dt / second)
        slug = "_".join(name.replace("+", " ").replace(",", " ").split())
        base = {"network": name, "direction": "brainkit -> peer", "dt": dt,
                "steps": a.steps}
        try:
            graph = bnir.to_nir(spec, spike="step", discretisation="euler", readouts=False)
            gpath = bnir.write_graph(work / f"{slug}.nir", graph)
            ref = brainkit_spikes(spec, x, a.steps)
            srcs = output_sources(graph)
            depth = feedforward_depth(graph)
            b_out = {o: ref[s] for o, s in srcs.items()}
            shifts = {o: depth[s] for o, s in srcs.items()}
        except Exception as exc:  # noqa: BLE001 - reported in the table
            for peer in PEERS:
                rows.append(dict(base, peer=peer, status="brainkit refused",
                                 outcome=f"brainkit refused: {type(exc).__name__}: {exc}"))
            continue
        xpath = work / f"{slug}.inputs.npz"
        np.savez(xpath, **{k: np.asarray(v, np.float32) for k, v in x.items()})
        for peer in PEERS:
            problems = bnir.peer_problems(graph, peer)  # what to_nir(..., peer=peer) refuses
            row = dict(base, peer=peer, export_for_peer="ok" if not problems else
                       "refused: " + "; ".join(problems))
            try:
                _, y = run_peer(py, ["run", "--peer", peer, "--graph", str(gpath),
                                     "--inputs", str(xpath), "--dt", repr(dt),
                                     "--out", str(work / f"{slug}.{peer}.npz")])
                row.update(compare(b_out, y, shifts))
            except Refused as exc:
                row.update(status="refused", outcome=str(exc))
            rows.append(row)
            print(_row_text(row), file=sys.stderr, flush=True)
    return rows


# ------------------------------------------------------- peer -> brainkit
def peer_to_brainkit(a, py: str, work: Path, bnir):
    import nir

    rows = []
    rng = np.random.default_rng(a.seed + 2)
    x = bernoulli(rng, a.steps, N_IN_PEER, a.rate)
    xpath = work / "peer_export.inputs.npz"
    np.savez(xpath, input=x)
    for peer in PEERS:
        for kind in KINDS:
            row = {"network": kind, "direction": "peer -> brainkit", "peer": peer,
                   "steps": a.steps}
            gpath = work / f"{peer}_{kind}.nir"
            try:
                summary, y = run_peer(py, ["export", "--peer", peer, "--kind", kind,
                                           "--seed", str(a.seed), "--dt", repr(a.peer_dt),
                                           "--inputs", str(xpath), "--out-graph", str(gpath),
                                           "--out", str(work / f"{peer}_{kind}.native.npz")])
            except Refused as exc:
                row.update(status="refused", outcome=str(exc))
                rows.append(row)
                print(_row_text(row), file=sys.stderr, flush=True)
                continue
            row["dt"] = summary["graph_dt"]
            row.update(_brainkit_on_peer_graph(bnir, nir.read(str(gpath)), summary["graph_dt"],
                                               x, y["output"], a.steps))
            rows.append(row)
            print(_row_text(row), file=sys.stderr, flush=True)
    rows += _norse_bugs_undone(a, work, x, bnir)
    return rows


def _brainkit_on_peer_graph(bnir, graph, dt, x, native, steps) -> dict:
    """Import a peer's graph, run it in brainkit and compare with the peer's native spikes."""
    try:
        spec = bnir.from_nir(graph, dt=dt)
        srcs = output_sources(graph)
        depth = feedforward_depth(graph)
        if len(srcs) != 1:
            raise Refused(f"brainkit refused: the peer graph has {len(srcs)} Outputs; its "
                          "native run gives one")
        (o,) = srcs
        where = spec.metadata.get("nir_outputs", {}).get(o, "")
        if not where.endswith(".spikes"):
            raise Refused(f"brainkit refused: Output '{o}' is not a population's spikes in the "
                          f"import ({where!r})")
        (inp,) = spec.inputs  # the peers' networks have one input
        ref = brainkit_spikes(spec, {inp: x}, steps)
        return compare({o: ref[where[:-len(".spikes")]]}, {o: native}, {o: depth[srcs[o]]})
    except Refused as exc:
        return {"status": "brainkit refused", "outcome": str(exc)}
    except Exception as exc:  # noqa: BLE001 - reported in the table
        return {"status": "brainkit refused",
                "outcome": f"brainkit refused: {type(exc).__name__}: {exc}"}


def _norse_bugs_undone(a, work: Path, x, bnir):
    """Norse's feed-forward graphs with its two export bugs undone BY HAND (labelled as such,
    not silently): tau written as dt * tau (divided by dt here) and a LIFCell's w_in written
    as 1 (tau_syn / dt here).  Shows that brainkit runs what Norse's network computes once the
    graph says it."""
    import nir

    rows = []
    for kind in ("ff_lif", "ff_cubalif"):
        gpath, npath = work / f"norse_{kind}.nir", work / f"norse_{kind}.native.npz"
        if not (gpath.is_file() and npath.is_file()):
            continue
        with np.load(npath) as f:
            if "output" not in f.files:
                continue
            native = f["output"]
        graph = nir.read(str(gpath))
        for node in graph.nodes.values():
            if isinstance(node, nir.LIF):
                node.tau = np.asarray(node.tau) / a.peer_dt
            elif isinstance(node, nir.CubaLIF):
                node.tau_mem = np.asarray(node.tau_mem) / a.peer_dt
                node.tau_syn = np.asarray(node.tau_syn) / a.peer_dt
                node.w_in = np.asarray(node.tau_syn) / a.peer_dt
        row = {"network": f"{kind}, bugs undone", "direction": "peer -> brainkit",
               "peer": "norse", "steps": a.steps, "dt": a.peer_dt}
        row.update(_brainkit_on_peer_graph(bnir, graph, a.peer_dt, x, native, a.steps))
        rows.append(row)
        print(_row_text(row), file=sys.stderr, flush=True)
    return rows


# ----------------------------------------------------------------------- main
def _row_text(r, widths=(26, 17, 9)) -> str:
    cells = (r["network"], r["direction"], r["peer"])
    check = r.get("export_for_peer")
    note = "" if check is None else (
        "   [to_nir(peer=...): ok]" if check == "ok" else
        f"   [to_nir(peer=...) refuses: {check.count(';') + 1} known peer limit(s)]")
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths)) + "  " + r["outcome"] + note


def table(rows) -> str:
    head = {"network": "network", "direction": "direction", "peer": "peer", "outcome": "outcome"}
    lines = [_row_text(head), _row_text({k: "-" * len(v) for k, v in head.items()})]
    return "\n".join(lines + [_row_text(r) for r in rows])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer-python", default=".venv-bench/bin/python")
    ap.add_argument("--xor", default=None, help="a fine-tuned XOR network file (network.h5)")
    ap.add_argument("--steps", type=int, default=250)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.1, help="input spike probability per step")
    ap.add_argument("--xor-rate", type=float, default=0.1)
    ap.add_argument("--dt-ms", type=float, default=0.1, help="time step of the random networks")
    ap.add_argument("--peer-dt", type=float, default=1e-4,
                    help="seconds: the time step of the peers' native networks")
    ap.add_argument("--out", default="out/nir_peers/results.json")
    ap.add_argument("--keep", action="store_true",
                    help="keep graphs and arrays beside --out (in graphs/)")
    a = ap.parse_args(argv)

    py = check_peer_python(a.peer_python)
    bnir = check_brainkit_api()
    from brainkit.fileio import write_json

    out = Path(a.out)
    with tempfile.TemporaryDirectory(prefix="nir_peers.") as tmp:
        work = out.parent / "graphs" if a.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows = brainkit_to_peer(a, py, work, bnir) + peer_to_brainkit(a, py, work, bnir)
    print(table(rows))
    write_json(out, {"settings": {k: v for k, v in vars(a).items()},
                     "peer_python": py, "results": rows})
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
