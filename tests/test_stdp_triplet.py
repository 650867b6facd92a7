"""Triplet STDP (Pfister & Gerstner 2006): the measured weight changes of spike pairs, triplets
and of the Sjostrom et al. (2001) pairing protocol against the rule's closed forms.

Set-up (as in ``test_plasticity_models.py``, with voltage jumps instead of currents): synapse k
connects presynaptic spike-generator neuron k to postsynaptic LIF k (one-to-one); post neuron
k is made to spike by a second spike generator ("drive") through a ``delta_voltage`` synapse
of 100 mV: a drive spike at step n makes v jump above threshold, so the LIF spikes at step
n + 1 (checked from the recorded spikes).  The plastic synapses are ``delta_voltage`` too, with
weights <= W_MAX = 0.5 mV: far too weak to make the LIF spike.  Every synapse sees only its
own spike trains, so its weight change is the rule evaluated on those trains; the traces are
event-driven (exact exponentials), hence agreement to rounding error.

Independent reference: the rule written as explicit sums over spike times (no traces):

    Delta w / w_max = sum_{post t_j} [sum_{pre t_i < t_j} e^{-(t_j - t_i)/tau_plus}]
                                      (A2+ + A3+ sum_{post t_k < t_j} e^{-(t_j - t_k)/tau_y})
                    - sum_{pre t_i} [sum_{post t_j < t_i} e^{-(t_i - t_j)/tau_minus}]
                                      (A2- + A3- sum_{pre t_m < t_i} e^{-(t_i - t_m)/tau_x})

(the strict "<" in the triplet sums is the paper's r2(t - eps), o2(t - eps): a spike does not
pair with itself), valid while the weight stays inside the bounds [0, w_max].
"""

import numpy as np
import pytest
from brian2 import mV, ms, second

from brainkit import ModelError, Network, load_model

W_MAX = 0.5 * mV
T0 = 100.0  # ms: every synapse's first event happens at or after this time
WINDOW_DT = np.array([-80, -40, -20, -10, -5, -2, -1, -0.1, 0.1, 1, 2, 5, 10, 20, 40, 80.0])
# triplets (ms after T0): (pre times, post times)
TRIPLETS = {
    "pre-post-pre": ([0.0, 10.0], [5.0]),      # Wang et al. 2005: dt1 = +5, dt2 = -5 ms
    "post-pre-post": ([5.0], [0.0, 10.0]),     # Wang et al. 2005: dt1 = -5, dt2 = +5 ms
    "pre-post-post": ([0.0], [7.0, 19.0]),     # exercises A3+ (o2 of the first post spike)
    "post-pre-pre": ([7.0, 19.0], [0.0]),      # exercises A3- (r2 of the first pre spike)
}
# Table 4 of Pfister & Gerstner (2006), All-to-All: (tau_x, tau_y) in ms, A2+, A3+, A2-, A3-
TABLE4 = {
    "visual_cortex": (101, 125, 5e-10, 6.2e-3, 7e-3, 2.3e-4),
    "visual_cortex_minimal": (101, 125, 0.0, 6.5e-3, 7.1e-3, 0.0),
    "hippocampal": (946, 27, 6.1e-3, 6.7e-3, 1.6e-3, 1.4e-3),
}
# pairing protocol (Sjostrom et al. 2001; Pfister & Gerstner 2006, Fig. 4): 60 pairings at
# rho Hz, post spike dt = +-10 ms after the pre spike.  Periods are whole ms (dt = 1 ms).
RHOS = np.array([1, 2, 5, 10, 20, 25, 40, 50])
N_PAIRINGS = 60
PAIR_DT = 10.0
SCALE = 0.5  # amplitudes x 0.5 keep 60 pairings inside [0, w_max] (the rule is linear in them)


def params_of(model):
    """(tau_plus, tau_minus, tau_x, tau_y) in seconds and the four amplitudes."""
    p = model.parameters
    return dict(tau_plus=float(p["tau_plus"]), tau_minus=float(p["tau_minus"]),
                tau_x=float(p["tau_x"]), tau_y=float(p["tau_y"]), A2p=p["A2_plus"],
                A3p=p["A3_plus"], A2m=p["A2_minus"], A3m=p["A3_minus"])


def triplet_sum(pre, post, tau_plus, tau_minus, tau_x, tau_y, A2p, A3p, A2m, A3m):
    """Delta w / w_max of all-to-all triplet STDP for spike times ``pre``, ``post`` (seconds),
    as explicit sums over spikes (the module docstring's formula; no bounds)."""
    pre, post = np.asarray(pre, float), np.asarray(post, float)
    total = 0.0
    for tj in post:
        r1 = np.exp(-(tj - pre[pre < tj]) / tau_plus).sum()
        o2 = np.exp(-(tj - post[post < tj]) / tau_y).sum()
        total += r1 * (A2p + A3p * o2)
    for ti in pre:
        o1 = np.exp(-(ti - post[post < ti]) / tau_minus).sum()
        r2 = np.exp(-(ti - pre[pre < ti]) / tau_x).sum()
        total -= o1 * (A2m + A3m * r2)
    return total


def simulate(pre, post, rules, w0, dt, duration, backend="runtime"):
    """Run one synapse per entry of ``pre``/``post`` (lists of spike times in ms) for every
    plasticity rule in ``rules`` ({name: Model}); returns (final weights / w_max by rule name,
    recorded pre and post spike times in seconds per synapse)."""
    n = len(pre)
    pre_i = np.concatenate([[k] * len(p) for k, p in enumerate(pre)]).astype(int)
    pre_t = np.concatenate([np.asarray(p, float) for p in pre])
    post_i = np.concatenate([[k] * len(p) for k, p in enumerate(post)]).astype(int)
    post_t = np.concatenate([np.asarray(p, float) for p in post])
    net = Network(dt=dt, backend=backend, name="triplet")
    net.spike_source("pre", n, pre_i, pre_t * ms)
    net.spike_source("drive", n, post_i, post_t * ms - dt)  # one step before the post spike
    net.population("post", "lif", n, params={"t_ref": 1 * ms})
    net.connect("drive", "post", "delta_voltage", weights=100 * mV, rule="one_to_one")
    for name, model in rules.items():
        net.connect("pre", "post", "delta_voltage", weights=w0 * W_MAX, rule="one_to_one",
                    plasticity=model, plasticity_params={"w_max": W_MAX}, name=name)
    net.record("pre", "spikes")
    net.record("post", "spikes")
    res = net.run(duration)
    spikes = {}
    for side in ("pre", "post"):
        i, t = res.spikes[side]
        t = np.asarray(t / second)
        spikes[side] = [np.sort(t[i == k]) for k in range(n)]
    weights = {name: np.asarray(res.weights[name] / W_MAX) for name in rules}
    return weights, spikes


def _check_spikes(spikes, pre, post):
    """The recorded spikes are exactly the asked ones (post: one step after each drive)."""
    for side, asked in (("pre", pre), ("post", post)):
        for k, times in enumerate(asked):
            assert np.allclose(spikes[side][k], np.sort(times) * 1e-3, rtol=0, atol=1e-9), \
                (side, k)


# ------------------------------------------------------------------ pairs and triplets
def _pair_layout():
    """Spike trains (ms) of the window pairs and the triplets, initial weights, rules."""
    pre, post, w0 = [], [], []
    for d in WINDOW_DT:  # a potentiating pair starts at 0, a depressing one at w_max
        pre.append([T0]), post.append([T0 + d]), w0.append(0.0 if d > 0 else 1.0)
    n_window = len(pre)
    for tp, tq in TRIPLETS.values():
        pre.append([T0 + x for x in tp]), post.append([T0 + x for x in tq]), w0.append(0.5)
    rules = {"visual": load_model("stdp_triplet"),
             "hippo": load_model("stdp_triplet", variant="hippocampal")}
    return pre, post, np.array(w0), rules, n_window


@pytest.fixture(scope="module")
def pair_sim():
    pre, post, w0, rules, n_window = _pair_layout()
    weights, spikes = simulate(pre, post, rules, w0, 0.1 * ms, 250 * ms)
    _check_spikes(spikes, pre, post)
    return weights, spikes, w0, rules, n_window


def test_default_parameters_are_table4_all_to_all_visual_cortex():
    sets = [(load_model("stdp_triplet"), TABLE4["visual_cortex"])]  # the default
    sets += [(load_model("stdp_triplet", variant=v), TABLE4[v]) for v in TABLE4]
    for m, (tx, ty, a2p, a3p, a2m, a3m) in sets:
        p = m.parameters
        assert float(p["tau_plus"] / ms) == pytest.approx(16.8)
        assert float(p["tau_minus"] / ms) == pytest.approx(33.7)
        assert float(p["tau_x"] / ms) == pytest.approx(tx)
        assert float(p["tau_y"] / ms) == pytest.approx(ty)
        assert (p["A2_plus"], p["A3_plus"], p["A2_minus"], p["A3_minus"]) == \
            (a2p, a3p, a2m, a3m)
    assert load_model("stdp_triplet").weight_parameters == ["w_max"]


def test_unknown_variant_and_bad_parameter_are_errors():
    with pytest.raises(ModelError, match="no variant 'cortex'"):
        load_model("stdp_triplet", variant="cortex")
    with pytest.raises(ModelError, match="tau_x"):
        load_model("stdp_triplet", tau_x=5 * mV)


@pytest.mark.parametrize("rule", ["visual", "hippo"])
def test_pair_window_matches_closed_form(pair_sim, rule):
    """Delta w / w_max = A2+ exp(-dt/tau_plus) (dt > 0), -A2- exp(dt/tau_minus) (dt < 0)."""
    weights, spikes, w0, rules, n_window = pair_sim
    k = np.arange(n_window)
    dt = np.array([spikes["post"][j][0] - spikes["pre"][j][0] for j in k])  # measured, s
    assert np.allclose(dt * 1e3, WINDOW_DT, atol=1e-9)
    p = params_of(rules[rule])
    expected = np.where(dt > 0, p["A2p"] * np.exp(-dt / p["tau_plus"]),
                        -p["A2m"] * np.exp(dt / p["tau_minus"]))
    dw = weights[rule][k] - w0[k]
    print(f"\n{rule}: max |dw/expected - 1| = {np.max(np.abs(dw / expected - 1)):.1e}")
    assert np.allclose(dw, expected, rtol=1e-9, atol=0)


@pytest.mark.parametrize("rule", ["visual", "hippo"])
@pytest.mark.parametrize("name", list(TRIPLETS))
def test_triplets_match_closed_form(pair_sim, rule, name):
    weights, spikes, w0, rules, n_window = pair_sim
    j = n_window + list(TRIPLETS).index(name)
    p = params_of(rules[rule])
    e = np.exp
    tp, tq = TRIPLETS[name]
    # the closed form of each pattern, written out by hand (times in s)
    if name == "pre-post-pre":      # pre 0, post 5, pre 10
        expected = (p["A2p"] * e(-5e-3 / p["tau_plus"])
                    - e(-5e-3 / p["tau_minus"]) * (p["A2m"] + p["A3m"] * e(-10e-3 / p["tau_x"])))
    elif name == "post-pre-post":   # post 0, pre 5, post 10
        expected = (-p["A2m"] * e(-5e-3 / p["tau_minus"])
                    + e(-5e-3 / p["tau_plus"]) * (p["A2p"] + p["A3p"] * e(-10e-3 / p["tau_y"])))
    elif name == "pre-post-post":   # pre 0, post 7, post 19
        expected = (p["A2p"] * e(-7e-3 / p["tau_plus"])
                    + e(-19e-3 / p["tau_plus"]) * (p["A2p"] + p["A3p"] * e(-12e-3 / p["tau_y"])))
    else:                           # post 0, pre 7, pre 19
        expected = -(p["A2m"] * e(-7e-3 / p["tau_minus"])
                     + e(-19e-3 / p["tau_minus"]) * (p["A2m"] + p["A3m"] * e(-12e-3 / p["tau_x"])))
    dw = weights[rule][j] - w0[j]
    assert dw == pytest.approx(expected, rel=1e-9)
    assert dw == pytest.approx(triplet_sum(spikes["pre"][j], spikes["post"][j], **p), rel=1e-9)
    # the triplet term is what makes the rule differ from the pair rule (A3 = 0)
    pair_only = triplet_sum(spikes["pre"][j], spikes["post"][j], **dict(p, A3p=0, A3m=0))
    assert abs(dw - pair_only) > 1e-6


# ------------------------------------------------------------ the pairing protocol
def _protocol(rhos):
    pre, post, keys = [], [], []
    for sign in (+1, -1):
        for rho in rhos:
            t = T0 + np.arange(N_PAIRINGS) * (1000.0 / rho)
            pre.append(t), post.append(t + sign * PAIR_DT), keys.append((sign, int(rho)))
    duration = (T0 + N_PAIRINGS * 1000.0 / min(rhos) + 50) * ms
    return pre, post, keys, duration


def _scaled(model):
    return model.with_parameters(**{a: SCALE * model.parameters[a] for a in
                                    ("A2_plus", "A3_plus", "A2_minus", "A3_minus")})


def _frequency_dependence(rhos):
    pre, post, keys, duration = _protocol(rhos)
    rules = {"visual": _scaled(load_model("stdp_triplet")),
             "minimal": _scaled(load_model("stdp_triplet", variant="visual_cortex_minimal"))}
    w0 = np.full(len(pre), 0.5)
    weights, spikes = simulate(pre, post, rules, w0, 1 * ms, duration)
    _check_spikes(spikes, pre, post)
    results = {}
    for name, model in rules.items():
        dw = weights[name] - w0
        assert np.all((weights[name] > 0) & (weights[name] < 1))  # never clipped
        expected = np.array([triplet_sum(spikes["pre"][k], spikes["post"][k],
                                         **params_of(model)) for k in range(len(pre))])
        print(f"\n{name} (amplitudes x {SCALE}): rho, dw(+10 ms), dw(-10 ms)")
        by = dict(zip(keys, dw))
        for rho in rhos:
            print(f"  {rho:3d} Hz  {by[(1, rho)] / SCALE:+.4f}  {by[(-1, rho)] / SCALE:+.4f}")
        assert np.allclose(dw, expected, rtol=1e-9, atol=1e-15)
        # Pfister & Gerstner Fig. 4 (Sjostrom et al. 2001): pre-post pairs potentiate more the
        # higher the frequency; post-pre pairs depress at low frequency and potentiate at
        # 50 Hz: at high frequency both signs of dt potentiate.
        plus = np.array([by[(1, r)] for r in rhos])
        minus = np.array([by[(-1, r)] for r in rhos])
        assert np.all(np.diff(plus) > 0)
        assert plus[-1] > 0 and minus[-1] > 0
        assert minus[0] < 0
        results[name] = (plus / SCALE, minus / SCALE)
    return results


def test_frequency_dependence_of_the_pairing_protocol():
    """1-50 Hz (60 s of simulated time at dt = 1 ms, ~15 s to run): at 1 Hz pre-post pairs
    barely change the weight (the visual-cortex pair term A2+ is ~0), post-pre pairs
    depress."""
    results = _frequency_dependence(RHOS)
    for plus, minus in results.values():
        assert abs(plus[0]) < 0.001 * plus[-1]  # 1 Hz versus 50 Hz


@pytest.mark.long
@pytest.mark.standalone
def test_cpp_standalone_gives_the_same_weights(pair_sim):
    """The pairs and triplets compiled with cpp_standalone: the same weights as the runtime
    run, which the tests above check against the closed forms."""
    pre, post, w0, rules, n_window = _pair_layout()
    weights, spikes = simulate(pre, post, rules, w0, 0.1 * ms, 250 * ms,
                               backend="cpp_standalone")
    _check_spikes(spikes, pre, post)
    for name in rules:
        assert np.allclose(weights[name] - w0, pair_sim[0][name] - w0, rtol=1e-9, atol=1e-18)
