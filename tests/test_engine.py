"""The layered pipeline's parts on their own: the compiled-run engine (against the closed-form
solution of a linear ODE), equation composition (against the model files' equations) and the
connection-rule dispatch (against the rule functions it stands for)."""

import gc
import os

import brian2
import numpy as np
import pytest
from brian2 import amp, ms, nA, second

from brainkit import connectivity, load_model
from brainkit.engine import StandaloneEngine, compile_prefs, runtime_device
from brainkit.equations import (MAX_EXACT_STATES, integration_methods, post_equations,
                                scale_weight_parameters, suffix_names, unit_string, weight_unit)


@pytest.mark.standalone
def test_engine_compiles_once_reruns_with_new_values_and_cleans_up(tmp_path):
    """dv/dt = -v/tau from v0: v(t) = v0 exp(-t/tau) to float rounding, for the compiled-in
    v0 and for a v0 given as a run argument (same binary); the run-argument files go after
    each run, the engine's own folder goes with close(), a given folder stays."""
    engine = StandaloneEngine(prefix="brainkit-test-")
    before = brian2.get_device()
    with engine.compiling():
        assert brian2.get_device() is engine.device
        G = brian2.NeuronGroup(5, "dv/dt = -v/(10*ms) : 1", method="exact", dt=0.1 * ms)
        G.v = 1.0
        mon = brian2.StateMonitor(G, "v", record=True)
        brian2.Network(G, mon).run(5 * ms)
    assert brian2.get_device() is before and engine.compiled and engine.compile_s > 0
    binary = os.path.join(engine.project_dir, "main")
    mtime = os.path.getmtime(binary)

    engine.run()
    t = np.asarray(mon.t / second)
    np.testing.assert_allclose(np.asarray(mon.v), np.exp(-t / 0.01)[None, :].repeat(5, 0),
                               rtol=1e-12)
    v0 = np.linspace(-1.0, 2.0, 5)
    static = os.path.join(engine.project_dir, "static_arrays")
    files = sorted(os.listdir(static))
    engine.run({G.v: v0})
    assert os.path.getmtime(binary) == mtime and engine.run_s > 0
    np.testing.assert_allclose(np.asarray(mon.v), v0[:, None] * np.exp(-t / 0.01)[None, :],
                               rtol=1e-12, atol=1e-15)
    assert sorted(os.listdir(static)) == files
    with pytest.raises(RuntimeError, match="compiled already"):
        with engine.compiling():
            pass

    project = engine.project_dir
    engine.close()
    assert not os.path.exists(project)
    kept = StandaloneEngine(directory=str(tmp_path / "kept"))
    kept.close()
    assert kept.project_dir == str(tmp_path / "kept")


def test_compile_prefs_are_brian2s_or_ieee_and_runtime_device_restores_state():
    brian2_flags = list(brian2.prefs.codegen.cpp.extra_compile_args_gcc)
    fast = compile_prefs()
    assert fast["codegen.cpp.extra_compile_args_gcc"] == brian2_flags  # a plain script's
    assert "-ffast-math" in brian2_flags  # Brian2's default
    ieee = compile_prefs(ieee=True)["codegen.cpp.extra_compile_args_gcc"]
    assert "-O3" in ieee and not any("fast-math" in f for f in ieee)
    assert compile_prefs(compile_args=["-O2"])["codegen.cpp.extra_compile_args_gcc"] == ["-O2"]
    assert fast["devices.cpp_standalone.extra_make_args_unix"] == [f"-j{os.cpu_count() or 1}"]
    assert brian2.prefs.codegen.cpp.extra_compile_args_gcc == brian2_flags  # nothing set
    device, target = brian2.get_device(), brian2.prefs.codegen.target
    with pytest.raises(ZeroDivisionError):
        with runtime_device("numpy"):
            assert brian2.prefs.codegen.target == "numpy"
            1 / 0
    assert brian2.get_device() is device and brian2.prefs.codegen.target == target


def test_engine_refuses_to_run_before_it_compiled():
    engine = StandaloneEngine()
    project = engine.project_dir
    with pytest.raises(RuntimeError, match="nothing compiled"):
        engine.run()
    del engine  # the finalizer removes the folder of a collected engine
    gc.collect()
    assert not os.path.exists(project)


def test_synapse_names_are_suffixed_and_parameters_written_in():
    syn = load_model("exp_current")
    assert suffix_names(syn, syn.on_pre, "_c3", pre_post=True) == "I_syn_c3_post += w"
    assert suffix_names(syn, "I_syn > 0", "_c3") == "I_syn_c3 > 0"
    eqs = post_equations(syn, "_c3")
    assert list(eqs.names) == ["I_syn_c3"]
    # tau_syn (5 ms) as a value: the decay rate is 1/tau_syn = 200 Hz
    assert "tau_syn" not in eqs.identifiers
    rate = eval(str(eqs["I_syn_c3"].expr), {"I_syn_c3": 1.0, "msecond": 1e-3})  # noqa: S307
    assert rate == pytest.approx(-200.0)
    assert unit_string(weight_unit(syn, load_model("lif"))) == "amp"
    assert unit_string(brian2.get_unit(brian2.units.fundamentalunits.DIMENSIONLESS)) == "1"


def test_weight_parameters_take_the_unit_of_the_weight_and_methods_fall_back():
    rule = scale_weight_parameters(load_model("stdp_pair_all"), load_model("exp_current"),
                                   {"w_max": 2 * nA})
    assert rule.parameters["w_max"] == 2 * nA
    plain = scale_weight_parameters(load_model("stdp_pair_all"), load_model("exp_current"), {})
    assert plain.parameters["w_max"] == 1 * amp
    lif, cond = load_model("lif"), load_model("exp_conductance")
    assert integration_methods(lif, 1) == "exact"
    assert integration_methods(lif, MAX_EXACT_STATES + 1) == "exponential_euler"
    assert integration_methods(lif, 2, [cond]) == ["exact", "exponential_euler"]


def test_rule_indices_dispatch_to_the_rule_functions_in_order_of_precedence():
    W = np.zeros((3, 4))
    W[0, 1] = W[2, 3] = 1.0
    i, j, w = connectivity.rule_indices(3, 4, weights=W, p=0.5, rule="all_to_all")
    assert (i.tolist(), j.tolist()) == ([0, 2], [1, 3]) and w is W
    i, j, _ = connectivity.rule_indices(3, 4)
    assert [a.tolist() for a in (i, j)] == [a.tolist() for a in connectivity.all_to_all(3, 4)]
    i, j, _ = connectivity.rule_indices(30, 40, p=0.2, seed=5)
    ref = connectivity.fixed_probability(30, 40, 0.2, seed=5)
    assert i.tolist() == ref[0].tolist() and j.tolist() == ref[1].tolist()
    i, j, _ = connectivity.rule_indices(10, 6, in_degree=3, seed=2)
    assert np.array_equal(np.bincount(j), np.full(6, 3))
    kernel = np.ones((2, 2, 1, 1))
    i, j, w = connectivity.rule_indices(9, 4, rule="conv2d",
                                        rule_params={"in_shape": (3, 3, 1), "kernel": kernel})
    ref = connectivity.conv2d((3, 3, 1), kernel)
    assert i.tolist() == ref[0].tolist() and np.array_equal(w, ref[2])
    for kwargs, message in (({"rule": "one_to_one"}, "equal sizes"),
                            ({"in_degree": 2, "p": 0.1}, "give one rule"),
                            ({"rule": "ring"}, "unknown rule 'ring'"),
                            ({"i": [0, 5], "j": [0, 1]}, "outside the populations"),
                            ({"p": 1.5}, r"must lie in \[0, 1\]"),
                            ({"rule": "distance", "rule_params": {"p0": 1}}, "needs rule_params")):
        with pytest.raises(ValueError, match=message):
            connectivity.rule_indices(3, 4, **kwargs)
