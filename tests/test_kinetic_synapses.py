"""Kinetic receptor synapses (Destexhe, Mainen & Sejnowski 1994): AMPA, NMDA, GABA-A.

The conductance of one presynaptic spike follows the closed form of the two-state scheme with
a square transmitter pulse; the NMDA current's voltage dependence is the Jahr & Stevens (1990)
magnesium block.  The postsynaptic neurons are held at fixed voltages (a LIF with
tau_m = 1e9 s, R = 1 ohm and an unreachable threshold: v moves by < 1e-12 V), so
g(t) = I(t)/(E_rev - v)."""

import numpy as np
import pytest
from brian2 import mM, mV, ms, nS, ohm, second, volt

from brainkit import Network, load_model

DT = 0.1 * ms
HOLD = {"tau_m": 1e9 * second, "R": 1 * ohm, "V_th": 10 * volt}


def _closed_form(t, t0, alpha, beta, T_max, C_dur):
    """r(t) of one transmitter pulse T_max on [t0, t0 + C_dur] from r = 0 (t, t0 in s;
    alpha in 1/(mM s), beta in 1/s, T_max in mM)."""
    k = alpha * T_max + beta
    r_inf = alpha * T_max / k
    u = t - t0
    during = r_inf * (1 - np.exp(-k * np.clip(u, 0, C_dur)))
    r1 = r_inf * (1 - np.exp(-k * C_dur))
    return np.where(u <= 0, 0.0, np.where(u <= C_dur, during, r1 * np.exp(-beta * (u - C_dur))))


def _run(synapse, v_hold_mV, duration, t_spike=5 * ms, w=1 * nS):
    n = len(v_hold_mV)
    net = Network(dt=DT, backend="runtime")
    net.spike_source("pre", 1, [0], [t_spike])
    net.population("post", "lif", n, params=HOLD, init={"v": np.asarray(v_hold_mV) * mV})
    net.connect("pre", "post", synapse, weights=w)
    net.record("post", ["I", "v"])
    res = net.run(duration)
    tr = res.traces["post"]
    return (np.asarray(tr["t"] / second), np.asarray(tr["I"] / (nS * mV)),
            np.asarray(tr["v"] / mV))


@pytest.mark.parametrize("name,alpha,beta,E,duration", [
    ("ampa", 1.1e3, 190.0, 0.0, 40 * ms),
    ("gaba_a", 5e3, 180.0, -80.0, 40 * ms),
    ("nmda", 72.0, 6.6, 0.0, 300 * ms),
])
def test_single_event_conductance_follows_the_two_state_closed_form(name, alpha, beta, E,
                                                                     duration):
    m = load_model(name)
    # the file's rate constants (Destexhe, Mainen & Sejnowski 1998)
    assert np.isclose(float(m.parameters["alpha"] * mM * second), alpha)
    assert np.isclose(float(m.parameters["beta"] * second), beta)
    v_hold = [-60.0]
    t, I, v = _run(name, v_hold, duration)
    assert np.ptp(v) < 1e-6  # mV
    g = I[0] / (E - v[0])  # nS (with the NMDA block B(v) folded in)
    if name == "nmda":
        g = g * (1 + np.exp(0.062 * 60) / 3.57)  # divide out B(-60 mV), [Mg] = 1 mM
    # the pulse starts one step after the spike (on_pre after the state update) and the summed
    # current is sampled one step after the synapse state it is computed from
    t0 = 5e-3 + float(DT / second)
    ref = _closed_form(t - float(DT / second), t0, alpha, beta, 1.0, 1e-3)
    np.testing.assert_allclose(g, ref, rtol=1e-9, atol=1e-12)
    # the peak at the end of the pulse: r_inf (1 - exp(-(alpha T + beta) C_dur))
    k = alpha + beta
    assert np.isclose(g.max(), alpha / k * (1 - np.exp(-k * 1e-3)), rtol=1e-9)


def test_nmda_voltage_dependence_is_the_jahr_stevens_magnesium_block():
    v_hold = np.linspace(-100.0, 40.0, 15)
    v_hold = v_hold[np.abs(v_hold) > 1e-9]  # not at the reversal potential
    t, I, v = _run("nmda", v_hold, 50 * ms)
    g = I / (0.0 - v)  # = w r(t) B(v)
    B = 1 / (1 + 1.0 / 3.57 * np.exp(-0.062 * v_hold))
    r = _closed_form(t - 1e-4, 5.1e-3, 72.0, 6.6, 1.0, 1e-3)
    np.testing.assert_allclose(g, B[:, None] * r[None, :], rtol=1e-8, atol=1e-14)
    # the block is strong at rest and relieved by depolarisation
    assert B[0] < 0.02 and B[-1] > 0.9
    # with [Mg] = 0 there is no block: g = w r at every voltage
    t, I, v = _run(load_model("nmda", Mg=0 * mM), v_hold, 50 * ms)
    np.testing.assert_allclose(I / (0.0 - v), np.tile(r, (len(v_hold), 1)), rtol=1e-8,
                               atol=1e-14)


def test_a_second_spike_during_the_pulse_restarts_it_and_currents_add_up():
    """Two AMPA synapses (two connections) onto one neuron sum their currents; a spike 0.5 ms
    into a pulse extends the transmitter pulse to end C_dur after the second spike."""
    net = Network(dt=DT, backend="runtime")
    net.spike_source("pre", 1, [0, 0], [5, 5.5] * ms)
    net.population("post", "lif", 1, params=HOLD, init={"v": -60 * mV})
    net.connect("pre", "post", "ampa", weights=1 * nS, name="a")
    net.connect("pre", "post", "ampa", weights=2 * nS, name="b")
    net.record("post", ["I"])
    res = net.run(20 * ms)
    t = np.asarray(res.traces["post"]["t"] / second)
    g = np.asarray(res.traces["post"]["I"][0] / (nS * mV)) / 60.0
    # one pulse on [5.1, 6.6] ms (1.5 ms long) from r = 0, times (1 + 2) nS
    ref = 3 * _closed_form(t - 1e-4, 5.1e-3, 1.1e3, 190.0, 1.0, 1.5e-3)
    np.testing.assert_allclose(g, ref, rtol=1e-9, atol=1e-12)
