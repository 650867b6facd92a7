"""The network file: round trip with units, atomic writes, clear errors for bad files."""

import os
import re

import h5py
import numpy as np
import pytest
from brian2 import Hz, Mohm, ms, mV, second

from brainkit import load_model
from brainkit.exporters.inputs import input_values
from brainkit.network_spec import simulate_brian2
from brainkit.loihi.random_network import random_cuba_network
from brainkit.netfile import (ConnectionSpec, InputSpec, NetworkFileError, NetworkSpec,
                              PopulationSpec, ReadoutSpec, load_network, save_network)


def _trained_like_spec():
    """The layout the training engineer writes: theta + gated synapse + analog input."""
    theta = load_model("theta")
    rng = np.random.default_rng(3)
    n_in, n, n_out = 2, 5, 1
    spec = NetworkSpec(dt=0.1 * ms, metadata={"task": "xor", "steps": 12, "losses": [0.5, 0.25],
                                              "seed": 7, "gate_width": 0.5, "tau_s": 0.01})
    spec.inputs["in"] = InputSpec("in", n_in, "current")
    params = dict(theta.parameters)
    params["I0"] = rng.normal(size=n)
    spec.populations["hidden"] = PopulationSpec(
        "hidden", "theta", n, theta.equations, theta.threshold, theta.reset, None, theta.method,
        params, dict(theta.initial))
    spec.connections["in->hidden"] = ConnectionSpec("in->hidden", "in", "hidden", "current",
                                                    rng.normal(size=(n_in, n)), "1", {})
    spec.connections["hidden->hidden"] = ConnectionSpec(
        "hidden->hidden", "hidden", "hidden", "gated", rng.normal(size=(n, n)), "second",
        {"tau_s": 10 * ms})
    spec.readouts["out"] = ReadoutSpec("out", "hidden", "s", rng.normal(size=(n_out, n)), None)
    return spec


def test_round_trip_keeps_every_field_with_units(tmp_path):
    spec = _trained_like_spec()
    lif = load_model("lif")
    spec.populations["lif"] = PopulationSpec(
        "lif", "lif", 3, lif.equations, lif.threshold, lif.reset, lif.refractory, lif.method,
        dict(lif.parameters), {"v": np.array([-70.0, -60.0, -55.0]) * mV})
    spec.readouts["r2"] = ReadoutSpec("r2", "lif", "spikes", np.ones((2, 3)), np.array([1., 2.]))
    path = save_network(tmp_path / "net.h5", spec)
    back = load_network(path)
    assert back.dt == 0.1 * ms and back.metadata == spec.metadata
    assert list(back.populations) == list(spec.populations) or \
        set(back.populations) == set(spec.populations)
    for name, p in spec.populations.items():
        q = back.populations[name]
        for key in ("model", "n", "equations", "threshold", "reset", "refractory", "method"):
            assert getattr(q, key) == getattr(p, key), key
        assert set(q.parameters) == set(p.parameters)
        for k, v in p.parameters.items():
            np.testing.assert_array_equal(np.asarray(q.parameters[k]), np.asarray(v))
            assert type(q.parameters[k]) is type(v) or np.ndim(v) > 0, k
    assert back.populations["lif"].parameters["R"] == 100 * Mohm
    assert back.populations["lif"].parameters["tau_m"] == 10 * ms
    np.testing.assert_array_equal(back.populations["lif"].initial["v"],
                                  np.array([-70.0, -60.0, -55.0]) * mV)
    assert back.populations["hidden"].initial["theta"] == "-pi/2"  # expressions stay strings
    for name, c in spec.connections.items():
        d = back.connections[name]
        assert (d.pre, d.post, d.synapse, d.weight_unit) == (c.pre, c.post, c.synapse,
                                                             c.weight_unit)
        np.testing.assert_array_equal(d.weights, c.weights)
        assert d.weights.dtype == np.float64
    assert back.connections["hidden->hidden"].parameters["tau_s"] == 10 * ms
    assert back.inputs["in"].kind == "current" and back.inputs["in"].n == 2
    np.testing.assert_array_equal(back.readouts["out"].weights, spec.readouts["out"].weights)
    assert back.readouts["out"].bias is None and back.readouts["out"].variable == "s"
    np.testing.assert_array_equal(back.readouts["r2"].bias, [1.0, 2.0])
    with h5py.File(path, "r") as f:  # the documented layout
        assert f.attrs["format"] == "brainkit-network" and f.attrs["version"] == 1
        assert f.attrs["dt"] == pytest.approx(1e-4)
        ds = f["populations/lif/parameters/tau_m"]
        assert ds[()] == pytest.approx(0.01) and ds.attrs["unit"] == "second"
        assert f["connections/hidden->hidden/weights"].shape == (5, 5)


def test_a_saved_network_simulates_like_the_original(tmp_path):
    """Network -> spec -> file -> spec -> Brian2 gives the original network's spikes."""
    net, spec = random_cuba_network(n_in=6, n=8, steps=150, seed=2, w_in=0.3)
    net.record("p", "spikes")
    original = net.run(150 * ms)
    back = load_network(save_network(tmp_path / "n.h5", spec))
    spikes, _ = simulate_brian2(back, input_values(back, 150), 150)
    i, t = original.spikes["p"]
    assert len(i) > 20
    rows = np.round(np.asarray(t / ms)).astype(int)
    assert sorted(zip(rows, i)) == sorted(zip(*np.nonzero(spikes["p"])))


def test_save_is_atomic_and_refuses_bad_specs(tmp_path):
    path = tmp_path / "net.h5"
    spec = _trained_like_spec()
    save_network(path, spec)
    before = path.read_bytes()
    bad = _trained_like_spec()
    bad.metadata["callback"] = object()  # not JSON-able
    with pytest.raises(NetworkFileError, match="metadata is not JSON-able"):
        save_network(path, bad)
    bad = _trained_like_spec()
    bad.connections["in->hidden"].weights = np.ones((3, 5))
    with pytest.raises(NetworkFileError, match=r"connections/in->hidden/weights has shape "
                                               r"\(3, 5\), expected \(2, 5\)"):
        save_network(path, bad)
    bad = _trained_like_spec()
    bad.populations["hidden"].parameters["odd"] = {"a": 1}
    with pytest.raises(NetworkFileError, match="populations/hidden/parameters/odd"):
        save_network(path, bad)
    assert path.read_bytes() == before  # the old file is untouched
    assert os.listdir(tmp_path) == ["net.h5"]  # no temporary file left behind


def _unchecked(data):
    """The bytes of a network file as written before brainkit stored a checksum record (no
    HDF5 user block), so that edits by h5py reach the reader's own checks."""
    return data[int(re.match(rb"brainkit-network-checksum 1\nuserblock (\d+)\n", data).group(1)):]


def test_missing_corrupt_truncated_and_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(NetworkFileError, match="does not exist"):
        load_network(tmp_path / "nope.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"this is not hdf5" * 100)
    with pytest.raises(NetworkFileError, match=r"garbage\.h5: not a readable HDF5 file"):
        load_network(garbage)
    good = save_network(tmp_path / "good.h5", _trained_like_spec())
    data = good.read_bytes()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(NetworkFileError, match=r"truncated\.h5"):
        load_network(truncated)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(NetworkFileError, match="format 'something-else' is not "
                                               "'brainkit-network'"):
        load_network(other)
    newer = tmp_path / "newer.h5"
    newer.write_bytes(data)
    with h5py.File(newer, "a") as f:
        f.attrs["version"] = 99
    with pytest.raises(NetworkFileError, match=r"newer\.h5: checksum mismatch"):
        load_network(newer)  # brainkit's own files: any edit is refused by the checksum
    newer.write_bytes(_unchecked(data))
    with h5py.File(newer, "a") as f:
        f.attrs["version"] = 99
    with pytest.raises(NetworkFileError, match="version 99 is not supported"):
        load_network(newer)
    holed = tmp_path / "holed.h5"
    holed.write_bytes(_unchecked(data))
    with h5py.File(holed, "a") as f:
        del f["connections/hidden->hidden/weights"]
        del f["populations/hidden"].attrs["n"]
    with pytest.raises(NetworkFileError, match=r"holed\.h5: (populations/hidden: attribute 'n'"
                                               r"|connections/hidden->hidden: dataset 'weights')"):
        load_network(holed)


def test_dt_must_be_a_time():
    spec = NetworkSpec(dt=0.1)
    with pytest.raises(NetworkFileError, match="dt"):
        spec.validate()
    spec = NetworkSpec(dt=5 * Hz)
    with pytest.raises(NetworkFileError, match="is not a time"):
        spec.validate()
    NetworkSpec(dt=1e-4 * second).validate()


def test_a_network_file_refuses_what_it_cannot_hold():
    """spec_from_network names every part a network file would lose (not left out)."""
    from brian2 import nA

    from brainkit import Network
    from brainkit.netfile import NetworkFileError
    from brainkit.network_spec import spec_from_network

    net = Network(dt=0.1 * ms, backend="runtime")
    net.population("exc", "lif", 5)
    net.poisson_source("inp", 4, rates=10 * Hz)
    net.connect("inp", "exc", "exp_current", weights=0.1 * nA, delay=2 * ms)
    net.renewal_source("ren", 3, rates=5 * Hz, order=2)
    net.current_input("exc", np.zeros(10) * nA)
    net.run_regularly("exc", "v = clip(v, -80*mV, 0*mV)")
    with pytest.raises(NetworkFileError) as err:
        spec_from_network(net)
    msg = str(err.value)
    for part in ("connection 'inp->exc': delays", "source 'ren'", "population 'exc': a stimulus",
                 "run_regularly"):
        assert part in msg, msg
