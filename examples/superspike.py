"""SuperSpike (Zenke & Ganguli 2018): a spiking neuron, and a two-layer network, learn a target spike train.

Reproduces the set-up of the single-output-neuron experiment (the paper's Fig. 2) and of the
hidden-layer experiments of F. Zenke, S. Ganguli, "SuperSpike: Supervised learning in
multilayer spiking neural networks", Neural Comput. 30 (2018) 1514-1541: 100 inputs fire a
frozen Poisson pattern (5 Hz, 500 ms, repeated every trial); the output must fire a target
train of 5 spikes at 100, 175, 250, 325 and 400 ms.

(1) one LIF output neuron (the library's ``lif`` with ``exp_current`` synapses), 100 plastic
    input synapses;
(2) 100 inputs -> 8 hidden LIF -> 1 output LIF, all 900 weights plastic; the hidden neurons
    receive the output error through symmetric feedback (e_k = sum_i w_ik e_i / w_fb, the
    paper's "symmetric" case; its random-feedback variant is not run here).

The rule is ``models/plasticity/superspike.yaml`` (Brian2 equation strings: per-synapse
eligibility cascade, error cascade in the neurons, the target as a spike source onto the
output neuron, feedback as a summed variable, updates by ``run_regularly`` once per trial with
the RMSprop-like per-parameter normalisation).  ``brainkit.Network.connect`` refuses rules that
keep state in the target neurons (here the error e_i and sigma'(U_i)), and it has no target
spike train or feedback, so this script assembles the Brian2 objects itself from the library
models' equation strings (``load_model``): ``lif``, ``exp_current`` and ``superspike``.  Both
networks are one Brian2 network, compiled once (cpp_standalone) and trained in one long run of
``epochs`` repeated trials (``SpikeGeneratorGroup(period=500 ms)``): no per-epoch restart.
The state (membrane, traces) carries over from one trial to the next, as in the paper's
continuous presentation.  One long run was chosen over re-running the compiled binary once per
trial because a re-run restarts the process and writes/reads every array (weights, state) each
time, while the simulation of one trial of both networks costs ~0.13 s; the per-re-run
overhead was not measured here.

Headline metric: van Rossum distance (tau = 10 ms, ``brainkit.analysis.van_rossum_distance``,
D^2 = 1/2 per unmatched spike, 1 - exp(-|dt|/tau) for two spikes dt apart) between output and
target: before = the first trial (initial weights), after = the mean over the last 10 trials
(learning goes on, and an occasional extra spike adds ~0.5 to D^2).  The paper shows the
output spikes converging onto the target times; it gives no distance to compare with, so the
check is that the distance falls by a clear factor and the last trial's spikes sit at the
target times.  Learning rate: the rule's per-parameter normalisation with r0 = 20 pA (chosen
from a scan of 2, 5, 10, 20 pA over 400 trials: the largest learned fastest).

Measured (cpp_standalone, on 2 CPU cores shared with other jobs: compile times vary 2-30x):
    python examples/superspike.py --out out/superspike            (1000 trials)
        single: D before 1.549, after 0.323 (last trial: 99.9 175.0 249.9 324.9 399.0 ms);
        hidden: D before 2.792, after 0.713 (last trial: 100.1 175.2 249.9 330.2 400.3 ms);
        compile 98 s, run 32 s (2 min 18 s in all)
    python examples/superspike.py --quick --out out/superspike_quick   (200 trials)
        single: D before 1.549, after 0.783 (last trial: 100.5 176.5 252.0 325.3 395.8 ms);
        hidden: D before 2.792, after 0.836 (last trial: 99.9 166.0 181.1 250.0 318.8 338.5
        399.8 ms);  compile 24 s, run 4 s (31 s in all, load average ~9)
"""

import argparse
import os
import time

import numpy as np
from brian2 import Hz, ms, pA, second

from brainkit import load_model
from brainkit.analysis import van_rossum_distance
from brainkit.engine import StandaloneEngine, runtime_device
from brainkit.equations import scale_weight_parameters
from brainkit.fileio import atomic_write, write_json

T_TRIAL = 500 * ms
N_IN = 100
RATE_IN = 5 * Hz
TARGET = np.array([100.0, 175.0, 250.0, 325.0, 400.0]) * ms
TAU_VR = 10 * ms
DT = 0.1 * ms


def frozen_poisson(n, rate, duration, dt, seed):
    """One frozen Poisson pattern: (indices, times) on the dt grid, at most one spike per
    neuron and step (a SpikeGeneratorGroup needs that)."""
    rng = np.random.default_rng(seed)
    steps = int(round(float(duration / dt)))
    idx, stp = [], []
    for k in range(n):
        m = rng.poisson(float(rate * duration))
        s = np.unique(rng.integers(0, steps, m))
        idx.append(np.full(len(s), k)), stp.append(s)
    return np.concatenate(idx).astype(int), np.concatenate(stp) * dt


def _rule(r0, w_fb):
    """The SuperSpike rule with its weight parameters in amp (the unit of exp_current's w)."""
    return scale_weight_parameters(load_model("superspike"), load_model("exp_current"),
                                   {"r0": r0, "w_fb": w_fb}, load_model("lif"))


def learning_neurons(n, rule, output, name):
    """LIF neurons (library ``lif``, input ``I`` = an ``exp_current`` current) with the rule's
    error and surrogate-derivative equations; output neurons add their own spikes to the
    error (the rule's ``reset``)."""
    import brian2

    lif, syn = load_model("lif"), load_model("exp_current")
    eqs = (brian2.Equations(lif.equations) + brian2.Equations(f"I = {syn.current} : amp")
           + brian2.Equations(syn.post_equations) + brian2.Equations(rule.post_equations))
    namespace = {**lif.parameters, **syn.parameters, **rule.parameters}
    if not np.isclose(float(rule.parameters["theta"]), float(lif.parameters["V_th"])):
        raise ValueError("the surrogate's theta must be the neuron's threshold V_th")
    reset = lif.reset + ("\n" + rule.reset if output else "")
    # exponential Euler: the composed group is linear in each variable; sympy's 'exact' solver
    # on 4 coupled states is slow and not needed at dt = 0.1 ms
    g = brian2.NeuronGroup(n, eqs, threshold=lif.threshold, reset=reset,
                           refractory=lif.refractory, method="exponential_euler",
                           namespace=namespace, dt=DT, name=name)
    g.v = lif.parameters["E_L"]
    return g


def learning_synapses(pre, post, rule, weights, feedback, name):
    """``exp_current`` synapses pre -> post (all to all, ``weights`` of shape (n_pre, n_post))
    carrying the rule; ``feedback``: also send the post error back to ``pre`` (symmetric)."""
    import brian2

    syn = load_model("exp_current")
    model = syn.equations + rule.equations + (rule.pre_equations if feedback else "")
    # order=-1: the synapses integrate before the neurons in each step, so the eligibility
    # sees U at the step's start (never the instant above threshold before the reset, whose
    # weight would be an artefact of dt)
    S = brian2.Synapses(pre, post, model=model, on_pre=syn.on_pre + "\n" + rule.on_pre,
                        method=rule.method, namespace={**syn.parameters, **rule.parameters},
                        dt=DT, order=-1, name=name)
    S.connect()  # all to all: synapse k is (i, j) = (k // n_post, k % n_post)
    S.w = np.asarray(weights / pA).ravel() * pA
    S.run_regularly(rule.events["update"], dt=rule.parameters["T_update"], when="end",
                    name=name + "_update")
    return S


def target_synapses(target, post, rule, name):
    """The target spike source onto the output neuron (one to one): enters its error."""
    import brian2

    S = brian2.Synapses(target, post, on_pre=rule.target, namespace=dict(rule.parameters),
                        dt=DT, name=name)
    S.connect(j="i")
    return S


def build(in_i, in_t, n_hidden, seed, r0=20 * pA, w_fb=100 * pA):
    """Both networks of the experiment; returns (objects, handles)."""
    import brian2

    rng = np.random.default_rng(seed)
    rule = _rule(r0, w_fb)
    inp = brian2.SpikeGeneratorGroup(N_IN, in_i, in_t, period=T_TRIAL, dt=DT, name="inputs")
    tgt = brian2.SpikeGeneratorGroup(1, np.zeros(len(TARGET), int), TARGET, period=T_TRIAL,
                                     dt=DT, name="target")
    # (1) one output neuron
    out1 = learning_neurons(1, rule, True, "out_single")
    s1 = learning_synapses(inp, out1, rule, rng.normal(60, 40, (N_IN, 1)) * pA, False,
                           "syn_single")
    t1 = target_synapses(tgt, out1, rule, "target_single")
    # (2) inputs -> hidden -> output
    hid = learning_neurons(n_hidden, rule, False, "hidden")
    out2 = learning_neurons(1, rule, True, "out_hidden")
    s2 = learning_synapses(inp, hid, rule, rng.normal(60, 40, (N_IN, n_hidden)) * pA, False,
                           "syn_in_hidden")
    s3 = learning_synapses(hid, out2, rule, rng.normal(300, 100, (n_hidden, 1)) * pA, True,
                           "syn_hidden_out")
    t2 = target_synapses(tgt, out2, rule, "target_hidden")
    mons = {"single": brian2.SpikeMonitor(out1, name="spikes_single"),
            "hidden": brian2.SpikeMonitor(out2, name="spikes_out_hidden"),
            "hidden_layer": brian2.SpikeMonitor(hid, name="spikes_hidden_layer")}
    objects = [inp, tgt, out1, s1, t1, hid, out2, s2, s3, t2] + list(mons.values())
    return objects, {"monitors": mons, "synapses": {"single": s1, "in_hidden": s2,
                                                    "hidden_out": s3}}


def per_epoch(times, n_epochs):
    """Spike times (s) of each trial, relative to the trial start."""
    t = np.asarray(times / second)
    T = float(T_TRIAL / second)
    k = np.floor(t / T + 1e-9).astype(int)
    return [t[k == e] - e * T for e in range(n_epochs)]


def run(n_epochs, n_hidden, backend, seed, build_dir=None):
    import brian2

    in_i, in_t = frozen_poisson(N_IN, RATE_IN, T_TRIAL, DT, seed)
    timings = {}
    engine = None
    if backend == "cpp_standalone":
        engine = StandaloneEngine(directory=build_dir, prefix="brainkit-superspike-")
    with engine.compiling() if engine is not None else runtime_device("numpy"):
        brian2.seed(seed)
        objects, h = build(in_i, in_t, n_hidden, seed)
        net = brian2.Network(objects)
        t0 = time.perf_counter()
        # one run without report=: Brian2's progress report reads the clock for every object
        # in every step, which here (clock reads are system calls) cost ~10x the simulation;
        # splitting the run into chunks to print progress duplicates every code object
        print(f"simulating {n_epochs} trials as one run (~0.07 s per trial on one core)",
              flush=True)
        net.run(n_epochs * T_TRIAL)
    if engine is not None:  # the block compiled the project; now run the binary
        timings["compile_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine.run(with_output=True)
    timings["run_s"] = time.perf_counter() - t0
    spikes = {k: per_epoch(m.t[:], n_epochs) for k, m in h["monitors"].items()
              if k != "hidden_layer"}
    hidden_rate = float(len(h["monitors"]["hidden_layer"].t[:]) / n_hidden
                        / (n_epochs * float(T_TRIAL / second)))
    return spikes, hidden_rate, timings


def distances(spikes):
    target = np.asarray(TARGET / second)
    return np.array([van_rossum_distance(s, target, TAU_VR) for s in spikes])


def plot(out, spikes, dists, n_epochs):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    titles = {"single": "(1) one output neuron", "hidden": "(2) 100 -> hidden -> 1"}
    for ax, case in zip(axes[:2], ("single", "hidden")):
        for e, s in enumerate(spikes[case]):
            ax.plot(s * 1e3, np.full(len(s), e), "|", color="k", ms=2)
        for t in np.asarray(TARGET / ms):
            ax.axvline(t, color="r", lw=0.8, alpha=0.6)
        ax.set_xlim(0, float(T_TRIAL / ms)), ax.set_ylim(-1, n_epochs)
        ax.set_xlabel("time in trial (ms)"), ax.set_ylabel("epoch (trial)")
        ax.set_title(titles[case] + ": output (black), target (red)", fontsize=9)
    for case, color in (("single", "C0"), ("hidden", "C1")):
        axes[2].plot(dists[case], color=color, lw=1, label=titles[case])
    axes[2].set_xlabel("epoch"), axes[2].set_ylabel(f"van Rossum distance (tau {TAU_VR})")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    with atomic_write(os.path.join(out, "superspike.png")) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="out/superspike")
    parser.add_argument("--quick", action="store_true", help="200 epochs instead of 1000")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--hidden", type=int, default=8, help="hidden neurons (case 2)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--backend", default="cpp_standalone",
                        choices=["cpp_standalone", "runtime"])
    args = parser.parse_args(argv)
    n_epochs = args.epochs or (200 if args.quick else 1000)
    if n_epochs < 2 or args.hidden < 1:
        parser.error("need --epochs >= 2 and --hidden >= 1")
    os.makedirs(args.out, exist_ok=True)
    print(f"SuperSpike: {n_epochs} trials of {T_TRIAL}, {N_IN} inputs at {RATE_IN}, "
          f"{args.hidden} hidden neurons, backend {args.backend}", flush=True)
    spikes, hidden_rate, timings = run(n_epochs, args.hidden, args.backend, args.seed)
    dists = {case: distances(s) for case, s in spikes.items()}
    metrics = {"distance_before": "first trial (initial weights)",
               "distance_after": "mean over the last 10 trials",
               "epochs": n_epochs, "n_inputs": N_IN, "n_hidden": args.hidden,
               "target_ms": np.asarray(TARGET / ms).tolist(), "tau_van_rossum_ms": 10.0,
               "feedback": "symmetric", "timings": timings,
               "hidden_rate_hz": hidden_rate}
    for case in ("single", "hidden"):
        d = dists[case]
        metrics[case] = {
            "van_rossum_distance_before": float(d[0]),
            "van_rossum_distance_after": float(d[-10:].mean()),
            "van_rossum_distance_last_trial": float(d[-1]),
            "output_spikes_first_trial_ms": (spikes[case][0] * 1e3).round(1).tolist(),
            "output_spikes_last_trial_ms": (spikes[case][-1] * 1e3).round(1).tolist(),
            "distance_per_epoch": d.round(4).tolist(),
        }
        print(f"{case}: van Rossum distance before {d[0]:.3f}, after {d[-10:].mean():.3f} "
              f"(last trial {d[-1]:.3f}); last trial spikes (ms) "
              f"{metrics[case]['output_spikes_last_trial_ms']}", flush=True)
    plot(args.out, spikes, dists, n_epochs)
    write_json(os.path.join(args.out, "metrics.json"), metrics, indent=1)
    print(f"timings {timings}; wrote {args.out}/metrics.json, {args.out}/superspike.png")
    return metrics


if __name__ == "__main__":
    main()
