"""Synaptic delays, homogeneous and one per synapse: a spike emitted at step n arrives (its
on_pre runs) at exactly step n + round(delay/dt), Brian2's rounding: C++ standalone
``(int)(delay/dt + 0.5)``, runtime ``numpy.round(delay/dt)``; the test avoids exact halves,
where the two differ."""

import textwrap

import numpy as np
import pytest
from brian2 import ms, second

from brainkit import Network, NetworkError
from brainkit.library import load_model

DT = 0.1 * ms

PROBE = textwrap.dedent("""\
    name: arrival_probe
    kind: synapse
    title: Records when a presynaptic spike arrives at the target
    reference: test helper
    description: |
      on_pre stores the arrival time t in the target's t_arr and counts arrivals in n_arr.
    equations: |
      w : amp
    post_equations: |
      t_arr : second
      n_arr : 1
      I_probe = 0*amp : amp
    current: I_probe
    on_pre: |
      t_arr_post = t
      n_arr_post += 1
    """)


def _probe(tmp_path):
    f = tmp_path / "arrival_probe.yaml"
    f.write_text(PROBE)
    return load_model(str(f))


def _arrivals(backend, tmp_path, delays, spike_steps):
    """One network (one compile): connection k with delay ``delays[k]`` to its own target."""
    n = len(spike_steps)
    net = Network(dt=DT, backend=backend, name="delays")
    net.spike_source("src", n, np.arange(n), np.asarray(spike_steps) * DT)
    probe = _probe(tmp_path)
    for k, delay in enumerate(delays):
        net.population(f"tgt{k}", "lif", n)
        net.connect("src", f"tgt{k}", probe, rule="one_to_one", delay=delay)
        net.record(f"tgt{k}", [f"t_arr_c{k}", f"n_arr_c{k}"])
    res = net.run(40 * ms)
    out = []
    for k in range(len(delays)):
        tr = res.traces[f"tgt{k}"]
        out.append((np.round(np.asarray(tr[f"t_arr_c{k}"][:, -1] / DT)).astype(int),
                    np.asarray(tr[f"n_arr_c{k}"][:, -1])))
    return out


def _expected_steps(delays_ms, standalone):
    q = np.asarray(delays_ms) / float(DT / ms)
    return (q + 0.5).astype(int) if standalone else np.round(q).astype(int)


@pytest.mark.parametrize("backend", ["runtime", pytest.param("cpp_standalone",
                                                             marks=pytest.mark.standalone)])
def test_heterogeneous_and_homogeneous_delays_arrive_at_the_rounded_step(backend, tmp_path):
    rng = np.random.default_rng(1)
    n = 40
    # delays from 0 to 25 ms, never within 0.01 dt of a half step
    delays_ms = np.round(rng.uniform(0, 250, n)) / 10 + rng.choice([-0.03, 0.0, 0.02, 0.04], n)
    delays_ms = np.clip(delays_ms, 0, None)
    spike_steps = rng.integers(5, 100, n)
    standalone = backend != "runtime"
    (steps, count), (steps_h, count_h) = _arrivals(backend, tmp_path,
                                                   [delays_ms * ms, 3.73 * ms], spike_steps)
    assert np.all(count == 1) and np.all(count_h == 1)
    np.testing.assert_array_equal(steps, spike_steps + _expected_steps(delays_ms, standalone))
    np.testing.assert_array_equal(steps_h, spike_steps + 37)  # 3.73 ms / 0.1 ms -> 37 steps


def test_bad_delays_are_rejected_with_a_clear_error(tmp_path):
    net = Network(dt=DT, backend="runtime")
    net.spike_source("src", 3, [0], [1] * ms)
    net.population("tgt", "lif", 3)
    with pytest.raises(NetworkError, match="2 delays for 3 synapses"):
        net.connect("src", "tgt", rule="one_to_one", delay=[1, 2] * ms)
    with pytest.raises(NetworkError, match="delay must be a time"):
        net.connect("src", "tgt", rule="one_to_one", delay=2.0)
    with pytest.raises(NetworkError, match=">= 0"):
        net.connect("src", "tgt", rule="one_to_one", delay=[1, -2, 1] * ms)
    c = net.connect("src", "tgt", rule="one_to_one", delay=[1, 2, 3] * ms)
    assert np.allclose(c.delay / second, [1e-3, 2e-3, 3e-3])


def test_arguments_are_checked_where_they_are_given():
    """A negative delay written as a string, a fractional population size: refused at once
    (they used to act as 0 ms and 2 neurons)."""
    net = Network(dt=0.1 * ms, backend="runtime")
    with pytest.raises(NetworkError, match=r"population 'p': n = 2.7 must be a whole number"):
        net.population("p", "lif", 2.7)
    net.population("p", "lif", 3)
    net.spike_source("s", 3, [0], [1 * ms])
    with pytest.raises(NetworkError, match=r"connection 's->p': delays must be finite and >= 0 "
                                           r"\(got -1 ms\)"):
        net.connect("s", "p", "exp_current", delay="-1*ms")
    with pytest.raises(NetworkError, match="connection 's->p': delays must be finite and >= 0"):
        net.connect("s", "p", "exp_current", delay="(j - i)*ms", i=[0, 1], j=[0, 0])
    c = net.connect("s", "p", "exp_current", delay="(i + j)*ms", i=[0, 1], j=[0, 2])
    assert list(c.delay / ms) == [0.0, 3.0]
