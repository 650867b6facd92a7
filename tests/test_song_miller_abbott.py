"""examples/song_miller_abbott_2000.py: additive STDP (library rule ``stdp_online``) on 1000
Poisson inputs of one conductance-based LIF makes the weight distribution bimodal (Song,
Miller & Abbott 2000, Fig. 2).

Default run: a seeded 1 s run on the runtime backend, twice, learns the same weights chunk
by chunk.  Long: the ``--quick`` run (cpp_standalone, 60 s with amplitudes x 5; 36 s of CPU,
most of it the compile) spreads its weights from the uniform start toward the bounds; the full
run (2000 s with the paper's amplitudes, 5-8 min) ends bimodal, with weights gathered at both
bounds and a moderate output rate.
"""


import numpy as np
import pytest

FIGURES = ("song_miller_abbott_2000.png",)


def _check_metrics_are_consistent(m):
    assert m["bimodal_fraction"] == pytest.approx(m["near_zero_fraction"]
                                                  + m["near_max_fraction"])
    assert len(m["time_s"]) == len(m["bimodal_fraction_vs_time"])
    assert len(m["output_rate_hz_vs_time"]) == len(m["time_s"]) - 1
    assert m["bimodal_fraction_vs_time"][-1] == m["bimodal_fraction"]
    assert np.isclose(m["initial_bimodal_fraction"], 0.2, atol=0.04)  # uniform start


@pytest.mark.long
@pytest.mark.standalone
def test_quick_run_spreads_the_weights_toward_the_bounds(run_example):
    m, _ = run_example("song_miller_abbott_2000", "--quick", files=FIGURES)
    _check_metrics_are_consistent(m)
    # spreading toward the bounds: more weights within 10 % of a bound than the uniform
    # start's 20 % (measured: 0.30 after the quick run), and a wider distribution
    assert m["bimodal_fraction"] > m["initial_bimodal_fraction"] + 0.05
    assert m["near_max_fraction"] > m["initial_near_max_fraction"] + 0.03
    assert m["weight_std_gmax"] > m["initial_weight_std_gmax"] + 0.01


def test_a_seeded_run_is_reproduced_exactly(run_example):
    """Every chunk gets its own seed from --seed (Network.run(seed=...)): two runs with the
    same seed learn the same weights, chunk by chunk (runtime backend, 1 s in two chunks)."""
    flags = ("--quick", "--backend", "runtime", "--duration", "1", "--chunk", "0.5",
             "--seed", "4")
    a, _ = run_example("song_miller_abbott_2000", *flags)
    b, _ = run_example("song_miller_abbott_2000", *flags)
    keys = ("mean_weight_gmax", "weight_std_gmax", "bimodal_fraction_vs_time",
            "output_rate_hz_vs_time")
    assert a["seed"] == 4 and {k: a[k] for k in keys} == {k: b[k] for k in keys}
    assert a["weight_std_gmax"] != a["initial_weight_std_gmax"]  # the weights did change


@pytest.mark.long
@pytest.mark.standalone
def test_full_run_ends_bimodal(run_example):
    m, _ = run_example("song_miller_abbott_2000", files=FIGURES)
    _check_metrics_are_consistent(m)
    # measured: 0.744 (near 0: 0.328, near g_max: 0.416), output 14 Hz, after 2000 s
    assert m["bimodal_fraction"] > 0.6
    assert m["near_zero_fraction"] > 0.2 and m["near_max_fraction"] > 0.2
    # it got there by growing: at a tenth of the run the fraction was far lower
    assert m["bimodal_fraction"] > m["bimodal_fraction_vs_time"][len(m["time_s"]) // 10] + 0.2
    assert 1 < m["output_rate_hz_final"] < 30
