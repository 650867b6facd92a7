"""Neurons with gap junctions (Brian2's gapjunctions.py)

Original: ``examples/synapses/gapjunctions.py`` of brian-team/brian2: 10 dimensionless
integrate-and-fire neurons (``tau dv/dt = v0 - v + Igap``, v0 = 1.05 just above threshold),
started at ``v = i/(n-1)`` and coupled all-to-all (autapses included, as ``S.connect()``
makes them) by gap junctions of conductance 0.02 whose currents ``w (v_pre - v_post)`` are a
summed variable; the coupling pulls the neurons into synchrony (the plot: v of neurons 0
and 5).

Compared: the spikes, neuron by neuron and step by step (``identical``), and the two plotted
voltage traces.  Why identical: the network has no random numbers at all (the initial
values are an expression of i), so the same equations give the same numbers; brainkit sums
the junction currents into the neuron's input as Brian2's ``(summed)`` does, over the same
synapses in the same order (its ``all_to_all`` is ``S.connect()``'s i-major order).  The
neuron and the dimensionless junction are the user's own model files
(``models/gapjunction_if.yaml``, ``models/gap_junction_dimensionless.yaml``): the library's
``gap_junction`` has a conductance in siemens, for neurons whose input is a current. The
traces are compared to 1e-9 (the input enters the update as brainkit's subexpression
``Igap = I_c0`` instead of a variable, which could change the last bits; it does not).

Measured (seed 1, 2-core machine): full duration 500 ms, 123 spikes identical and v of
neurons 0 and 5 the same to the last bit (Brian2 1.0 s, brainkit 1.1 s); quick 100 ms, 23
spikes identical.  The original has no SpikeMonitor (it plots v); one is added to compare
spikes.
"""

import os
import sys

import numpy as np
from brian2 import ms

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from acceptance import spikes_identical  # noqa: E402

ORIGINAL = "examples/synapses/gapjunctions.py"
DURATION = 500 * ms
QUICK = 100 * ms


def plain_brian2(duration, seed):
    """The original script (duration and seed as parameters)."""
    import brian2
    from brian2 import NeuronGroup, StateMonitor, SpikeMonitor, Synapses, ms, run

    from brainkit.engine import runtime_device

    with runtime_device("numpy"):
        brian2.start_scope()
        brian2.seed(seed)
        n = 10
        v0 = 1.05
        tau = 10*ms

        eqs = '''
        dv/dt = (v0 - v + Igap) / tau : 1
        Igap : 1 # gap junction current
        '''

        neurons = NeuronGroup(n, eqs, threshold='v > 1', reset='v = 0',
                              method='exact')
        neurons.v = 'i * 1.0 / (n-1)'
        trace = StateMonitor(neurons, 'v', record=[0, 5])

        S = Synapses(neurons, neurons, '''
                     w : 1 # gap junction conductance
                     Igap_post = w * (v_pre - v_post) : 1 (summed)
                     ''')
        S.connect()
        S.w = .02
        spikes = SpikeMonitor(neurons)  # the plot shows v only; its spikes are compared

        run(duration)
        return dict(i=np.array(spikes.i[:], copy=True),
                    t=np.array(spikes.t / brian2.second, copy=True),
                    v=np.array(trace.v[:], copy=True))


def with_brainkit(duration, seed):
    """The same network: the user's neuron and junction model files, all-to-all."""
    import brainkit
    from brian2 import ms, second

    brainkit.add_model_path(os.path.join(HERE, "models"))
    net = brainkit.Network(dt=0.1*ms, backend="runtime", codegen_target="numpy", seed=seed)
    net.population("neurons", "gapjunction_if", 10, external_current=False)
    net.connect("neurons", "neurons", "gap_junction_dimensionless", rule="all_to_all",
                weights=0.02)
    net.record("neurons", "spikes")
    net.record("neurons", "v", indices=[0, 5])
    res = net.run(duration)
    i, t = res.spikes["neurons"]
    return dict(i=np.array(i, copy=True), t=np.array(t / second, copy=True),
                v=np.array(res.traces["neurons"]["v"], copy=True))


def compare(a, b):
    """Identical spikes; the plotted traces of neurons 0 and 5 equal to 1e-9."""
    c = spikes_identical(a["i"], a["t"], b["i"], b["t"])
    same_shape = a["v"].shape == b["v"].shape
    dv = float(np.max(np.abs(a["v"] - b["v"]))) if same_shape else float("inf")
    c.rows.append(("max |v difference| (neurons 0, 5)", 0.0, dv, 1e-9))
    c.ok = bool(c.ok and dv <= 1e-9)
    c.detail += f"; v of neurons 0 and 5 differ by at most {dv:.2g}"
    return c


if __name__ == "__main__":
    import acceptance
    sys.exit(acceptance.main(["--only", "gap_junctions"] + sys.argv[1:]))
