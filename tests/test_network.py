"""Networks from library models on runtime and cpp_standalone: same spikes, re-runs without
recompiling, clear errors for bad input."""

import os

import numpy as np
import pytest
from brian2 import Hz, mV, ms, nA, pA, second

from brainkit import BackendNotAvailable, ModelError, Network, NetworkError


def _small_network(backend):
    """Spike-generator input + a stimulus current + recurrent exp_current synapses."""
    rng = np.random.default_rng(0)
    net = Network(dt=0.1 * ms, backend=backend, name="small")
    net.population("exc", "lif", 20)
    n_in = 30
    times = np.sort(rng.uniform(0, 200, 300)) * ms
    net.spike_source("inp", n_in, rng.integers(0, n_in, 300), times)
    net.connect("inp", "exc", "exp_current", weights=rng.uniform(0, 1.0, (n_in, 20)) * nA)
    W = rng.uniform(-0.3, 0.6, (20, 20)) * nA
    np.fill_diagonal(W, 0)
    net.connect("exc", "exc", "exp_current", weights=W)
    net.current_input("exc", np.linspace(0, 0.15, 2000) * nA)
    net.record("exc", "spikes")
    net.record("exc", ["v", "I"], indices=[0, 5])
    return net, W


def _spike_list(res):
    i, t = res.spikes["exc"]
    order = np.lexsort((i, t))
    return list(zip(i[order], np.round(np.asarray(t / ms)[order], 6)))


@pytest.mark.standalone
def test_runtime_and_cpp_standalone_give_identical_spikes_and_reruns_do_not_recompile():
    rt, W = _small_network("runtime")
    res_rt = rt.run(200 * ms)
    sa, _ = _small_network("cpp_standalone")
    res_sa = sa.run(200 * ms)
    assert len(_spike_list(res_rt)) > 50
    assert _spike_list(res_rt) == _spike_list(res_sa)
    np.testing.assert_allclose(res_rt.traces["exc"]["v"] / mV, res_sa.traces["exc"]["v"] / mV,
                               rtol=0, atol=1e-9)
    assert "compile" in sa.timings

    # re-run the compiled binary with new weights, stimulus and initial values
    binary = os.path.join(sa._built[0].project_dir, "main")
    mtime = os.path.getmtime(binary)
    W2 = 1.5 * W
    stim = np.linspace(0.1, 0.0, 2000) * nA
    v0 = np.full(20, -60.0) * mV
    res2 = sa.run(200 * ms, restart=True, weights={"exc->exc": W2}, inputs={"exc": stim},
                  init={"exc": {"v": v0}})
    assert os.path.getmtime(binary) == mtime
    assert sa.timings["run"] < 5.0 and "compile" in sa.timings
    # only what differs from the compiled-in values is passed to the binary
    assert len(sa.last_run_args) == 3 and any(a.endswith(".w") for a in sa.last_run_args)

    rt2, _ = _small_network("runtime")
    rt2.connections["exc->exc"].weights = W2
    rt2.current_input("exc", stim)
    res_rt2 = rt2.run(200 * ms, init={"exc": {"v": v0}})
    assert _spike_list(res2) == _spike_list(res_rt2)
    assert _spike_list(res2) != _spike_list(res_sa)

    # back to the compiled-in values: nothing is passed, and the first run comes out again
    res3 = sa.run(200 * ms, weights={"exc->exc": W}, restart=True)
    assert sa.last_run_args == []
    assert _spike_list(res3) == _spike_list(res_sa)

    # another duration runs the same binary (no recompile): the first 100 ms of the first run
    res4 = sa.run(100 * ms, restart=True)
    assert os.path.getmtime(binary) == mtime
    assert _spike_list(res4) == [s for s in _spike_list(res_sa) if s[1] < 100]

    # the temporary C++ project goes with the network (close() or garbage collection)
    project = sa._built[0].project_dir
    assert os.path.isdir(project)
    sa.close()
    assert not os.path.exists(project) and sa._built is None


def test_poisson_rates_and_constant_currents_are_run_arguments():
    net = Network(dt=0.1 * ms, backend="runtime", seed=3)
    net.population("exc", "lif", 4)
    net.poisson_source("inp", 50, rates=0 * Hz)
    net.connect("inp", "exc", "exp_current", weights=0.2 * nA)
    net.record("inp", "spikes")
    net.record("exc", "spikes")
    silent = net.run(100 * ms)
    assert silent.spike_counts("inp").sum() == 0 and silent.spike_counts("exc").sum() == 0
    res = net.run(1 * second, rates={"inp": 40 * Hz}, I_ext={"exc": [0, 0, 0, 0.3] * nA}, restart=True)
    rate = res.spike_counts("inp").mean() / 1.0
    assert 40 - 4 * np.sqrt(40 / 50) < rate < 40 + 4 * np.sqrt(40 / 50)
    assert res.spike_counts("exc")[3] > res.spike_counts("exc")[0]


@pytest.mark.standalone
@pytest.mark.parametrize("backend", ["runtime", "cpp_standalone"])
def test_a_run_seed_replays_a_run_and_another_draws_fresh_numbers(backend):
    """run(seed=s) re-seeds the run's random numbers after the build (standalone: in the
    compiled binary, no recompile): the same seed gives the same Poisson spikes, another seed
    other ones, and the connections drawn with the Network's seed stay as they are."""
    net = Network(dt=0.1 * ms, backend=backend, seed=3, name="seeded")
    net.population("exc", "lif", 5)
    net.poisson_source("inp", 40, rates=50 * Hz)
    net.connect("inp", "exc", "exp_current", weights=0.3 * nA, p=0.5, seed=1)
    net.record("inp", "spikes")

    def spikes(**kw):
        i, t = net.run(100 * ms, **kw, restart=True).spikes["inp"]
        return np.asarray(i).tolist(), np.round(np.asarray(t / ms), 6).tolist()

    first = spikes(seed=5)
    engine = net.engine
    again, other = spikes(seed=5), spikes(seed=6)
    assert len(first[0]) > 100
    assert first == again and first != other
    assert spikes() == spikes()  # without a run seed: the Network's seed, every run
    assert net.engine is engine  # the same compiled binary throughout (None on runtime)
    for bad in (-1, 2**32, 1.5, True):
        with pytest.raises(NetworkError, match="seed"):
            net.run(100 * ms, seed=bad)


def test_gpu_backends_say_what_to_install():
    """brian2genn cannot be installed beside brainkit; brian2cuda's case (installed or not)
    is tests/test_backends.py's."""
    with pytest.raises(BackendNotAvailable, match="install brian2genn"):
        Network(backend="genn")
    with pytest.raises(ValueError, match="unknown backend 'cpp'"):
        Network(backend="cpp")


def test_bad_network_input_is_refused_clearly():
    net = Network(backend="runtime")
    net.population("exc", "lif", 3)
    with pytest.raises(ModelError, match="not a neuron model"):
        net.population("x", "exp_current", 3)
    with pytest.raises(NetworkError, match=r"weight matrix has shape \(2, 3\), expected \(3, 3\)"):
        net.connect("exc", "exc", "exp_current", weights=np.ones((2, 3)) * nA)
    with pytest.raises(NetworkError, match="weights have units"):
        net.connect("exc", "exc", "exp_current", weights=np.ones((3, 3)) * mV)
    with pytest.raises(NetworkError, match="NaN"):
        net.connect("exc", "exc", "exp_current", weights=np.full((3, 3), np.nan) * nA)
    with pytest.raises(NetworkError, match="no population or source named 'inh'"):
        net.connect("inh", "exc")
    with pytest.raises(ModelError, match="parameter 'tau_m'"):
        net.population("y", "lif", 2, params={"tau_m": 3 * pA})
    with pytest.raises(NetworkError, match="exists already"):
        net.population("exc", "lif", 2)


@pytest.mark.standalone
def test_standalone_run_reevaluates_initial_expressions_that_depend_on_new_values():
    """hh_traub_miles starts its gates at rest for its v (m = alpha_m/(alpha_m + beta_m), ...):
    a standalone run given new numbers for v must start the gates from that v, as the runtime
    backend does (the binary evaluates the expressions before the run's numbers are set)."""
    v0 = np.array([-75.0, -65.0, -55.0, -45.0]) * mV
    gates = {}
    for backend in ("runtime", "cpp_standalone"):
        net = Network(dt=0.1 * ms, backend=backend, name="hh-init")
        net.population("hh", "hh_traub_miles", 4)
        net.record("hh", ["v", "m", "h", "n"])
        res = net.run(1 * ms, init={"hh": {"v": v0}}, restart=True)
        gates[backend] = {x: res.traces["hh"][x][:, 0] for x in "vmhn"}
        if backend == "cpp_standalone":
            assert sorted(a.split(".")[1] for a in net.last_run_args) == ["h", "m", "n", "v"]
            rest = net.run(1 * ms, restart=True)  # compiled-in values again: gates at rest for E_L
            assert net.last_run_args == []
            m_rest = rest.traces["hh"]["m"][:, 0]
    np.testing.assert_allclose(gates["runtime"]["v"] / mV, v0 / mV)
    for x in "mhn":
        np.testing.assert_allclose(gates["cpp_standalone"][x], gates["runtime"][x], rtol=1e-12)
    assert np.ptp(gates["cpp_standalone"]["m"]) > 0.05  # differ between the four v
    np.testing.assert_allclose(m_rest, m_rest[0])  # all at rest for E_L = -60 mV
    assert abs(m_rest[0] - gates["runtime"]["m"][1]) > 1e-3


@pytest.mark.standalone
def test_shared_weight_fires_like_per_synapse_weights_and_takes_new_scalars():
    """connect(shared_weight=True): one weight for the connection (as ``ge += we`` in plain
    Brian2), the same spikes as one weight per synapse, re-runs with a new scalar."""
    spikes = {}
    for shared in (False, True):
        net = Network(dt=0.1 * ms, backend="cpp_standalone", seed=4, name=f"shared{shared}")
        net.population("exc", "lif", 30)
        net.poisson_source("inp", 60, rates=30 * Hz)
        net.connect("inp", "exc", "exp_current", weights=0.6 * nA, p=0.3, seed=2,
                    shared_weight=shared)
        net.record("exc", "spikes")
        a = net.run(300 * ms)
        b = net.run(300 * ms, weights={"inp->exc": 0.9 * nA}, restart=True)
        spikes[shared] = [np.asarray(r.spikes["exc"][0]).tolist() for r in (a, b)]
        if shared:
            # the new scalar is the only run argument
            assert len(net.last_run_args) == 1 and net.last_run_args[0].endswith(".w")
            with pytest.raises(NetworkError, match="shared_weight=True: give one scalar"):
                net.run(300 * ms, restart=True, weights={"inp->exc": np.full(
                    len(net.connections["inp->exc"].i), 0.5) * nA})
    assert len(spikes[False][0]) > 20 and len(spikes[False][1]) > len(spikes[False][0])
    assert spikes[True] == spikes[False]
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("exc", "lif", 3)
    net.population("bare", "lif", 3, external_current=False)  # no I_ext term
    net.record("bare", "v")
    with pytest.raises(NetworkError, match="external_current=False: it has no I_ext"):
        net.run(1 * ms, I_ext={"bare": 1 * nA}, restart=True)
    assert "I_ext" not in net.run(1 * ms, restart=True).traces["bare"] and \
        "I_ext" not in str(net._build_objects()["groups"]["bare"].equations)
    with pytest.raises(NetworkError, match="shared_weight=True needs one scalar weight"):
        net.connect("exc", "exc", "exp_current", weights=np.ones((3, 3)) * nA,
                    shared_weight=True)
    with pytest.raises(NetworkError, match="no plasticity rule"):
        net.connect("exc", "exc", "exp_current", weights=0.1 * nA, plasticity="stdp_online",
                    shared_weight=True)
