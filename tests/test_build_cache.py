"""The persistent binary cache (brainkit.build_cache): keyed by the generated code, so that a
script run again takes its binary from the cache and gives the same results, while a network
whose code differs compiles anew."""

import json
import subprocess
import sys

import pytest

from brainkit import build_cache

SCRIPT = """
import json, sys, numpy as np
from brian2 import ms, Hz, nA, mV
import brainkit as bk
net = bk.Network(dt=0.1 * ms, seed=3, build_dir=sys.argv[1])
net.population("exc", "lif", 30, params={"tau_m": float(sys.argv[2]) * ms})
net.poisson_source("inp", 50, rates=40 * Hz)
mask = np.random.default_rng(1).random((50, 30)) < 0.3  # per-synapse weights: a data file
net.connect("inp", "exc", "exp_current", weights=mask * float(sys.argv[3]) * nA)
net.connect("exc", "exc", "exp_current", weights=0.05 * nA, p=0.1, seed=2)  # 2 synapse clocks
net.record("exc", "spikes")
engine = net.build(200 * ms, compile=sys.argv[4] == "compile")
out = {"hit": engine.cache_hit, "compiled": engine.compiled}
if engine.compiled:
    out["spikes"] = np.asarray(net.run(200 * ms).spikes["exc"][0]).tolist()
print(json.dumps(out))
"""


def _build(tmp_path, name, tau_ms=20, weight_nA=0.5, compile=True, cache="cache"):
    env = {**__import__("os").environ, "BRAINKIT_BUILD_CACHE": str(tmp_path / cache)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / name), str(tau_ms),
                           str(weight_nA), "compile" if compile else "generate"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.standalone
def test_a_script_run_again_takes_its_binary_from_the_cache(tmp_path):
    first = _build(tmp_path, "first")
    again = _build(tmp_path, "again")  # another process: Brian2's set orders differ
    assert not first["hit"] and again["hit"]
    assert len(first["spikes"]) > 50 and again["spikes"] == first["spikes"]
    # the second took the groups' integration code from the cache too (the same spikes)
    assert list((tmp_path / "cache" / "integration").iterdir())
    # other per-synapse weights (a data file the binary reads) are the same code: a hit
    heavier = _build(tmp_path, "heavier", weight_nA=0.9)
    assert heavier["hit"] and len(heavier["spikes"]) > len(first["spikes"])


def test_the_key_follows_the_code_not_the_data(tmp_path):
    """Generated only (no compile): the same network in two processes has one key; a
    compiled-in constant (tau_m) changes it; per-synapse weights (a data file) do not."""
    for name, tau, w in (("a", 20, 0.5), ("b", 20, 0.5), ("c", 25, 0.5), ("d", 20, 0.9)):
        _build(tmp_path, name, tau_ms=tau, weight_nA=w, compile=False)
    key = {n: build_cache.project_key(tmp_path / n) for n in "abcd"}
    assert key["a"] == key["b"] == key["d"] != key["c"]


def test_clock_resets_are_the_only_lines_reordered():
    src = (b"x = 1;\n _array_a_clock_t[0] = 0.0;\n _array_b_clock_timestep[0] = 0;\n"
           b" _array_a_clock_timestep[0] = 0;\ny = 2;\nz = 3;")
    out = build_cache._canonical(src)
    assert out == (b"x = 1;\n _array_a_clock_t[0] = 0.0;\n _array_a_clock_timestep[0] = 0;\n"
                   b" _array_b_clock_timestep[0] = 0;\ny = 2;\nz = 3;")
    assert build_cache._canonical(b"y = 2;\nx = 1;") == b"y = 2;\nx = 1;"
    # clocks without code, added in a set's order; clocks with code keep theirs
    src = (b"net.add(&c_clock, _run_c);\nnet.add(&b_clock, _run_b);\n"
           b"net.add(&z_clock, NULL);\nnet.add(&y_clock, NULL);\nnet.run(1.0);")
    assert build_cache._canonical(src) == (
        b"net.add(&c_clock, _run_c);\nnet.add(&b_clock, _run_b);\n"
        b"net.add(&y_clock, NULL);\nnet.add(&z_clock, NULL);\nnet.run(1.0);")


def test_the_cache_is_off_or_where_the_environment_says(monkeypatch, tmp_path):
    for off in ("off", "0", ""):
        monkeypatch.setenv(build_cache.CACHE_ENV, off)
        assert build_cache.cache_dir() is None
        assert not build_cache.fetch("ab" * 32, tmp_path)
    monkeypatch.setenv(build_cache.CACHE_ENV, str(tmp_path / "c"))
    assert build_cache.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(build_cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert build_cache.cache_dir() == tmp_path / "xdg" / "brainkit" / "builds"


def test_integration_code_from_the_cache_is_brian2s(tmp_path, monkeypatch):
    """A cached state updater returns what Brian2's method derives (kept, then read back),
    and raises where Brian2's does (nothing kept)."""
    from brian2 import Equations, StateUpdateMethod
    from brian2.stateupdaters.base import UnsupportedEquationsException

    monkeypatch.setenv("BRAINKIT_BUILD_CACHE", str(tmp_path))
    eqs = Equations("dv/dt = (-v + g)/(10*ms) : volt\ndg/dt = -g/(5*ms) : volt")
    exact = StateUpdateMethod.stateupdaters["exact"]
    method = build_cache.cached_method("exact")
    assert method(eqs, {}) == exact(eqs, {})  # derived and kept
    (entry,) = (tmp_path / "integration").iterdir()
    entry.write_text("v_new = v  # from the cache")
    assert method(eqs, {}) == "v_new = v  # from the cache"  # read back, not derived
    noisy = Equations("dv/dt = -v/(10*ms) + xi/sqrt(ms) : 1")
    with pytest.raises(UnsupportedEquationsException):
        method(noisy, {})
    assert len(list((tmp_path / "integration").iterdir())) == 1
    assert [str(m) for m in build_cache.cached_method(["exact", "euler"])] == ["exact", "euler"]
