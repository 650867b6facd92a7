"""Every graph NIR's own test suite builds, and every ``.nir`` file of NIR's repository, through
brainkit's importer: each must import or be refused with an ExportError naming the node; any
other exception is a crash (counted, listed, exit 1).

NIR's sources are not part of brainkit; give a checkout of github.com/neuromorphs/NIR::

    git clone https://github.com/neuromorphs/NIR /tmp/nir-src
    .venv/bin/python benchmarks/nir_graphs.py --nir-src /tmp/nir-src [--out out/nir_graphs]

The script runs NIR's tests (``pytest NIR/tests``, against the installed ``nir``) with
``nir.NIRGraph`` instrumented to keep every graph constructed, then imports each with
``from_nir(graph, dt=0.1 ms)`` (snnTorch's dt), and reads each ``.nir`` file with ``nir.read`` (a file nir itself
cannot read is reported as such) before importing it.  Results: a table on stdout and
``results.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import traceback
from pathlib import Path


def _collect_test_graphs(src: Path):
    """Run NIR's test suite with NIRGraph instrumented; return (graphs, pytest exit code)."""
    import nir
    import pytest

    graphs = []
    original = nir.NIRGraph.__init__

    def keep(self, *args, **kwargs):
        original(self, *args, **kwargs)
        graphs.append(self)
    nir.NIRGraph.__init__ = keep
    sys.path.insert(0, str(src))
    try:
        code = pytest.main(["-q", "-p", "no:cacheprovider", "--import-mode=prepend",
                            "--rootdir", str(src), "-o", "addopts=", str(src / "tests")])
    finally:
        nir.NIRGraph.__init__ = original
        sys.path.remove(str(src))
    return graphs, int(code)


def _outcome(graph):
    from brainkit.exporters.cuba import ExportError
    from brainkit.exporters.nir import from_nir

    try:
        spec = from_nir(graph, dt=1e-4)
    except ExportError as exc:
        return "refused", str(exc)
    except Exception as exc:  # noqa: BLE001 - a crash is what this script looks for
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return "crash", f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:" \
                        f"{where.lineno})"
    return "imported", f"{len(spec.populations)} populations, {len(spec.connections)} " \
                       f"connections, {len(spec.readouts)} readouts"


def _kinds(graph) -> str:
    return ",".join(sorted({type(n).__name__ for n in graph.nodes.values()}))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nir-src", required=True, help="a checkout of github.com/neuromorphs/NIR")
    p.add_argument("--out", default="out/nir_graphs")
    args = p.parse_args(argv)
    src = Path(args.nir_src)
    if not (src / "tests").is_dir():
        print(f"nir_graphs: {src} has no tests/ folder (a NIR checkout is needed)",
              file=sys.stderr)
        return 2
    import nir

    graphs, code = _collect_test_graphs(src)
    rows = []
    seen = set()
    for g in graphs:
        if id(g) in seen:
            continue
        seen.add(id(g))
        outcome, detail = _outcome(g)
        rows.append({"source": "nir tests", "nodes": _kinds(g), "outcome": outcome,
                     "detail": detail})
    for path in sorted(src.rglob("*.nir")):
        name = str(path.relative_to(src))
        try:
            g = nir.read(path)
        except Exception as exc:  # noqa: BLE001 - nir's own reader failing is reported
            rows.append({"source": name, "nodes": "", "outcome": "nir.read fails",
                         "detail": f"{type(exc).__name__}: {exc}"[:200]})
            continue
        outcome, detail = _outcome(g)
        rows.append({"source": name, "nodes": _kinds(g), "outcome": outcome, "detail": detail})
    counts = collections.Counter(r["outcome"] for r in rows)
    print(f"nir {nir.__version__}; NIR's tests exit code {code}; {len(graphs)} graphs built")
    for r in rows:
        if r["source"] != "nir tests" or r["outcome"] == "crash":
            print(f"  {r['outcome']:15s} {r['source']:55s} [{r['nodes']}] {r['detail'][:160]}")
    reasons = collections.Counter(re.sub(r"'[^']*'|\b[0-9][0-9.e-]*\b", "#", r["detail"])[:90]
                                  for r in rows if r["outcome"] == "refused")
    print("refusals by reason:")
    for reason, k in reasons.most_common():
        print(f"  {k:4d}  {reason}")
    print("summary:", dict(counts))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from brainkit.fileio import atomic_write

    with atomic_write(out / "results.json") as tmp:
        Path(tmp).write_text(json.dumps({"counts": counts, "rows": rows}, indent=1))
    return 1 if counts.get("crash") else 0


if __name__ == "__main__":
    sys.exit(main())
