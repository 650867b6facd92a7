"""AdEx (Brette & Gerstner 2005) in the model library: Naud et al.'s (2008) firing patterns
from their Table 1 and step currents, and its adaptation current ``w`` beside brainkit's
synaptic weight (renamed ``w_syn`` on composition, not refused)."""

import numpy as np
import pytest
from brian2 import Hz, ms, nA, pA

from brainkit import Network
from brainkit.analysis import adaptation_index, bursts, isi, isi_cv

RUNTIME = dict(backend="runtime", codegen_target="numpy")
#: Naud et al. (2008): the step current of each pattern's figure (pA)
STIM = {"tonic": 500, "adapting": 500, "initial_burst": 400, "regular_bursting": 210,
        "delayed_accelerating": 300, "transient": 180}
ONSET = 50 * ms


@pytest.fixture(scope="module")
def adex_trains():
    """Each variant from rest, a step of its current at 50 ms, 600 ms, dt = 0.1 ms (Euler, as
    the paper)."""
    dt, T = 0.1 * ms, 600 * ms
    n = int(round(T / dt))
    net = Network(dt=dt, **RUNTIME)
    for name, current in STIM.items():
        stim = np.zeros(n)
        stim[int(round(ONSET / dt)):] = current
        net.population(name, "adex", 1, variant=name)
        net.current_input(name, stim * pA)
        net.record(name, "spikes")
    res = net.run(T)
    return {name: res.spike_trains(name)[0] for name in STIM}


def test_adex_firing_patterns_of_naud_et_al_2008(adex_trains):
    t = adex_trains
    for name, train in t.items():
        assert len(train) >= 1 and train[0] > ONSET, name  # silent at rest

    # tonic: regular single spikes from the start
    assert len(t["tonic"]) > 30 and isi_cv(t["tonic"]) < 0.03
    assert abs(adaptation_index(t["tonic"])) < 0.01

    # adapting: single spikes whose intervals lengthen several-fold, then regular
    d = isi(t["adapting"])
    assert np.all(d > 10 * ms) and d[-1] > 4 * d[0]
    assert adaptation_index(t["adapting"]) > 0.1

    # initial burst: two or more close spikes at the onset, then regular single spikes
    groups = bursts(t["initial_burst"], 10 * ms)
    assert groups[0] >= 2 and np.all(groups[1:] == 1) and len(groups) >= 5
    assert isi_cv(t["initial_burst"][groups[0]:]) < 0.05

    # regular bursting: repeated bursts; the intervals are bimodal
    groups = bursts(t["regular_bursting"], 20 * ms)
    assert len(groups) >= 3 and np.all(groups >= 2), groups
    d = np.asarray(isi(t["regular_bursting"]) / ms)
    assert d[d >= 20].min() > 10 * d[d < 20].max()

    # delayed accelerating: a late first spike, then intervals that shorten
    assert t["delayed_accelerating"][0] > ONSET + 15 * ms
    assert adaptation_index(t["delayed_accelerating"]) < -0.005
    assert isi(t["delayed_accelerating"])[-1] < 0.7 * isi(t["delayed_accelerating"])[0]

    # transient: a few spikes at the onset, then silence under the same current
    assert len(t["transient"]) <= 3 and t["transient"][-1] < ONSET + 100 * ms


@pytest.mark.parametrize("plasticity", [None, "stdp_online"])
def test_adex_w_and_the_synaptic_weight_live_side_by_side(plasticity):
    """A connection into AdEx: brainkit's weight 'w' clashes with the neuron's adaptation
    current 'w'; the synapse's is renamed, weights are set, learned and read back as usual."""
    net = Network(dt=0.1 * ms, **RUNTIME)
    net.population("e", "adex", 4)
    net.poisson_source("inp", 30, rates=80 * Hz)
    kw = {"plasticity": plasticity, "plasticity_params": {"w_max": 1.0 * nA}} \
        if plasticity else {}
    net.connect("inp", "e", "exp_current", weights=0.4 * nA, p=0.5, seed=1, **kw)
    net.record("e", "spikes")
    net.record("e", "w", indices=[0])
    res = net.run(200 * ms)
    assert res.spike_counts("e").sum() > 5
    assert np.max(res.traces["e"]["w"]) > 10 * pA  # the neuron's own w adapts
    w = res.weights["inp->e"]
    assert w.dimensions == nA.dimensions
    if plasticity is None:
        assert np.allclose(w / nA, 0.4)
    else:
        assert not np.allclose(w / nA, 0.4)  # STDP changed the renamed weight
    res = net.run(200 * ms, weights={"inp->e": 0.0 * nA}, restart=True)
    assert res.spike_counts("e").sum() == 0


def test_a_model_name_brainkit_adds_to_a_group_is_a_clear_error(tmp_path):
    """A neuron model that itself defines I_ext (brainkit's external-current name)."""
    from brainkit.library import ModelError, load_model

    (tmp_path / "leaky_iext.yaml").write_text(
        "name: leaky_iext\nkind: neuron\ntitle: t\nreference: r\ndescription: d\n"
        "equations: |\n  dv/dt = (-v + R*I + R*I_ext)/tau : volt\n  I_ext : amp\n"
        "threshold: v > 10*mV\nreset: v = 0*mV\nmethod: exact\ninput: {name: I, unit: amp}\n"
        "parameters:\n  tau: 10*ms\n  R: 10*Mohm\ninitial:\n  v: 0*mV\n")
    net = Network(dt=0.1 * ms, **RUNTIME)
    net.population("p", load_model(tmp_path / "leaky_iext.yaml"), 2)
    net.record("p", "spikes")
    with pytest.raises(ModelError, match="population 'p': neuron model 'leaky_iext' defines "
                                         "I_ext, which brainkit adds for its input"):
        net.run(1 * ms)
