"""Model files are checked by Brian2 when they are loaded (units, names, finite parameters,
constraints), a bad user file is reported without hiding the library, and a network file whose
arrays were damaged after it was written is refused."""

import re
import warnings

import h5py
import numpy as np
import pytest
from brian2 import mV, ms, nA

from brainkit import ModelError, add_model_path, list_models, load_model
from brainkit import library
from brainkit.library import LIBRARY_DIR
from brainkit.netfile import (ConnectionSpec, InputSpec, NetworkFileError, NetworkSpec,
                              PopulationSpec, load_network, save_network)

LIF = (LIBRARY_DIR / "neurons" / "lif.yaml").read_text()
EXP = (LIBRARY_DIR / "synapses" / "exp_current.yaml").read_text()


def _line(text, needle):
    """1-based line of the first line of ``text`` that contains ``needle``."""
    return next(k for k, line in enumerate(text.splitlines(), 1) if needle in line)


def _lif_file(tmp_path, old, new, name="lif"):
    text = LIF.replace(old, new)
    assert text != LIF
    p = tmp_path / f"{name}.yaml"
    p.write_text(text.replace("name: lif", f"name: {name}"))
    return p, text


def _refused(path):
    with pytest.raises(ModelError) as err:
        load_model(str(path))
    return str(err.value)


def test_a_unit_error_in_an_equation_names_file_line_and_units(tmp_path):
    p, text = _lif_file(tmp_path, "(E_L - v + R*I)/tau_m", "(E_L - v + R*I*ms)/tau_m")
    msg = _refused(p)
    line = _line(text, "dv/dt = (E_L")
    assert msg.startswith(f"{p}, line {line}: model 'lif', equations: units do not match in "
                          "'dv/dt = (E_L - v + R*I*ms)/tau_m")
    assert "'E_L - v' has unit V" in msg and "has unit Wb" in msg
    # a right-hand side in the wrong unit: what it is and what dv/dt needs
    p, text = _lif_file(tmp_path, "(E_L - v + R*I)/tau_m", "(E_L - v + R*I)")
    assert re.search(r"the right-hand side is in V, dv/dt must be in V/s", _refused(p))


def test_a_parameter_with_wrong_units_is_named_with_its_value_and_line(tmp_path):
    p, text = _lif_file(tmp_path, "tau_m: 10*ms", "tau_m: 10*mV")
    msg = _refused(p)
    assert f"line {_line(text, 'dv/dt = (E_L')}: model 'lif', equations: units do not match" \
        in msg
    assert f"tau_m = 10. mV (line {_line(text, 'tau_m: 10*mV')})" in msg
    p, text = _lif_file(tmp_path, "V_r: -70*mV", "V_r: -70*ms")
    msg = _refused(p)
    assert f"line {_line(text, 'reset:')}: model 'lif', reset: units do not match in 'v = V_r'" \
        in msg and "the right-hand side is in s, v is in V" in msg


@pytest.mark.parametrize("old, new, key, name", [
    ("(E_L - v", "(E_Lx - v", "equations", "E_Lx"),
    ("threshold: v > V_th", "threshold: v > V_thr", "threshold", "V_thr"),
    ("reset: v = V_r", "reset: v = V_reset", "reset", "V_reset"),
    ("  v: E_L", "  v: E_LL", "initial.v", "E_LL"),
])
def test_an_undefined_identifier_is_named_with_a_suggestion(tmp_path, old, new, key, name):
    p, text = _lif_file(tmp_path, old, new)
    msg = _refused(p)
    assert f"line {_line(text, new.strip())}: model 'lif', {key}: undefined identifier " \
           f"'{name}'" in msg
    assert "did you mean" in msg


def test_synapse_files_are_checked_too_and_may_name_the_neurons_they_connect(tmp_path):
    p = tmp_path / "exp_current.yaml"
    p.write_text(EXP.replace("on_pre: I_syn_post += w", "on_pre: I_syn_post += w*ms"))
    msg = _refused(p)
    assert "on_pre: units do not match in 'I_syn_post += w*ms'" in msg
    p.write_text(EXP.replace("on_pre: I_syn_post += w", "on_pre: I_syn_post += wx"))
    assert "undefined identifier 'wx'" in _refused(p)
    # v_post, X_post of the target neuron: their units are the neuron model's, checked later
    p.write_text(EXP.replace("on_pre: I_syn_post += w", "on_pre: |\n  I_syn_post += w\n"
                                                        "  u_post += 1"))
    assert load_model(str(p)).on_pre.strip().endswith("u_post += 1")


def test_a_parameter_that_is_not_finite_is_refused(tmp_path):
    p, text = _lif_file(tmp_path, "tau_m: 10*ms", "tau_m: log(-1)*ms")
    assert _refused(p) == (f"{p}, line {_line(text, 'tau_m: log')}: parameter 'tau_m' = "
                           "'log(-1)*ms' evaluates to nan * second, which is not a number (NaN)")
    p, _ = _lif_file(tmp_path, "tau_m: 10*ms", "tau_m: 1e999*ms")
    assert "parameter 'tau_m' = '1e999*ms' evaluates to inf * Ysecond, which is infinite" in \
        _refused(p)
    p, _ = _lif_file(tmp_path, "tau_m: 10*ms", "tau_m: 9**9**9*ms")  # overflows, no hang
    assert "parameter 'tau_m' = '9**9**9*ms' cannot be evaluated" in _refused(p)
    # Brian2 hands equations to sympy, which would compute 9**9**9 exactly: refused first
    p, text = _lif_file(tmp_path, "(E_L - v + R*I)/tau_m", "(E_L - v + R*I)/tau_m*9**9**9")
    assert _refused(p) == (f"{p}, line {_line(text, 'dv/dt = (E_L')}: model 'lif', equations: "
                           "'9 ** 9 ** 9' in 'dv/dt = (E_L - v + R*I)/tau_m*9**9**9 : volt "
                           "(unless refractory)': an exponent beyond 1000")
    p, _ = _lif_file(tmp_path, "tau_m: 10*ms", "tau_m: ms.__class__")
    assert "is not an expression of numbers, units and parameters" in _refused(p)


def test_overrides_that_are_nan_or_break_a_constraint_are_refused():
    with pytest.raises(ModelError, match=r"^model 'lif', parameter 'tau_m': nan \* second is "
                                         r"not a number \(NaN\)$"):
        load_model("lif", tau_m=np.nan * ms)
    with pytest.raises(ModelError, match=r"lif\.yaml, line \d+: model 'lif', constraints: "
                                         r"parameters break the constraint 'tau_m > 0' "
                                         r"\(tau_m = -5\. \* msecond\)"):
        load_model("lif", tau_m=-5 * ms)
    with pytest.raises(ModelError, match="constraint 'tau_m > 0'"):
        load_model("lif").with_parameters(tau_m="-5*ms")
    with pytest.raises(ModelError, match=r"not a number \(NaN\)"):
        load_model("exp_current").with_parameters(tau_syn=np.array([5.0, np.nan]) * ms)
    with pytest.raises(ModelError, match=r"not a number \(NaN\)"):
        load_model("exp_current").with_parameters(tau_syn="0*ms/0")
    # infinity from code is a value (a readout neuron that never fires), NaN never is
    assert load_model("cuba_lif", vth=np.inf).parameters["vth"] == np.inf
    with pytest.raises(ModelError, match="constraint 'tau_syn > 0'"):
        load_model("exp_current", tau_syn=0 * ms)
    with pytest.raises(ModelError, match="constraint 'V_r < V_th'"):
        load_model("lif", V_r=-40 * mV)
    # per-neuron arrays are checked element by element
    with pytest.raises(ModelError, match="constraint 'tau_m > 0'"):
        load_model("lif", tau_m=np.array([5.0, -1.0]) * ms)
    assert load_model("lif", tau_m=np.array([5.0, 7.0]) * ms).parameters["tau_m"][1] == 7 * ms


def test_the_library_declares_constraints_for_its_time_constants():
    from brainkit.library import LIBRARY_DIR

    # the shipped files (list_models() would also list user folders other tests added)
    for path in sorted(LIBRARY_DIR.rglob("*.yaml")):
        m, name = load_model(path), path.stem
        for p, value in m.parameters.items():
            if p.startswith("tau") and not isinstance(value, (int, float)):
                assert f"{p} > 0" in m.constraints, (name, p)


def test_constraints_in_a_file_are_checked_for_the_file_and_every_variant(tmp_path):
    p, text = _lif_file(tmp_path, "  tau_m: '> 0'", "  tau_m: '> 20*ms'")
    msg = _refused(p)
    assert f"line {_line(text, 'tau_m: ' + chr(39))}: model 'lif', constraints: parameters " \
           "break the constraint 'tau_m > 20*ms'" in msg
    p, text = _lif_file(tmp_path, "  tau_m: '> 0'", "  tau_x: '> 0'")
    assert "constraint on 'tau_x', which is not a parameter" in _refused(p)
    p, text = _lif_file(tmp_path, "  tau_m: '> 0'", "  tau_m: 'positive'")
    assert "must be a comparison such as '> 0'" in _refused(p)
    izh = (LIBRARY_DIR / "neurons" / "izhikevich.yaml").read_text()
    q = tmp_path / "izhikevich.yaml"
    q.write_text(izh.replace("  chattering: {a: 0.02/ms,", "  chattering: {a: -0.02/ms,"))
    assert "constraints (variant 'chattering'): parameters break the constraint 'a > 0' (a = " \
           "-20. * hertz)" in _refused(q)


def test_a_key_written_twice_is_refused_not_silently_overwritten(tmp_path):
    p, text = _lif_file(tmp_path, "  R: 100*Mohm\n", "  R: 100*Mohm\n  R: 10*Mohm\n")
    assert _refused(p) == (f"{p}, line {_line(text, 'R: 10*Mohm')}: key 'parameters.R' appears "
                           f"twice (lines {_line(text, 'R: 100*Mohm')} and "
                           f"{_line(text, 'R: 10*Mohm')})")


def test_a_bad_user_file_is_named_and_the_rest_of_the_library_still_lists(tmp_path):
    good = tmp_path / "good_user.yaml"
    good.write_text(LIF.replace("name: lif", "name: good_user"))
    bad = tmp_path / "bad_user.yaml"
    bad.write_text(LIF.replace("name: lif", "name: bad_user").replace("(E_L - v", "(E_X - v"))
    add_model_path(tmp_path)
    try:
        with pytest.warns(UserWarning, match=r"model file .*bad_user\.yaml left out of "
                                             r"list_models\(kind='neuron'\): .*undefined "
                                             r"identifier 'E_X'"):
            neurons = list_models(kind="neuron")
        assert {"lif", "theta", "good_user"} <= set(neurons) and "bad_user" not in neurons
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert "exp_current" in list_models(kind="synapse")
        assert "bad_user" in list_models()  # every file, by name
        with pytest.raises(ModelError, match=r"bad_user\.yaml, line \d+: .*undefined "
                                             r"identifier 'E_X'"):
            load_model("bad_user")
    finally:
        library._user_paths.remove(tmp_path)


def test_validated_files_are_cached_by_content(tmp_path):
    p, _ = _lif_file(tmp_path, "tau_m: 10*ms", "tau_m: 12*ms")
    a = load_model(str(p))
    b = load_model(str(p))
    assert a is not b and a.parameters["tau_m"] == 12 * ms
    a.parameters["tau_m"] = 1 * ms  # a copy: the cache is not changed
    assert load_model(str(p)).parameters["tau_m"] == 12 * ms
    p.write_text(p.read_text().replace("tau_m: 12*ms", "tau_m: 10*mV"))  # same size, new text
    assert "units do not match" in _refused(p)


# ------------------------------------------------------------------ network files
def _spec():
    rng = np.random.default_rng(0)
    lif = load_model("lif")
    spec = NetworkSpec(dt=0.1 * ms, metadata={"accuracy": 0.97})
    spec.inputs["in"] = InputSpec("in", 3, "current")
    spec.populations["p"] = PopulationSpec("p", "lif", 4, lif.equations, lif.threshold,
                                           lif.reset, lif.refractory, lif.method,
                                           dict(lif.parameters), dict(lif.initial))
    spec.connections["in->p"] = ConnectionSpec("in->p", "in", "p", "current",
                                               np.abs(rng.normal(size=(3, 4))), "amp")
    spec.connections["p->p"] = ConnectionSpec("p->p", "p", "p", "exp_current",
                                              np.abs(rng.normal(size=(4, 4))) * 1e-9, "amp",
                                              {"tau_syn": 5 * ms})
    return spec


def test_a_network_file_with_flipped_sign_bits_in_its_weights_is_refused(tmp_path):
    path = save_network(tmp_path / "net.h5", _spec())
    back = load_network(path)
    np.testing.assert_array_equal(back.connections["p->p"].weights,
                                  _spec().connections["p->p"].weights)
    with h5py.File(path, "r") as f:
        offset = f["connections/p->p/weights"].id.get_offset()
    data = bytearray(path.read_bytes())
    assert data.startswith(b"brainkit-network-checksum 1\n")
    for k in range(0, 16, 2):  # the sign bit of every other weight (little-endian float64)
        data[offset + 8 * k + 7] ^= 0x80
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(bytes(data))
    with h5py.File(damaged, "r") as f:  # still a readable file with plausible weights
        w = f["connections/p->p/weights"][()]
        assert np.all(np.isfinite(w)) and (w < 0).sum() == 8
    with pytest.raises(NetworkFileError) as err:
        load_network(damaged)
    assert str(err.value) == (f"{damaged}: checksum mismatch in dataset connections/p->p/weights:"
                              " its data changed after the file was written (damaged or edited "
                              "file); refusing to load it")


def test_edited_truncated_or_relabelled_files_are_refused_old_files_still_load(tmp_path):
    path = save_network(tmp_path / "net.h5", _spec())
    data = path.read_bytes()
    userblock = int(re.match(rb"brainkit-network-checksum 1\nuserblock (\d+)\n", data).group(1))
    edited = tmp_path / "edited.h5"
    edited.write_bytes(data)
    with h5py.File(edited, "a") as f:  # the stored score, edited in place
        f.attrs["metadata"] = '{"accuracy": 1.00}'
    with pytest.raises(NetworkFileError, match=r"edited\.h5: checksum mismatch: the file "
                                               r"changed after it was written"):
        load_network(edited)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[:-100])
    with pytest.raises(NetworkFileError, match=rf"truncated\.h5: the file is truncated "
                                               rf"\({len(data) - 100} of {len(data)} bytes\)"):
        load_network(truncated)
    record = tmp_path / "record.h5"
    record.write_bytes(data.replace(b"userblock", b"userbl0ck", 1))
    with pytest.raises(NetworkFileError, match=r"record\.h5: its checksum record is damaged"):
        load_network(record)
    record.write_bytes(b"x" + data[1:])
    with pytest.raises(NetworkFileError, match=r"record\.h5: its checksum record is damaged"):
        load_network(record)
    old = tmp_path / "old.h5"  # a file written before the record: no user block
    old.write_bytes(data[userblock:])
    np.testing.assert_array_equal(load_network(old).connections["in->p"].weights,
                                  _spec().connections["in->p"].weights)
    with h5py.File(old, "a") as f:
        f.attrs["metadata"] = '{"accuracy": 1.00}'
    assert load_network(old).metadata == {"accuracy": 1.0}


def test_a_network_with_many_datasets_gets_a_larger_checksum_record(tmp_path):
    spec = _spec()
    spec.populations["p"].parameters.update({f"extra_{k:03d}": float(k) for k in range(120)})
    path = save_network(tmp_path / "big.h5", spec)
    assert re.match(rb"brainkit-network-checksum 1\nuserblock 16384\n", path.read_bytes())
    assert load_network(path).populations["p"].parameters["extra_119"] == 119.0
