"""What a Brian2 user writes runs in a brainkit network, with Brian2's meaning: connection
conditions, ``p`` and ``n`` as expressions (the same synapses as a plain Brian2 script with
the same seed), weight expressions (Brian2's values, units checked), spikes recorded for
chosen neurons only, and clear one-line errors where brainkit cannot follow."""

import numpy as np
import pytest
from brian2 import Hz, mV, ms, nA, pA

from brainkit import Network, NetworkError
from brainkit import connectivity as cx
from brainkit.engine import runtime_device


def _plain_brian2(n_pre, n_post, seed, weights=None, **connect):
    """``(i, j, w)`` of a plain Brian2 script: ``seed(seed); S.connect(**connect);
    S.w = weights`` between two bare groups (numpy code generation)."""
    import brian2

    with runtime_device("numpy"):
        brian2.seed(seed)
        a, b = brian2.NeuronGroup(n_pre, ""), brian2.NeuronGroup(n_post, "")
        S = brian2.Synapses(a, b, "w : amp")
        S.connect(**connect)
        if weights is not None:
            S.w = weights
        out = np.array(S.i[:]), np.array(S.j[:]), np.array(S.w[:])
        brian2.Network(a, b, S)  # used: no "unused object" warning
    return out


def _net(n_pre=40, n_post=30):
    net = Network(dt=0.1 * ms, backend="runtime", seed=1)
    net.poisson_source("inp", n_pre, rates=50 * Hz)
    net.population("exc", "lif", n_post)
    return net


# ------------------------------------------------------------ 1. conditions, p, n
@pytest.mark.parametrize("connect", [
    dict(rule="i<30", p=0.1),
    dict(rule="i != j"),
    dict(rule="abs(i-j) <= 2"),
    dict(rule="i < j", p=0.5),
    dict(p="exp(-(i-j)**2/50)"),
    dict(rule="i != j", p="0.5*exp(-abs(i-j)/5.0)"),
    dict(p=0.2, n=2),
    dict(rule="j < 10", n="1 + i % 3"),
])
def test_condition_p_and_n_give_the_synapses_of_plain_brian2(connect):
    net = _net()
    c = net.connect("inp", "exc", weights=10 * pA, seed=7, **connect)
    b2 = {("condition" if k == "rule" else k): v for k, v in connect.items()}
    i, j, _ = _plain_brian2(40, 30, 7, **b2)
    assert len(i) > 0
    np.testing.assert_array_equal(c.i, i)
    np.testing.assert_array_equal(c.j, j)


def test_condition_with_p_draws_among_the_pairs_that_meet_it():
    # the bug of issue 18: rule='i<30' with p was drawn as if unconditioned
    net = _net(100, 100)
    c = net.connect("inp", "exc", weights=10 * pA, rule="i<30", p=0.1, seed=3)
    assert c.i.max() < 30
    # 3000 pairs meet the condition: Binomial(3000, 0.1), mean 300, sd 16.4
    assert abs(len(c.i) - 300) < 5 * 16.4
    c2 = net.connect("inp", "exc", weights=10 * pA, rule="i<30", p=0.1, seed=3, name="again")
    np.testing.assert_array_equal(c.i, c2.i)  # drawn once, with the seed
    d = net.connect("inp", "exc", weights=10 * pA, rule="abs(i-j) <= 2", name="band")
    assert set(zip(d.i.tolist(), d.j.tolist())) == {
        (a, b) for a in range(100) for b in range(100) if abs(a - b) <= 2}


def test_names_in_a_condition_come_from_namespace():
    net = _net()
    c = net.connect("inp", "exc", weights=10 * pA, rule="i < n_exc", namespace={"n_exc": 8})
    assert set(c.i.tolist()) == set(range(8)) and len(c.i) == 8 * 30


def test_named_rules_keep_their_draw():
    net = _net(30, 30)
    c = net.connect("inp", "exc", weights=10 * pA, p=0.2, seed=5)
    ref = cx.fixed_probability(30, 30, 0.2, seed=5)
    np.testing.assert_array_equal(c.i, ref[0])
    c = net.connect("inp", "exc", weights=10 * pA, rule="one_to_one", name="o")
    assert c.i.tolist() == c.j.tolist() == list(range(30))
    # one_to_one with p: Brian2's connect(condition='i == j', p=p)
    c = net.connect("inp", "exc", weights=10 * pA, rule="one_to_one", p=0.5, seed=2, name="op")
    i, j, _ = _plain_brian2(30, 30, 2, condition="i == j", p=0.5)
    assert c.i.tolist() == c.j.tolist() == i.tolist() == j.tolist()


@pytest.mark.parametrize("connect, message", [
    (dict(rule="ring", p=0.1), r"unknown rule 'ring' \(named rules: all_to_all"),
    (dict(rule="x_pre > 0"), r"rule 'x_pre > 0': unknown identifier 'x_pre' \(neuron "
                             "variables are not available"),
    (dict(rule="i < n_exc"), r"unknown identifier 'n_exc' \(give its value in namespace"),
    (dict(p="exp(-d/sigma)"), r"p 'exp\(-d/sigma\)': unknown identifier '(d|sigma)'"),
    (dict(rule="i <"), r"rule 'i <' is not an expression"),
    (dict(rule="i + 1"), r"is not a boolean condition"),
    (dict(rule="i < 3", p=1.5), r"must lie in \[0, 1\]"),
    (dict(rule="distance", p=0.5), r"rule 'distance' takes no p"),
    (dict(rule="i != j", i=[0], j=[1]), r"give the pairs one way"),
])
def test_conditions_brainkit_cannot_follow_are_one_line_errors_naming_the_connection(
        connect, message):
    net = _net()
    with pytest.raises(NetworkError, match=message) as err:
        net.connect("inp", "exc", weights=10 * pA, name="ff", **connect)
    assert str(err.value).startswith("connection 'ff': ") and "\n" not in str(err.value)


# ------------------------------------------------------------ 3. weight expressions
def test_weight_expressions_are_brian2s_values_with_their_units_checked():
    net = _net(200, 100)
    c = net.connect("inp", "exc", weights="rand()*10*pA", rule="i != j", p=0.3, seed=4)
    i, j, w = _plain_brian2(200, 100, 4, condition="i != j", p=0.3, weights="rand()*10*pA")
    np.testing.assert_array_equal(c.i, i)
    np.testing.assert_allclose(np.asarray(c.weights / pA), w / 1e-12, rtol=1e-12)
    # uniform on [0, 10) pA: mean 5, sd 10/sqrt(12) / sqrt(n)
    w = np.asarray(c.weights / pA)
    assert w.min() >= 0 and w.max() < 10
    assert abs(w.mean() - 5) < 5 * 10 / np.sqrt(12 * len(w))
    # deterministic expressions of i, j: exactly their values
    d = net.connect("inp", "exc", weights="0.5*nA*exp(-abs(i-j)/10.0)", rule="abs(i-j) < 4",
                    name="decay")
    np.testing.assert_allclose(np.asarray(d.weights / nA),
                               0.5 * np.exp(-np.abs(d.i - d.j) / 10.0), rtol=1e-12)
    with pytest.raises(NetworkError, match=r"connection 'bad': weights 'rand\(\)\*10\*mV' has "
                                           r"units V, expected A$"):
        net.connect("inp", "exc", weights="rand()*10*mV", p=0.1, name="bad")


def test_weight_expressions_run_and_come_back_as_the_run_weights():
    net = _net(40, 30)
    net.connect("inp", "exc", weights="rand()*20*pA", p=0.2, seed=1, name="ff")
    c = net.connections["ff"]
    net.record("exc", "spikes")
    res = net.run(5 * ms)
    np.testing.assert_array_equal(res.weights["ff"], c.weights)
    # a run takes an expression too, evaluated for this run's seed
    res = net.run(5 * ms, weights={"ff": "2*pA + 0*rand()*pA"}, seed=3)
    np.testing.assert_allclose(np.asarray(res.weights["ff"] / pA), 2.0)
    with pytest.raises(NetworkError, match="connection 'ff': weights '1\\*mV' has units V"):
        net.run(5 * ms, weights={"ff": "1*mV"})


# ------------------------------------------------------------ 2. recording chosen neurons
KEEP = {"inp": [17, 4, 9], "exc": [21, 4, 9]}


def _recorded_network(backend, keep=False):
    """Deterministic input (a spike generator) into LIF neurons through a condition, a weight
    expression and an expression delay; spikes recorded for the neurons ``KEEP`` names (or
    all)."""
    net = Network(dt=0.1 * ms, backend=backend, seed=3, name="rec")
    net.spike_source("inp", 20, np.arange(400) % 20, np.arange(400) * 0.25 * ms)
    net.population("exc", "lif", 30)
    net.connect("inp", "exc", weights="(0.5 + 0.5*rand())*nA", rule="abs(i-j) <= 3", seed=2,
                delay="1*ms + 0.1*ms*(i % 5)")
    net.record("inp", "spikes", indices=KEEP["inp"] if keep else True)
    net.record("exc", "spikes", indices=KEEP["exc"] if keep else True)
    net.record("exc", "v", indices=[0, 29])
    return net


def _only(res, target, keep):
    i, t = res.spikes[target]
    chosen = np.isin(i, keep)
    return i[chosen], np.asarray(t[chosen] / ms)


def test_spikes_are_recorded_for_the_chosen_neurons_only_with_their_own_indices():
    full = _recorded_network("runtime").run(100 * ms)
    part = _recorded_network("runtime", keep=True).run(100 * ms)
    for target, keep in KEEP.items():
        i, t = part.spikes[target]
        assert set(i.tolist()) == set(keep), target
        ref_i, ref_t = _only(full, target, keep)
        np.testing.assert_array_equal(i, ref_i)
        np.testing.assert_array_equal(np.asarray(t / ms), ref_t)
    counts = part.spike_counts("exc")
    assert counts.shape == (30,) and counts[[0, 1, 2]].sum() == 0
    assert np.all(counts[KEEP["exc"]] == [np.sum(full.spikes["exc"][0] == k)
                                          for k in KEEP["exc"]])


@pytest.mark.standalone
def test_chosen_spikes_weight_expressions_and_delays_run_the_same_on_cpp_standalone():
    rt = _recorded_network("runtime", keep=True).run(100 * ms)
    net = _recorded_network("cpp_standalone", keep=True)
    sa = net.run(100 * ms)
    net.close()
    np.testing.assert_array_equal(sa.weights["inp->exc"], rt.weights["inp->exc"])
    for target, keep in KEEP.items():
        assert set(sa.spikes[target][0].tolist()) == set(keep)
        np.testing.assert_array_equal(sa.spikes[target][0], rt.spikes[target][0])
        np.testing.assert_allclose(np.asarray(sa.spikes[target][1] / ms),
                                   np.asarray(rt.spikes[target][1] / ms), atol=1e-9)
    np.testing.assert_allclose(np.asarray(sa.traces["exc"]["v"] / mV),
                               np.asarray(rt.traces["exc"]["v"] / mV), atol=1e-6)


@pytest.mark.parametrize("args, message", [
    (("exc", "vv"), r"record\('exc', 'vv'\): model 'lif' has no variable 'vv' \(variables: "),
    (("exc", "v", [0, 30]), r"record\('exc'\): indices must lie in \[0, 30\), got values "
                            "from 0 to 30"),
    (("exc", "spikes", [-1]), r"indices must lie in \[0, 30\)"),
    (("exc", "spikes", [0.5, 2]), r"indices must be True or neuron indices \(integers\)"),
    (("exc", "spikes", []), r"indices must be True or neuron indices"),
    (("nobody", "spikes"), r"no population or source named 'nobody'"),
])
def test_record_checks_variables_and_indices_when_called(args, message):
    net = _net()
    with pytest.raises(NetworkError, match=message):
        net.record(*args)
    assert net.recordings == []


def test_a_variable_checked_only_at_build_is_a_clear_error_there():
    net = _net()
    net.connect("inp", "exc", weights=10 * pA, p=0.1)
    net.record("exc", "I_syn_c0")  # a connection's variable: exists
    net.record("exc", "g_c5")  # looks like one: checked when built
    with pytest.raises(NetworkError, match=r"record\('exc', 'g_c5'\): 'exc' has no variable "
                                           r"'g_c5' \(variables: .*I_syn_c0"):
        net.run(1 * ms)


# ------------------------------------------------------------ 3. delay expressions
def test_random_delay_expressions_are_drawn_once_checked_and_used():
    n = 300
    net = Network(dt=0.1 * ms, backend="runtime", seed=1)
    net.spike_source("inp", n, np.arange(n), np.zeros(n) * ms)
    net.population("exc", "lif", n)
    c = net.connect("inp", "exc", weights=50 * nA, rule="one_to_one", seed=5,
                    delay="1*ms + 2*ms*rand()")
    d = np.asarray(c.delay / ms)
    assert d.shape == (n,) and d.min() >= 1 and d.max() < 3
    assert abs(d.mean() - 2) < 5 * 2 / np.sqrt(12 * n)
    again = net.connect("inp", "exc", weights=50 * nA, rule="one_to_one", seed=5, name="again",
                        delay="1*ms + 2*ms*rand()")
    np.testing.assert_array_equal(again.delay, c.delay)  # the seed fixes the draw
    del net.connections["again"]
    net.record("exc", "spikes")
    i, t = net.run(5 * ms).spikes["exc"]
    first = np.array([np.asarray(t / ms)[i == k].min() for k in range(n)])
    # every neuron fires a fixed latency after its own delay (both on the dt grid)
    latency = first - np.round(d / 0.1) * 0.1
    assert np.ptp(latency) < 0.1 + 1e-9


@pytest.mark.parametrize("delay, message", [
    ("rand()*mV", r"connection 'd': delay 'rand\(\)\*mV' has units V, expected s$"),
    ("randn()*ms", r"connection 'd': delays must be finite and >= 0"),
    ("rand()*t_max", r"connection 'd': delay 'rand\(\)\*t_max': unknown identifier 't_max'"),
])
def test_delay_expressions_brainkit_cannot_use_are_one_line_errors(delay, message):
    net = _net()
    with pytest.raises(NetworkError, match=message):
        net.connect("inp", "exc", weights=10 * pA, p=0.5, delay=delay, name="d")
    c = net.connect("inp", "exc", weights=10 * pA, p=0.5, delay="rand()*t_max",
                    namespace={"t_max": 2 * ms}, name="ok")
    assert 0 <= c.delay.min() and c.delay.max() < 2 * ms


# ------------------------------------------------------------ subgroups, per-neuron parameters
def test_subgroups_connect_as_brian2s_synapses_of_two_subgroups():
    import brian2

    net = _net(40, 50)
    c = net.connect("inp[:30]", "exc[10:20]", weights=10 * pA, rule="i != j", p=0.3, seed=7)
    assert c.name == "inp[:30]->exc[10:20]" and c.shape == (30, 10)
    with runtime_device("numpy"):
        brian2.seed(7)
        a, b = brian2.NeuronGroup(40, ""), brian2.NeuronGroup(50, "")
        S = brian2.Synapses(a[:30], b[10:20], "w : amp")
        S.connect(condition="i != j", p=0.3)
        i, j = np.array(S.i[:]), np.array(S.j[:])  # counted from the subgroups' starts
        brian2.Network(a, b, S)
    assert len(i) > 0
    np.testing.assert_array_equal(c.i, i)
    np.testing.assert_array_equal(c.j, j + 10)
    # a weight matrix has the subgroups' shape, at connect and at run
    W = np.arange(1, 301).reshape(30, 10) * pA
    m = net.connect("inp[:30]", "exc[10:20]", weights=W, name="matrix")
    assert len(m.i) == 300 and set(m.j.tolist()) == set(range(10, 20))
    res = net.run(5 * ms, weights={"matrix": 2 * W})
    np.testing.assert_allclose(res.weights["matrix"] / pA, 2 * np.arange(1, 301))
    with pytest.raises(NetworkError, match=r"shape \(40, 50\), expected \(30, 10\)"):
        net.run(5 * ms, weights={"matrix": np.ones((40, 50)) * pA})


@pytest.mark.parametrize("spec, message", [
    ("exc[5:5]", "subgroup 'exc\\[5:5\\]' of 'exc' \\(30 neurons\\) is empty"),
    ("exc[30]", "neuron 30 of 'exc\\[30\\]' is outside 'exc' \\(30 neurons\\)"),
    ("exc[]", "'exc\\[\\]' is not a subgroup"),
    ("nope[1:2]", "no population or source named 'nope'"),
])
def test_a_wrong_subgroup_is_a_one_line_error(spec, message):
    with pytest.raises(NetworkError, match=message):
        _net().connect("inp", spec, weights=10 * pA)


def test_a_subgroup_is_recorded_under_its_population_with_its_indices():
    net = _net()
    net.connect("inp", "exc", weights=2 * nA, p=0.5, seed=1)
    net.record("exc[20:]", "spikes")
    net.record("exc[5:10]", "v", indices=[0, 4])
    res = net.run(20 * ms)
    i, _ = res.spikes["exc"]
    assert len(i) > 0 and i.min() >= 20
    assert res.traces["exc"]["v"].shape[0] == 2


def _if_counts(res, n):
    return np.bincount(res.spikes["P"][0], minlength=n)


@pytest.mark.parametrize("backend", ["runtime", pytest.param("cpp_standalone",
                                                             marks=pytest.mark.standalone)])
def test_per_neuron_parameters_give_each_neuron_its_analytic_rate(backend):
    # LIF under constant current fires every t_ref + tau_m ln((RI + E_L - V_r)/(RI + E_L - V_th))
    taus = np.linspace(5, 50, 10) * ms
    net = Network(dt=0.01 * ms, backend=backend, seed=1)
    net.population("P", "lif", 10, params={"tau_m": taus, "V_r": -65 * mV})
    net.record("P", "spikes")
    current = {"P": np.full(10, 0.3) * nA}
    res = net.run(200 * ms, I_ext=current)
    isi = 2e-3 + taus / ms * 1e-3 * np.log((30 - 70 + 65) / (30 - 70 + 50))
    # v starts at E_L = V_r - 5 mV: the first spike comes a little later than one ISI
    i, t = res.spikes["P"]
    t = np.asarray(t / ms) * 1e-3
    for k in range(10):
        tk = np.sort(t[i == k])
        np.testing.assert_allclose(np.diff(tk), isi[k], atol=2e-5)
    # the parameter is a variable of the group: a run can set it anew (standalone: run_args)
    res2 = net.run(200 * ms, I_ext=current, init={"P": {"tau_m": taus[::-1]}}, restart=True)
    np.testing.assert_array_equal(_if_counts(res2, 10), _if_counts(res, 10)[::-1])


def test_per_neuron_parameters_are_checked_for_shape_units_and_constraints():
    from brainkit import ModelError

    with pytest.raises(NetworkError, match=r"parameter 'tau_m' has shape \(4,\); give one "
                                           r"value or one per neuron \(3,\)"):
        Network().population("Q", "lif", 3, params={"tau_m": np.ones(4) * ms})
    with pytest.raises(ModelError, match="expected the units of the default"):
        Network().population("Q", "lif", 3, params={"tau_m": np.ones(3) * mV})
    with pytest.raises(ModelError, match="tau_m > 0"):
        Network().population("Q", "lif", 3, params={"tau_m": -np.ones(3) * ms})


@pytest.mark.parametrize("backend", ["runtime", pytest.param("cpp_standalone",
                                                             marks=pytest.mark.standalone)])
def test_per_synapse_parameters_give_each_synapse_its_own_value_settable_per_run(backend):
    # poisson_jump: v_post += w K, K ~ Poisson(nu dt) every step; without leak or threshold
    # v(T) - E_L = w N(T) with N(T) ~ Poisson(nu T): mean w nu T, sd w sqrt(nu T)
    n, w, T = 200, 0.01 * mV, 200 * ms
    nus = np.repeat([2000.0, 8000.0], n // 2) * Hz
    net = Network(dt=0.1 * ms, backend=backend, seed=1)
    net.population("P", "lif", n, params={"tau_m": 1e6 * ms, "V_th": np.inf * mV},
                   external_current=False)
    net.poisson_source("clock", n, rates=2 / (0.1 * ms))
    net.connect("clock", "P", "poisson_jump", i=np.arange(n), j=np.arange(n), weights=w,
                params={"nu": nus}, name="drive")
    net.record("P", "v", dt=T)

    def jumps(res):
        v = np.asarray(res.traces["P"]["v"] / mV)[:, -1] + 70
        return v[: n // 2].mean(), v[n // 2:].mean()

    for given in (None, nus[::-1]):
        res = net.run(T + 0.1 * ms, restart=True,
                      init={"drive": {"nu": given}} if given is not None else None)
        expected = np.asarray((nus if given is None else given) * T * w / mV)
        sd = np.sqrt(np.asarray((nus if given is None else given) * T)) * float(w / mV)
        for got, mean, s in zip(jumps(res), expected[[0, -1]], sd[[0, -1]]):
            assert abs(got - mean) < 5 * s / np.sqrt(n // 2), (got, mean)
    with pytest.raises(NetworkError, match=r"'nu' has shape \(3,\); give one value or one "
                                           r"per synapse \(200,\)"):
        net.run(T, restart=True, init={"drive": {"nu": np.ones(3) * Hz}})
    with pytest.raises(NetworkError, match="'nu' must be in hertz"):
        net.run(T, restart=True, init={"drive": {"nu": 3 * mV}})
    with pytest.raises(NetworkError, match="'w' is not a per-synapse parameter of connection "
                                           "'drive'"):
        net.run(T, restart=True, init={"drive": {"w": 3 * mV}})
    with pytest.raises(NetworkError, match="no population or connection named 'Q'"):
        net.run(T, restart=True, init={"Q": {"v": 3 * mV}})
    with pytest.raises(NetworkError, match=r"parameter 'nu' has shape \(5,\); give one value "
                                           r"or one per synapse \(200,\)"):
        net.connect("clock", "P", "poisson_jump", i=np.arange(n), j=np.arange(n),
                    weights=w, params={"nu": np.ones(5) * Hz})


def test_poisson_input_and_run_regularly_act_on_a_subgroup_only():
    net = Network(dt=0.1 * ms, backend="runtime", seed=1)
    net.population("P", "lif", 10)
    net.run_regularly("P[0:4]", "v = E_L + (i + 1)*mV", dt=1 * ms)  # i counts in the subgroup
    net.poisson_input("P[6:]", "v", N=50, rate=200 * Hz, weight="1*mV")
    net.record("P", ["v", "spikes"])
    res = net.run(5 * ms)
    v = res.traces["P"]["v"][:, -1] / mV
    # the subgroup's own i: neuron k of P[0:4] is set to E_L + (k + 1) mV every 1 ms
    np.testing.assert_allclose(v[:4], -70 + np.arange(1, 5) * np.exp(-0.9 / 10), rtol=1e-6)
    np.testing.assert_allclose(v[4:6], -70)  # neither acts on P[4:6]
    # driven by 50 x 200 Hz x 1 mV = 10 mV/ms: P[6:] fire, the others never
    assert set(res.spikes["P"][0].tolist()) == {6, 7, 8, 9}
