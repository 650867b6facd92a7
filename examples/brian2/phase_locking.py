"""Phase locking of IF neurons to a periodic input (Brian2's phase_locking.py)

Original: ``examples/phase_locking.py`` of brian-team/brian2: 100 dimensionless
integrate-and-fire neurons, ``tau dv/dt = -v + a sin(2 pi f t) + b`` with f = 10 Hz,
b = 1.2 and an amplitude ``a = 0.05 + 0.7 i/n`` that rises with the neuron's index; the
raster shows the neurons with a large ``a`` locking to the sinusoid's phase.

Compared: the spikes, neuron by neuron and step by step (``identical``), and the membrane
trace of neuron 50 that the example plots.  Why identical: the only random numbers are the
initial ``v = rand()`` (100 draws, one per neuron, in index order); brainkit sets the model's
initial values in the file's order after ``brian2.seed(seed)``, so it draws the same 100
numbers, and the equation (the user's own model file ``models/phase_locking_if.yaml``, the
original's equation verbatim) generates the same update code.  Everything after that is
deterministic, so any difference at all would be a difference of the model.

Measured (seed 1, 2-core machine): full duration 1000 ms, 2,758 spikes identical, v of
neuron 50 the same to the last bit (Brian2 0.9 s, brainkit 0.8 s); quick 200 ms, 523 spikes
identical.  With brainkit seeded 2 instead, 100 ms already differ (238 vs 234 spikes).
"""

import os
import sys

import numpy as np
from brian2 import ms

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
from acceptance import spikes_identical  # noqa: E402

ORIGINAL = "examples/phase_locking.py"
DURATION = 1000 * ms
QUICK = 200 * ms


def plain_brian2(duration, seed):
    """The original script (duration and seed as parameters)."""
    import brian2
    from brian2 import Hz, NeuronGroup, SpikeMonitor, StateMonitor, ms, run

    from brainkit.engine import runtime_device

    with runtime_device("numpy"):
        brian2.start_scope()
        brian2.seed(seed)
        tau = 20*ms
        n = 100
        b = 1.2  # constant current mean, the modulation varies
        freq = 10*Hz

        eqs = '''
        dv/dt = (-v + a * sin(2 * pi * freq * t) + b) / tau : 1
        a : 1
        '''
        neurons = NeuronGroup(n, model=eqs, threshold='v > 1', reset='v = 0',
                              method='euler')
        neurons.v = 'rand()'
        neurons.a = '0.05 + 0.7*i/n'
        S = SpikeMonitor(neurons)
        trace = StateMonitor(neurons, 'v', record=50)

        run(duration)
        return dict(i=np.array(S.i[:], copy=True), t=np.array(S.t / brian2.second, copy=True),
                    v50=np.array(trace.v[0], copy=True))


def with_brainkit(duration, seed):
    """The same neurons as a brainkit network of the user's model file."""
    import brainkit
    from brian2 import ms, second

    brainkit.add_model_path(os.path.join(HERE, "models"))
    net = brainkit.Network(dt=0.1*ms, backend="runtime", codegen_target="numpy", seed=seed)
    net.population("neurons", "phase_locking_if", 100)
    net.record("neurons", "spikes")
    net.record("neurons", "v", indices=[50])
    res = net.run(duration)
    i, t = res.spikes["neurons"]
    return dict(i=np.array(i, copy=True), t=np.array(t / second, copy=True),
                v50=np.array(res.traces["neurons"]["v"][0], copy=True))


def compare(a, b):
    """Identical spikes, and the plotted trace of neuron 50 the same to 1e-12."""
    c = spikes_identical(a["i"], a["t"], b["i"], b["t"])
    same_v = a["v50"].shape == b["v50"].shape and np.allclose(a["v50"], b["v50"], rtol=0,
                                                              atol=1e-12)
    dv = float(np.max(np.abs(a["v50"] - b["v50"]))) if a["v50"].shape == b["v50"].shape \
        else float("inf")
    c.rows.append(("max |v50 difference|", 0.0, dv, 1e-12))
    c.ok = bool(c.ok and same_v)
    c.detail += f"; v of neuron 50 differs by at most {dv:.2g}"
    return c


if __name__ == "__main__":
    import acceptance
    sys.exit(acceptance.main(["--only", "phase_locking"] + sys.argv[1:]))
