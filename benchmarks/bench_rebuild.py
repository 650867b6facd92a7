"""Benchmark: what a script run again spends before its simulation starts (the build cache).

A user's script builds a network and runs it; run again unchanged, it should not pay for code
generation, sympy integration or the compiler again (:mod:`brainkit.build_cache`).  This runs
one script twice, each in a fresh Python process, against a fresh cache folder, and prints per
run: the import of brainkit and Brian2, everything ``Network.run`` does before and after the
binary (building the Brian2 objects, generating code, compiling or taking the binary from the
cache, reading the results back) and the binary's run itself.

The script is a network of the kind Brian2 users write (``bench_networks.brainkit_network``:
CUBA, COBA or COBAHH with N neurons, two connections, compiled-in initial values), on
cpp_standalone with brainkit's defaults.

    python benchmarks/bench_rebuild.py [--models cuba cobahh] [--n 4000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import brainkit, brian2
sys.path.insert(0, {here!r})
from bench_networks import brainkit_network
t_import = time.perf_counter() - t0
t1 = time.perf_counter()
net, kwargs = brainkit_network({model!r}, {n}, duration_ms=100.0)
res = net.run(100 * brian2.ms, **kwargs)
total = time.perf_counter() - t1
print(json.dumps({{"import": t_import, "binary": net.engine.run_s,
                  "before_and_after": total - net.engine.run_s,
                  "cache_hit": net.engine.cache_hit, "spikes": int(len(res.spikes["P"][0]))}}))
"""


def run_twice(model: str, n: int) -> list:
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as cache:
        env = {**os.environ, "BRAINKIT_BUILD_CACHE": cache}
        code = SCRIPT.format(here=str(HERE), model=model, n=n)
        out = []
        for _ in range(2):
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               env=env)
            if r.returncode:
                sys.exit(f"bench_rebuild: the script failed:\n{r.stderr[-2000:]}")
            row = json.loads(r.stdout.strip().splitlines()[-1])
            row["process"] = time.perf_counter() - t0
            out.append(row)
        return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["cuba", "cobahh"])
    parser.add_argument("--n", type=int, default=4000)
    args = parser.parse_args(argv)
    print(f"{'model':8} {'run':>5} | {'import s':>8} {'build+read s':>12} {'binary s':>8} "
          f"{'process s':>9} | cache hit  spikes")
    for model in args.models:
        for k, row in enumerate(run_twice(model, args.n), 1):
            print(f"{model:8} {k:>5} | {row['import']:8.2f} {row['before_and_after']:12.2f} "
                  f"{row['binary']:8.2f} {row['process']:9.2f} | {str(row['cache_hit']):9} "
                  f"{row['spikes']:7d}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
