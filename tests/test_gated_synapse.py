"""The gated synapse (Huh & Sejnowski 2018): tau_s ds/dt = -s + g(V) dV/dt with the raised
cosine g(d) = (1 + cos(2 pi d/D))/D for |d| < D/2 (d = V - centre of the active zone).

Continuous-time facts tested (see /work/shared/docs/gated-synapse-adjoint.md):
  integrating the equation, int_0^T s dt = G(V(T)) - G(V(0)) - tau_s (s(T) - s(0)), with
  G(d) = (d + D/2)/D + sin(2 pi d/D)/(2 pi) the integral of g (0 below, 1 above the zone), so
  * a full crossing delivers the charge 1 whatever the speed,
  * a depolarisation that stops inside the zone at d* delivers G(d*), one below it 0,
  * as D -> 0, s -> the threshold synapse  sum_k exp(-(t - t_k)/tau_s)/tau_s (t > t_k).
Discrete time (Brian2 'euler', the same state for V and s in a step): sum_n s_n dt equals the
left Riemann-Stieltjes sum  sum_n g(V_n)(V_{n+1} - V_n) - tau_s s_N, whose difference from
int g dV is at most max_n |V_{n+1} - V_n| times the total variation of g (4/D).

The state s lives in the presynaptic group, suffixed by its connection (``s_c0``, ...).
Full crossings use theta neurons (no reset) with I < 0: started above the unstable fixed point
and below the zone, the phase crosses the zone once and settles at the stable fixed point
2 pi - arccos((1 + I)/(1 - I)) beyond it.  Near the zone centre (theta = pi) dtheta/dt = 2/tau
whatever I, so the crossing speed is set with the neuron's tau (1, 4, 16 ms: 16x).
Partial crossings use the LIF (it resets at the zone centre, so it never completes a
crossing): a constant input with v_inf = E_L + R I inside the lower half of the zone stops
there without a spike.
"""

import numpy as np
import pytest
from brian2 import mV, ms, second

from brainkit import Network, load_model

TAUS = [1.0, 4.0, 16.0]          # theta time constants (ms) -> zone speeds 2/tau
I_NEG = np.array([-0.1, -0.5, -0.9])
WIDTHS = [0.5, 0.15, 0.05]       # zone widths (rad) for the threshold limit
V_INF = np.array([-51.0, -50.6, -50.45, -50.3, -50.1, -50.01])  # mV; zone (-50.5, -49.5)
TAU_S_FULL = 5 * ms


def _G(d, D):
    """Integral of the raised cosine from the zone's lower edge to d."""
    d = np.clip(np.asarray(d, dtype=float), -D / 2, D / 2)
    return (d + D / 2) / D + np.sin(2 * np.pi * d / D) / (2 * np.pi)


@pytest.fixture(scope="module")
def theta_run():
    dt = 0.02 * ms
    net = Network(dt=dt, backend="runtime")
    net.population("sink", "theta", 1)
    D = float(load_model("theta").parameters["gate_width"])
    conns, I_ext = {}, {}
    for tau in TAUS:
        name = f"tau{tau:g}"
        net.population(name, "theta", len(I_NEG), params={"tau": tau * ms},
                       init={"theta": np.pi - D / 2 - 0.3})
        conns[name] = net.connect(name, "sink", "gated", weights=np.zeros(len(I_NEG)) * second,
                                  params={"tau_s": TAU_S_FULL})
        net.record(name, [f"s{conns[name].suffix}", "theta"])
        I_ext[name] = I_NEG
    for k, width in enumerate(WIDTHS):
        name = f"width{k}"
        net.population(name, "theta", 1, params={"gate_width": width})
        conns[name] = net.connect(name, "sink", "gated", weights=[0.0] * second)
        net.record(name, [f"s{conns[name].suffix}", "theta"])
        I_ext[name] = 0.5
    res = net.run(100 * ms, I_ext=I_ext)
    return res, conns, float(dt)


@pytest.fixture(scope="module")
def lif_run():
    dt = 0.1 * ms
    lif = load_model("lif")
    R, E_L = lif.parameters["R"], lif.parameters["E_L"]
    net = Network(dt=dt, backend="runtime")
    net.population("lif", "lif", len(V_INF), init={"v": -52 * mV})
    net.population("sink", "theta", 1)
    c = net.connect("lif", "sink", "gated", weights=np.zeros(len(V_INF)) * second)
    net.record("lif", [f"s{c.suffix}", "v"])
    net.record("lif", "spikes")
    res = net.run(300 * ms, I_ext={"lif": (V_INF * mV - E_L) / R})
    return res, c, float(dt)


def _s_theta(res, conns, name):
    tr = res.traces[name]
    return (np.asarray(tr["t"]), np.asarray(tr[f"s{conns[name].suffix}"]),
            np.asarray(tr["theta"]))


def test_full_crossing_delivers_unit_charge_at_any_speed(theta_run):
    res, conns, dt = theta_run
    D = float(load_model("theta").parameters["gate_width"])
    speeds, charges = [], []
    for tau in TAUS:
        t, s, th = _s_theta(res, conns, f"tau{tau:g}")
        # one crossing: the phase ends beyond the zone (at the stable fixed point), never wraps
        fixed = 2 * np.pi - np.arccos((1 + I_NEG) / (1 - I_NEG))
        assert np.all(fixed > np.pi + D / 2) and np.all(np.diff(th, axis=1) >= 0)
        assert np.all((th[:, -1] > np.pi + D / 2) & (th[:, -1] <= fixed))
        assert np.all(s[:, -1] * float(TAU_S_FULL) < 1e-7)  # s has decayed: all charge counted
        for k in range(len(I_NEG)):  # speed at the zone centre
            j = np.argmin(np.abs(th[k] - np.pi))
            speeds.append((th[k, j + 1] - th[k, j]) / dt)
        charges.extend(np.sum(s, axis=1) * dt)
    speeds, charges = np.array(speeds), np.array(charges)
    print(f"\nfull crossing: zone-centre speeds {speeds.min():.4g}..{speeds.max():.4g} rad/s "
          f"({speeds.max() / speeds.min():.1f}x), charge - 1 in "
          f"[{(charges - 1).min():.2e}, {(charges - 1).max():.2e}]")
    assert speeds.max() / speeds.min() >= 10  # depolarisation rates spanning > 10x
    assert np.allclose(charges, 1.0, rtol=0, atol=1e-3)  # brief: 1 +- 1%


def test_partial_crossing_gives_the_graded_charge_and_none_below_the_zone(lif_run):
    res, c, dt = lif_run
    lif = load_model("lif").parameters
    D, V_th = float(lif["gate_width"]), float(lif["V_th"])
    tau_s = float(load_model("gated").parameters["tau_s"])
    assert len(res.spikes["lif"][0]) == 0  # stops inside the zone: no threshold crossing
    s = np.asarray(res.traces["lif"][f"s{c.suffix}"])
    v = np.asarray(res.traces["lif"]["v"])
    charge = np.sum(s, axis=1) * dt
    v_inf = V_INF * 1e-3
    assert np.allclose(v[:, -1], v_inf, rtol=0, atol=1e-9)  # v has stopped at v_inf
    closed_form = _G(v_inf - V_th, D)                          # int g dv up to the stop
    in_zone = v - V_th > -D / 2
    dv_max = np.max(np.where(in_zone[:, :-1], np.abs(np.diff(v, axis=1)), 0), axis=1)
    bound = dv_max * 4 / D + 1e-12      # Riemann-Stieltjes bound (total variation of g: 4/D)
    err = np.abs(charge + tau_s * s[:, -1] - closed_form)
    print("\npartial crossing: v_inf (mV), charge, closed form, |error|, bound")
    for row in zip(V_INF, charge, closed_form, err, bound):
        print("  %.2f  %.6f  %.6f  %.1e  %.1e" % row)
    assert np.all(err <= bound)
    assert np.allclose(charge, closed_form, rtol=0.01, atol=1e-15)  # 1%, as for full crossings
    below = v_inf - V_th <= -D / 2
    assert below.sum() == 2 and np.all(charge[below] == 0)   # below the zone: exactly 0
    assert np.all(np.diff(charge[~below]) > 0) and charge[-1] < 0.5  # graded, < the half zone


def test_shrinking_zone_approaches_the_threshold_synapse(theta_run):
    res, conns, dt = theta_run
    tau_s = float(load_model("gated").parameters["tau_s"])
    errors = []
    for k, width in enumerate(WIDTHS):
        t, s, th = _s_theta(res, conns, f"width{k}")
        s, th = s[0], th[0]
        # spike times: crossings of pi (mod 2 pi), interpolated between samples
        ks = np.arange(np.ceil((th[0] - np.pi) / (2 * np.pi)),
                       np.floor((th[-1] - np.pi) / (2 * np.pi)) + 1)
        t_k = np.interp(np.pi + 2 * np.pi * ks, th, t)
        assert len(t_k) == 2
        s_thr = sum(np.where(t > tk, np.exp(-(t - tk) / tau_s) / tau_s, 0.0) for tk in t_k)
        errors.append(np.sum(np.abs(s - s_thr)) / np.sum(s_thr))  # relative L1 distance
    errors = np.array(errors)
    print("\nthreshold limit: zone width, relative L1 distance to the threshold synapse")
    for row in zip(WIDTHS, errors):
        print("  %.3f  %.2e" % row)
    # the distance shrinks with the zone, about in proportion (widths 0.5 : 0.15 : 0.05)
    assert errors[0] > 2.5 * errors[1] > 2.5 * 2 * errors[2]
    assert errors[2] < 0.01
