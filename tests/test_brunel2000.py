"""Brunel (2000) model A as a sweep: the statistics against spike trains whose values are
known, the mean-field rate against the paper's closed form, and (``long``, ~40 s) the
phase-diagram sweep on a 2-worker LocalCluster (one compile per worker; the paper's SR and AI
example states with two seeds)."""

import numpy as np
import pytest

from brainkit import brunel2000 as bn


def test_statistics_of_independent_poisson_trains_are_asynchronous_and_irregular():
    rng = np.random.default_rng(0)
    n, rate, T = 1000, 20.0, 10.0  # 200 ISIs per neuron: the CV estimate biased < 1 %
    counts = rng.poisson(rate * T, n)
    i = np.repeat(np.arange(n), counts)
    t = rng.uniform(0, T, counts.sum())
    s = bn.statistics(i, t, n, 0.0, T)
    assert s["rate_hz"] == pytest.approx(rate, rel=0.01)
    assert s["cv_isi"] == pytest.approx(1.0, abs=0.03)  # Poisson: CV 1
    assert s["chi"] == pytest.approx(1 / np.sqrt(n), rel=0.2)  # independent: 1/sqrt(N)
    assert s["peak_power_ratio"] < 20  # a flat spectrum
    assert bn.classify(s) == "AI"


@pytest.mark.parametrize("regular, expected", [(True, "SR"), (False, "SI fast")])
def test_statistics_of_an_oscillating_population(regular, expected):
    """Every neuron fires at 50 Hz on a common 200 Hz cycle: all on every 4th cycle and in
    lockstep (regular, chi 1); or, SI-like, each cycle a random 1/4 of the neurons (CV ~1)."""
    rng = np.random.default_rng(1)
    n, T, f = 1000, 1.0, 200.0
    cycles = np.arange(0, T, 1 / f) + 0.2e-3
    if regular:  # regular: neuron k fires on the cycles k mod 4
        i = np.concatenate([np.arange(n)[np.arange(n) % 4 == c % 4] for c in range(len(cycles))])
        t = np.concatenate([np.full((np.arange(n) % 4 == c % 4).sum(), cycles[c])
                            for c in range(len(cycles))])
    else:
        fire = rng.random((len(cycles), n)) < 0.25
        c, i = np.nonzero(fire)
        t = cycles[c] + rng.normal(0, 0.3e-3, len(c))
    s = bn.statistics(i, t, n, 0.0, T)
    assert s["rate_hz"] == pytest.approx(50, rel=0.05)
    assert s["peak_hz"] == pytest.approx(200, abs=10)
    assert s["peak_power_ratio"] > 100
    assert (s["cv_isi"] < 0.01) if regular else (s["cv_isi"] > 0.7)
    assert bn.classify(s) == expected


def test_the_mean_field_rate_is_the_paper_s_fixed_point():
    # model A at g = 5, nu_ext/nu_thr = 2: the fixed point lies where the paper's Fig. 2 puts
    # the AI state's rate (tens of Hz); it solves eq. (21) to the solver's tolerance
    nu = bn.mean_field_rate(5.0, 2.0)
    assert 30 < nu < 45
    # more inhibition, lower rate; more drive, higher rate
    assert bn.mean_field_rate(6.0, 2.0) < nu < bn.mean_field_rate(5.0, 3.0)
    assert bn.nu_thr_hz(10000) == pytest.approx(10.0) == bn.nu_thr_hz(2000)


def test_run_values_are_checked():
    with pytest.raises(ValueError, match="g and eta must be finite and >= 0"):
        bn.run_values(2000, -1.0, 2.0)


@pytest.mark.long
@pytest.mark.standalone
def test_the_phase_diagram_sweep_compiles_once_per_worker_and_finds_the_paper_states(
        tmp_path):
    from brainkit.sweep import dask_client, sweep

    experiment = bn.BrunelExperiment(n_e=2000, duration_ms=300.0)
    grid = {"g": [3.0, 5.0], "eta": [2.0], "seed": [1, 2]}
    with dask_client(2) as client:
        res = sweep(experiment, grid, str(tmp_path / "sweep"), client=client, progress=False)
    assert res.compiles <= 2 and not res.errors
    by = {(r["point"]["g"], r["point"]["seed"]): r["metrics"] for r in res.points}
    for seed in (1, 2):
        sr, ai = by[(3.0, seed)], by[(5.0, seed)]
        assert sr["regime"] == "SR" and ai["regime"] == "AI", (sr, ai)
        # the AI rate near the paper's mean-field rate (finite size: within 20 %)
        assert ai["rate_hz"] == pytest.approx(bn.mean_field_rate(5.0, 2.0, 2000), rel=0.2)
    # seeds reach the binary: the two AI runs differ
    assert by[(5.0, 1)]["rate_hz"] != by[(5.0, 2)]["rate_hz"]
