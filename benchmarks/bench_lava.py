"""Steps per second of an exported network on Lava's CPU simulator (floating_pt and fixed_pt)
against the same network in Brian2 cpp_standalone, one run each.

    .venv/bin/python benchmarks/bench_lava.py [--n-in 100] [--n 200] [--steps 2000]
                                              [--out out/bench_lava.json]

The network is the random CUBA LIF network of :mod:`brainkit.loihi.random_network`
(``cuba_lif`` + ``delta`` synapses, recurrent); all three runs get the same input spikes, and
the script checks that Lava float and Brian2 spike identically and Lava fixed_pt equals the
Loihi reference before reporting a speed.  Times exclude building (Lava process creation,
Brian2 code generation and compilation, reported separately).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-in", type=int, default=100)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="out/bench_lava.json")
    a = ap.parse_args(argv)

    from brainkit.exporters.cuba import to_cuba
    from brainkit.exporters.fixed_point import quantise_inputs, to_fixed
    from brainkit.exporters.inputs import input_values
    from brainkit.loihi.lava_env import run_lava
    from brainkit.exporters.loihi_ref import simulate
    from brainkit.loihi.random_network import random_cuba_network
    from brainkit.network_spec import simulate_brian2

    _, spec = random_cuba_network(n_in=a.n_in, n=a.n, steps=a.steps, seed=a.seed,
                                  w_in=0.4 / a.n_in, w_rec=0.02 * np.sqrt(200 / a.n))
    x = input_values(spec, a.steps)
    cuba = to_cuba(spec)
    fixed = to_fixed(cuba, x, a.steps)
    xi = quantise_inputs(fixed, x)

    t0 = time.perf_counter()
    b2, res = simulate_brian2(spec, x, a.steps, backend="cpp_standalone")
    b2_total = time.perf_counter() - t0
    lf = run_lava(cuba, x, a.steps)
    lx = run_lava(fixed, xi, a.steps)
    ref = simulate(fixed, xi, a.steps)
    spikes = int(b2["p"].sum())
    same_float = bool(np.array_equal(b2["p"], lf.spikes["p"]))
    mismatches = int(np.sum(lx.spikes["p"] != ref.spikes["p"]))
    result = {
        "network": {"n_in": a.n_in, "n": a.n, "synapses": int(sum(
            np.count_nonzero(c.weights) for c in spec.connections.values())),
            "steps": a.steps, "spikes": spikes},
        "brian2_cpp_standalone": {"run_s": res.timings.get("run"),
                                  "compile_s": res.timings.get("compile"),
                                  "total_s": b2_total,
                                  "steps_per_s": a.steps / res.timings["run"]},
        "lava_floating_pt": {"run_s": lf.seconds, "build_s": lf.build_seconds,
                             "steps_per_s": a.steps / lf.seconds},
        "lava_fixed_pt": {"run_s": lx.seconds, "build_s": lx.build_seconds,
                          "steps_per_s": a.steps / lx.seconds},
        "checks": {"lava_float_equals_brian2": same_float,
                   "lava_fixed_vs_reference_mismatches": mismatches},
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "cpus": os.cpu_count()},
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(result, fh, indent=2)
    os.replace(tmp, out)
    print(json.dumps(result, indent=2))
    if not same_float or mismatches:
        print("CHECK FAILED: the runs do not agree; speeds are not comparable", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
