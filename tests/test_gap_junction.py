"""Gap junctions (library synapse ``gap_junction``: I = w (v_pre - v_post), summed into the
target's input every step) against the same network written in plain Brian2, with a summed
variable as Brian2's own gap-junction example does."""

import numpy as np
from brian2 import Mohm, NeuronGroup, Network as B2Network, StateMonitor, SpikeMonitor, Synapses
from brian2 import mV, ms, nA, nS

from brainkit import Network
from brainkit.engine import runtime_device

N, G_GAP = 10, 2 * nS


def test_gap_junctions_equal_plain_brian2_and_pull_voltages_together():
    drive = np.linspace(0.15, 0.3, N) * nA  # from sub- to supra-threshold
    W = np.full((N, N), float(G_GAP)) * (1 - np.eye(N))  # all-to-all, symmetric
    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("p", "lif", N)
    net.connect("p", "p", "gap_junction", weights=W * nS / float(nS))
    net.record("p", "spikes")
    net.record("p", "v")
    res = net.run(200 * ms, I_ext={"p": drive})

    with runtime_device("numpy"):
        G = NeuronGroup(N, """dv/dt = (E_L - v + R*(I_ext + I_gap))/tau_m : volt (unless refractory)
                              I_ext : amp
                              I_gap : amp""",
                        threshold="v > V_th", reset="v = V_r", refractory=2 * ms, method="exact",
                        namespace=dict(E_L=-70 * mV, R=100 * Mohm, tau_m=10 * ms, V_th=-50 * mV,
                                       V_r=-70 * mV), dt=0.1 * ms)
        G.v = -70 * mV
        G.I_ext = drive
        S = Synapses(G, G, "w : siemens\nI_gap_post = w*(v_pre - v_post) : amp (summed)",
                     dt=0.1 * ms)
        S.connect(condition="i != j")
        S.w = G_GAP
        sp, st = SpikeMonitor(G), StateMonitor(G, "v", record=True)
        B2Network(G, S, sp, st).run(200 * ms)
        ref_i, ref_t, ref_v = np.array(sp.i[:]), np.array(sp.t / ms), np.array(st.v / mV)

    i, t = res.spikes["p"]
    assert len(ref_i) > 20
    assert sorted(zip(np.asarray(i).tolist(), np.round(np.asarray(t / ms), 6).tolist())) == \
        sorted(zip(ref_i.tolist(), np.round(ref_t, 6).tolist()))
    np.testing.assert_allclose(np.asarray(res.traces["p"]["v"] / mV), ref_v, atol=1e-9)

    # without the junctions the least driven neuron sits lower: coupling pulls it up
    alone = Network(dt=0.1 * ms, backend="runtime")
    alone.population("p", "lif", N)
    alone.record("p", "v", indices=[0])
    quiet = alone.run(200 * ms, I_ext={"p": drive})
    late = slice(1000, None)
    assert np.mean(res.traces["p"]["v"][0, late] / mV) > \
        np.mean(quiet.traces["p"]["v"][0, late] / mV) + 0.5
