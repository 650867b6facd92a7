"""Izhikevich (2007), Fig. 1: reinforcing one synapse with dopamine-modulated STDP.

Reproduces the experiment of Fig. 1 of E. M. Izhikevich, "Solving the distal reward problem
through linkage of STDP and dopamine signaling", Cereb. Cortex 17 (2007) 2443-2452 (and of
its code dastdp.m): 1000 Izhikevich neurons (800 regular-spiking excitatory, 200 fast-spiking
inhibitory; library model ``izhikevich``), 100 random synapses per neuron (excitatory ones onto
any neuron, inhibitory ones onto excitatory neurons, with repetition, as the code), 1 ms
delays, voltage jumps of +1 mV (excitatory, initially) and -1 mV (inhibitory), a random
thalamic input of 13 (U(0, 1) - 0.5) mV/ms drawn anew every ms.  Every excitatory synapse is
plastic with R-STDP (library rule ``rstdp``: eligibility c, dopamine d, w in [0, 4] mV).  One
synapse i -> j is chosen and starts at 0 mV (as the paper's code); every time j fires within
10 ms after i, a reward (d += d_reward) follows after a random delay of 1-3 s.

Paper's result (Fig. 1): after about an hour of simulated time the chosen synapse reaches
w_max = 4 mV, while the other excitatory weights stay low.

How the closed loop runs inside the compiled simulation (cpp_standalone, no Python in the
loop): a group of ``N_SLOTS`` "reward slots", each with a time of its next reward
``t_reward`` (1e9 s when none is pending).  A synapse i -> slot stores i's last spike time; a
synapse j -> slot sees each spike of j, tests 0 < t - t_i <= 10 ms and, round robin over the
slots (all slots count the pairings), the slot whose turn it is sets t_reward = t + U(1, 3) s.
A slot fires when t >= t_reward and its synapses onto every neuron add d_reward to the
neuron's ``dopamine`` (the rule's d, one copy per neuron).  A pairing that finds its slot
still pending overwrites it (``rewards_lost`` counts them; 4 slots make this rare).

Integration as the paper's code: 1 ms steps, v by two 0.5 ms Euler steps, u by one 1 ms
step (the right-hand sides are the library model's), the thalamic input drawn every ms, spikes
arrive 1 ms after they are fired.  Deviations: the eligibility c and the weights change
continuously (Euler at 1 ms) instead of every 10 ms; the pairing window is the paper's 10 ms
(its code uses 20 ms).  The full run (FULL below) is the paper's hour with its reward
d_reward = 0.5 uM; the chosen synapse gains about eta d_reward tau c(reward) per rewarded
pairing, tau = tau_c tau_d/(tau_c + tau_d) (a larger reward is no shortcut: see below).

Measured (cpp_standalone, seed 1, a machine shared by many jobs: wall times are inflated):

* ``--quick`` (300 s, the paper's d_reward = 0.5 uM; about 3 CPU-minutes of simulation
  plus a 1-4 min compile; 316 s wall): 7 pairings, all 7 also found offline in the recorded
  spikes, 7 rewards, none lost; every reward raised the chosen synapse (by 0.12 mV on
  average; 20 random excitatory synapses: -0.0005 mV), from 0 to 0.74 mV
  (target_weight_fraction 0.18, 35th percentile), while the median excitatory weight fell
  from 1 to 0.89 mV and only 0.9 % of them exceeded w_max/2; rates 1.4 Hz (exc), 0.9 Hz
  (inh).  The trend of Fig. 1, but five minutes are not the paper's hour: the chosen synapse
  has not yet passed the median.  ``--quick --seed 2`` (222 s wall): 3 pairings = 3
  offline = 3 rewards, each raised the chosen synapse (0.10 mV on average, random synapses
  0.006 mV), 0 -> 0.28 mV (5th percentile), median 0.92 mV.
* ``--duration 400 --d-reward 5`` (10 x the paper's reward; 1119 s wall): 31 pairings (31
  offline), 31 rewards; the chosen synapse reached w_max at ~280 s but the large rewards also
  drove many other weights up (39 % above w_max/2, mean 1.6 mV, rates up to 2 Hz), and it
  ended at 0.23 mV (39th percentile): a larger reward is no shortcut, it breaks the "rest
  stays low" part of the result.
* Full mode, the paper's hour with its reward (``python examples/izhikevich_2007_rstdp.py``,
  seed 1; 36 CPU-minutes, 54 min wall beside other jobs): 142 rewards; the chosen synapse
  ended at **3.92 mV = 0.979 w_max** (the paper's result: it reaches w_max), above 96.6 % of
  the excitatory weights (median 0.40 mV, mean 0.82 mV, 13 % above w_max/2); rates 1.4 Hz
  (exc) and 1.0 Hz (inh).  The ``long`` test asks more (above the 99th percentile) and fails
  there.  That run also counted 142 in-loop pairings against 145 offline: the in-loop test
  then compared ``lag <= 10 ms`` in float, where a lag of exactly 10 steps can round out;
  both tests now compare half a step beyond the bounds (the hour was not re-run since).

    python examples/izhikevich_2007_rstdp.py [--quick] [--out out/izhikevich_2007_rstdp]
"""

import argparse
import json
import os
import time

import numpy as np

import brian2 as b2
from brian2 import mV, ms, second

from brainkit import load_model
from brainkit.engine import StandaloneEngine, runtime_device
from brainkit.fileio import atomic_write, write_json

N_E, N_I, M = 800, 200, 100
N = N_E + N_I
DT = 1 * ms  # as the paper (its v update: two 0.5 ms Euler steps per 1 ms)
DT_S = float(DT / second)
N_SLOTS = 4
W_EXC, W_INH = 1.0, -1.0  # mV


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="out/izhikevich_2007_rstdp")
    p.add_argument("--quick", action="store_true",
                   help="a short run for the tests (see QUICK below)")
    p.add_argument("--duration", type=float, default=None, help="simulated seconds")
    p.add_argument("--d-reward", type=float, default=None,
                   help="dopamine per reward (uM; the paper: 0.5)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--backend", default="cpp_standalone", choices=["cpp_standalone", "runtime"])
    return p.parse_args(argv)


FULL = {"duration": 3600.0, "d_reward": 0.5}
QUICK = {"duration": 300.0, "d_reward": 0.5}


def build(seed, d_reward, rule):
    """The Brian2 objects of the experiment.

    Parameters
    ----------
    seed : int
        seed of the connectivity and of the traced synapses.
    d_reward : float
        dopamine added per reward (uM): d <- d + d_reward, tau_d dd/dt = -d.
    rule : brainkit Model
        the ``rstdp`` rule: tau_c dc/dt = -c + STDP, dw/dt = eta c (d + d_tonic)/second.

    Returns
    -------
    objects : list of Brian2 objects; info : dict (chosen synapse i -> j, its index, w_max).
    """
    rng = np.random.default_rng(seed)
    neuron = load_model("izhikevich")
    p_rule = dict(rule.parameters)
    for name in rule.weight_parameters:  # plain numbers in the unit of w: mV
        p_rule[name] = float(p_rule[name]) * mV
    p_rule["d_reward"] = d_reward

    # neurons: the library's Izhikevich model integrated as the paper's code does it (1 ms
    # steps: two 0.5 ms Euler steps of v, then one 1 ms step of u; the right-hand sides are
    # the library's equations), a and d per neuron, plus the rule's dopamine (an exact ODE)
    rhs = neuron.brian2_equations()
    dv, du = str(rhs["v"].expr), str(rhs["u"].expr)
    eqs = (rule.post_equations
           + "v : volt\nu : volt\nI = I_thal : volt/second\nI_thal : volt/second\n"
             "a : 1/second (constant)\nd : volt (constant)\nn_spikes : integer\n")
    ns = {k: v for k, v in neuron.parameters.items() if k not in ("a", "d")}
    ns.update(tau_d=rule.parameters["tau_d"], half=0.5 * ms, full=1 * ms)
    G = b2.NeuronGroup(N, eqs, threshold=neuron.threshold,
                       reset=neuron.reset + "\nn_spikes += 1", method="exact", namespace=ns,
                       dt=DT, name="neurons")
    G.run_regularly(f"v += half*({dv})\nv += half*({dv})\nu += full*({du})", when="groups",
                    name="izhikevich_update")
    exc_p = neuron.variants["regular_spiking"]
    inh_p = neuron.variants["fast_spiking"]
    G.a = np.r_[np.full(N_E, float(exc_p["a"])), np.full(N_I, float(inh_p["a"]))] / second
    G.d = np.r_[np.full(N_E, float(exc_p["d"])), np.full(N_I, float(inh_p["d"]))] * b2.volt
    G.v = -65 * mV
    G.u = float(neuron.parameters["b"]) * -65 * mV
    G.run_regularly("I_thal = 13*(rand() - 0.5)*mV/ms", dt=1 * ms, name="thalamus")

    # synapses: 100 targets per neuron, drawn with repetition as in the paper's code
    post_e = rng.integers(0, N, size=(N_E, M))
    post_i = rng.integers(0, N_E, size=(N_I, M))
    pre_e = np.repeat(np.arange(N_E), M)
    # the chosen synapse: the first of neuron 0 that is not an autapse
    k_chosen = int(np.flatnonzero(post_e.ravel()[:M] != 0)[0])
    n1, n2 = 0, int(post_e.ravel()[k_chosen])
    rule_eqs = rule.equations.replace("{WEIGHT_UNIT}", "volt")
    S_e = b2.Synapses(G, G, rule_eqs, on_pre=rule.on_pre + "\nv_post += w",
                      on_post=rule.on_post, namespace=p_rule, method="euler", delay=1 * ms,
                      dt=DT, name="exc_synapses")
    S_e.connect(i=pre_e, j=post_e.ravel())
    w0 = np.full(N_E * M, W_EXC)
    w0[k_chosen] = 0.0  # as the paper's code: the chosen synapse starts at 0
    S_e.w = w0 * mV
    S_i = b2.Synapses(G, G, "w : volt", on_pre="v_post += w", delay=1 * ms, dt=DT,
                      name="inh_synapses")
    S_i.connect(i=np.repeat(np.arange(N_E, N), M), j=post_i.ravel())
    S_i.w = W_INH * mV

    # the closed loop: pairing detection and delayed rewards, in generated code
    R = b2.NeuronGroup(N_SLOTS, """t_reward : second
                                   t_last_i : second
                                   n_pairings : integer
                                   n_lost : integer
                                   slot : integer (constant)""",
                       threshold="t >= t_reward", reset="t_reward = 1e9*second", dt=DT,
                       name="reward_slots")
    R.t_reward = 1e9 * second
    R.t_last_i = -1e9 * second
    R.slot = np.arange(N_SLOTS)
    # order=-1: i's spike time is stored before j's spikes of the same step are tested
    from_i = b2.Synapses(G, R, on_pre="t_last_i_post = t", dt=DT, order=-1, name="from_i")
    from_i.connect(i=n1, j=np.arange(N_SLOTS))
    from_j = b2.Synapses(G, R, on_pre="""
        lag = t - t_last_i_post
        paired = int(lag > 0.5*dt and lag < window + 0.5*dt)
        mine = paired*int(n_pairings_post % n_slots == slot_post)
        n_lost_post += mine*int(t_reward_post < 1e8*second)
        t_reward_post = mine*(t + delay_min + (delay_max - delay_min)*rand()) + (1 - mine)*t_reward_post
        n_pairings_post += paired""",
                         namespace={"window": 10 * ms, "n_slots": N_SLOTS,
                                    "delay_min": 1 * second, "delay_max": 3 * second},
                         dt=DT, name="from_j")
    from_j.connect(i=n2, j=np.arange(N_SLOTS))
    give = b2.Synapses(R, G, on_pre="dopamine_post += d_reward",
                       namespace={"d_reward": d_reward}, dt=DT, name="give_dopamine")
    give.connect()

    others = rng.choice(np.setdiff1d(np.arange(N_E * M), [k_chosen]), 20, replace=False)
    traced = np.r_[k_chosen, others]
    w_mon = b2.StateMonitor(S_e, ["w", "c"], record=traced, dt=100 * ms, name="w_trace")
    d_mon = b2.StateMonitor(G, "dopamine", record=[0], dt=10 * ms, name="d_trace")
    r_mon = b2.SpikeMonitor(R, name="rewards")
    s_mon = b2.SpikeMonitor(G, name="spikes")
    objs = [G, S_e, S_i, R, from_i, from_j, give, w_mon, d_mon, r_mon, s_mon]
    info = {"n1": n1, "n2": n2, "k_chosen": k_chosen, "w_max": float(p_rule["w_max"] / mV)}
    return objs, info


def run(args):
    cfg = dict(QUICK if args.quick else FULL)
    if args.duration is not None:
        cfg["duration"] = args.duration
    if args.d_reward is not None:
        cfg["d_reward"] = args.d_reward
    cfg["seed"] = args.seed
    rule = load_model("rstdp")
    b2.start_scope()
    engine = StandaloneEngine(prefix="brainkit-izh2007-") \
        if args.backend == "cpp_standalone" else None
    t0 = time.perf_counter()
    with engine.compiling() if engine is not None else runtime_device("numpy"):
        b2.seed(args.seed)
        objs, info = build(args.seed, cfg["d_reward"], rule)
        G, S_e, S_i, R, from_i, from_j, give, w_mon, d_mon, r_mon, s_mon = objs
        net = b2.Network(objs)
        print(f"simulating {cfg['duration']:.0f} s (chosen synapse {info['n1']} -> "
              f"{info['n2']}, d_reward = {cfg['d_reward']} uM) ...", flush=True)
        net.run(cfg["duration"] * second, report="text", report_period=60 * second)
    if engine is not None:  # the block compiled the project; now run the binary
        engine.run(with_output=True)
    wall = time.perf_counter() - t0
    res = {"w": np.array(S_e.w[:] / mV, copy=True),
           "t_trace": np.array(w_mon.t / second, copy=True),
           "w_trace": np.array(w_mon.w / mV, copy=True), "c_trace": np.array(w_mon.c, copy=True),
           "t_d": np.array(d_mon.t / second, copy=True),
           "d": np.array(d_mon.dopamine[0], copy=True),
           "t_rewards": np.array(r_mon.t / second, copy=True),
           "n_pairings": int(np.asarray(R.n_pairings[:])[0]),
           "n_lost": int(np.asarray(R.n_lost[:]).sum()),
           "n_spikes": np.array(G.n_spikes[:], copy=True),
           "spikes_i": np.array(s_mon.t[s_mon.i == info["n1"]] / second, copy=True),
           "spikes_j": np.array(s_mon.t[s_mon.i == info["n2"]] / second, copy=True)}
    return cfg, info, res, wall


def pairings_from_spikes(t_i, t_j, window=0.010):
    """Spikes of j that follow the last spike of i by 0 < lag <= window (s), from the
    recorded spike times: the simulation's closed-loop test done offline.  As in the paper's
    code, a spike of i in the same step as j's is i's last spike (lag 0: no pairing).  Both
    tests compare lags to half a step beyond the bounds: spike times are multiples of dt, and
    a lag of exactly the window must not fall out by float rounding."""
    t_i = np.sort(t_i)
    k = np.searchsorted(t_i, t_j, side="right") - 1  # last spike of i at or before t_j
    lag = np.where(k >= 0, t_j - t_i[np.clip(k, 0, None)], np.inf)
    return t_j[(lag > 0.5 * DT_S) & (lag < window + 0.5 * DT_S)]


def reward_gains(res, before=0.1, after=2.0):
    """Weight change of each traced synapse (row 0: the chosen one) from ``before`` s before
    to ``after`` s after each reward: Delta w = eta int c d dt over the reward's dopamine
    pulse.  Returns an array (rewards, traced synapses) in mV."""
    t, w = res["t_trace"], res["w_trace"]
    rows = []
    for tr in res["t_rewards"]:
        a = min(np.searchsorted(t, tr - before), len(t) - 1)
        b = min(np.searchsorted(t, tr + after), len(t) - 1)
        rows.append(w[:, b] - w[:, a])
    return np.array(rows).reshape(len(rows), w.shape[0])


def metrics_of(cfg, info, res, wall):
    w, k, w_max = res["w"], info["k_chosen"], info["w_max"]
    w_target = float(min(w[k], w_max))  # the Euler drift may overshoot by one step
    rest = np.delete(w, k)
    rates = res["n_spikes"] / cfg["duration"]
    gains = reward_gains(res)
    return {
        "target_weight_fraction": w_target / w_max,
        "target_weight_mV": w_target,
        "target_percentile": float(100.0 * np.mean(w <= w[k])),
        "median_exc_weight_mV": float(np.median(w)),
        "mean_exc_weight_mV": float(np.mean(rest)),
        "fraction_exc_weights_above_half_w_max": float(np.mean(rest > w_max / 2)),
        "w_max_mV": w_max,
        "synapse": {"pre": info["n1"], "post": info["n2"]},
        "pairings": res["n_pairings"],
        "pairings_from_spikes": int(len(pairings_from_spikes(res["spikes_i"],
                                                             res["spikes_j"]))),
        "rewards": int(len(res["t_rewards"])),
        "rewards_lost": res["n_lost"],
        # credit assignment: the chosen synapse gains at the rewards, the others do not
        "reward_gain_chosen_mV": float(gains[:, 0].mean()) if len(gains) else None,
        "reward_gain_others_mV": float(gains[:, 1:].mean()) if len(gains) else None,
        "rewards_raising_chosen": int((gains[:, 0] > 0).sum()),
        "rate_exc_hz": float(rates[:N_E].mean()),
        "rate_inh_hz": float(rates[N_E:].mean()),
        "duration_s": cfg["duration"],
        "d_reward": cfg["d_reward"],
        "seed": cfg["seed"],
        "wall_s": wall,
    }


def plot(out, info, res, metrics):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(3, 1, figsize=(8, 9))
    t = res["t_trace"]
    ax[0].plot(t, res["w_trace"][1:].T, color="0.75", lw=0.6)
    ax[0].plot(t, res["w_trace"][0], color="C0", lw=1.5, label=f"chosen {info['n1']}->"
               f"{info['n2']}")
    ax[0].plot(res["t_rewards"], np.zeros_like(res["t_rewards"]), "rx", ms=4, label="rewards")
    ax[0].set(ylabel="weight (mV)", ylim=(-0.2, info["w_max"] * 1.05),
              title="Izhikevich (2007) Fig. 1: reinforcing a synapse")
    ax[0].legend(loc="upper left", fontsize=8)
    ax[1].plot(t, res["c_trace"][0], color="C2", lw=0.8, label="eligibility c (chosen)")
    ax[1].plot(res["t_d"], res["d"], color="C3", lw=0.8, label="dopamine d (uM)")
    ax[1].set(xlabel="time (s)")
    ax[1].legend(loc="upper left", fontsize=8)
    ax[2].hist(res["w"], bins=np.linspace(0, info["w_max"], 41), color="0.5")
    ax[2].set_yscale("log")
    ax[2].axvline(res["w"][info["k_chosen"]], color="C0",
                  label=f"chosen: {metrics['target_percentile']:.1f}th percentile")
    ax[2].set(xlabel="final excitatory weight (mV)", ylabel="synapses")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(out, "rstdp_fig1.png")
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    cfg, info, res, wall = run(args)
    metrics = metrics_of(cfg, info, res, wall)
    plot(args.out, info, res, metrics)
    write_json(os.path.join(args.out, "metrics.json"), metrics, indent=1)
    print(json.dumps(metrics, indent=1))
    return metrics


if __name__ == "__main__":
    main()
