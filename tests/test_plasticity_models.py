"""STDP rules of the library: the measured weight change of spike pairs and triplets in a
simulation against the rules' formulas.

Set-up (one simulation for every test of the window): synapse k connects presynaptic
spike-generator neuron k to postsynaptic LIF k (one-to-one, ``exp_current`` with the rule
attached).  Post neuron k is made to spike at chosen times by a second spike generator
("drive") through a very strong, very fast ``exp_current`` synapse: a drive spike at t makes
the LIF cross threshold in the next step, so it spikes at t + dt (checked below from the
recorded spikes, which are the times used for dt = t_post - t_pre).  The plastic weights are
~pA, far too weak to make the LIF spike by themselves.  Every synapse sees only its own pair
(or triplet), so its weight change is the rule's formula evaluated once; traces are
event-driven (exact exponentials), hence agreement to rounding error (1e-9 relative asked).

Window (A_plus = 0.01, A_minus/A_plus = 1.05, tau_plus = tau_minus = 20 ms):
    Delta w / w_max = A_plus exp(-dt/tau_plus)  (dt > 0),   -A_minus exp(dt/tau_minus)  (dt < 0).
"""

import dataclasses

import numpy as np
import pytest
from brian2 import amp, mV, ms, nA, nS, pA, second, siemens, uA

from brainkit import ModelError, Network, NetworkError, load_model

DT = 0.1 * ms
W_MAX = 1 * pA
A_PLUS, A_MINUS, TAU = 0.01, 0.0105, 20e-3
T_REF = 0.1  # seconds: every event of a synapse happens after this time
WINDOW_DT = np.array([-80, -40, -20, -10, -5, -2, -1, -0.1, 0.1, 1, 2, 5, 10, 20, 40, 80.0])
W0_GRID = np.linspace(0, 1, 11)          # initial weights (units of w_max) for the w-dependence
DEP_DT = 10.0                            # |dt| (ms) of the w-dependence pairs
# triplets (ms after T_REF): who spikes when; names say the order
TRIPLETS = {
    "pre-pre-post": ([0.0, 5.0], [15.0]),
    "post-post-pre": ([15.0], [0.0, 5.0]),
    "pre-post-pre": ([0.0, 12.0], [7.0]),
    "post-pre-post": ([7.0], [0.0, 12.0]),
}
RULES = ["stdp_pair_all", "stdp_pair_nearest", "stdp_online", "stdp_multiplicative"]
MUS = [0.5, 1.0, 2.0]


def _layout():
    """Synapse index -> (pre spike times, post spike times) in ms, and w0 (units of w_max)."""
    pre, post, w0, groups = [], [], [], {}
    for d in WINDOW_DT:
        pre.append([0.0]), post.append([d]), w0.append(0.5)
    groups["window"] = np.arange(len(WINDOW_DT))
    start = len(pre)
    for sign in (+1, -1):
        for w in W0_GRID:
            pre.append([0.0]), post.append([sign * DEP_DT]), w0.append(w)
    groups["wdep"] = np.arange(start, len(pre))
    for name, (tp, tq) in TRIPLETS.items():
        groups[name] = len(pre)
        pre.append(tp), post.append(tq), w0.append(0.5)
    return pre, post, np.array(w0), groups


@pytest.fixture(scope="module")
def sim():
    pre, post, w0, groups = _layout()
    n = len(pre)
    t_ref = T_REF * 1e3
    pre_i = np.concatenate([[k] * len(p) for k, p in enumerate(pre)]).astype(int)
    pre_t = np.concatenate([np.asarray(p) + t_ref + 100 for p in pre])
    post_i = np.concatenate([[k] * len(p) for k, p in enumerate(post)]).astype(int)
    post_t = np.concatenate([np.asarray(p) + t_ref + 100 for p in post])
    net = Network(dt=DT, backend="runtime")
    net.spike_source("pre", n, pre_i, pre_t * ms)
    # the drive spike one step before the wanted post spike
    net.spike_source("drive", n, post_i, (post_t - float(DT / ms)) * ms)
    # the library's LIF with Euler instead of 'exact': the post group has one exponential
    # current per connection (8 here), and Brian2's symbolic 'exact' solver takes minutes on a
    # 9-variable linear system.  Plasticity sees only spike times, which are checked below.
    lif_euler = dataclasses.replace(load_model("lif", t_ref=1 * ms), method="euler")
    net.population("post", lif_euler, n)
    net.connect("drive", "post", "exp_current", weights=1 * uA, rule="one_to_one",
                params={"tau_syn": 0.1 * ms})
    conns = {}
    for rule in RULES:
        conns[rule] = net.connect("pre", "post", "exp_current", weights=w0 * W_MAX,
                                  rule="one_to_one", plasticity=rule,
                                  plasticity_params={"w_max": W_MAX}, name=rule)
    for mu in MUS:
        conns[("mult", mu)] = net.connect(
            "pre", "post", "exp_current", weights=w0 * W_MAX, rule="one_to_one",
            plasticity="stdp_multiplicative", plasticity_params={"w_max": W_MAX, "mu": mu},
            name=f"mult_mu{mu}")
    net.record("post", "spikes")
    net.record("pre", "spikes")
    res = net.run(400 * ms)
    return res, conns, w0, groups, pre, post


def _dw(res, conns, key, w0):
    return np.asarray(res.weights[conns[key].name] / W_MAX) - w0


def _pair_formula(dt_ms):
    dt = np.asarray(dt_ms) * 1e-3
    return np.where(dt > 0, A_PLUS * np.exp(-dt / TAU), -A_MINUS * np.exp(dt / TAU))


def test_post_spikes_happen_exactly_where_asked(sim):
    res, conns, w0, groups, pre, post = sim
    i, t = res.spikes["post"]
    wanted = sorted((k, round(tt + T_REF * 1e3 + 100, 6)) for k, p in enumerate(post) for tt in p)
    got = sorted(zip(i.tolist(), np.round(np.asarray(t / ms), 6).tolist()))
    assert got == wanted  # one post spike per drive spike, one step later, none else


def test_default_parameters_are_the_stated_ones():
    for rule in RULES:
        p = load_model(rule).parameters
        assert p["A_plus"] == A_PLUS and p["A_minus"] / p["A_plus"] == pytest.approx(1.05)
        assert float(p["tau_plus"]) == float(p["tau_minus"]) == TAU
        assert load_model(rule).weight_parameters == ["w_max"]


@pytest.mark.parametrize("rule", ["stdp_pair_all", "stdp_pair_nearest", "stdp_online"])
def test_pair_window_matches_formula(sim, rule):
    res, conns, w0, groups, pre, post = sim
    k = groups["window"]
    # dt from the recorded spikes (grid times), not from what was asked
    ti = dict(zip(*[a.tolist() for a in (res.spikes["pre"][0], res.spikes["pre"][1] / ms)]))
    tp = dict(zip(*[a.tolist() for a in (res.spikes["post"][0], res.spikes["post"][1] / ms)]))
    measured_dt = np.array([tp[j] - ti[j] for j in k])
    assert np.allclose(measured_dt, WINDOW_DT, atol=1e-9)
    dw = _dw(res, conns, rule, w0)[k]
    expected = _pair_formula(measured_dt)
    print(f"\n{rule}: max |dw/expected - 1| over {len(k)} pairs = "
          f"{np.max(np.abs(dw / expected - 1)):.1e}")
    assert np.allclose(dw, expected, rtol=1e-9, atol=0)


def test_multiplicative_window_is_the_pair_window_times_the_weight_factor(sim):
    res, conns, w0, groups, pre, post = sim
    k = groups["window"]
    mu = load_model("stdp_multiplicative").parameters["mu"]
    dw = _dw(res, conns, "stdp_multiplicative", w0)[k]
    factor = np.where(WINDOW_DT > 0, (1 - w0[k]) ** mu, w0[k] ** mu)
    assert np.allclose(dw, _pair_formula(WINDOW_DT) * factor, rtol=1e-9, atol=0)


@pytest.mark.parametrize("mu", MUS)
def test_multiplicative_weight_dependence(sim, mu):
    """Delta w+ = A+ w_max (1 - w/w_max)^mu K(dt), Delta w- = -A- w_max (w/w_max)^mu K(dt)."""
    res, conns, w0, groups, pre, post = sim
    k = groups["wdep"]
    n = len(W0_GRID)
    dw = _dw(res, conns, ("mult", mu), w0)[k]
    K = np.exp(-DEP_DT * 1e-3 / TAU)
    expected_pot = A_PLUS * (1 - W0_GRID) ** mu * K
    expected_dep = -A_MINUS * W0_GRID ** mu * K
    assert np.allclose(dw[:n], expected_pot, rtol=1e-9, atol=1e-15)
    assert np.allclose(dw[n:], expected_dep, rtol=1e-9, atol=1e-15)
    # soft bounds: no change at the bound it moves towards
    assert dw[n - 1] == 0 and dw[n] == 0


@pytest.mark.parametrize("rule", ["stdp_pair_all", "stdp_pair_nearest", "stdp_online"])
def test_additive_rules_clip_at_the_bounds(sim, rule):
    res, conns, w0, groups, pre, post = sim
    k = groups["wdep"]
    n = len(W0_GRID)
    w_end = np.asarray(res.weights[conns[rule].name] / W_MAX)[k]
    K = np.exp(-DEP_DT * 1e-3 / TAU)
    assert np.allclose(w_end[:n], np.clip(W0_GRID + A_PLUS * K, 0, 1), rtol=1e-12, atol=1e-15)
    assert np.allclose(w_end[n:], np.clip(W0_GRID - A_MINUS * K, 0, 1), rtol=1e-12, atol=1e-15)
    assert w_end[n - 1] == 1.0 and w_end[n] == 0.0  # clipped, exactly at the bound


def _triplet_theory(name, nearest):
    """Sum of the pair terms (all-to-all) or only nearest-neighbour pairs (Morrison 2008)."""
    tp, tq = TRIPLETS[name]
    total = 0.0
    for q in tq:  # potentiation at each post spike, from earlier pre spikes
        earlier = [p for p in tp if p < q]
        if earlier:
            pairs = [max(earlier)] if nearest else earlier
            total += sum(A_PLUS * np.exp(-(q - p) * 1e-3 / TAU) for p in pairs)
    for p in tp:  # depression at each pre spike, from earlier post spikes
        earlier = [q for q in tq if q < p]
        if earlier:
            pairs = [max(earlier)] if nearest else earlier
            total -= sum(A_MINUS * np.exp(-(p - q) * 1e-3 / TAU) for q in pairs)
    return total


@pytest.mark.parametrize("name", list(TRIPLETS))
def test_triplets_nearest_versus_all_to_all(sim, name):
    res, conns, w0, groups, pre, post = sim
    k = groups[name]
    d_all = _dw(res, conns, "stdp_pair_all", w0)[k]
    d_online = _dw(res, conns, "stdp_online", w0)[k]
    d_near = _dw(res, conns, "stdp_pair_nearest", w0)[k]
    assert d_all == pytest.approx(_triplet_theory(name, nearest=False), rel=1e-9)
    assert d_online == pytest.approx(d_all, rel=1e-9)
    assert d_near == pytest.approx(_triplet_theory(name, nearest=True), rel=1e-9)
    if name in ("pre-pre-post", "post-post-pre"):
        # all-to-all adds the pair with the earlier spike of the doubled side: larger |dw|
        tp, tq = TRIPLETS[name]
        extra = (A_PLUS * np.exp(-(15 - 0) * 1e-3 / TAU) if name == "pre-pre-post"
                 else -A_MINUS * np.exp(-(15 - 0) * 1e-3 / TAU))
        assert d_all - d_near == pytest.approx(extra, rel=1e-9)
    else:  # alternating spikes: every pair is a nearest pair, the rules agree
        assert d_near == pytest.approx(d_all, rel=1e-9)


# ------------------------------------------------------------- weight units and bad input
def test_weight_parameters_take_the_unit_of_the_synapse_weight():
    net = Network(dt=DT, backend="runtime")
    net.spike_source("src", 2, [0], [1 * ms])
    net.population("lif", "lif", 2)
    net.population("theta", "theta", 2)
    c = net.connect("src", "lif", "exp_current", weights=0.5 * amp, plasticity="stdp_online")
    assert c.plasticity.parameters["w_max"] == 1 * amp  # the file's number, in w's unit
    c = net.connect("src", "lif", "exp_conductance", weights=1 * nS, plasticity="stdp_pair_all",
                    plasticity_params={"w_max": 5 * nS}, name="g")
    assert c.plasticity.parameters["w_max"] == 5 * nS
    assert c.plasticity.parameters["w_max"].dim == siemens.dim
    # continuous (gated) synapse onto a theta neuron: w is in seconds
    c = net.connect("src", "theta", "gated", weights=0.1 * second, plasticity="stdp_online",
                    name="gated")
    assert c.plasticity.parameters["w_max"] == 1 * second
    with pytest.raises(ModelError, match="w_max"):
        net.connect("src", "lif", "exp_current", weights=1 * pA, plasticity="stdp_online",
                    plasticity_params={"w_max": 1 * mV}, name="bad_unit")
    with pytest.raises(ModelError, match="no parameter 'A_plu'"):
        net.connect("src", "lif", "exp_current", weights=1 * pA, plasticity="stdp_online",
                    plasticity_params={"A_plu": 0.1}, name="bad_name")


def test_initial_weights_outside_the_bounds_are_an_error_not_clipped():
    net = Network(dt=DT, backend="runtime")
    net.spike_source("src", 2, [0], [1 * ms])
    net.population("post", "lif", 2)
    with pytest.raises(NetworkError, match=r"\[0, w_max"):
        net.connect("src", "post", "exp_current", weights=2 * nA, plasticity="stdp_online",
                    plasticity_params={"w_max": 1 * nA})
    with pytest.raises(NetworkError, match=r"\[0, w_max"):
        net.connect("src", "post", "exp_current", weights=np.array([-1, 1, 1, 1]) * pA,
                    plasticity="stdp_pair_all", plasticity_params={"w_max": 1 * nA})
    net.connect("src", "post", "exp_current", weights=0.5 * nA, plasticity="stdp_online",
                plasticity_params={"w_max": 1 * nA}, name="ok")
    with pytest.raises(NetworkError, match=r"\[0, w_max"):
        net.run(1 * ms, weights={"ok": 3 * nA})


def test_plasticity_rule_on_a_synapse_without_weight_is_an_error(tmp_path):
    f = tmp_path / "no_weight.yaml"
    f.write_text("name: no_weight\nkind: synapse\ntitle: t\nreference: r\ndescription: d\n"
                 "equations: |\n  u : 1\non_pre: u += 1\n")
    net = Network(dt=DT, backend="runtime")
    net.spike_source("src", 1, [0], [1 * ms])
    net.population("post", "lif", 1)
    with pytest.raises(ModelError, match="no_weight"):
        net.connect("src", "post", load_model(f), plasticity="stdp_online")


@pytest.mark.long
@pytest.mark.standalone
def test_rules_compile_to_cpp_standalone_and_rerun_with_new_weights():
    """The same window from the compiled binary; a re-run with new initial weights (no
    recompile) gives the multiplicative rule's new weight factor."""
    dts = np.array([-10.0, -1.0, 1.0, 10.0])
    n = len(dts)
    t_pre = np.full(n, 50.0)
    net = Network(dt=DT, backend="cpp_standalone", name="stdp")
    net.spike_source("pre", n, np.arange(n), t_pre * ms)
    net.spike_source("drive", n, np.arange(n), (t_pre + dts - float(DT / ms)) * ms)
    lif_euler = dataclasses.replace(load_model("lif", t_ref=1 * ms), method="euler")
    net.population("post", lif_euler, n)
    net.connect("drive", "post", "exp_current", weights=1 * uA, rule="one_to_one",
                params={"tau_syn": 0.1 * ms})
    w0 = np.full(n, 0.5)
    for rule in ("stdp_online", "stdp_multiplicative"):
        net.connect("pre", "post", "exp_current", weights=w0 * W_MAX, rule="one_to_one",
                    plasticity=rule, plasticity_params={"w_max": W_MAX}, name=rule)
    res = net.run(100 * ms)
    for rule in ("stdp_online", "stdp_multiplicative"):
        factor = 1.0 if rule == "stdp_online" else np.where(dts > 0, 1 - w0, w0)
        dw = np.asarray(res.weights[rule] / W_MAX) - w0
        assert np.allclose(dw, _pair_formula(dts) * factor, rtol=1e-9, atol=0)
    w1 = np.array([0.1, 0.9, 0.2, 0.7])
    res = net.run(100 * ms, weights={"stdp_multiplicative": w1 * W_MAX})  # same binary
    dw = np.asarray(res.weights["stdp_multiplicative"] / W_MAX) - w1
    assert np.allclose(dw, _pair_formula(dts) * np.where(dts > 0, 1 - w1, w1), rtol=1e-9,
                       atol=0)
