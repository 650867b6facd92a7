"""The discrete adjoint of the recurrent gated-synapse network against things outside it:

* Brian2's simulated trajectory equals a plain numpy forward Euler of the same equations
  (so the schedule -- monitors, summed input, TimedArray sample, state update -- is the one the
  adjoint differentiates);
* adjoint gradients equal central finite differences of the Brian2 simulation to <= 1e-6
  (theta and rotator neurons; runtime/numpy, and one compiled cpp_standalone network);
* models whose simulated map jumps are refused with the offending term named.

Default run: about 65 s on the shared 2 cores (40 s of it the one cpp_standalone test, mostly
its C++ compile).
"""

import os
import textwrap

import numpy as np
import pytest

from brainkit.library import load_model
from brainkit.training import NotDifferentiableError, RecurrentSNN, derive_system
from brainkit.training.recurrent import RecurrentError


def _problem(net, seed, B=None):
    rng = np.random.default_rng(seed)
    p = net.init_params(seed)
    N = net.n_hidden
    p["I0"] = rng.uniform(0.5, 1.5, N)
    p["W"] = rng.normal(0.0, 0.1 / np.sqrt(N), (N, N))
    p["O"] = rng.normal(0.0, 0.01 / np.sqrt(N), (net.n_out, N))
    B = B or net.batch
    t = np.arange(net.steps) * net.dt_s
    x = 0.5 * np.sin(2 * np.pi * rng.uniform(5, 40, (B, 1, net.n_in)) * t[None, :, None]
                     + rng.uniform(0, 6.3, (B, 1, net.n_in)))
    y = rng.normal(0.0, 1.0, (B, net.steps, net.n_out))

    def loss_fn(o):
        d = o - y
        return 500.0 * float(np.mean(d * d)), 1000.0 * d / d.size

    return p, x, loss_fn


def _fd(net_fd, params, x, loss_fn, name, idx, h):
    """4th-order central difference; the 4 perturbed copies run in one simulation."""
    sets = []
    for k in (2, 1, -1, -2):
        p = {a: b.copy() for a, b in params.items()}
        p[name][idx] += k * h
        sets.append(p)
    L = [loss_fn(o)[0] for o in net_fd.readouts(sets, x)]
    return (-L[0] + 8 * L[1] - 8 * L[2] + L[3]) / (12 * h)


def _check(neuron, backend, seed, N=3, steps=300, entries=None, constants=()):
    B = 2
    net = RecurrentSNN(2, N, 2, steps, batch=B * 4, neuron=neuron, backend=backend,
                       constants=constants, weight_sets=4)
    try:
        params, x, loss_fn = _problem(net, seed, B)
        xfull = np.concatenate([x] * 4)
        trace = net.forward(params, xfull)
        static = None
        if backend == "cpp_standalone":  # run_args files are deleted after every run
            static = os.path.join(net._built[0].project_dir, "static_arrays")
            files = sorted(os.listdir(static))
        loss, dl = loss_fn(trace.o[:B])
        dl = np.concatenate([dl, np.zeros((3 * B,) + dl.shape[1:])])
        grads = net.backward(trace, dl)
        assert sum(len(s[0]) for s in trace.spikes[:B]) > 0, "no spikes: the check would be weak"
        worst = 0.0
        entries = entries or [("U", (0, 0)), ("U", (N - 1, 1)), ("W", (0, 1)), ("W", (1, 0)),
                              ("W", (N - 1, N - 1)), ("O", (1, 0)), ("I0", (0,)), ("I0", (N - 1,))]
        entries = [(k, ()) for k in constants] + entries
        for name, idx in entries:
            g = grads[name][idx]
            # time constants: a small relative step (a global parameter moves every neuron,
            # so a large one straddles the kinks of the C1 gate at the zone edges somewhere)
            h = 1e-7 * float(params[name]) if name in constants else 3e-5
            fd = _fd(net, params, x, loss_fn, name, idx, h=h)
            scale = 1e-3 * np.max(np.abs(grads[name]))
            err = abs(g - fd) / max(abs(g), abs(fd), scale)
            assert err <= 1e-6, f"{neuron} {name}{idx}: adjoint {g!r}, finite difference {fd!r}"
            worst = max(worst, err)
        if static is not None:
            assert sorted(os.listdir(static)) == files
        return worst, net.last_backward
    finally:
        net.close()


def test_brian2_trajectory_is_the_euler_map_the_adjoint_differentiates():
    net = RecurrentSNN(2, 4, 2, 250, batch=2, backend="runtime")
    params, x, _ = _problem(net, 3)
    trace = net.forward(params, x)
    ref = net.system.simulate(params, x, net.dt_s)
    for k in net.system.states:
        a = np.transpose(trace.states[k], (1, 0, 2))
        assert np.max(np.abs(a - ref[k])) <= 1e-10 * max(1.0, np.max(np.abs(ref[k]))), k
    assert np.max(np.abs(np.transpose(trace.I, (1, 0, 2)) - ref["I"])) <= 1e-10
    assert np.allclose(trace.o, ref["o"], rtol=1e-10, atol=1e-12)
    # spikes: the threshold theta > theta_spike (theta_spike += 2 pi at each spike) books one
    # spike per crossing of pi + 2 pi k; a spike at step n is the crossing in the update of step n
    T = net.steps
    n_spikes = sum(len(s[0]) for s in trace.spikes)
    assert n_spikes > 0
    for b in range(net.batch):
        i, step = trace.spikes[b]
        th = trace.v[b]  # (steps, N), recorded at the start of each step
        for j in range(net.n_hidden):
            seen = step[(i == j) & (step < T - 1)]
            expected = [n for n in range(T - 1)
                        if np.floor((np.max(th[:n + 2, j]) - np.pi) / (2 * np.pi))
                        > np.floor((np.max(th[:n + 1, j]) - np.pi) / (2 * np.pi))]
            assert list(seen) == expected


@pytest.mark.standalone
def test_shared_weight_table_gives_the_synapse_pathways_trajectory():
    """cpp_standalone's one weight table read by a C++ function (one block per parameter set)
    computes the recurrent drive the runtime's per-trial Synapses compute: the same states,
    inputs and spikes, with one parameter set and with two sets in one run."""
    nets = {b: RecurrentSNN(2, 5, 2, 300, batch=4, backend=b, weight_sets=2)
            for b in ("runtime", "cpp_standalone")}
    try:
        params, x, _ = _problem(nets["runtime"], 5)
        other = dict(params, W=params["W"][::-1].copy())
        tr = {b: n.forward(params, x) for b, n in nets.items()}
        assert nets["cpp_standalone"].shared_weights and not nets["runtime"].shared_weights
        for k in list(tr["runtime"].states):
            a, b = tr["runtime"].states[k], tr["cpp_standalone"].states[k]
            assert np.max(np.abs(a - b)) <= 1e-10 * max(1.0, np.max(np.abs(a))), k
        assert np.max(np.abs(tr["runtime"].I - tr["cpp_standalone"].I)) <= 1e-10
        assert sum(len(i) for i, _ in tr["cpp_standalone"].spikes) > 0
        for (i1, t1), (i2, t2) in zip(tr["runtime"].spikes, tr["cpp_standalone"].spikes):
            assert sorted(zip(i1, t1)) == sorted(zip(i2, t2))
        outs = {b: n.readouts([params, other], x[:2]) for b, n in nets.items()}
        for a, b in zip(outs["runtime"], outs["cpp_standalone"]):
            assert np.allclose(a, b, rtol=1e-9, atol=1e-12)
        assert not np.allclose(outs["cpp_standalone"][0], outs["cpp_standalone"][1])
        with pytest.raises(RecurrentError, match="need a network built with weight_sets >= 4"):
            nets["cpp_standalone"].readouts([params] * 4, x[:1])
    finally:
        for n in nets.values():
            n.close()


@pytest.mark.standalone
def test_recordings_held_by_a_trace_are_never_written_over():
    """cpp_standalone records into a mapped file that a later run writes into again only once
    no array views it: a trace kept across runs keeps its numbers; dropped traces' files are
    used again (no fresh hundreds of MB per training step)."""
    from brian2 import ms

    net = RecurrentSNN(2, 6, 2, 120, batch=2, dt=1 * ms)
    try:
        params, x, _ = _problem(net, 7)
        other = dict(params, W=3 * params["W"], I0=params["I0"] + 0.2)
        first = net.forward(params, x)
        v = first.v  # a view, as a user would keep it
        kept = {k: a.copy() for k, a in first.states.items()}
        assert np.any(kept[net.system.trace] != 0)  # the neurons fired
        second = net.forward(other, x)
        third = net.forward(params, x)
        for k in kept:
            assert np.array_equal(first.states[k], kept[k]), k
            assert np.array_equal(third.states[k], kept[k]), k
            assert not np.array_equal(second.states[k], kept[k]), k
        assert np.array_equal(v, np.transpose(kept[net.voltage], (1, 0, 2)))

        def buffer(trace):  # the mapping the trace's arrays view
            a = trace.states[net.voltage]
            while isinstance(a.base, np.ndarray):
                a = a.base
            return a.base.obj  # np.frombuffer's memoryview of the mmap

        in_use = {id(buffer(t)) for t in (second, third)}  # ids: a reference would hold it
        del first, second, third, v
        fourth = net.forward(other, x)
        assert id(buffer(fourth)) in in_use  # a freed file (the network keeps it), written again
        assert len(net._recordings) <= 2
    finally:
        net.close()


@pytest.mark.standalone
def test_threads_change_no_number():
    """Two threads (the binary's OpenMP, the backward loop's) give the states, spikes, loss
    and gradients of one thread bit for bit: the binary splits the trials between its
    threads with every sum in its order, and the backward loop splits them into a fixed
    number of chunks whatever the threads (results must not depend on the machine's cores)."""
    from brian2 import ms

    nets = {k: RecurrentSNN(2, 7, 2, 150, batch=3, dt=1 * ms, threads=k) for k in (1, 2)}
    try:
        assert nets[2].build_threads == 2 and nets[1].build_threads == 1
        params, x, loss_fn = _problem(nets[1], 11)
        out = {k: n.loss_and_grad(params, x, loss_fn) for k, n in nets.items()}
        (l1, g1, t1), (l2, g2, t2) = out[1], out[2]
        assert l1 == l2 and sum(len(i) for i, _ in t1.spikes) > 0
        for k in t1.states:
            assert np.array_equal(t1.states[k], t2.states[k]), k
        for k in g1:
            assert np.array_equal(g1[k], g2[k]), k
    finally:
        for n in nets.values():
            n.close()


@pytest.mark.parametrize("neuron,seed,constants", [("theta", 0, ()), ("theta", 1, ("tau", "tau_s")),
                                                   ("rotator", 2, ("tau", "tau_s"))])
def test_adjoint_matches_finite_differences_runtime(neuron, seed, constants):
    """Weights, and with ``constants`` the time constants of the neuron and the synapse."""
    worst, info = _check(neuron, "runtime", seed, constants=constants)
    assert worst <= 1e-6
    assert 0.0 < info["zone_fraction"] < 1.0


@pytest.mark.standalone
def test_adjoint_matches_finite_differences_cpp_standalone():
    """The compiled network takes new time constants as run-time values (no recompile)."""
    worst, _ = _check("theta", "cpp_standalone", 4, N=4, steps=400,
                      entries=[("U", (1, 0)), ("W", (2, 1)), ("W", (0, 3)), ("O", (0, 2)),
                               ("I0", (3,))], constants=("tau", "tau_s"))
    assert worst <= 1e-6


def test_trained_time_constants_change_the_simulation_and_are_checked():
    net = RecurrentSNN(2, 3, 2, 200, batch=2, backend="runtime", constants=("tau", "tau_s"))
    params, x, _ = _problem(net, 5)
    assert float(params["tau"]) == 0.01 and float(params["tau_s"]) == 0.01  # model values
    slow = dict(params, tau=np.asarray(0.02))
    a, b = net.forward(params, x), net.forward(slow, x)
    ref = net.system.simulate(slow, x, net.dt_s)
    assert np.allclose(b.o, ref["o"], rtol=1e-10, atol=1e-12) and not np.allclose(a.o, b.o)
    with pytest.raises(RecurrentError, match=r"params\['tau_s'\] is a time constant and must "
                                             r"be > 0 s"):
        net.forward(dict(params, tau_s=np.asarray(-0.01)), x)
    with pytest.raises(ValueError, match="trainable constant 'tau_x'"):
        RecurrentSNN(2, 3, 2, 10, backend="runtime", constants=("tau_x",))


def test_lif_reset_is_refused_naming_the_reset():
    with pytest.raises(NotDifferentiableError, match=r"reset 'v = V_r' changes 'v'"):
        derive_system(load_model("lif"), load_model("gated"))
    with pytest.raises(NotDifferentiableError, match="lif"):
        RecurrentSNN(1, 2, 1, 10, neuron="lif", backend="runtime")


def test_threshold_synapse_is_refused_naming_on_pre():
    with pytest.raises(NotDifferentiableError, match=r"on_pre 'I_syn_post \+= w'"):
        derive_system(load_model("theta"), load_model("exp_current"))


def test_theta_reset_is_harmless_and_not_differentiated():
    sysm = derive_system(load_model("theta"), load_model("gated"))
    assert sysm.states == ["theta", "s_syn"]
    assert "theta_spike" not in str(sysm.h) and "theta_spike" not in str(sysm.D)
    assert sysm.a == pytest.approx(-100.0)  # -1/tau_s


def test_nonlinear_trace_synapse_is_refused(tmp_path):
    path = tmp_path / "squared.yaml"
    path.write_text(textwrap.dedent("""\
        name: squared
        kind: synapse
        title: a synapse whose trace decays quadratically (not linear in s)
        reference: test
        description: test
        equations: |
          w : {WEIGHT_UNIT}
        pre_equations: |
          ds/dt = (-s*s*second + gate*dVdt)/tau_s : Hz
          gate = int(abs(zone_distance) < zone_width/2)/zone_width : {GATE_UNIT}
        current: w*s_pre
        parameters:
          tau_s: 10*ms
        """))
    with pytest.raises(NotDifferentiableError, match="not linear in s_syn"):
        derive_system(load_model("theta"), load_model(str(path)))


def test_bad_parameters_and_inputs_are_named():
    net = RecurrentSNN(2, 3, 1, 20, batch=1, backend="runtime")
    p = net.init_params(0)
    bad = dict(p, W=np.zeros((3, 2)))
    with pytest.raises(RecurrentError, match=r"params\['W'\] has shape \(3, 2\)"):
        net.forward(bad, np.zeros((1, 20, 2)))
    with pytest.raises(RecurrentError, match="input x has shape"):
        net.forward(p, np.zeros((1, 19, 2)))
    with pytest.raises(RecurrentError, match="threads must be a positive integer, got 0"):
        RecurrentSNN(2, 3, 1, 20, threads=0)
    with pytest.raises(RecurrentError, match="lack I0"):
        net.forward({k: v for k, v in p.items() if k != "I0"}, np.zeros((1, 20, 2)))
    nan = dict(p, U=np.full((3, 2), np.nan))
    with pytest.raises(RecurrentError, match=r"params\['U'\] contains NaN"):
        net.forward(nan, np.zeros((1, 20, 2)))
