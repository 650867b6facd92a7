"""Reward-modulated STDP (Izhikevich 2007, models/plasticity/rstdp.yaml) against its formulas.

Set-up (Brian2 runtime, one simulation): presynaptic spike generator k -> postsynaptic neuron k
(one-to-one).  Post neuron k spikes exactly at a chosen grid time (threshold ``t >= t_spike``),
carries the rule's dopamine ``dopamine`` (exact exponential decay) and receives its own reward
spikes (``dopamine_post += d_reward``).  Each synapse sees one pre/post pair and at most one
reward, so its eligibility and weight follow closed forms:

* eligibility window (tau_c made huge so that c keeps its jump):
      c = A_plus exp(-dt/tau_plus)  (dt > 0),   -A_minus exp(dt/tau_minus)  (dt < 0);
* weight after a pair (c0 at t0) and a reward at t0 + D, read at t0 + T:
      Delta w = eta/s [c0 d_tonic tau_c (1 - e^{-T/tau_c})
                       + c0 e^{-D/tau_c} d_reward tau (1 - e^{-(T-D)/tau})],
      tau = tau_c tau_d/(tau_c + tau_d);
* no reward and no tonic dopamine: w does not change although c != 0.

The weight is integrated by Euler with the dopamine of the step (a left Riemann sum of
c(t) d(t)): its relative error is about dt/(2 tau) = 3e-4 at dt = 0.1 ms, hence rtol 1e-3.
"""

import numpy as np
import pytest
from brian2 import (Network as B2Network, NeuronGroup, SpikeGeneratorGroup, Synapses, get_unit,
                    mV, ms, prefs, second, start_scope)

from brainkit import load_model

DT = 0.1 * ms
T0 = 100.0  # ms: the pre spike of every pair
WINDOW_DT = np.array([-80, -40, -20, -10, -5, -1, 1, 5, 10, 20, 40, 80.0])
DELAYS = np.array([0.1, 0.5, 1.0])  # s: reward delay after the pair
PAIR_DT = 10.0                      # ms: the pair of the reward tests
T_END = 2500.0                      # ms


def rstdp_synapses(pre, post, rule, weight_unit, name, **overrides):
    """Brian2 Synapses of the rule (its weight w in ``weight_unit``), no transmission."""
    m = rule.with_parameters(**overrides) if overrides else rule
    ns = dict(m.parameters)
    for p in m.weight_parameters:
        ns[p] = float(ns[p]) * weight_unit
    eqs = m.equations.replace("{WEIGHT_UNIT}", repr(get_unit(weight_unit.dim)))
    return Synapses(pre, post, eqs, on_pre=m.on_pre, on_post=m.on_post, namespace=ns,
                    method="euler", dt=DT, name=name)


def _build(rule):
    """Pairs: window (tau_c huge, no dopamine), reward (pair + reward at D, a pair without
    reward: tonic only, a depressing pair with reward), noreward (d_tonic = 0, no reward)."""
    layout = []  # (connection, dt_ms, reward delay in s or None)
    layout += [("window", d, None) for d in WINDOW_DT]
    layout += [("reward", PAIR_DT, D) for D in DELAYS]
    layout += [("reward", PAIR_DT, None), ("reward", -PAIR_DT, 0.5)]
    layout += [("noreward", PAIR_DT, None), ("noreward", -PAIR_DT, None)]
    n = len(layout)
    dt_ms = np.array([x[1] for x in layout])
    # post spike at a grid time: threshold t >= t_spike with t_spike half a step early
    t_post = T0 + dt_ms
    t_pre = np.full(n, T0)
    post = NeuronGroup(n, "ddopamine/dt = -dopamine/tau_d : 1\nt_spike : second",
                       threshold="t >= t_spike", reset="t_spike = 1e9*second", method="exact",
                       namespace={"tau_d": rule.parameters["tau_d"]}, dt=DT, name="post")
    post.t_spike = (t_post - 0.05) * ms
    pre = SpikeGeneratorGroup(n, np.arange(n), t_pre * ms, dt=DT, name="pre")
    rewarded = [k for k, x in enumerate(layout) if x[2] is not None]
    t_reward = np.array([max(t_pre[k], t_post[k]) + layout[k][2] * 1e3 for k in rewarded])
    reward = SpikeGeneratorGroup(n, np.array(rewarded), t_reward * ms, dt=DT, name="rewards")
    give = Synapses(reward, post, on_pre="dopamine_post += d_reward",
                    namespace={"d_reward": rule.parameters["d_reward"]}, dt=DT, name="give")
    give.connect(j="i")
    syns = {"window": rstdp_synapses(pre, post, rule, mV, "window", tau_c=1e12 * second,
                                     d_tonic=0.0),
            "reward": rstdp_synapses(pre, post, rule, mV, "reward"),
            "noreward": rstdp_synapses(pre, post, rule, mV, "noreward", d_tonic=0.0)}
    w0 = 2.0  # mV, inside (0, w_max): no bound reached
    for name, S in syns.items():
        ks = [k for k, x in enumerate(layout) if x[0] == name]
        S.connect(i=ks, j=ks)
        S.w = w0 * mV
    net = B2Network(pre, post, reward, give, *syns.values())
    return net, syns, layout, w0, t_pre, t_post, t_reward, rewarded


@pytest.fixture(autouse=True)
def _numpy_target():
    """Plain numpy code generation: no Cython compile for these small simulations."""
    old = prefs.codegen.target
    prefs.codegen.target = "numpy"
    yield
    prefs.codegen.target = old


@pytest.fixture(scope="module")
def sim():
    old = prefs.codegen.target
    prefs.codegen.target = "numpy"
    start_scope()
    rule = load_model("rstdp")
    net, syns, layout, w0, t_pre, t_post, t_reward, rewarded = _build(rule)
    net.run(T_END * ms)
    prefs.codegen.target = old
    out = {name: (np.asarray(S.i[:]), np.asarray(S.c[:]), np.asarray(S.w[:] / mV))
           for name, S in syns.items()}
    return rule, out, layout, w0, t_post


def _stdp(dt_ms, p):
    dt = np.asarray(dt_ms) * 1e-3
    return np.where(dt > 0, p["A_plus"] * np.exp(-dt / float(p["tau_plus"])),
                    -p["A_minus"] * np.exp(dt / float(p["tau_minus"])))


def _delta_w(c0, D, T, p, d_tonic):
    """Closed form of eta/s * integral_0^T c(t) d(t) dt: c = c0 e^{-t/tau_c},
    d = d_tonic + d_reward e^{-(t-D)/tau_d} for t > D (D None: no reward)."""
    tc, td = float(p["tau_c"]), float(p["tau_d"])
    eta = float(p["eta"])  # mV per second per unit of c*d
    total = c0 * d_tonic * tc * (1 - np.exp(-T / tc))
    if D is not None:
        tau = tc * td / (tc + td)
        total += c0 * np.exp(-D / tc) * p["d_reward"] * tau * (1 - np.exp(-(T - D) / tau))
    return eta * total


def test_parameters_are_the_papers():
    p = load_model("rstdp").parameters
    assert (p["A_plus"], p["A_minus"]) == (1.0, 1.5)
    assert float(p["tau_plus"]) == float(p["tau_minus"]) == 20e-3
    assert float(p["tau_c"]) == 1.0 and float(p["tau_d"]) == 0.2
    assert p["d_reward"] == 0.5 and p["w_max"] == 4
    assert load_model("rstdp").weight_parameters == ["w_max", "eta"]


def test_eligibility_window_matches_the_pair_formula(sim):
    rule, out, layout, w0, t_post = sim
    i, c, w = out["window"]
    dts = np.array([layout[k][1] for k in i])
    expected = _stdp(dts, rule.parameters)
    print(f"\nwindow: max |c/expected - 1| = {np.max(np.abs(c / expected - 1)):.1e}")
    assert np.allclose(c, expected, rtol=1e-9, atol=0)
    assert np.all(w == w0)  # no dopamine at all: the weight never moved


def test_weight_change_after_a_delayed_reward_is_the_closed_form(sim):
    rule, out, layout, w0, t_post = sim
    p = rule.parameters
    i, c, w = out["reward"]
    errs = []
    for k, wk in zip(i, w):
        _, dt_ms, D = layout[k]
        c0 = float(_stdp(dt_ms, p))
        t_event = max(T0, T0 + dt_ms)  # the second spike of the pair sets c
        T = (T_END - t_event) * 1e-3
        expected = _delta_w(c0, D, T, p, p["d_tonic"])
        errs.append(abs((wk - w0) / expected - 1))
        assert wk - w0 == pytest.approx(expected, rel=1e-3), (dt_ms, D)
    print(f"\nreward: max relative error {max(errs):.1e}")
    # later rewards find a smaller c: the weight change falls with the delay
    gains = [w[list(i).index(k)] - w0 for k, x in enumerate(layout)
             if x[0] == "reward" and x[1] > 0 and x[2] is not None]
    assert gains[0] > gains[1] > gains[2] > 0


def test_without_reward_or_tonic_dopamine_the_weight_does_not_change(sim):
    rule, out, layout, w0, t_post = sim
    i, c, w = out["noreward"]
    assert np.all(np.abs(c) > 0.01)  # still eligible (c0 e^{-2.4}), ...
    assert np.all(w == w0)          # ... but nothing to convert it


def test_weights_stay_within_bounds():
    """A large reward drives a potentiated and a depressed synapse to their bounds."""
    start_scope()
    rule = load_model("rstdp")
    post = NeuronGroup(2, "ddopamine/dt = -dopamine/tau_d : 1\nt_spike : second",
                       threshold="t >= t_spike", reset="t_spike = 1e9*second", method="exact",
                       namespace={"tau_d": rule.parameters["tau_d"]}, dt=DT)
    post.t_spike = np.array([T0 + 10 - 0.05, T0 - 10 - 0.05]) * ms
    pre = SpikeGeneratorGroup(2, [0, 1], [T0, T0] * ms, dt=DT)
    S = rstdp_synapses(pre, post, rule, mV, "bounded")
    S.connect(j="i")
    S.w = 2 * mV
    post.dopamine = 50.0  # a flood of dopamine: |Delta w| far beyond the bounds
    B2Network(pre, post, S).run(300 * ms)
    w = np.asarray(S.w[:] / mV)
    w_max = float(rule.parameters["w_max"])
    step = float(rule.parameters["eta"]) * 1.0 * 50 * float(DT / second)  # one Euler step
    assert w_max <= w[0] <= w_max + step
    assert -step <= w[1] <= 0.0


def test_wrong_units_of_overrides_are_an_error():
    from brainkit import ModelError

    with pytest.raises(ModelError, match="tau_c"):
        load_model("rstdp", tau_c=5 * mV)


def test_network_connect_refuses_the_rule_with_a_clear_error():
    from brainkit import Network, NetworkError

    net = Network(dt=DT, backend="runtime")
    net.spike_source("src", 1, [0], [1 * ms])
    net.population("post", "izhikevich", 1)
    with pytest.raises(NetworkError, match="rule 'rstdp' keeps state in the target group"):
        net.connect("src", "post", "delta_voltage", weights=1 * mV, plasticity="rstdp")
