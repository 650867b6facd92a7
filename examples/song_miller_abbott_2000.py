"""Song, Miller & Abbott (2000): additive STDP drives the input weights to a bimodal distribution.

Reproduces Fig. 2 of S. Song, K. D. Miller, L. F. Abbott, "Competitive Hebbian learning through
spike-timing-dependent synaptic plasticity", Nat. Neurosci. 3 (2000) 919-926: the distribution
of the peak conductances g_a/g_max, spread out at the start, ends bimodal (weights pushed to
0 or to g_max).  One conductance-based integrate-and-fire neuron (library ``lif`` with their
parameters: tau_m = 20 ms, V_rest = -70 mV, V_th = -54 mV, V_reset = -60 mV, no refractory
period) receives 1000 excitatory Poisson inputs at 10 Hz through plastic ``exp_conductance``
synapses (E_ex = 0 mV, tau_ex = 5 ms) and 200 inhibitory ones at 10 Hz through fixed ones
(E_in = -70 mV, tau_in = 5 ms, g_in = 0.05).  Conductances are in units of the leak
conductance g_L = 1/R (R = 100 Mohm: g_L = 10 nS), as in the paper, so
g_max = 0.015 g_L = 0.15 nS.  The plasticity is the library rule ``stdp_online`` (Song's
traces, hard bounds [0, g_max]) with A+ = 0.005, A-/A+ = 1.05, tau+ = tau- = 20 ms.
The excitatory weights start uniform in [0, g_max] (``--init uniform``, default) or at g_max
(``--init max``).

The simulation runs as successive chunks of the same compiled binary (cpp_standalone: compiled
once), each chunk starting from the weights the previous one learned, which gives the weights
over time; the membrane, the conductances and the STDP traces restart from rest at every chunk
boundary (a 20 ms transient every 10 s: negligible).  Every chunk draws fresh Poisson inputs
from its own seed, derived from ``--seed`` and the chunk's number and given to the compiled
binary as a run argument (``Network.run(seed=...)``: the same binary re-seeded, no
recompile), so a run is reproducible bit for bit and its chunks are independent.

With the paper's A+ the spreading is slow: from the uniform start (output 2-4 Hz) the mean
weight creeps up, the output rate rises to 12-15 Hz, and the fraction of weights near a bound
grows over ~1500 s.  Quick mode (``--quick``, for the test) therefore multiplies A+ and A- by
5 (``--speedup``): the additive rule's steady state does not depend on the amplitudes while
they are small, only how fast it is reached; it runs 60 s and shows the start of the trend.

Measured statistic: bimodal_fraction, the fraction of weights within 10 % of g_max of either
bound (0 or g_max); the uniform start has 0.2.

Measured (cpp_standalone, 2000 s, init uniform, paper's A+;
``python examples/song_miller_abbott_2000.py``, 452 s wall of which 103 s compile, under
heavy load): bimodal_fraction 0.744 (near 0: 0.328, near g_max: 0.416), still rising slowly
(0.24 at 100 s, 0.47 at 500 s, 0.63 at 1000 s, 0.73 at 1500 s); output rate 2.3 Hz in the
first 10 s, 14.2 Hz in the last 10 s; the histogram is clearly U-shaped (the paper's Fig. 2).
Quick mode (``--quick``, 60 s, A+ x 5; 36 s of CPU, 2-3 min wall under this machine's load,
mostly the compile): bimodal_fraction 0.30 (near 0: 0.12, near g_max: 0.18), output 6-8 Hz.

    python examples/song_miller_abbott_2000.py --out out/song_miller_abbott_2000 [--quick]
"""

import argparse
import os
import time

import numpy as np
from brian2 import Hz, Mohm, mV, ms, second

import brainkit as bk
from brainkit.fileio import atomic_write, write_json

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--out", default="out/song_miller_abbott_2000")
parser.add_argument("--quick", action="store_true",
                    help="60 s with A+, A- x 5 instead of 2000 s with the paper's A+, A-")
parser.add_argument("--duration", type=float, default=None,
                    help="simulated seconds (default 2000, quick 60)")
parser.add_argument("--chunk", type=float, default=None,
                    help="seconds per run of the binary (default 10, quick 3)")
parser.add_argument("--init", choices=("uniform", "max"), default="uniform")
parser.add_argument("--speedup", type=float, default=None,
                    help="multiply A+ and A- by this (default 1, quick 5)")
parser.add_argument("--seed", type=int, default=1,
                    help="seed of the initial weights and of every chunk's Poisson inputs")
parser.add_argument("--backend", default="cpp_standalone")
args = parser.parse_args()

N_E, N_I = 1000, 200
RATE = 10 * Hz
R = 100 * Mohm
G_L = 1 / R                      # leak conductance: 10 nS
G_MAX = 0.015 * G_L              # Song et al.: g_max = 0.015 (units of g_L)
G_IN = 0.05 * G_L                # fixed inhibitory peak conductance
speedup = args.speedup if args.speedup is not None else (5.0 if args.quick else 1.0)
A_PLUS = 0.005 * speedup
A_MINUS = 1.05 * A_PLUS
NEAR = 0.1                       # "near a bound": within 10 % of g_max

duration = args.duration if args.duration is not None else (60.0 if args.quick else 2000.0)
chunk = args.chunk if args.chunk is not None else (3.0 if args.quick else 10.0)
if chunk <= 0 or duration <= 0 or speedup <= 0:
    parser.error("--duration, --chunk and --speedup must be > 0")
n_chunks = int(round(duration / chunk))
if n_chunks < 1 or abs(n_chunks * chunk - duration) > 1e-9:
    parser.error(f"--duration {duration} must be a whole number (>= 1) of --chunk {chunk}")


def fractions(w):
    """Fractions of weights (units of g_max) near 0, near g_max, and their sum."""
    lo, hi = float(np.mean(w <= NEAR)), float(np.mean(w >= 1 - NEAR))
    return lo, hi, lo + hi


def build():
    net = bk.Network(dt=0.1 * ms, backend=args.backend, name="song2000")
    net.population("post", "lif", 1, params={
        "tau_m": 20 * ms, "R": R, "E_L": -70 * mV, "V_th": -54 * mV, "V_r": -60 * mV,
        "t_ref": 0 * ms})
    net.poisson_source("exc", N_E, rates=RATE)
    net.poisson_source("inh", N_I, rates=RATE)
    rng = np.random.default_rng(args.seed)
    w0 = rng.uniform(0, 1, N_E) if args.init == "uniform" else np.ones(N_E)
    net.connect("exc", "post", "exp_conductance", weights=w0 * G_MAX, rule="all_to_all",
                params={"tau_syn": 5 * ms, "E_rev": 0 * mV}, plasticity="stdp_online",
                plasticity_params={"w_max": G_MAX, "A_plus": A_PLUS, "A_minus": A_MINUS})
    net.connect("inh", "post", "exp_conductance", weights=G_IN, rule="all_to_all",
                params={"tau_syn": 5 * ms, "E_rev": -70 * mV})
    net.record("post", "spikes")
    return net, w0


t_start = time.perf_counter()
net, w = build()
snapshots, times, rates = [w.copy()], [0.0], []
# one independent seed per chunk (numpy's SeedSequence spawns them from --seed)
chunk_seeds = [int(c.generate_state(1)[0])
               for c in np.random.SeedSequence(args.seed).spawn(n_chunks)]
for k in range(n_chunks):
    res = net.run(chunk * second, weights={"exc->post": w * G_MAX}, seed=chunk_seeds[k])
    w = np.asarray(res.weights["exc->post"] / G_MAX)
    snapshots.append(w.copy())
    times.append((k + 1) * chunk)
    rates.append(len(res.spikes["post"][0]) / chunk)
    lo, hi, both = fractions(w)
    print(f"t = {times[-1]:6.1f} s: output {rates[-1]:5.1f} Hz, near 0 {lo:.3f}, "
          f"near g_max {hi:.3f}, bimodal {both:.3f}, mean w {w.mean():.3f} g_max", flush=True)
run_s = time.perf_counter() - t_start

snapshots = np.array(snapshots)
lo, hi, both = fractions(w)
lo0, hi0, both0 = fractions(snapshots[0])
n_last = max(1, n_chunks // 10)  # the output rate at the end: the last tenth of the run
metrics = {
    "bimodal_fraction": both,
    "near_zero_fraction": lo,
    "near_max_fraction": hi,
    "initial_bimodal_fraction": both0,
    "initial_near_zero_fraction": lo0,
    "initial_near_max_fraction": hi0,
    "output_rate_hz_first_chunk": rates[0],
    "output_rate_hz_final": float(np.mean(rates[-n_last:])),
    "mean_weight_gmax": float(w.mean()),
    "weight_std_gmax": float(w.std()),
    "initial_weight_std_gmax": float(snapshots[0].std()),
    "duration_s": duration, "chunk_s": chunk, "init": args.init, "backend": args.backend,
    "seed": args.seed,
    "A_plus": A_PLUS, "A_minus": A_MINUS, "speedup": speedup,
    "time_s": times,
    "bimodal_fraction_vs_time": [fractions(s)[2] for s in snapshots],
    "output_rate_hz_vs_time": rates,
    "compile_s": net.timings.get("compile"), "wall_s": run_s,
}
write_json(os.path.join(args.out, "metrics.json"), metrics, indent=1)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(1, 3, figsize=(14, 4))
bins = np.linspace(0, 1, 41)
axes[0].hist(snapshots[0], bins=bins, color="0.7", label="initial")
axes[0].hist(w, bins=bins, histtype="step", color="k", lw=2, label=f"after {duration:g} s")
axes[0].set_xlabel("g_a / g_max")
axes[0].set_ylabel("number of synapses")
axes[0].set_title(f"bimodal fraction {both:.2f} (near 0: {lo:.2f}, near g_max: {hi:.2f})")
axes[0].legend()
for j in np.linspace(0, N_E - 1, 20).astype(int):
    axes[1].plot(times, snapshots[:, j], lw=0.8)
axes[1].set_xlabel("time (s)")
axes[1].set_ylabel("g_a / g_max (20 synapses)")
axes[2].plot(times, [fractions(s)[0] for s in snapshots], label="near 0")
axes[2].plot(times, [fractions(s)[1] for s in snapshots], label="near g_max")
axes[2].plot(times, [fractions(s)[2] for s in snapshots], "k", label="bimodal (sum)")
axes[2].set_xlabel("time (s)")
axes[2].set_ylabel("fraction of synapses")
axes[2].set_title(f"output {metrics['output_rate_hz_final']:.1f} Hz (last tenth of the run)")
axes[2].legend()
fig.tight_layout()
with atomic_write(os.path.join(args.out, "song_miller_abbott_2000.png")) as tmp:
    fig.savefig(tmp, format="png", dpi=110)
print(f"bimodal_fraction {both:.3f} (initial {both0:.3f}) -> {args.out}  [{run_s:.0f} s]")
