"""The model library: loading, overrides with units, and clear errors for bad input."""

import textwrap

import pytest
from brian2 import mV, ms, nA, second

from brainkit import ModelError, add_model_path, list_models, load_model
from brainkit.library import LIBRARY_DIR


def test_every_library_model_loads_and_says_where_it_comes_from():
    names = list_models()
    assert {"lif", "theta", "exp_current", "gated"} <= set(names)
    for name in names:
        m = load_model(name)
        assert m.kind in ("neuron", "synapse", "plasticity")
        assert m.reference.strip() and m.description.strip() and m.title.strip()
        for variant in m.variants:
            load_model(name, variant=variant)


def test_overrides_keep_units():
    m = load_model("lif", tau_m=20 * ms, V_th="-45*mV")
    assert m.parameters["tau_m"] == 20 * ms
    assert m.parameters["V_th"] == -45 * mV
    assert load_model("lif").parameters["tau_m"] == 10 * ms  # the library is not changed


def test_misspelt_model_name_suggests_the_right_one():
    with pytest.raises(ModelError, match=r"no model named 'lfi'.*did you mean 'lif'"):
        load_model("lfi")


def test_unit_mismatch_in_an_override_names_the_parameter():
    with pytest.raises(ModelError, match=r"parameter 'tau_m'.*units"):
        load_model("lif", tau_m=5 * mV)
    with pytest.raises(ModelError, match=r"no parameter 'tau'"):
        load_model("lif", tau=5 * ms)


def _write(tmp_path, name, text):
    p = tmp_path / f"{name}.yaml"
    p.write_text(textwrap.dedent(text))
    return p


GOOD = """\
    name: mine
    kind: neuron
    title: My neuron
    reference: me
    description: dv/dt = -v/tau
    equations: |
      dv/dt = -v/tau : volt
      w : 1
    parameters:
      tau: 5*ms
    """


def test_user_model_folder_and_path(tmp_path):
    p = _write(tmp_path, "mine", GOOD)
    assert load_model(str(p)).parameters["tau"] == 5 * ms
    add_model_path(tmp_path)
    assert "mine" in list_models()
    assert load_model("mine").name == "mine"


def test_equation_that_does_not_parse_names_file_and_line(tmp_path):
    bad = GOOD.replace("w : 1", "w = : 1 +")
    p = _write(tmp_path, "mine", bad)
    with pytest.raises(ModelError) as err:
        load_model(str(p))
    msg = str(err.value)
    assert str(p) in msg and "line 8" in msg and "w = : 1 +" in msg


def test_bad_unit_in_an_equation_names_the_line(tmp_path):
    p = _write(tmp_path, "mine", GOOD.replace("w : 1", "w : furlong"))
    with pytest.raises(ModelError, match=r"line 8.*furlong"):
        load_model(str(p))


def test_malformed_yaml_names_the_line(tmp_path):
    p = _write(tmp_path, "mine", GOOD.replace("title: My neuron", "title: [My neuron"))
    with pytest.raises(ModelError, match=r"mine.yaml, line \d+: not valid YAML"):
        load_model(str(p))


def test_unknown_key_and_bad_parameter_name_their_lines(tmp_path):
    p = _write(tmp_path, "mine", GOOD.replace("title: My neuron", "titel: My neuron"))
    with pytest.raises(ModelError, match=r"line 3: unknown key 'titel'"):
        load_model(str(p))
    p = _write(tmp_path, "mine", GOOD.replace("tau: 5*ms", "tau: 5*mss"))
    with pytest.raises(ModelError, match=r"line 10: parameter 'tau' = '5\*mss' cannot be"):
        load_model(str(p))


def test_missing_keys_and_wrong_name(tmp_path):
    p = _write(tmp_path, "mine", GOOD.replace("    reference: me\n", ""))
    with pytest.raises(ModelError, match="missing key.*reference"):
        load_model(str(p))
    p = _write(tmp_path, "other", GOOD)
    with pytest.raises(ModelError, match="differs from the file name"):
        load_model(str(p))


def test_input_and_voltage_entries_are_checked_at_load(tmp_path):
    ok = GOOD.rstrip(" ") + "    input: {name: I, unit: amp}\n    voltage: {name: v, distance: v, width: 2*mV}\n"
    m = load_model(str(_write(tmp_path, "mine", ok)))
    assert m.voltage == {"name": "v", "distance": "v", "width": "2*mV"}
    p = _write(tmp_path, "mine", GOOD.rstrip(" ") + "    voltage: v\n")
    with pytest.raises(ModelError, match=r"mine\.yaml, line 11: 'voltage' must be a mapping "
                                         r"\{name, distance, width\}"):
        load_model(str(p))
    p = _write(tmp_path, "mine", GOOD.rstrip(" ") + "    input: {name: I}\n")
    with pytest.raises(ModelError, match=r"line 11: 'input' must be a mapping \{name, unit\}"):
        load_model(str(p))


def test_library_is_the_models_folder():
    assert (LIBRARY_DIR / "neurons" / "lif.yaml").is_file()
    assert load_model("gated").parameters["tau_s"] == 10 * ms
    assert load_model("lif").parameters["R"] * nA == 100 * mV
    assert float(load_model("theta").parameters["tau"] / second) == pytest.approx(0.01)


@pytest.mark.parametrize("name", ["biexp_current", "biexp_conductance"])
def test_parameters_that_break_a_model_constraint_are_refused_with_their_values(name):
    # equal rise and decay times make the normalisation divide by zero (an inf weight)
    with pytest.raises(ModelError, match=r"line \d+: .*constraint 'tau_rise < tau_decay' "
                                         r"\(tau_rise = 5\. \* msecond, tau_decay = 5\. \* msecond\)"):
        load_model(name, tau_rise=5 * ms)
    with pytest.raises(ModelError, match="tau_rise < tau_decay"):
        load_model(name).with_parameters(tau_rise=8 * ms)
    assert load_model(name, tau_rise=2 * ms).parameters["tau_rise"] == 2 * ms
