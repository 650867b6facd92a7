"""Brian2's own objects in a brainkit network (issue 18): population rates
(``PopulationRateMonitor``), synaptic variables over time (a ``StateMonitor`` on the
Synapses), ``PoissonInput``, ``run_regularly`` and any Brian2 object made by a factory
(``Network.add``), each compared with a plain Brian2 script on the same inputs, on
``runtime`` and (one combined test) ``cpp_standalone``."""

import numpy as np
import pytest
from brian2 import Hz, kHz, mV, ms, nA, pA

from brainkit import Network, NetworkError
from brainkit.engine import runtime_device

SRC_I = [0, 1, 2, 3, 4, 0, 2, 4, 1, 3]
SRC_T = [1.0, 2.0, 2.0, 3.0, 5.0, 5.0, 9.3, 12.0, 12.0, 20.0] * ms

LIF = """dv/dt = (E_L - v + R*I)/tau_m : volt (unless refractory)
I = I_ext : amp
I_ext : amp"""


def _plain_lif(brian2, n):
    """The NeuronGroup brainkit builds for ``population(name, 'lif', n)`` without inputs."""
    from brian2 import Mohm

    ns = dict(tau_m=10 * ms, R=100 * Mohm, E_L=-70 * mV, V_th=-50 * mV, V_r=-70 * mV,
              t_ref=2 * ms)
    g = brian2.NeuronGroup(n, LIF, threshold="v > V_th", reset="v = V_r", refractory="t_ref",
                           method="exact", namespace=ns, dt=0.1 * ms)
    g.v = -70 * mV
    return g


# ------------------------------------------------------------ 1. population rate
def test_population_rate_is_brian2s_for_sources_and_populations():
    net = Network(dt=0.1 * ms, backend="runtime", seed=2)
    net.spike_source("src", 5, SRC_I, SRC_T)
    net.population("exc", "lif", 8)
    net.connect("src", "exc", weights=3 * nA, rule="all_to_all")
    net.record("src", "rate")
    net.record("exc", ["rate", "spikes"])
    res = net.run(30 * ms)

    import brian2

    with runtime_device("numpy"):
        g = brian2.SpikeGeneratorGroup(5, SRC_I, SRC_T, dt=0.1 * ms)
        mon = brian2.PopulationRateMonitor(g)
        brian2.Network(g, mon).run(30 * ms)
        t_b2, r_b2 = np.array(mon.t[:]), np.array(mon.rate[:])
        smooth = {"gaussian": np.array(mon.smooth_rate("gaussian", 1 * ms)),
                  "flat": np.array(mon.smooth_rate("flat", 0.5 * ms))}

    t, r = res.population_rates["src"]
    assert r.dim == Hz.dim and t.dim == ms.dim
    np.testing.assert_array_equal(np.asarray(t), t_b2)
    np.testing.assert_array_equal(np.asarray(r), r_b2)
    assert r_b2.max() > 0
    np.testing.assert_allclose(np.asarray(res.smooth_rate("src", "gaussian", 1 * ms)),
                               smooth["gaussian"], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(res.smooth_rate("src", "flat", 0.5 * ms)),
                               smooth["flat"], rtol=1e-12)

    # a population: the spikes of each step / (N dt)
    i, ts = res.spikes["exc"]
    assert len(i) > 0
    t, r = res.population_rates["exc"]
    steps = np.round(np.asarray(ts / (0.1 * ms))).astype(int)
    expected = np.bincount(steps, minlength=len(t)) / (8 * 0.1e-3)
    np.testing.assert_allclose(np.asarray(r), expected, rtol=1e-12)
    with pytest.raises(KeyError, match="exc2"):
        res.smooth_rate("exc2", "flat", 1 * ms)


# ------------------------------------------------------------ 2. synaptic variables
def _stdp_net(backend="runtime", target="lif"):
    net = Network(dt=0.1 * ms, backend=backend, seed=4)
    net.spike_source("src", 5, SRC_I, SRC_T)
    net.population("exc", target, 4)
    net.connect("src", "exc", weights=2.5 * nA, rule="all_to_all", plasticity="stdp_online",
                plasticity_params={"w_max": 5 * nA})
    return net


@pytest.mark.parametrize("target", ["lif", "adex"])  # AdEx owns 'w': the weight is w_syn
def test_recorded_weights_change_with_plasticity_and_end_at_the_final_weights(target):
    net = _stdp_net(target=target)
    net.record("src->exc", "w")
    net.record("src->exc", ["w", "apre"], indices=[1, 6], dt=1 * ms)
    net.record("exc", "spikes")
    res = net.run(30 * ms)  # the last spike is at 20 ms: nothing changes in the last step

    assert len(res.spikes["exc"][0]) > 0
    tr = res.traces["src->exc"]
    w = tr["w"]
    assert w.dim == nA.dim and w.shape == (2, 30)  # the last record() (dt=1 ms) is kept
    np.testing.assert_array_equal(tr["index"], [1, 6])
    final = res.weights["src->exc"]
    np.testing.assert_array_equal(np.asarray(w[:, -1]), np.asarray(final[[1, 6]]))
    np.testing.assert_array_equal(np.asarray(w[:, 0]), [2.5e-9, 2.5e-9])
    assert np.any(np.asarray(final) != 2.5e-9)  # plasticity changed them
    assert np.asarray(tr["apre"]).max() > 0


def test_all_synapses_recorded_every_step():
    net = _stdp_net()
    net.record("src->exc", "w")
    res = net.run(25 * ms)
    w = res.traces["src->exc"]["w"]
    assert w.shape == (20, 250)
    np.testing.assert_array_equal(res.traces["src->exc"]["index"], np.arange(20))
    np.testing.assert_array_equal(np.asarray(w[:, -1]), np.asarray(res.weights["src->exc"]))
    assert len({tuple(row) for row in np.asarray(w).T}) > 2  # changes over time


@pytest.mark.parametrize("args, message", [
    (("src->exc", "w", [20]), r"record\('src->exc'\): synapse indices must lie in \[0, 20\)"),
    (("src->exc", "rate", True), r"'src->exc' is a connection"),
    (("exc", "rate", [0, 1]), r"record\('exc', 'rate'\): the population rate is of all"),
])
def test_recording_a_connection_wrongly_is_a_one_line_error(args, message):
    net = _stdp_net()
    with pytest.raises(NetworkError, match=message):
        net.record(args[0], args[1], indices=args[2])


def test_an_unknown_synaptic_variable_is_an_error_naming_the_connection():
    net = _stdp_net()
    net.record("src->exc", "nothing")
    with pytest.raises(NetworkError, match=r"connection 'src->exc' has no synaptic variable "
                                           r"'nothing' \(variables: .*\bw\b"):
        net.run(1 * ms)


# ------------------------------------------------------------ 3. PoissonInput
@pytest.mark.parametrize("weight", ["0.4*mV", 0.4 * mV])
def test_poisson_input_gives_plain_brian2s_run(weight):
    net = Network(dt=0.1 * ms, backend="runtime", seed=11)
    net.population("exc", "lif", 20)
    assert net.poisson_input("exc", "v", 300, 25 * Hz, weight) == "exc.v"
    net.record("exc", ["spikes", "v"])
    res = net.run(50 * ms)

    import brian2

    with runtime_device("numpy"):
        brian2.seed(11)
        g = _plain_lif(brian2, 20)
        g.I_ext = 0 * nA
        pi = brian2.PoissonInput(g, "v", 300, 25 * Hz, weight)
        sm, vm = brian2.SpikeMonitor(g), brian2.StateMonitor(g, "v", record=True)
        brian2.Network(g, pi, sm, vm).run(50 * ms)
        i_b2, t_b2, v_b2 = np.array(sm.i[:]), np.array(sm.t[:]), np.array(vm.v[:])

    assert len(i_b2) > 10
    np.testing.assert_array_equal(res.spikes["exc"][0], i_b2)
    np.testing.assert_array_equal(np.asarray(res.spikes["exc"][1]), t_b2)
    np.testing.assert_allclose(np.asarray(res.traces["exc"]["v"]), v_b2, rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(target="exc", var="nope", N=10, rate=5 * Hz, weight="1*mV"),
     r"poisson_input 'exc.nope': 'exc' has no variable 'nope'"),
    (dict(target="exc", var="v", N=10, rate=5 * Hz, weight=1 * nA),
     r"poisson_input 'exc.v' on 'exc': .*unit"),
])
def test_poisson_input_errors_at_build_name_the_population(kwargs, message):
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("exc", "lif", 2)
    net.poisson_input(**kwargs)
    with pytest.raises(NetworkError, match=message):
        net.run(1 * ms)


@pytest.mark.parametrize("kwargs, message", [
    (dict(target="inh", var="v", N=10, rate=5 * Hz, weight="1*mV"), r"no population.*'inh'"),
    (dict(target="exc", var="v", N=0, rate=5 * Hz, weight="1*mV"), r"'exc'\): N = 0"),
    (dict(target="exc", var="v", N=10, rate=5 * ms, weight="1*mV"), r"'exc'\): rate must"),
    (dict(target="exc", var="v", N=10, rate=20 * kHz, weight="1*mV"), r"rate\*dt = 2"),
])
def test_poisson_input_checks_its_arguments_when_called(kwargs, message):
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("exc", "lif", 2)
    with pytest.raises(NetworkError, match=message):
        net.poisson_input(**kwargs)


# ------------------------------------------------------------ 4. run_regularly
def test_run_regularly_runs_brian2s_code_on_the_population():
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("exc", "lif", 3)
    net.run_regularly("exc", "I_ext = (0.1 + 0.1*i)*nA * int(t > 5*ms)", dt=2 * ms)
    net.run_regularly("exc", "v = clip(v, -80*mV, -55*mV)", when="end")
    net.record("exc", ["v", "spikes"])
    res = net.run(40 * ms)

    import brian2

    with runtime_device("numpy"):
        g = _plain_lif(brian2, 3)
        g.I_ext = 0 * nA
        g.run_regularly("I_ext = (0.1 + 0.1*i)*nA * int(t > 5*ms)", dt=2 * ms)
        g.run_regularly("v = clip(v, -80*mV, -55*mV)", when="end")
        vm = brian2.StateMonitor(g, "v", record=True)
        brian2.Network(g, vm).run(40 * ms)
        v_b2 = np.array(vm.v[:])

    np.testing.assert_array_equal(np.asarray(res.traces["exc"]["v"]), v_b2)
    assert np.asarray(res.traces["exc"]["v"]).max() <= -55e-3 + 1e-15
    assert v_b2[2, -1] > -70e-3  # the current came on


def test_run_regularly_code_errors_name_the_population():
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("exc", "lif", 3)
    with pytest.raises(NetworkError, match=r"run_regularly\('exc'\): dt must be a time"):
        net.run_regularly("exc", "v = E_L", dt=3 * mV)
    with pytest.raises(NetworkError, match=r"no population or source named 'inh'"):
        net.run_regularly("inh", "v = E_L")
    net.run_regularly("exc", "v = nothing*mV", name="reset")
    with pytest.raises(NetworkError, match=r"^run_regularly 'reset' on 'exc': .*\"nothing\""):
        net.run(1 * ms)


def test_poisson_input_weight_expression_errors_name_it():
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("exc", "lif", 3)
    net.poisson_input("exc", "v", 10, 5 * Hz, "w_unknown*mV")
    with pytest.raises(NetworkError, match=r"^poisson_input 'exc.v' on 'exc': .*w_unknown"):
        net.run(1 * ms)


# ------------------------------------------------------------ 5. any Brian2 object
def test_added_objects_run_with_the_network_and_their_monitors_come_back():
    import brian2

    calls = []

    def mine(objects):
        @brian2.network_operation(dt=1 * ms)
        def count():
            calls.append(1)

        return {"spikes": brian2.SpikeMonitor(objects["exc"]),
                "g": brian2.StateMonitor(objects["src->exc"], "w", record=[0, 5]),
                "rate": brian2.PopulationRateMonitor(objects["src"]),
                "op": count}

    net = _stdp_net()
    assert net.add(mine) == "mine"
    net.record("exc", "spikes")
    net.record("src->exc", "w", indices=[0, 5])
    net.record("src", "rate")
    res = net.run(30 * ms)

    got = res.extra["mine"]
    assert got["op"] is None and len(calls) == 30
    np.testing.assert_array_equal(got["spikes"]["i"], res.spikes["exc"][0])
    np.testing.assert_array_equal(np.asarray(got["spikes"]["t"]),
                                  np.asarray(res.spikes["exc"][1]))
    np.testing.assert_array_equal(got["spikes"]["count"], res.spike_counts("exc"))
    np.testing.assert_array_equal(np.asarray(got["g"]["w"]),
                                  np.asarray(res.traces["src->exc"]["w"]))
    np.testing.assert_array_equal(got["g"]["index"], [0, 5])
    np.testing.assert_array_equal(np.asarray(got["rate"]["rate"]),
                                  np.asarray(res.population_rates["src"][1]))


def test_a_factory_returning_something_else_is_an_error_naming_it():
    net = _stdp_net()
    net.add(lambda objects: [objects["exc"], 3], name="bad")
    with pytest.raises(NetworkError, match=r"add\('bad'\): the factory returned 3"):
        net.run(1 * ms)
    with pytest.raises(NetworkError, match="must be callable"):
        net.add(3)


# ------------------------------------------------------------ all, on cpp_standalone
def _everything(backend):
    import brian2

    net = _stdp_net(backend)
    net.population("drive", "lif", 10)
    net.poisson_input("drive", "I_ext", 50, 200 * Hz, "1*pA")
    net.run_regularly("exc", "v = clip(v, -80*mV, -52*mV)", when="end")
    net.record("src", "rate")
    net.record("exc", ["rate", "spikes"])
    net.record("src->exc", "w", indices=[0, 3, 7, 19])
    net.record("drive", "I_ext")
    net.add(lambda o: [brian2.StateMonitor(o["exc"], "v", record=[0, 2]),
                       brian2.SpikeMonitor(o["src"])], name="mine")
    return net


def _check_poisson_counts(res, p=200 * 0.1e-3):  # p = rate * dt
    steps = np.diff(np.asarray(res.traces["drive"]["I_ext"] / pA), axis=1)
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)  # whole input spikes
    assert steps.min() >= 0
    mean = steps.mean()  # expected 50 * 200 Hz * 0.1 ms = 1 per step
    assert abs(mean - 50 * p) < 0.1, mean


def test_all_of_it_runs_the_same_on_cpp_standalone():
    import brian2

    ref = _everything("runtime").run(30 * ms)
    net = _everything("cpp_standalone")
    res = net.run(30 * ms)
    _check_poisson_counts(ref)
    _check_poisson_counts(res)
    for r in (ref, res):
        np.testing.assert_array_equal(np.asarray(r.traces["src->exc"]["w"][:, -1]),
                                      np.asarray(r.weights["src->exc"][[0, 3, 7, 19]]))
    for key in ("src", "exc"):
        np.testing.assert_array_equal(np.asarray(res.population_rates[key][1]),
                                      np.asarray(ref.population_rates[key][1]))
    np.testing.assert_allclose(np.asarray(res.traces["src->exc"]["w"]),
                               np.asarray(ref.traces["src->exc"]["w"]), rtol=1e-9)
    np.testing.assert_allclose(np.asarray(res.extra["mine"][0]["v"]),
                               np.asarray(ref.extra["mine"][0]["v"]), rtol=1e-9)
    assert np.asarray(res.extra["mine"][0]["v"]).max() <= -52e-3 + 1e-12
    np.testing.assert_array_equal(res.extra["mine"][1]["i"], ref.extra["mine"][1]["i"])
    np.testing.assert_array_equal(np.asarray(res.extra["mine"][1]["t"]),
                                  np.asarray(ref.extra["mine"][1]["t"]))
    assert sorted(zip(res.extra["mine"][1]["i"], np.asarray(res.extra["mine"][1]["t"]))) == \
        sorted(zip(SRC_I, np.asarray(SRC_T)))

    # a second run of the binary (new weights) is read back anew; the first stays
    engine = net.engine
    again = net.run(30 * ms, weights={"src->exc": 1.0 * nA}, restart=True)
    assert net.engine is engine  # the same binary, re-run
    np.testing.assert_array_equal(np.asarray(again.traces["src->exc"]["w"][:, 0]),
                                  [1e-9] * 4)
    np.testing.assert_array_equal(np.asarray(again.traces["src->exc"]["w"][:, -1]),
                                  np.asarray(again.weights["src->exc"][[0, 3, 7, 19]]))
    assert np.asarray(res.traces["src->exc"]["w"][:, 0]).tolist() == [2.5e-9] * 4
    assert len(again.extra["mine"][1]["i"]) == len(SRC_I)

    # Brian2 runs no Python code in a compiled binary
    op = _stdp_net("cpp_standalone")
    op.add(lambda o: brian2.NetworkOperation(lambda: None, dt=1 * ms), name="py_step")
    with pytest.raises(NetworkError, match=r"add\('py_step'\): a network_operation .* only "
                                           r"on the runtime backend, not cpp_standalone"):
        op.run(10 * ms)


@pytest.mark.parametrize("build, message", [
    # a current synapse onto a model whose input is dimensionless (theta neuron)
    (lambda net: (net.population("A", "lif", 3), net.population("B", "theta", 3),
                  net.connect("A", "B", "exp_current", weights=1 * nA)),
     r"^population 'B' \(model 'theta', .*theta\.yaml\): Inconsistent units .*"
     r"\(I_syn_c0: connection 'A->B'\)$"),
    # an integration method that cannot integrate the model
    (lambda net: net.population("A", "adex", 3, method="exact"),
     r"^population 'A' \(model 'adex', .*adex\.yaml\): .*could not be separated"),
])
def test_brian2_errors_name_the_users_population_connection_and_model_file(build, message):
    net = Network(dt=0.1 * ms, backend="runtime")
    build(net)
    with pytest.raises(NetworkError, match=message) as info:
        net.run(1 * ms)
    assert "\n" not in str(info.value) and "_0" not in str(info.value).split(":")[0]
