"""Input-frequency curve of 1000 leaky integrate-and-fire neurons (Brian2's IF_curve_LIF.py)

Original: ``examples/IF_curve_LIF.py`` of brian-team/brian2: 1000 unconnected leaky IF
neurons, ``tau dv/dt = v0 - v`` (tau = 10 ms, threshold 10 mV, reset 0 mV, refractory 5 ms,
exact integration) with a drive ``v0 = 20 mV i/(n - 1)`` that rises with the neuron's index;
the plot is each neuron's firing rate (spike count / duration) against v0.

brainkit: the library's ``lif`` (``tau_m dv/dt = E_L - v + R I``, clamped while refractory)
with the example's constants (E_L = V_r = 0 mV, V_th = 10 mV, t_ref = 5 ms, tau_m = 10 ms)
and R = 1 ohm, so that the per-neuron constant current ``I_ext = 20 mV i/(N - 1)/ohm`` is v0
(set as an initial value, an expression Brian2 evaluates for every neuron, as the original's
``group.v0 = '20*mV * i / (n-1)'``).

Compared: the spikes, neuron by neuron and step by step (``identical``), and with them the
IF curve the example plots (each neuron's rate, from the same spikes).  Why identical: the
model has no random numbers at all, so the two runs can differ only if the model differs;
the library equation integrated exactly gives the same update as the original's to the last
bit here (E_L = 0 and R = 1 ohm add and multiply exact zeros and ones).  The rate of the
noise-free LIF is also known in closed form, f = 1/(t_ref + tau ln(v0/(v0 - V_th))) for
v0 > V_th: the comparison checks both curves against it too (to one spike in the duration,
since a count is an integer and the spike times lie on the 0.1 ms grid, which lengthens each
interval by less than dt: |count - f T| <= 1 + f T dt/(1/f - dt)).

Measured (seed 1, 2-core machine): full duration 1 s: 29,870 spikes identical, all 1000
rates the same and within the closed form's bound (0.18 spike to spare; Brian2 1.7 s,
brainkit 2.1 s); quick 200 ms: 5,894 spikes identical (0.6 s, 0.5 s).
"""

import os
import sys

import numpy as np
from brian2 import ms, second

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from acceptance import spikes_identical  # noqa: E402

ORIGINAL = "examples/IF_curve_LIF.py"
DURATION = 1 * second
QUICK = 200 * ms


def plain_brian2(duration, seed):
    """The original script (duration and seed as parameters)."""
    import brian2
    from brian2 import NeuronGroup, SpikeMonitor, ms, mV, run

    from brainkit.engine import runtime_device

    with runtime_device("numpy"):
        brian2.start_scope()
        brian2.seed(seed)
        n = 1000
        tau = 10*ms
        eqs = '''
        dv/dt = (v0 - v) / tau : volt (unless refractory)
        v0 : volt
        '''
        group = NeuronGroup(n, eqs, threshold='v > 10*mV', reset='v = 0*mV',
                            refractory=5*ms, method='exact')
        group.v = 0*mV
        group.v0 = '20*mV * i / (n-1)'

        monitor = SpikeMonitor(group)

        run(duration)
        return dict(i=np.array(monitor.i[:], copy=True),
                    t=np.array(monitor.t / brian2.second, copy=True),
                    v0=np.array(group.v0 / brian2.volt, copy=True),
                    rate=np.array(monitor.count / duration, copy=True),
                    T=float(duration / brian2.second))


def with_brainkit(duration, seed):
    """The same neurons as a brainkit population of the library's LIF."""
    import brainkit
    from brian2 import mV, ms, ohm, second, volt

    n = 1000
    net = brainkit.Network(dt=0.1*ms, backend="runtime", codegen_target="numpy", seed=seed)
    net.population("group", "lif", n,
                   params=dict(tau_m=10*ms, E_L=0*mV, V_th=10*mV, V_r=0*mV, t_ref=5*ms,
                               R=1*ohm),
                   init={"v": 0*mV, "I_ext": "20*mV * i / (N-1) / ohm"})
    net.record("group", "spikes")
    res = net.run(duration)
    i, t = res.spikes["group"]
    v0 = 20*mV * np.arange(n) / (n - 1)
    return dict(i=np.array(i, copy=True), t=np.array(t / second, copy=True),
                v0=np.array(v0 / volt, copy=True),
                rate=np.array(res.rates("group", duration), copy=True),
                T=float(duration / second))


def _theory_bound(v0, T):
    """The closed-form count f T of the noise-free LIF over T seconds, and its bound on the
    0.1 ms grid (one spike, plus the grid's lengthening of each interval by < dt)."""
    tau, v_th, t_ref, dt = 10e-3, 10e-3, 5e-3, 1e-4
    f = np.zeros_like(v0)
    above = v0 > v_th
    f[above] = 1 / (t_ref + tau * np.log(v0[above] / (v0[above] - v_th)))
    return f * T, 1 + f * T * dt / np.maximum(1 / np.maximum(f, 1e-300) - dt, dt)


def compare(a, b):
    """Identical spikes; both IF curves the same and within one spike of the closed form."""
    c = spikes_identical(a["i"], a["t"], b["i"], b["t"])
    worst = []
    for run in (a, b):
        expected, bound = _theory_bound(run["v0"], run["T"])
        counts = np.rint(run["rate"] * run["T"])
        worst.append(float(np.max(np.abs(counts - expected) - bound)))
    same = a["rate"].shape == b["rate"].shape and np.allclose(a["v0"], b["v0"], rtol=1e-12,
                                                               atol=0)
    differ = float(np.sum(a["rate"] != b["rate"])) if same else float(len(a["rate"]))
    c.rows.append(("neurons whose rate differs", 0.0, differ, 0.0))
    c.rows.append(("max (|count - f T| - bound), Brian2 / brainkit", worst[0], worst[1], 0.0))
    c.ok = bool(c.ok and same and differ == 0 and max(worst) <= 0)
    c.detail += (f"; IF curve: {int(differ)} of {len(a['rate'])} rates differ, "
                 + ("both within the closed form's bound" if max(worst) <= 0 else
                    f"off the closed form by {max(worst):.2g} spikes beyond its bound"))
    return c


if __name__ == "__main__":
    import acceptance
    sys.exit(acceptance.main(["--only", "if_curve"] + sys.argv[1:]))
