"""Results outlive the Brian2 objects they were read from.

Brian2 >= 2.10 keeps a runtime network's monitor and synapse arrays in C++ vectors (its
Cython ``DynamicArray``), freed with their objects and moved when they grow; a view read back
(``mon.t[:]``, ``S.w[:]``, ``var.get_value()``) then silently holds garbage.  Every result must equal, after its network is gone or has run again, what it
was when it was read.
"""

import gc

import numpy as np
import pytest
from brian2 import Hz, ms, nA

from brainkit import Network


def _scribble():
    """Allocate and fill memory, so that freed blocks are reused."""
    return [np.full(50_000, 7.0 + k) for k in range(200)]


def _snapshot(res):
    i, t = res.spikes["p"]
    return {"i": np.array(i), "t": np.array(t / ms), "v": np.array(res.traces["p"]["v"]),
            "tv": np.array(res.traces["p"]["t"]), "w": np.array(res.weights["in->p"])}


@pytest.mark.parametrize("backend", ["runtime", pytest.param("cpp_standalone",
                                                                marks=pytest.mark.standalone)])
def test_a_networks_results_equal_what_was_read_once_it_is_gone(backend):
    net = Network(dt=0.1 * ms, backend=backend, seed=3)
    net.population("p", "lif", 30)
    net.poisson_source("in", 50, rates=80 * Hz)
    net.connect("in", "p", "exp_current", weights=0.6 * nA, p=0.3, seed=1)
    net.record("p", "spikes")
    net.record("p", "v", indices=[0, 1, 2])
    first = net.run(60 * ms)
    kept = _snapshot(first)
    assert len(kept["i"]) > 20
    second = net.run(60 * ms, rates={"in": 10 * Hz})  # the binary runs again: new arrays
    assert len(second.spikes["p"][0]) < len(kept["i"])
    net.close()
    del net
    gc.collect()
    junk = _scribble()
    again = _snapshot(first)
    for k, v in kept.items():
        np.testing.assert_array_equal(again[k], v, err_msg=k)
    del junk


@pytest.mark.parametrize("backend", ["runtime", pytest.param("cpp_standalone",
                                                                marks=pytest.mark.standalone)])
def test_a_training_trace_is_unchanged_by_the_next_forward_pass(backend):
    from brainkit.training import RecurrentSNN

    model = RecurrentSNN(2, 8, 1, 50, batch=2, dt=1 * ms, backend=backend)
    try:
        x = np.random.default_rng(0).normal(0, 1, (2, 50, 2))
        p = model.init_params(0)
        tr = model.forward(p, x)
        kept = {k: np.array(v) for k, v in tr.states.items()}
        spikes = [(np.array(i), np.array(k)) for i, k in tr.spikes]
        q = dict(p, I0=p["I0"] + 0.5)
        model.forward(q, x)  # new run of the same binary
    finally:
        model.close()
    gc.collect()
    junk = _scribble()
    for k, v in kept.items():
        np.testing.assert_array_equal(tr.states[k], v, err_msg=k)
    for (i, k), (i0, k0) in zip(tr.spikes, spikes):
        np.testing.assert_array_equal(i, i0)
        np.testing.assert_array_equal(k, k0)
    del junk
