"""Random excitatory/inhibitory LIF network driven by Poisson input, on cpp_standalone.

Builds a network from library models (``lif`` neurons, ``exp_current`` synapses), compiles it
once, runs it, then re-runs the same binary with stronger inhibition (no recompile), and writes
a raster, membrane traces and the LIF f-I curve (simulated vs analytic) to ``--out``.

    python examples/lif_network.py --out out/lif_network
"""

import argparse
import json
import os

import numpy as np
from brian2 import Hz, ms, nA

import brainkit as bk
from brainkit import plotting
from brainkit.analysis import fi_curve as simulate_fi_curve
from brainkit.fileio import write_json

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--out", default="out/lif_network")
parser.add_argument("--backend", default="cpp_standalone")
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)

n_exc, n_inh, n_in = 400, 100, 200
rng = np.random.default_rng(0)
net = bk.Network(dt=0.1 * ms, backend=args.backend, seed=1, name="ei")
net.population("exc", "lif", n_exc)
net.population("inh", "lif", n_inh)
net.poisson_source("inp", n_in, rates=15 * Hz)
net.connect("inp", "exc", "exp_current", weights=0.35 * nA, p=0.1, seed=1)
net.connect("inp", "inh", "exp_current", weights=0.35 * nA, p=0.1, seed=2)
net.connect("exc", "exc", "exp_current", weights=0.15 * nA, p=0.05, seed=3)
net.connect("exc", "inh", "exp_current", weights=0.15 * nA, p=0.05, seed=4)
net.connect("inh", "exc", "exp_current", weights=-1.2 * nA, p=0.05, seed=5, name="inh->exc")
net.connect("inh", "inh", "exp_current", weights=-0.6 * nA, p=0.05, seed=6)
net.record("exc", "spikes")
net.record("inh", "spikes")
net.record("exc", "v", indices=[0, 1, 2])

res = net.run(500 * ms)
first = dict(net.timings)
n_syn = len(net.connections["inh->exc"].i)
res2 = net.run(500 * ms, weights={"inh->exc": np.full(n_syn, -3.0) * nA}, restart=True)
second = dict(net.timings)

plotting.raster(res, "exc", path=f"{args.out}/raster.png")
plotting.traces(res, "exc", "v", path=f"{args.out}/traces.png")
currents = np.linspace(0.1, 1.0, 19) * nA
rates = simulate_fi_curve("lif", currents, 1000 * ms, dt=0.01 * ms)
p = bk.load_model("lif").parameters  # analytic LIF rate (V_r = E_L), 0 below rheobase
drive = p["R"] * currents
above = drive > p["V_th"] - p["E_L"]
analytic = np.zeros(len(currents)) * Hz
analytic[above] = 1 / (p["t_ref"] + p["tau_m"] * np.log(drive[above] / (drive[above] - (p["V_th"] - p["E_L"]))))
plotting.fi_curve(currents, rates, reference=analytic, path=f"{args.out}/fi_curve.png")

metrics = {
    "exc_rate_hz": float(res.spike_counts("exc").mean() / 0.5),
    "exc_rate_strong_inhibition_hz": float(res2.spike_counts("exc").mean() / 0.5),
    "compile_seconds": first.get("compile"),
    "first_run_seconds": first["run"],
    "rerun_seconds": second["run"],
    "fi_max_rel_error": float(np.max(np.abs(rates - analytic)[above] / analytic[above])),
}
write_json(f"{args.out}/metrics.json", metrics, indent=2)
print(json.dumps(metrics, indent=2))
print(f"plots written to {args.out}/")
