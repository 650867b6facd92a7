"""Adaptive threshold: one neuron under Poisson input (Brian2's adaptive_threshold.py)

Original: ``examples/adaptive_threshold.py`` of brian-team/brian2: one leaky neuron
(``dv/dt = -v/10 ms``) with a threshold ``vt`` that relaxes to 10 mV with 15 ms and jumps by
3 mV at each spike (reset ``v = 0``, no refractory period, exact integration), driven by one
500 Hz Poisson train through a synapse ``v += 3 mV``; it plots v and vt over time and the
histogram of v at the threshold crossings.

brainkit: the library's ``adaptive_lif`` (``tau_m dv/dt = E_L - v + R I``, spike when
``v > V_th + theta_a``, then ``v = V_r``, ``theta_a += delta_theta``, ``tau_theta
dtheta_a/dt = -theta_a``) with the example's constants (E_L = V_r = 0, V_th = 10 mV,
tau_m = 10 ms, tau_theta = 15 ms, delta_theta = 3 mV, t_ref = 0), so that the threshold
``V_th + theta_a`` is the original's ``vt``; a library ``delta_voltage`` synapse of weight
3 mV from a ``poisson_source``; the values of v at the spikes with a Brian2
``SpikeMonitor(..., variables='v')`` added through ``Network.add``.

Compared: the spikes (``identical``), v at every threshold crossing (the histogram's data)
and the plotted traces v(t) and vt(t) (to 1e-12 V).  Why identical: the only random numbers
are the Poisson train's, one ``rand() < rates*dt`` per step in the thresholds slot in both
runs (Brian2's ``PoissonGroup`` and brainkit's ``poisson_source`` are the same threshold
code), drawn from the same seed; everything else is deterministic.  (The synapse of the
library blocks a jump into a refractory target: with t_ref = 0 that is only the spike's own
step, where the reset sets v = 0 afterwards anyway.)

Measured (seed 1, 2-core machine): full duration 2 s: 143 spikes identical, v at the
crossings and v(t) equal to the bit, vt(t) to 1.7e-16 V (brainkit adds V_th + theta_a;
Brian2 2.4 s, brainkit 6.5 s); quick 300 ms: 23 spikes identical (0.7 s, 2.1 s).
"""

import os
import sys

import numpy as np
from brian2 import ms, second

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from acceptance import spikes_identical  # noqa: E402

ORIGINAL = "examples/adaptive_threshold.py"
DURATION = 2 * second
QUICK = 300 * ms


def plain_brian2(duration, seed):
    """The original script (duration and seed as parameters; no report, no plot)."""
    import brian2
    from brian2 import (Hz, NeuronGroup, PoissonGroup, SpikeMonitor, StateMonitor, Synapses,
                        mV, run)

    from brainkit.engine import runtime_device

    with runtime_device("numpy"):
        brian2.start_scope()
        brian2.seed(seed)
        eqs = '''
        dv/dt = -v/(10*ms) : volt
        dvt/dt = (10*mV-vt)/(15*ms) : volt
        '''

        reset = '''
        v = 0*mV
        vt += 3*mV
        '''

        IF = NeuronGroup(1, model=eqs, reset=reset, threshold='v>vt',
                         method='exact')
        IF.vt = 10*mV
        PG = PoissonGroup(1, 500 * Hz)

        C = Synapses(PG, IF, on_pre='v += 3*mV')
        C.connect()

        Mv = StateMonitor(IF, 'v', record=True)
        Mvt = StateMonitor(IF, 'vt', record=True)
        # Record the value of v when the threshold is crossed
        M_crossings = SpikeMonitor(IF, variables='v')
        run(duration)
        return dict(i=np.array(M_crossings.i[:], copy=True),
                    t=np.array(M_crossings.t / second, copy=True),
                    v_cross=np.array(M_crossings.v / brian2.volt, copy=True),
                    v=np.array(Mv[0].v / brian2.volt, copy=True),
                    vt=np.array(Mvt[0].vt / brian2.volt, copy=True))


def with_brainkit(duration, seed):
    """The same neuron: the library's adaptive-threshold LIF, a Poisson source, a jump synapse."""
    import brian2
    import brainkit
    from brian2 import Hz, mV, ms, volt

    net = brainkit.Network(dt=0.1*ms, backend="runtime", codegen_target="numpy", seed=seed)
    net.population("IF", "adaptive_lif", 1,
                   params=dict(E_L=0*mV, V_r=0*mV, V_th=10*mV, tau_m=10*ms, t_ref=0*ms,
                               tau_theta=15*ms, delta_theta=3*mV))
    net.poisson_source("PG", 1, rates=500*Hz)
    net.connect("PG", "IF", "delta_voltage", weights=3*mV, rule="all_to_all")
    net.record("IF", ["spikes", "v", "theta_a"])
    net.add(lambda o: brian2.SpikeMonitor(o["IF"], variables="v"), name="crossings")
    res = net.run(duration)
    i, t = res.spikes["IF"]
    tr = res.traces["IF"]
    return dict(i=np.array(i, copy=True), t=np.array(t / second, copy=True),
                v_cross=np.array(res.extra["crossings"]["v"] / volt, copy=True),
                v=np.array(tr["v"][0] / volt, copy=True),
                vt=np.array((10*mV + tr["theta_a"][0]) / volt, copy=True))


def compare(a, b):
    """Identical spikes; v at the crossings and the v, vt traces the same to 1e-12 V."""
    c = spikes_identical(a["i"], a["t"], b["i"], b["t"])
    ok = c.ok
    for key, what in (("v_cross", "v at the crossings"), ("v", "v(t)"), ("vt", "vt(t)")):
        same_shape = a[key].shape == b[key].shape
        d = float(np.max(np.abs(a[key] - b[key]), initial=0.0)) if same_shape else float("inf")
        c.rows.append((f"max |{what} difference| (V)", 0.0, d, 1e-12))
        ok = ok and d <= 1e-12
        c.detail += f"; {what} differ by at most {d:.2g} V"
    c.ok = bool(ok)
    return c


if __name__ == "__main__":
    import acceptance
    sys.exit(acceptance.main(["--only", "adaptive_threshold"] + sys.argv[1:]))
