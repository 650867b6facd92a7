"""Event-driven synapse models of the library against their closed forms.

One presynaptic spike at t_s reaches the target at t0 = t_s + dt: Brian2 runs the synaptic
``on_pre`` after the state update of the spike's time step, so the jump is part of the state
recorded at the next step (the same one-step latency for every model).  From t0 on:

    exp:    I(t) = w exp(-(t - t0)/tau)                         charge w tau
    alpha:  I(t) = w (t - t0)/tau exp(1 - (t - t0)/tau)         peak w at t0 + tau, charge e w tau
    biexp:  I(t) = w f (exp(-(t - t0)/tau_d) - exp(-(t - t0)/tau_r)),
            peak w at t_peak, charge w f (tau_d - tau_r)

Conductance models have the same time course for g and the current I = g (E_rev - v).
The LIF target is linear, so Brian2's ``exact`` method integrates current-based synapses and
the membrane exactly (agreement to ~1e-12); conductance-based targets are integrated with the
synapse model's method (exponential Euler: exact for exp/biexp conductances; rk4 for the alpha
conductance: agreement ~1e-9).
"""

import numpy as np
import pytest
from brian2 import Mohm, mV, ms, nA, nS, second
from scipy.optimize import minimize_scalar

from brainkit import Network, load_model

DT = 0.1 * ms
T_SPIKE = 10 * ms          # spike of source neuron 0
T_SPIKE2 = 23 * ms         # spike of source neuron 1 (second connection onto "two")
T0 = float(T_SPIKE + DT)   # onset (seconds)
T0_2 = float(T_SPIKE2 + DT)
W_I = 0.2 * nA
W_G = 2 * nS
TAU_R, TAU_D = 0.7 * ms, 6 * ms  # not the file's defaults: the normalisation must follow them
V0 = np.array([-90.0, -80.0, -50.0, -20.0, 20.0]) * mV  # clamped-ish voltages (tau_m huge)
E_REV_INH = -80 * mV
FROZEN = {"tau_m": 1e6 * second, "V_th": 1000 * mV}  # v stays where it starts


def _exp(t, tau):
    return np.where(t >= 0, np.exp(-np.maximum(t, 0) / tau), 0.0)


def _alpha(t, tau):
    t = np.maximum(t, 0)
    return t / tau * np.exp(1 - t / tau)


def _biexp_unnormalised(t, tr, td):
    t = np.maximum(t, 0)
    return np.exp(-t / td) - np.exp(-t / tr)


def _biexp_peak(tr, td):
    """Peak of exp(-t/td) - exp(-t/tr), found numerically (independent of the model file)."""
    res = minimize_scalar(lambda t: -_biexp_unnormalised(t, tr, td), bounds=(0, 10 * td),
                          method="bounded", options={"xatol": 1e-15})
    return res.x, -res.fun


PASSIVE = """\
name: passive_rk4
kind: neuron
title: Passive membrane integrated with rk4 (test probe)
reference: test fixture of tests/test_synapse_models.py
description: tau_m dv/dt = E_L - v + R I, no threshold; rk4 so that a synapse's linear
  equations are integrated to ~(dt/tau)^4 without Brian2's slow symbolic 'exact' solver.
equations: |
  dv/dt = (E_L - v + R*I)/tau_m : volt
method: rk4
input: {name: I, unit: amp}
parameters:
  tau_m: 10*ms
  R: 100*Mohm
  E_L: -70*mV
initial: {v: E_L}
"""


def _build(net, conns, lif_current_models):
    """Targets: a LIF per current model in ``lif_current_models`` (Brian2 'exact'), the
    rk4 probe for the others, and frozen LIFs (tau_m = 1e6 s) for conductance models."""
    import pathlib
    import tempfile

    from brainkit import load_model as _load

    probe_file = pathlib.Path(tempfile.mkdtemp()) / "passive_rk4.yaml"
    probe_file.write_text(PASSIVE)
    probe = _load(probe_file)
    net.spike_source("src", 2, [0, 1], [T_SPIKE, T_SPIKE2])
    for pop, syn, kw in [
        ("exp", "exp_current", {}),
        ("alpha", "alpha_current", {}),
        ("biexp", "biexp_current", {"tau_rise": TAU_R, "tau_decay": TAU_D}),
    ]:
        net.population(pop, "lif" if syn in lif_current_models else probe, 1)
        conns[pop] = net.connect("src", pop, syn, weights=W_I, i=[0], j=[0], params=kw)
        net.record(pop, [f"I_syn{conns[pop].suffix}", "v"])
    for pop, syn, kw in [
        ("exp_g", "exp_conductance", {}),
        ("alpha_g", "alpha_conductance", {}),
        ("biexp_g", "biexp_conductance", {"tau_rise": TAU_R, "tau_decay": TAU_D}),
        ("exp_g_inh", "exp_conductance", {"E_rev": E_REV_INH}),
    ]:
        n = len(V0)
        net.population(pop, "lif", n, params=FROZEN, init={"v": V0})
        conns[pop] = net.connect("src", pop, syn, weights=W_G, i=[0] * n, j=np.arange(n),
                                 params=kw)
        net.record(pop, [f"I_syn{conns[pop].suffix}", f"g_syn{conns[pop].suffix}", "v"])
    return probe


@pytest.fixture(scope="module")
def run():
    """One network, one simulation, one target population per synapse model (~10 s)."""
    net = Network(dt=DT, backend="runtime")
    conns = {}
    probe = _build(net, conns, lif_current_models=("exp_current",))
    # two connections of the same model onto one population: separate states
    net.population("two", probe, 1)
    c_a = net.connect("src", "two", "exp_current", weights=0.3 * nA, i=[0], j=[0], name="a")
    c_b = net.connect("src", "two", "exp_current", weights=-0.2 * nA, i=[1], j=[0], name="b",
                      params={"tau_syn": 2 * ms})
    conns["two"] = (c_a, c_b)
    net.record("two", [f"I_syn{c_a.suffix}", f"I_syn{c_b.suffix}", "v"])
    res = net.run(80 * ms)
    return res, conns


@pytest.fixture(scope="module")
def run_lif_exact():
    """Alpha and biexp current synapses onto LIFs: Brian2's 'exact' (symbolic) integration of
    the 3-variable linear system takes ~6 s per group to derive, hence a separate long test."""
    net = Network(dt=DT, backend="runtime")
    conns = {}
    _build(net, conns, lif_current_models=("exp_current", "alpha_current", "biexp_current"))
    return net.run(80 * ms), conns


def _trace(res, pop, var):
    tr = res.traces[pop]
    return np.asarray(tr["t"]), np.asarray(tr[var])


def test_exp_current_psc_peak_charge_and_psp(run):
    res, conns = run
    t, I = _trace(res, "exp", f"I_syn{conns['exp'].suffix}")
    tau = float(load_model("exp_current").parameters["tau_syn"])
    w = float(W_I)
    expected = w * _exp(t - T0, tau)
    assert np.allclose(I[0], expected, rtol=1e-10, atol=1e-12 * w)
    assert I[0].max() == pytest.approx(w, rel=1e-12)
    assert t[np.argmax(I[0])] == pytest.approx(T0, abs=1e-12)
    # charge: trapezoid rule over the samples; its error for an exponential is (dt/tau)^2/12
    assert np.trapezoid(I[0], t) == pytest.approx(w * tau, rel=(float(DT) / tau) ** 2 / 12 * 1.5)
    # the current drives the LIF: PSP u(t) = R w tau_s/(tau_s - tau_m) (e^{-t/tau_s} - e^{-t/tau_m})
    lif = load_model("lif").parameters
    tau_m, R, E_L = float(lif["tau_m"]), float(lif["R"]), float(lif["E_L"])
    _, v = _trace(res, "exp", "v")
    s = np.maximum(t - T0, 0)
    u = R * w * tau / (tau - tau_m) * (np.exp(-s / tau) - np.exp(-s / tau_m))
    assert np.allclose(v[0], E_L + u, rtol=0, atol=1e-12)


def _check_alpha_current(res, conns, atol):
    t, I = _trace(res, "alpha", f"I_syn{conns['alpha'].suffix}")
    tau = float(load_model("alpha_current").parameters["tau_syn"])
    w = float(W_I)
    assert np.allclose(I[0], w * _alpha(t - T0, tau), rtol=0, atol=atol * w)
    k = np.argmax(I[0])
    assert t[k] == pytest.approx(T0 + tau, abs=1e-12)  # tau is a multiple of dt
    assert I[0, k] == pytest.approx(w, abs=atol * w)
    # trapezoid rule: error O((dt/tau)^2)
    assert np.trapezoid(I[0], t) == pytest.approx(np.e * w * tau, rel=1e-4)


def _check_biexp_current(res, conns, atol):
    t, I = _trace(res, "biexp", f"I_syn{conns['biexp'].suffix}")
    tr, td, w = float(TAU_R), float(TAU_D), float(W_I)
    t_peak, d_peak = _biexp_peak(tr, td)
    # the peak time formula of the model's description
    assert t_peak == pytest.approx(tr * td / (td - tr) * np.log(td / tr), rel=1e-7)
    expected = w * _biexp_unnormalised(t - T0, tr, td) / d_peak  # peak exactly w
    assert np.allclose(I[0], expected, rtol=0, atol=atol * w)
    # samples never exceed the peak w; the one nearest t_peak is within the curvature bound
    assert I[0].max() <= w * (1 + atol)
    k = np.argmax(I[0])
    assert abs(t[k] - (T0 + t_peak)) <= float(DT)
    assert I[0, k] == pytest.approx(w, rel=1e-3)
    assert np.trapezoid(I[0], t) == pytest.approx(w * (td - tr) / d_peak, rel=1e-3)


# rk4 probe: per step the relative error of an exponential decay is (dt/tau)^5/120; with the
# shortest time constant tau_rise = 0.7 ms, dt = 0.1 ms, summed over the steps of a few tau:
RK4_ATOL = 1e-5


def test_alpha_current_time_course_peak_at_tau_and_charge(run):
    _check_alpha_current(*run, atol=RK4_ATOL)


def test_biexp_current_time_course_normalised_peak_and_charge(run):
    _check_biexp_current(*run, atol=RK4_ATOL)


@pytest.mark.long
def test_alpha_and_biexp_current_onto_lif_exact(run_lif_exact):
    """On the LIF (integrated exactly) the closed forms hold to rounding error."""
    _check_alpha_current(*run_lif_exact, atol=1e-10)
    _check_biexp_current(*run_lif_exact, atol=1e-10)
    res, conns = run_lif_exact
    test_exp_current_psc_peak_charge_and_psp(run_lif_exact)


@pytest.mark.parametrize("pop, kind", [("exp_g", "exp"), ("alpha_g", "alpha"),
                                       ("biexp_g", "biexp"), ("exp_g_inh", "exp")])
def test_conductance_time_course_and_current_proportional_to_driving_force(run, pop, kind):
    res, conns = run
    sfx = conns[pop].suffix
    t, g = _trace(res, pop, f"g_syn{sfx}")
    _, I = _trace(res, pop, f"I_syn{sfx}")
    _, v = _trace(res, pop, "v")
    w = float(W_G)
    if kind == "exp":
        shape = _exp(t - T0, float(load_model("exp_conductance").parameters["tau_syn"]))
        rtol = 1e-10
    elif kind == "alpha":
        shape = _alpha(t - T0, float(load_model("alpha_conductance").parameters["tau_syn"]))
        rtol = 1e-8  # rk4, dt/tau = 0.02: global error ~ (dt/tau)^4
    else:
        tr, td = float(TAU_R), float(TAU_D)
        shape = _biexp_unnormalised(t - T0, tr, td) / _biexp_peak(tr, td)[1]
        rtol = 1e-9
    for k in range(len(V0)):  # every target neuron sees the same conductance
        assert np.allclose(g[k], w * shape, rtol=rtol, atol=1e-12 * w)
    assert g.max() == pytest.approx(w, rel=1e-3)
    e_rev = float(E_REV_INH) if pop == "exp_g_inh" else 0.0
    drive = e_rev - np.asarray(V0)  # driving force; v barely moves (tau_m = 1e6 s)
    assert np.max(np.abs(v - np.asarray(V0)[:, None])) < 1e-8  # leak over 80 ms: < 1e-8 V
    # I = g (E_rev - v): proportional to the driving force, outward (< 0) above E_rev
    assert np.allclose(I, w * shape[None, :] * drive[:, None], rtol=1e-6, atol=w * 1e-8)
    peak = I[:, np.argmax(g[0])]
    nz = drive != 0
    assert np.all(np.sign(peak[nz]) == np.sign(drive[nz]))
    assert np.allclose(peak[nz] / drive[nz], peak[nz][0] / drive[nz][0], rtol=1e-6)
    if pop == "exp_g_inh":
        # v0 = E_rev: no current at the reversal potential (but for the 1e-8 V leak drift)
        assert np.max(np.abs(I[1])) <= w * 1e-8 < 1e-6 * np.max(np.abs(I))


def test_two_connections_of_one_model_keep_separate_states(run):
    res, conns = run
    c_a, c_b = conns["two"]
    assert c_a.suffix != c_b.suffix
    t, Ia = _trace(res, "two", f"I_syn{c_a.suffix}")
    _, Ib = _trace(res, "two", f"I_syn{c_b.suffix}")
    tau_a, tau_b = 5e-3, 2e-3
    wa, wb = 0.3e-9, -0.2e-9
    # the target is the rk4 probe: absolute error below RK4_ATOL of the jump
    assert np.allclose(Ia[0], wa * _exp(t - T0, tau_a), rtol=0, atol=RK4_ATOL * abs(wa))
    assert np.allclose(Ib[0], wb * _exp(t - T0_2, tau_b), rtol=0, atol=RK4_ATOL * abs(wb))
    assert np.all(Ib[0][t < T0_2] == 0) and np.all(Ia[0][t < T0] == 0)
    # the membrane sums both: v is the superposition of the two PSPs
    lif = load_model("lif").parameters  # the probe has the LIF's tau_m, R, E_L
    tau_m, R, E_L = float(lif["tau_m"]), float(lif["R"]), float(lif["E_L"])

    def psp(w, tau, t0):
        s = np.maximum(t - t0, 0)
        return R * w * tau / (tau - tau_m) * (np.exp(-s / tau) - np.exp(-s / tau_m))

    _, v = _trace(res, "two", "v")
    expected = E_L + psp(wa, tau_a, T0) + psp(wb, tau_b, T0_2)
    assert np.allclose(v[0], expected, rtol=0, atol=RK4_ATOL * np.ptp(expected))


def test_biexp_normalisation_formula_in_description_matches_the_peak():
    """The factor f stated in the file (written with r = tau_rise/tau_decay) is 1/peak."""
    for tr, td in [(0.7e-3, 6e-3), (1e-3, 5e-3), (2e-3, 3e-3), (0.1e-3, 20e-3)]:
        r = tr / td
        f = 1 / (r ** (tr / (td - tr)) - r ** (td / (td - tr)))
        assert f == pytest.approx(1 / _biexp_peak(tr, td)[1], rel=1e-9)
        # the simplified form the model's on_pre evaluates
        assert (1 / r) ** (tr / (td - tr)) / (1 - r) == pytest.approx(f, rel=1e-12)
    for name in ("biexp_current", "biexp_conductance"):
        assert "r^(tau_rise/(tau_decay - tau_rise))" in load_model(name).description


def test_conductance_weight_needs_siemens():
    from brainkit import NetworkError

    net = Network(dt=DT, backend="runtime")
    net.spike_source("src", 1, [0], [1 * ms])
    net.population("post", "lif", 1, params={"R": 100 * Mohm})
    with pytest.raises(NetworkError, match="siemens|S"):
        net.connect("src", "post", "exp_conductance", weights=1 * nA)
