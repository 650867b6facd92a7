"""e-prop evidence accumulation: an LSNN learns which side gave more cues, seconds later.

The task of G. Bellec et al., "A solution to the learning dilemma for recurrent networks of
spiking neurons", Nat. Commun. 11 (2020) 3625, Fig. 3, with the settings of the authors'
tutorial ``tutorial_evidence_accumulation_with_alif.py`` (IGITUGraz/eligibility_propagation,
``Figure_3_and_S7_e_prop_tutorials``).  40 input neurons in four groups of 10: in each of 7
cue periods (100 ms every 150 ms) the "left" or the "right" group fires at 40 Hz (a trial
favours one side: its cues come from it with probability 0.7); after a delay, the "recall"
group fires at 40 Hz during the last 150 ms; the fourth group is 10 Hz background noise all
along (trials of 2250 ms at dt = 1 ms).  The network must say, during the recall, which side
gave the majority of the 7 cues: 50 LIF and 50 ALIF neurons (the library's ``alif``:
tau_m = 20 ms, tau_a = 2 s, v_th = 0.6, beta = 1.7 (1 - rho) / (1 - exp(-dt/tau_m)), 5
refractory steps) and 2 leaky readouts (tau_out = 20 ms) whose softmax is trained by the
cross-entropy over the recall window (``EpropNetwork(loss='cross_entropy')``, window weights
1/150), plus the firing-rate regulariser (10 Hz, the tutorial's strength 1 on the squared
rate error, i.e. 2 here), Adam 5e-3, e-prop with random feedback, ``batch`` trials per run of
the compiled binary.

The tutorial's units are kept: its arbitrary voltage unit is 1 mV (v_th = 0.6 mV, weights in
mV); its readout is the filtered spikes with the factor (1 - kappa), brainkit's readout is the
plain filter, so brainkit's readout weights and random feedback are the tutorial's times
(1 - kappa) and their Adam step is scaled the same way: the same dynamics and updates.

Metric: the error rate (argmax of the readouts averaged over the recall window) on new
batches.  As in the tutorial, a validation batch every 10 iterations; training stops when its
error is below 7 % and the mean over 8 more batches confirms it, or after ``--iterations``;
then the test error over 8 new batches.

    python examples/eprop_evidence_accumulation.py --out out/eprop_evidence [--quick]
        [--seeds 0,1] [--batch 32] [--threads 2]

The tutorial's README: the early-stopping criterion (validation error < 7 %) "should be
reached after around 200 - 500 iterations" (batch 32, random feedback, e-prop).

Measured (2 cores, two runs at a time, defaults: batch 32, at most 1000 iterations): e-prop
stops after 770 / 340 / 960 iterations for seeds 0 / 1 / 2, test error 0.066 / 0.102 / 0.059
(256 new trials; the early stop takes a lucky validation, so the test error can lie above
7 %); ``--rule bptt`` (BPTT in numpy, the same network, data and optimiser) stops after 110 /
280 / 400, test error 0.066 / 0.086 / 0.055.  Cosine of e-prop's (symmetric feedback) and
BPTT's gradients at the initial weights (8 trials): input 0.849 / 0.717 / 0.613, recurrent
0.859 / 0.728 / 0.654.  ~4-5 s per e-prop iteration (one run of the binary: 32 trials of 2250
steps, 445 k plastic synapses), ~1.8 s per BPTT iteration.  ``--quick`` (150 iterations, seed
0): test error 0.160 (seed 1 at the same point: 0.160 on 8 batches).
"""

import argparse
import os
import sys
import time

import numpy as np
from brian2 import mV, ms

from brainkit.fileio import write_json
from brainkit.plotting import save_figure
from brainkit.training.eprop import EpropNetwork, bptt_gradients, reference_trial, train
from brainkit.training.optim import Adam

N_IN, N_LIF, N_ALIF, N_OUT = 40, 50, 50, 2
N_CUES, T_CUE, T_INTERVAL, T_RECALL = 7, 100, 150, 150
STEPS = N_CUES * T_INTERVAL + 1200  # 2250 ms
RATE = 40e-3  # spikes per step (40 Hz at dt = 1 ms)
TAU_M, TAU_A, TAU_OUT, V_TH = 20.0, 2000.0, 20.0, 0.6  # ms, ms, ms, mV
KAPPA = np.exp(-1.0 / TAU_OUT)


def batch_of_trials(rng, n):
    """The tutorial's ``generate_click_task_data``: inputs (n, STEPS, N_IN) as 0/1, one-hot
    targets (n, STEPS, 2) (the label: 1 when more than 3 of the 7 cues were "right")."""
    group = N_IN // 4
    side = rng.integers(0, 2, n)  # the favoured side's cue probability is 0.7
    p_left = np.where(side == 0, 0.3, 0.7)
    cues = (rng.random((n, N_CUES)) >= p_left[:, None]).astype(int)  # 0 left, 1 right
    prob = np.zeros((n, STEPS, N_IN))
    silence = T_INTERVAL - T_CUE
    for b in range(n):
        for k, c in enumerate(cues[b]):
            start = silence + k * T_INTERVAL
            prob[b, start:start + T_CUE, c * group:(c + 1) * group] = RATE
    prob[:, -T_RECALL:, 2 * group:3 * group] = RATE
    prob[:, :, 3 * group:] = RATE / 4
    x = (rng.random(prob.shape) < prob).astype(float)
    labels = (cues.sum(axis=1) > N_CUES // 2).astype(int)
    target = np.zeros((n, STEPS, N_OUT))
    target[np.arange(n), :, labels] = 1.0
    return x, target, labels


def recall_window():
    w = np.zeros(STEPS)
    w[-T_RECALL:] = 1.0 / T_RECALL  # the tutorial's mean over the recall steps
    return w


def error_rate(y, labels):
    """Argmax of the readouts averaged over the recall window (the tutorial's decision)."""
    decision = y[:, -T_RECALL:, :].mean(axis=1).argmax(axis=1)
    return float(np.mean(decision != labels))


def network(batch, seed, threads, feedback="random"):
    rho = np.exp(-1.0 / TAU_A)
    beta = 1.7 * (1 - rho) / (1 - np.exp(-1.0 / TAU_M))  # the tutorial's beta_a (in mV)
    return EpropNetwork(
        N_IN, N_LIF + N_ALIF, N_OUT, STEPS, dt=1 * ms, n_alif=N_ALIF,
        neuron_params={"tau_m": TAU_M * ms, "tau_a": TAU_A * ms, "v_th": V_TH * mV,
                       "beta": beta * mV, "t_ref": 6 * ms},
        rule_params={"tau_out": TAU_OUT * ms, "gamma_pd": 0.3}, feedback=feedback,
        feedback_scale=1 - KAPPA, seed=seed, loss="cross_entropy", batch=batch,
        threads=threads)


def initial_weights(seed):
    """The tutorial's: Gaussian / sqrt(fan-in) (its units: mV here), no autapses; the readout
    Glorot-uniform (TensorFlow's default), times (1 - kappa)."""
    rng = np.random.default_rng(seed)
    n_rec = N_LIF + N_ALIF
    w_in = rng.standard_normal((n_rec, N_IN)) / np.sqrt(N_IN) * 1e-3
    w_rec = rng.standard_normal((n_rec, n_rec)) / np.sqrt(n_rec) * 1e-3
    np.fill_diagonal(w_rec, 0.0)
    limit = np.sqrt(6.0 / (n_rec + N_OUT))
    w_out = rng.uniform(-limit, limit, (N_OUT, n_rec)) * (1 - KAPPA)
    return {"in": w_in, "rec": w_rec, "out": w_out}


def cosine_with_bptt(seed, trials=8):
    """Cosine similarity of e-prop's gradient (symmetric feedback) and BPTT's exact one at the
    initial weights, over ``trials`` trials (numpy references of the same discrete model)."""
    net = network(1, seed, 1, feedback="symmetric")
    x, target, _ = batch_of_trials(np.random.default_rng(20_000 + seed), trials)
    w = initial_weights(seed)
    eprop = reference_trial(net, w, x, target, recall_window()).grads
    bptt = bptt_gradients(net, w, x, target, window=recall_window()).grads
    return {k: float(eprop[k].ravel() @ bptt[k].ravel() / np.linalg.norm(eprop[k])
                     / np.linalg.norm(bptt[k])) for k in ("in", "rec", "out")}


def train_bptt(net, weights, data, iterations, on_iteration, window, lr_scale):
    """The same training with BPTT's exact gradients (numpy, the whole batch, the regulariser
    included) in place of e-prop's: the comparison of the paper's Fig. 3."""
    opt = Adam(5e-3, lr_scale=lr_scale)
    for k in range(iterations):
        x, target = data(k)
        result = bptt_gradients(net, weights, x, target, regularisation=2.0,
                                target_rate_hz=10.0, window=window)
        weights = opt.step(weights, result.grads)
        np.fill_diagonal(weights["rec"], 0.0)
        if on_iteration(k, result, weights):
            break


def run_seed(seed, args):
    net = network(args.batch, seed, args.threads)
    rng = np.random.default_rng(10_000 + seed)
    window = recall_window()
    weights = initial_weights(seed)
    cosine = cosine_with_bptt(seed)
    print(f"seed {seed}: cosine of e-prop's and BPTT's gradients at the initial weights: "
          f"in {cosine['in']:.3f}, rec {cosine['rec']:.3f}", flush=True)
    history = {"iteration": [], "val_error": [], "train_error": [], "rate_hz": []}
    state = {"stop": None, "w": weights}
    t0 = time.perf_counter()

    def evaluate(w, batches):
        errors = []
        for _ in range(batches):
            x, target, labels = batch_of_trials(rng, args.batch)
            errors.append(error_rate(net.trial(w, x, target, window).y, labels))
        return float(np.mean(errors))

    batches = {}

    def data(k):
        batches[k] = batch_of_trials(rng, args.batch)
        return batches[k][:2]

    def on_iteration(k, result, w):
        """Record; every 10 iterations validate the updated weights (the tutorial's early
        stopping: below 7 % on one batch, confirmed by the mean over 8 more)."""
        state["w"] = w
        history["train_error"].append(error_rate(result.y, batches.pop(k)[2]))
        history["rate_hz"].append(float(result.z.mean() * 1e3))
        if (k + 1) % 10:
            return False
        val = evaluate(w, 1)
        history["iteration"].append(k + 1)
        history["val_error"].append(val)
        print(f"  seed {seed} iteration {k + 1}: train error {history['train_error'][-1]:.3f}"
              f", validation {val:.3f}, rate {history['rate_hz'][-1]:.1f} Hz, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
        if val < 0.07:
            confirm = evaluate(w, 8)
            print(f"  8 more batches: {confirm:.3f}", flush=True)
            if confirm < 0.07:
                state["stop"] = k + 1
                return True
        return False

    lr_scale = {"in": 1e-3, "rec": 1e-3, "out": 1 - KAPPA}  # the tutorial's units (above)
    if args.rule == "eprop":
        train(net, weights, data, args.iterations, lr=5e-3, regularisation=2.0,
              target_rate_hz=10.0, on_iteration=on_iteration, window=window,
              lr_scale=lr_scale, progress=False)
    else:
        train_bptt(net, weights, data, args.iterations, on_iteration, window, lr_scale)
    seconds = time.perf_counter() - t0
    final = state["w"]
    test = evaluate(final, 8)
    iterations = state["stop"] if state["stop"] is not None else args.iterations
    run = {"seed": seed, "test_error": test, "stopped_at": state["stop"],
           "iterations": iterations, "train_s": seconds,
           "s_per_iteration": seconds / max(len(history["train_error"]), 1),
           "compile_s": net.timings.get("compile"), "cosine_eprop_bptt_initial": cosine,
           "history": history}
    print(f"seed {seed}: test error {test:.3f} after {iterations} iterations "
          f"({'early stop' if state['stop'] is not None else 'no early stop'}), "
          f"{seconds:.0f} s", flush=True)
    return run, net, final


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="out/eprop_evidence")
    p.add_argument("--quick", action="store_true", help="at most 150 iterations, 1 seed")
    p.add_argument("--iterations", type=int, default=None, help="at most (default 1000)")
    p.add_argument("--batch", type=int, default=None, help="trials per run (default 32)")
    p.add_argument("--seeds", default=None, help="comma-separated (default 0)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rule", default="eprop", choices=("eprop", "bptt"),
                   help="e-prop in the compiled network (default) or BPTT in numpy")
    args = p.parse_args(argv)
    args.iterations = args.iterations or (150 if args.quick else 1000)
    args.batch = args.batch or 32
    seeds = [int(s) for s in (args.seeds or "0").split(",")]
    os.makedirs(args.out, exist_ok=True)
    runs = []
    for seed in seeds:
        run, net, weights = run_seed(seed, args)
        runs.append(run)
        metrics = {"task": "evidence accumulation (Bellec et al. 2020, Fig. 3)",
                   "n_in": N_IN, "n_lif": N_LIF, "n_alif": N_ALIF, "steps": STEPS,
                   "batch": args.batch, "max_iterations": args.iterations,
                   "rule": args.rule, "feedback": "random" if args.rule == "eprop" else None,
                   "runs": runs,
                   "test_error_mean": float(np.mean([r["test_error"] for r in runs])),
                   "test_error_max": float(max(r["test_error"] for r in runs))}
        write_json(os.path.join(args.out, "metrics.json"), metrics, indent=1)
    _plot(args.out, runs, net, weights)
    print(f"test error {metrics['test_error_mean']:.3f} (max {metrics['test_error_max']:.3f} "
          f"over {len(seeds)} seeds) -> {args.out}")
    return 0


def _plot(out, runs, net, weights):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    x, target, labels = batch_of_trials(rng, net.batch)
    res = net.trial(weights, x, target, recall_window())
    fig, axes = plt.subplots(4, 1, figsize=(9, 9))
    for run in runs:
        axes[0].plot(run["history"]["iteration"], run["history"]["val_error"],
                     label=f"seed {run['seed']}")
    axes[0].axhline(0.07, color="k", ls=":", lw=1, label="the tutorial's stop (7 %)")
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("validation error")
    axes[0].legend(fontsize=7)
    ti, ni = np.nonzero(x[0])
    axes[1].plot(ti, ni, "|", ms=2, color="k")
    axes[1].set_ylabel("input")
    ts, ns = np.nonzero(res.z[0])
    axes[2].plot(ts, ns, "|", ms=2, color="C0")
    axes[2].axhline(N_LIF - 0.5, color="gray", lw=0.5)
    axes[2].set_ylabel("LIF | ALIF")
    y = res.y[0]
    pi = np.exp(y - y.max(axis=1, keepdims=True))
    pi /= pi.sum(axis=1, keepdims=True)
    axes[3].plot(pi[:, 1], label="P(right)")
    axes[3].axvspan(STEPS - T_RECALL, STEPS, color="gray", alpha=0.2)
    axes[3].set_ylim(-0.05, 1.05)
    axes[3].set_title(f"label: {'right' if labels[0] else 'left'}", fontsize=8)
    axes[3].set_xlabel("time (ms)")
    axes[3].legend(fontsize=7)
    save_figure(axes[0], os.path.join(out, "evidence_accumulation.png"))
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
