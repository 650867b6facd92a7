"""Fuzz: seeded random mutations of valid model files and network files.  Every outcome is a
valid load or a clean ModelError / NetworkFileError naming the file: never another exception,
never a crash, never a hang (the cases run in a child process watched with a timeout)."""

import multiprocessing
import os
import re
import traceback

import h5py
import numpy as np
import pytest
from brian2 import Hz, ms, mV

from brainkit import ModelError, load_model
from brainkit.library import LIBRARY_DIR
from brainkit.netfile import (ConnectionSpec, InputSpec, NetworkFileError, NetworkSpec,
                              PopulationSpec, ReadoutSpec, load_network, save_network)

MODEL_CASES = 300
NETWORK_CASES = 300
CASE_TIMEOUT_S = 20.0  # no case may take longer (a hang); typical cases take milliseconds

UNITS = ["ms", "second", "mV", "volt", "nA", "pA", "amp", "Mohm", "pF", "nS", "siemens", "Hz",
         "mmolar", "metre", "1", "cm**2", "ufarad", "kelvin"]
NUMBERS = ["0", "-1", "1e308", "1e999", "-0.0", "3.5", "1e-300", "log(-1)", "9**9**9", "nan",
           "inf", "2**-2000", "0/0", "1/0", "True", "'x'", "[1, 2]", "{a: 1}", "-", "1..2"]
JUNK = [":", "{", "}", "[", "]", "|", ">", "- ", "#", "\t", "'", '"', "*", "**", "(", ")", "=",
        "+=", "&", "!", "%", "@", ",", " : ", "\\", "\x00", "é", "  ", "d/dt", "_post", "_pre"]


def _run_guarded(check, cases, timeout=CASE_TIMEOUT_S):
    """Run ``check(case) -> str`` for every case in a forked child; return the outcomes.
    A case that hangs (no answer within ``timeout``) or kills the child fails the test."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def worker():
        for k, case in enumerate(cases):
            try:
                out = check(case)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                out = "UNCLEAN: " + "".join(traceback.format_exception(exc))[-1500:]
            send.send((k, out))
        send.close()

    proc = ctx.Process(target=worker)
    proc.start()
    send.close()
    outcomes = []
    try:
        while len(outcomes) < len(cases):
            if not receive.poll(timeout):
                pytest.fail(f"case {len(outcomes)} hangs (> {timeout} s):\n"
                            f"{cases[len(outcomes)]!r}"[:3000])
            try:
                k, out = receive.recv()
            except EOFError:
                pytest.fail(f"case {len(outcomes)} killed the process (exit code "
                            f"{proc.exitcode}):\n{cases[len(outcomes)]!r}"[:3000])
            outcomes.append(out)
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
    return outcomes


def _report(cases, outcomes):
    bad = [(c, o) for c, o in zip(cases, outcomes) if o.startswith("UNCLEAN")]
    return "\n\n".join(f"--- case {c!r}"[:1500] + f"\n{o}" for c, o in bad[:5])


# ------------------------------------------------------------------ model files
def _mutate_text(text, rng):
    lines = text.splitlines(keepends=True)
    kind = rng.integers(11)
    k = int(rng.integers(len(lines)))
    if kind == 0:  # delete a line
        del lines[k]
    elif kind == 1:  # duplicate a line
        lines.insert(k, lines[k])
    elif kind == 2:  # swap two lines
        j = int(rng.integers(len(lines)))
        lines[k], lines[j] = lines[j], lines[k]
    elif kind == 3:  # truncate
        return text[: int(rng.integers(len(text)))]
    elif kind in (4, 5):  # change a unit / a number
        words = list(re.finditer(r"\b(?:%s)\b" % "|".join(map(re.escape, UNITS)) if kind == 4
                                 else r"(?<![\w.])-?\d+(?:\.\d*)?(?:e-?\d+)?", text))
        if words:
            m = words[int(rng.integers(len(words)))]
            new = rng.choice(UNITS if kind == 4 else NUMBERS)
            return text[: m.start()] + str(new) + text[m.end():]
    elif kind == 6:  # change an identifier into another one of the file, or a new one
        words = list(re.finditer(r"\b[A-Za-z_]\w*\b", text))
        m = words[int(rng.integers(len(words)))]
        pool = [w.group() for w in words] + ["x", "xi", "t", "dt", "w", "v_post", "I_syn_post",
                                            "lastspike", "exp", "int", "rand", "N", "pi"]
        return text[: m.start()] + str(rng.choice(pool)) + text[m.end():]
    elif kind == 7:  # insert junk
        pos = int(rng.integers(len(text) + 1))
        return text[:pos] + str(rng.choice(JUNK)) + text[pos:]
    elif kind == 8:  # re-indent a line
        lines[k] = " " * int(rng.integers(0, 6)) + lines[k].lstrip(" ")
    elif kind == 9:  # change an operator
        ops = list(re.finditer(r"[-+*/<>]=?|\*\*", text))
        if ops:
            m = ops[int(rng.integers(len(ops)))]
            return text[: m.start()] + str(rng.choice(["+", "-", "*", "/", "**", ">", "<", "=",
                                                       "+=", "<="])) + text[m.end():]
    else:  # change a key
        keys = list(re.finditer(r"^(\s*)(\w+):", text, re.M))
        m = keys[int(rng.integers(len(keys)))]
        new = rng.choice(["equations", "parameters", "threshold", "reset", "initial", "input",
                          "constraints", "variants", "on_pre", "current", "voltage", "method",
                          "refractory", "events", "kind", "name", "tau_m", "foo"])
        return text[: m.start(2)] + str(new) + text[m.end(2):]
    return "".join(lines)


def _model_cases(n, seed):
    rng = np.random.default_rng(seed)
    files = sorted(LIBRARY_DIR.rglob("*.yaml"))
    cases = []
    for _ in range(n):
        f = files[int(rng.integers(len(files)))]
        text = f.read_text()
        for _ in range(int(rng.integers(1, 4))):
            text = _mutate_text(text, rng)
        cases.append((f.stem, text))
    return cases


def _check_model(folder):
    def check(case):
        stem, text = case
        path = os.path.join(folder, f"{stem}.yaml")
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as fh:
            fh.write(text)
        try:
            m = load_model(path)
        except ModelError as exc:
            if path not in str(exc):
                return f"UNCLEAN: ModelError without the file name: {exc}"
            return "error"
        for variant in m.variants:
            load_model(path, variant=variant)
        return "loaded"
    return check


def test_mutated_model_files_load_or_fail_with_a_model_error(tmp_path):
    cases = _model_cases(MODEL_CASES, seed=16)
    outcomes = _run_guarded(_check_model(str(tmp_path)), cases)
    assert not any(o.startswith("UNCLEAN") for o in outcomes), _report(cases, outcomes)
    # the mutations do reach the checks: most are refused, some still load
    assert outcomes.count("error") > MODEL_CASES // 2 and outcomes.count("loaded") > 10


# ---------------------------------------------------------------- network files
def _network(path):
    lif, theta = load_model("lif"), load_model("theta")
    rng = np.random.default_rng(1)
    spec = NetworkSpec(dt=0.1 * ms, metadata={"task": "xor", "accuracy": 0.93, "seed": 7})
    spec.inputs["in"] = InputSpec("in", 2, "current")
    spec.inputs["noise"] = InputSpec("noise", 3, "poisson",
                                     {"rates": np.array([5., 10., 20.]) * Hz})
    spec.populations["hidden"] = PopulationSpec(
        "hidden", "theta", 4, theta.equations, theta.threshold, theta.reset, None,
        theta.method, {**theta.parameters, "I0": rng.normal(size=4), "flag": True},
        dict(theta.initial))
    spec.populations["out"] = PopulationSpec(
        "out", "lif", 2, lif.equations, lif.threshold, lif.reset, lif.refractory, lif.method,
        dict(lif.parameters), {"v": np.array([-70.0, -60.0]) * mV})
    spec.connections["in->hidden"] = ConnectionSpec("in->hidden", "in", "hidden", "current",
                                                    rng.normal(size=(2, 4)), "1")
    spec.connections["hidden->out"] = ConnectionSpec(
        "hidden->out", "hidden", "out", "gated", rng.normal(size=(4, 2)) * 1e-9, "amp",
        {"tau_s": 10 * ms})
    spec.readouts["y"] = ReadoutSpec("y", "hidden", "s", rng.normal(size=(1, 4)),
                                     np.array([0.5]))
    return save_network(path, spec)


def _h5_objects(f):
    names = []
    f.visit(names.append)
    return names


def _unchecked(data):
    """The file as written before brainkit stored a checksum record (no HDF5 user block)."""
    return data[int(re.match(rb"brainkit-network-checksum 1\nuserblock (\d+)\n", data).group(1)):]


def _mutate_network(data, path, rng, old_format):
    """Write a damaged copy of the network file ``data`` to ``path``; returns a label.
    Raw damage (bytes, bits, truncation) hits the file as brainkit writes it; structural damage
    by h5py (deleted groups and attributes, wrong values) hits it as written or, with
    ``old_format``, without its checksum record, as a file of an earlier brainkit (the
    reader's own checks must then catch it: a damaged record-less file may still make the
    HDF5 library itself misbehave, which brainkit cannot prevent)."""
    kind = int(rng.integers(8))
    if kind <= 2:  # flip bytes / bits / zero a run of bytes in the raw file
        buf = bytearray(data)
        for _ in range(int(rng.integers(1, 9))):
            pos = int(rng.integers(len(buf)))
            if kind == 0:
                buf[pos] = int(rng.integers(256))
            elif kind == 1:
                buf[pos] ^= 1 << int(rng.integers(8))
            else:
                end = min(len(buf), pos + int(rng.integers(1, 64)))
                buf[pos:end] = bytes(end - pos)
        path.write_bytes(bytes(buf))
        return f"bytes{kind}"
    if kind == 3:  # truncate
        path.write_bytes(data[: int(rng.integers(len(data)))])
        return "truncate"
    path.write_bytes(_unchecked(data) if old_format else data)
    with h5py.File(path, "a") as f:
        names = [""] + _h5_objects(f)
        name = names[int(rng.integers(len(names)))]
        obj = f[name] if name else f
        if kind == 4 and name:  # delete a group or dataset
            del f[name]
            return f"delete {name}"
        attrs = list(obj.attrs)
        if kind == 5 and attrs:  # delete an attribute
            key = attrs[int(rng.integers(len(attrs)))]
            del obj.attrs[key]
            return f"delete {name}@{key}"
        if kind == 6 and attrs:  # rewrite an attribute with a wrong value
            key = attrs[int(rng.integers(len(attrs)))]
            values = ["", "garbage", "{not json", -3, 0, 2.7, 1e308, np.nan, np.array([1.0, 2.0]),
                      np.zeros(7), np.ones(3), b"\xff\xfe", "sha256:" + "0" * 64]
            obj.attrs[key] = values[int(rng.integers(len(values)))]
            return f"rewrite {name}@{key}"
        # replace a dataset with another shape/type
        datasets = [n for n in _h5_objects(f) if isinstance(f[n], h5py.Dataset)]
        ds_name = datasets[int(rng.integers(len(datasets)))]
        attrs = dict(f[ds_name].attrs)
        del f[ds_name]
        values = [np.zeros((7, 3)), np.array([np.nan]), "text", np.arange(5, dtype=np.int8),
                  np.ones(()), np.array([b"a", b"bc"]), np.full((2, 4), np.inf)]
        f[ds_name] = values[int(rng.integers(len(values)))]
        f[ds_name].attrs.update(attrs)
        return f"replace {ds_name}"


def _network_cases(n, seed):
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(2**31)), bool(rng.integers(2))) for _ in range(n)]


def _check_network(good, folder):
    data = good.read_bytes()

    def check(case):
        seed, strip = case
        path = folder / f"case_{seed}.h5"
        label = _mutate_network(data, path, np.random.default_rng(seed), strip)
        try:
            load_network(path)
        except NetworkFileError as exc:
            if str(path) not in str(exc):
                return f"UNCLEAN: NetworkFileError without the file name ({label}): {exc}"
            return "error"
        finally:
            path.unlink()
        return "loaded"
    return check


def test_damaged_network_files_load_or_fail_with_a_network_file_error(tmp_path):
    good = _network(tmp_path / "good.h5")
    assert load_network(good).populations["out"].n == 2
    cases = _network_cases(NETWORK_CASES, seed=16)
    outcomes = _run_guarded(_check_network(good, tmp_path), cases)
    assert not any(o.startswith("UNCLEAN") for o in outcomes), _report(cases, outcomes)
    assert outcomes.count("error") > NETWORK_CASES // 2
