"""Brian2's own examples re-written in brainkit, each compared with the plain-Brian2 original in one run.

Every module beside this one is one example of Brian2's documentation (``ORIGINAL`` names
its file in the brian-team/brian2 repository) written twice:

* ``plain_brian2(duration, seed)``: the original script as Brian2 users write it (only the
  duration, the seed and the sizes made parameters), on Brian2's runtime device with numpy
  code generation;
* ``with_brainkit(duration, seed)``: the same model through brainkit's public API
  (``brainkit.Network``, library models or the user's own equation strings), on the runtime
  backend with numpy code generation, so that both draw from the same random stream where the
  example's own random numbers are drawn in the same order;

and ``compare(a, b)`` returns a :class:`Comparison`: ``identical`` (the same spikes) where
both use the same random stream, else the statistic the example plots (rates, CV, an IF
curve, synfire propagation) within its sampling error.  ``QUICK`` is the duration the test
suite runs (``tests/test_brian2_examples.py``); ``DURATION`` the example's own.

The lines of code counted for the table are those of the two functions' bodies, without
docstrings, comments and blank lines.

    python examples/brian2/acceptance.py --out out/brian2_examples [--quick] [--only cuba ...]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import json
import os
import sys
import textwrap
import time
from dataclasses import asdict, dataclass, field
from typing import Any, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Comparison:
    """How brainkit's run of an example compares with plain Brian2's.

    Attributes
    ----------
    kind : str
        ``'identical'`` (the same spikes, neuron by neuron and step by step) or ``'statistic'``.
    ok : bool
        Identical spikes, or every statistic within its tolerance.
    rows : list of (name, brian2 value, brainkit value, tolerance)
        What was compared (for ``identical``: spike counts, tolerance 0).
    detail : str
        One line for the table (e.g. ``'22,463 spikes'`` or ``'rate 5.1 vs 5.2 Hz (+- 0.4)'``).
    """

    kind: str
    ok: bool
    rows: List[Tuple[str, float, float, float]] = field(default_factory=list)
    detail: str = ""


def spikes_identical(a_i, a_t, b_i, b_t, what: str = "spikes") -> Comparison:
    """``identical`` when two spike trains (indices, times in seconds) are the same spikes
    (sorted by time then index; times equal to 1e-9 s, i.e. on the same step)."""
    import numpy as np

    def order(i, t):
        i, t = np.asarray(i, dtype=int), np.asarray(t, dtype=float)
        k = np.lexsort((i, np.round(t * 1e9)))
        return i[k], t[k]

    (ai, at), (bi, bt) = order(a_i, a_t), order(b_i, b_t)
    same = len(ai) == len(bi) and np.array_equal(ai, bi) and np.allclose(at, bt, atol=1e-9,
                                                                         rtol=0)
    return Comparison("identical", bool(same), [(what, float(len(ai)), float(len(bi)), 0.0)],
                      f"{len(ai):,} {what}" + ("" if same else f" vs {len(bi):,}: differ"))


def within(rows: List[Tuple[str, float, float, float]], units: str = "") -> Comparison:
    """``statistic``: ok when every row's |brian2 - brainkit| <= tolerance."""
    ok = all(abs(a - b) <= tol for _, a, b, tol in rows)
    detail = "; ".join(f"{n} {a:.4g} vs {b:.4g} (+-{tol:.2g})" for n, a, b, tol in rows)
    return Comparison("statistic", bool(ok), [tuple(map(_num, r)) for r in rows], detail)


def _num(x):
    return x if isinstance(x, str) else float(x)


def code_lines(function) -> int:
    """Lines of code of ``function``'s body: no docstring, comments or blank lines."""
    source = textwrap.dedent(inspect.getsource(function))
    body = ast.parse(source).body[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                             ast.Constant):
        body = body[1:]
    lines = set()
    for node in body:
        lines.update(range(node.lineno, node.end_lineno + 1))
    text = source.splitlines()
    return sum(1 for n in lines if text[n - 1].strip() and not text[n - 1].strip().startswith("#"))


def examples() -> List[str]:
    """Names of the example modules in this folder (sorted)."""
    return sorted(f[:-3] for f in os.listdir(HERE)
                  if f.endswith(".py") and f != "acceptance.py" and not f.startswith("_"))


def load(name: str):
    """Import example module ``name`` from this folder."""
    spec = importlib.util.spec_from_file_location(f"brian2_example_{name}",
                                                  os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_example(name: str, quick: bool = False, seed: int = 1) -> dict:
    """Run example ``name`` both ways and compare: a row of the table."""
    m = load(name)
    duration = m.QUICK if quick else m.DURATION
    t0 = time.perf_counter()
    a = m.plain_brian2(duration, seed)
    t1 = time.perf_counter()
    b = m.with_brainkit(duration, seed)
    t2 = time.perf_counter()
    c = m.compare(a, b)
    return dict(example=name, title=(m.__doc__ or name).strip().splitlines()[0],
                original=m.ORIGINAL, duration=str(duration), seed=seed,
                comparison=asdict(c), loc_brian2=code_lines(m.plain_brian2),
                loc_brainkit=code_lines(m.with_brainkit),
                seconds_brian2=round(t1 - t0, 2), seconds_brainkit=round(t2 - t1, 2))


def table(rows: List[dict]) -> str:
    """The closing table, as Markdown."""
    out = ["| example | Brian2 original | result | compared | LOC Brian2 | LOC brainkit |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        c = r["comparison"]
        out.append(f"| {r['example']} | {r['original']} | "
                   f"{'PASS' if c['ok'] else 'FAIL'} {c['kind']} | {c['detail']} | "
                   f"{r['loc_brian2']} | {r['loc_brainkit']} |")
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/brian2_examples")
    parser.add_argument("--quick", action="store_true", help="the test suite's durations")
    parser.add_argument("--only", nargs="*", help="example names (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
    from brainkit.fileio import write_json

    names = args.only or examples()
    unknown = sorted(set(names) - set(examples()))
    if unknown:
        print(f"error: no example named {', '.join(unknown)} (have: {', '.join(examples())})",
              file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for k, name in enumerate(names, 1):
        print(f"[{k}/{len(names)}] {name} ...", flush=True)
        rows.append(run_example(name, quick=args.quick, seed=args.seed))
        c = rows[-1]["comparison"]
        print(f"    {'PASS' if c['ok'] else 'FAIL'} {c['kind']}: {c['detail']}", flush=True)
    write_json(os.path.join(args.out, "acceptance.json"), rows)
    text = table(rows)
    with open(os.path.join(args.out, "acceptance.md.tmp"), "w") as f:
        f.write(text + "\n")
    os.replace(os.path.join(args.out, "acceptance.md.tmp"), os.path.join(args.out, "acceptance.md"))
    print(text)
    return 0 if all(r["comparison"]["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
