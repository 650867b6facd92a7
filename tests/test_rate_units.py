"""Firing-rate units (models/rates): continuous and discrete time, in networks with spiking
neurons, against the closed-form solutions of the linear cases."""

import numpy as np
from brian2 import Hz, ms, nA, pA, second

from brainkit import Network, load_model

DT = 0.1 * ms


def test_linear_rate_unit_step_response_is_the_exponential_relaxation():
    net = Network(dt=DT, backend="runtime")
    net.population("rate", "rate_linear", 3, params={"tau": 20 * ms, "r_0": 5 * Hz},
                   init={"r": np.array([0.0, 10.0, 40.0]) * Hz})
    net.record("rate", "r")
    I = np.array([0.2, -0.03, 0.1]) * nA
    res = net.run(100 * ms, I_ext={"rate": I})
    t = np.asarray(res.traces["rate"]["t"] / second)
    r = np.asarray(res.traces["rate"]["r"] / Hz)
    f = 5 + 100 * np.asarray(I / nA)  # f(I) = r_0 + gain I, gain = 100 Hz/nA
    r0 = np.array([0.0, 10.0, 40.0])
    ref = f[:, None] + (r0 - f)[:, None] * np.exp(-t / 0.02)[None, :]
    np.testing.assert_allclose(r, ref, rtol=1e-9, atol=1e-9)


def test_linear_rate_readout_of_one_spike_is_the_difference_of_exponentials():
    """A spike at t_s through an exp_current synapse (tau_s = 5 ms) into a linear rate unit
    (tau = 20 ms): r(t) = gain w tau_s/(tau_s - tau) (exp(-u/tau_s) - exp(-u/tau)),
    u = t - t_s - dt (Brian2 applies on_pre after the step's state update, so the current
    starts one step after the spike's time stamp)."""
    net = Network(dt=DT, backend="runtime")
    t_s = 10 * ms
    net.spike_source("spk", 1, [0], [t_s])
    net.population("readout", "rate_linear", 1, params={"tau": 20 * ms})
    w = 0.5 * nA
    net.connect("spk", "readout", "exp_current", weights=w, params={"tau_syn": 5 * ms})
    net.record("readout", "r")
    res = net.run(80 * ms)
    t = np.asarray(res.traces["readout"]["t"] / second)
    r = np.asarray(res.traces["readout"]["r"][0] / Hz)
    u = t - float((t_s + DT) / second)
    ts, tau, g = 0.005, 0.020, 100.0 * 0.5  # gain (Hz/nA) x w (nA)
    ref = np.where(u > 0, g * ts / (ts - tau) * (np.exp(-u / ts) - np.exp(-u / tau)), 0.0)
    np.testing.assert_allclose(r, ref, rtol=1e-8, atol=1e-9)
    assert r.max() > 5  # a real response (the closed form peaks at 7.87 Hz, u = 12.3 ms)


def test_discrete_rate_unit_follows_the_geometric_map():
    net = Network(dt=DT, backend="runtime")
    net.population("d", "rate_discrete", 2, params={"a": 0.3})
    net.record("d", "r")
    I = np.array([0.4, -0.1]) * nA
    res = net.run(5 * ms, I_ext={"d": I})
    n = np.arange(50)
    r = np.asarray(res.traces["d"]["r"] / Hz)
    f = 100 * np.asarray(I / nA)
    np.testing.assert_allclose(r, f[:, None] * (1 - 0.7 ** n)[None, :], rtol=1e-12, atol=1e-12)
    # a = 1: r[n+1] = f(I[n]), a memoryless map of a time-varying input
    net = Network(dt=DT, backend="runtime")
    net.population("m", "rate_discrete", 1, params={"a": 1.0})
    stim = np.sin(np.arange(30) / 3.0) * nA
    net.current_input("m", stim)
    net.record("m", "r")
    res = net.run(3 * ms)
    r = np.asarray(res.traces["m"]["r"][0] / Hz)
    np.testing.assert_allclose(r[1:], 100 * np.sin(np.arange(29) / 3.0), atol=1e-12)


def test_sigmoid_rate_unit_relaxes_to_f_of_I():
    m = load_model("rate_sigmoid")
    net = Network(dt=DT, backend="runtime")
    net.population("s", m, 4)
    net.record("s", "r")
    I = np.array([0.0, 0.4, 0.5, 0.9]) * nA
    res = net.run(50 * ms, I_ext={"s": I})
    t = np.asarray(res.traces["s"]["t"] / second)
    f = 100 / (1 + np.exp(-(np.asarray(I / nA) - 0.5) / 0.1))
    ref = f[:, None] * (1 - np.exp(-t / 0.01))[None, :]
    # exponential Euler is exact for a linear equation with constant coefficients
    np.testing.assert_allclose(np.asarray(res.traces["s"]["r"] / Hz), ref, rtol=1e-9,
                               atol=1e-9)


def test_rate_units_drive_spiking_neurons_and_read_them_out_in_one_network():
    """Spiking LIF neurons -> linear rate readout (exp_current), and rate units -> LIF input
    (rate_synapse, I = sum w r_pre): both in one network."""
    net = Network(dt=DT, backend="runtime")
    net.population("drive", "rate_linear", 2, params={"tau": 5 * ms},
                   init={"r": np.array([30.0, 50.0]) * Hz})
    net.population("lif", "lif", 3)
    net.population("readout", "rate_linear", 1, params={"tau": 50 * ms})
    W = np.array([[1.0, 0.0, 2.0], [0.5, 3.0, 0.0]]) * 1e-2 * nA * second  # nA s
    net.connect("drive", "lif", "rate_synapse", weights=W)
    net.connect("lif", "readout", "exp_current", weights=20 * pA)
    net.record("lif", ["I"])
    net.record("drive", "r")
    net.record("lif", "spikes")
    net.record("readout", "r")
    I_drive = np.array([0.3, 0.2]) * nA  # f = 30, 20 Hz: drive relaxes from (30, 50) Hz
    res = net.run(100 * ms, I_ext={"drive": I_drive})
    r_pre = np.asarray(res.traces["drive"]["r"] / Hz)
    I = np.asarray(res.traces["lif"]["I"] / nA)
    # the summed input is computed at the start of each step's update (from the rates before
    # the update); the monitor, which samples before the update, sees it one sample later
    np.testing.assert_allclose(I[:, 1:], (W / (nA * second)).T @ r_pre[:, :-1], rtol=1e-12,
                               atol=1e-15)
    n_spikes = len(res.spikes["lif"][0])
    assert n_spikes > 5
    # the readout is linear: r(t) = sum over the LIF spikes t_k of the one-spike response
    # K(t - t_k - dt), K(u) = gain w tau_s/(tau_s - tau) (exp(-u/tau_s) - exp(-u/tau))
    t = np.asarray(res.traces["readout"]["t"] / second)
    r_out = np.asarray(res.traces["readout"]["r"][0] / Hz)
    ts, tau, g = 0.005, 0.050, 100.0 * 0.02
    ref = np.zeros_like(t)
    for tk in np.asarray(res.spikes["lif"][1] / second):
        u = t - tk - float(DT / second)
        ref += np.where(u > 0, g * ts / (ts - tau) * (np.exp(-u / ts) - np.exp(-u / tau)), 0)
    np.testing.assert_allclose(r_out, ref, rtol=1e-8, atol=1e-9)
