"""Brunel (2000) sparse E/I network: synchronous regular vs asynchronous irregular states.

Reproduces the two regimes of N. Brunel, "Dynamics of sparsely connected networks of
excitatory and inhibitory spiking neurons", J. Comput. Neurosci. 8 (2000) 183-208, Fig. 8A
(g = 3, nu_ext/nu_thr = 2: synchronous regular, "SR") and Fig. 8C (g = 5, nu_ext/nu_thr = 2:
asynchronous irregular, "AI"), model A: N_E = 10000, N_I = 2500 LIF neurons (tau = 20 ms,
theta = 20 mV, V_r = 10 mV, t_ref = 2 ms), each receiving exactly C_E = 0.1 N_E excitatory and
C_I = 0.1 N_I inhibitory inputs (brainkit's ``in_degree`` rule) as voltage jumps J = 0.1 mV
and -g J (``delta_voltage`` synapses) after a delay D = 1.5 ms, plus C_E external Poisson
inputs at nu_ext (``poisson_jump``: J times a Poisson count of mean C_E nu_ext dt every step,
the sum of independent Poisson trains being Poisson), nu_thr = theta/(J C_E tau).

Statistics (excitatory population, after a 100 ms transient): mean rate, mean CV of the ISIs,
and the synchrony of the population activity, Golomb's chi (D. Golomb, Scholarpedia 2(1):1347,
2007) from 1 ms spike counts: chi^2 = Var(population count)/(N sum_k Var(count_k)), about
1/sqrt(N) for independent neurons and 1 for identical ones.  Checks: AI: the rate agrees
within 10 % with the paper's mean-field rate of the asynchronous state (eq. 21, the fixed point
of the Siegert formula, computed here with scipy) and the activity is asynchronous
(chi < 0.2); SR: regular (CV < 0.2) and synchronous (chi > 0.5), where the stationary
mean-field solution is unstable (the CV and chi thresholds are ours; the paper describes the
states without numbers).  ``--quick`` runs N_E = 4000 with C_E = 400 and J = 0.25 mV (the same
J C_E, so the same mean input; larger fluctuations) for 300 ms.

Measured (full size, 600 ms, cpp_standalone): SR 312 Hz, CV 0.0007, chi 0.53 (passes);
AI 36.7 Hz vs the mean-field 37.9 Hz (3 %), chi 0.097, CV 0.39 (passes).  Quick mode
(runtime backend): SR 312 Hz, CV 0.007; AI 41.0 Hz vs mean-field 42.7 Hz (4 %).

    python examples/brunel_2000.py --out out/brunel_2000 [--quick]
"""

import argparse
import json
import os

import numpy as np
from brian2 import ms, second

from brainkit.brunel2000 import (build_network, connectivity, initial_voltages,
                                 mean_field_rate, statistics)
from brainkit.fileio import write_json

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--out", default="out/brunel_2000")
parser.add_argument("--quick", action="store_true", help="smaller network, shorter run")
parser.add_argument("--backend", default="cpp_standalone")
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)

N_E, N_I, C_E, C_I, J_MV = connectivity(4000 if args.quick else 10000)
duration = (300 if args.quick else 600) * ms
transient = 100 * ms


def stats(res, pop, n):
    """The statistics of :func:`brainkit.brunel2000.statistics` and the 1 ms population counts."""
    i, t = res.spikes[pop]
    t = np.asarray(t / second)
    s = statistics(i, t, n, float(transient / second), float(duration / second))
    keep = t >= float(transient / second)
    counts, _ = np.histogram(t[keep], np.arange(float(transient / second),
                                                float(duration / second) + 1e-9, 1e-3))
    return s, counts


metrics = {"N_E": N_E, "N_I": N_I, "C_E": C_E, "C_I": C_I, "J_mV": J_MV,
           "duration_ms": float(duration / ms), "states": {}}
activity = {}
for state, g, eta in (("SR", 3.0, 2.0), ("AI", 5.0, 2.0)):
    # one network per state here (examples/brunel_phase_diagram.py re-runs one binary)
    net = build_network(N_E, g=g, eta=eta, backend=args.backend, seed=7,
                        record_inhibitory=True)
    res = net.run(duration, init=initial_voltages(N_E, 3))
    s, counts = stats(res, "E", N_E)
    s["timings"] = dict(net.timings)
    s["mean_field_rate_hz"] = mean_field_rate(g, eta, N_E)
    rel = abs(s["rate_hz"] - s["mean_field_rate_hz"]) / s["mean_field_rate_hz"]
    ok = (s["cv_isi"] < 0.2 and s["chi"] > 0.5) if state == "SR" else \
        (rel < 0.1 and s["chi"] < 0.2)
    s["check"] = {"criterion": "CV < 0.2 and chi > 0.5" if state == "SR" else
                  "|rate - mean-field rate| < 10 % and chi < 0.2", "passed": bool(ok)}
    metrics["states"][state] = s
    activity[state] = (res, counts)
    print(state, json.dumps({k: v for k, v in s.items() if k != "timings"}), flush=True)

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex="col")
    for col, state in enumerate(("SR", "AI")):
        res, counts = activity[state]
        i, t = res.spikes["E"]
        sel = i < 200
        axes[0, col].plot(np.asarray(t[sel] / ms), i[sel], ",k")
        axes[0, col].set_title(f"{state}: {metrics['states'][state]['rate_hz']:.1f} Hz, "
                               f"CV {metrics['states'][state]['cv_isi']:.2f}")
        tt = float(transient / ms) + np.arange(len(counts))
        axes[1, col].plot(tt, counts / N_E * 1e3, "k", lw=0.5)
        axes[1, col].set_xlabel("time (ms)")
    axes[0, 0].set_ylabel("neuron")
    axes[1, 0].set_ylabel("population rate (Hz)")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "brunel_2000.png"), dpi=120)
except ImportError:  # pragma: no cover
    pass
metrics["passed"] = all(s["check"]["passed"] for s in metrics["states"].values())
write_json(os.path.join(args.out, "metrics.json"), metrics, indent=1)
print("passed" if metrics["passed"] else "FAILED", "->", args.out)
