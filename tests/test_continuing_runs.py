"""Runs continue as in Brian2: ``run(T1); run(T2)`` gives what one ``run(T1 + T2)`` gives --
spikes, state, plastic weights, spikes in flight on delayed synapses, random input -- on the
runtime backend and on cpp_standalone (one binary for any duration, no recompile), and
``restart=True`` runs again from the initial state at t = 0."""

import os

import numpy as np
import pytest
from brian2 import Hz, mV, ms, nA, pA

from brainkit import Network, NetworkError


def _network(backend):
    """Poisson input with random delays and STDP, recurrent delayed synapses, a spike
    generator, a stimulus current and random initial values: every kind of state there is."""
    net = Network(dt=0.1 * ms, backend=backend, seed=3, name="cont")
    net.poisson_source("inp", 20, rates=80 * Hz)
    net.spike_source("gen", 2, [0, 1, 0, 1], [5, 25, 35, 55] * ms)
    net.population("P", "lif", 10, init={"v": "E_L + 15*mV*rand()"})
    net.connect("inp", "P", "exp_current", weights=150 * pA, p=0.5, seed=1,
                plasticity="stdp_online", delay="2*ms*rand()")
    net.connect("gen", "P", "exp_current", weights=2 * nA, rule="all_to_all", delay=1 * ms)
    net.connect("P", "P", "exp_current", weights=60 * pA, p=0.3, seed=2, delay=3 * ms,
                name="rec")
    net.current_input("P", np.linspace(0, 0.1, 600) * nA)
    net.record("P", "spikes")
    net.record("P", "v", indices=[0, 3])
    net.record("inp->P", "w", indices=[0, 1, 2])
    return net


def _joined(parts):
    i = np.concatenate([p.spikes["P"][0] for p in parts])
    t = np.concatenate([np.asarray(p.spikes["P"][1] / ms) for p in parts])
    v = np.concatenate([np.asarray(p.traces["P"]["v"] / mV) for p in parts], axis=1)
    vt = np.concatenate([np.asarray(p.traces["P"]["t"] / ms) for p in parts])
    return i, t, v, vt


@pytest.mark.parametrize("backend", ["runtime", pytest.param("cpp_standalone",
                                                             marks=pytest.mark.standalone)])
def test_two_runs_continue_as_one_run_of_their_summed_duration(backend):
    whole = _network(backend).run(60 * ms)
    net = _network(backend)
    parts = [net.run(20 * ms), net.run(15 * ms), net.run(25 * ms)]
    assert net.t == pytest.approx(0.060)
    assert [float(p.t_start / ms) for p in parts] == pytest.approx([0, 20, 35])
    i, t, v, vt = _joined(parts)
    assert len(whole.spikes["P"][0]) > 30
    np.testing.assert_array_equal(i, whole.spikes["P"][0])
    np.testing.assert_allclose(t, whole.spikes["P"][1] / ms, atol=1e-9)
    np.testing.assert_allclose(vt, whole.traces["P"]["t"] / ms, atol=1e-9)
    np.testing.assert_allclose(v, whole.traces["P"]["v"] / mV, atol=1e-9)
    np.testing.assert_allclose(parts[-1].weights["inp->P"] / pA, whole.weights["inp->P"] / pA,
                               rtol=1e-12)
    w_t = np.concatenate([np.asarray(p.traces["inp->P"]["w"] / pA) for p in parts], axis=1)
    np.testing.assert_allclose(w_t, whole.traces["inp->P"]["w"] / pA, rtol=1e-12)
    assert not np.allclose(parts[-1].weights["inp->P"] / pA, 150)  # STDP changed them

    # restart: the first run again, from the initial state at t = 0
    again = net.run(20 * ms, restart=True)
    assert float(again.t_start) == 0 and net.t == pytest.approx(0.020)
    np.testing.assert_array_equal(again.spikes["P"][0], parts[0].spikes["P"][0])
    np.testing.assert_allclose(again.spikes["P"][1] / ms, parts[0].spikes["P"][1] / ms)


@pytest.mark.standalone
def test_a_standalone_network_runs_for_any_duration_without_recompiling():
    net = _network("cpp_standalone")
    first = net.run(10 * ms)
    binary = os.path.join(net.engine.project_dir, "main")
    mtime = os.path.getmtime(binary)
    longer = net.run(45 * ms, restart=True)
    assert os.path.getmtime(binary) == mtime
    assert float(longer.traces["P"]["t"][-1] / ms) == pytest.approx(44.9)
    early = longer.spikes["P"][1] < 10 * ms
    np.testing.assert_array_equal(longer.spikes["P"][0][early], first.spikes["P"][0])


@pytest.mark.parametrize("backend", ["runtime", pytest.param("cpp_standalone",
                                                             marks=pytest.mark.standalone)])
def test_values_given_to_a_continuing_run_replace_the_carried_ones(backend):
    net = Network(dt=0.1 * ms, backend=backend)
    net.population("P", "lif", 3)
    net.record("P", "v")
    net.run(5 * ms, I_ext={"P": [0, 0.1, 0.2] * nA})
    res = net.run(5 * ms, init={"P": {"v": [-60, -55, -52] * mV}})
    # v starts where given; I_ext carried on from the last run (0.2 nA: 20 mV above E_L)
    np.testing.assert_allclose(res.traces["P"]["v"][:, 0] / mV, [-60, -55, -52], atol=1.5)
    assert float(res.traces["P"]["v"][2, -1] / mV) > float(res.traces["P"]["v"][0, -1] / mV)


def test_a_runtime_network_changed_after_a_run_is_rebuilt_only_on_restart():
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("P", "lif", 3)
    net.run(1 * ms)
    net.population("Q", "lif", 2)
    with pytest.raises(NetworkError, match="description changed since its last run"):
        net.run(1 * ms)
    assert net.run(1 * ms, restart=True).sizes["Q"] == 2


@pytest.mark.parametrize("duration", [0 * ms, -1 * ms, 5 * mV])
def test_a_duration_that_is_not_a_positive_time_is_an_error(duration):
    with pytest.raises(NetworkError, match="duration must be a time > 0"):
        Network(backend="runtime").run(duration)
