"""examples/izhikevich_2007_rstdp.py: the closed reward loop and Izhikevich's (2007) Fig. 1.

Fast test: a few simulated seconds on Brian2's runtime backend (no compile): the script writes
its metrics and plot, the network fires at the paper's low rates, the weights stay in
[0, w_max], and the pairings the compiled loop detected are exactly those found offline in
the recorded spikes of i and j (0 < t_j - t_i < 20 ms, the window of the paper's code), every
reward following one of them by 1-3 s.
Long tests: the quick mode (cpp_standalone, 300 s), where each reward must raise the chosen
synapse more than the others, and the full mode (the paper's hour), where the chosen synapse
must end near w_max, above 99 % of the excitatory weights (the paper's Fig. 1; not run here).
"""

import pytest


def _run(run_example, *flags, timeout=3000):
    m, _ = run_example("izhikevich_2007_rstdp", *flags, files=("rstdp_fig1.png",),
                       timeout=timeout)
    return m


def _check_common(m):
    assert set(m) >= {"target_weight_fraction", "target_percentile", "median_exc_weight_mV",
                      "pairings", "rewards", "rate_exc_hz"}
    assert 0.0 <= m["target_weight_fraction"] <= 1.0
    # the paper's network fires at a few Hz (its Fig. 1 raster)
    assert 0.3 < m["rate_exc_hz"] < 5.0 and 0.3 < m["rate_inh_hz"] < 20.0
    # the closed loop in generated code detects exactly the offline pairings
    assert m["pairings"] == m["pairings_from_spikes"]
    assert m["rewards"] + m["rewards_lost"] <= m["pairings"]


def test_fast_runtime_loop_matches_offline_pairings(run_example):
    m = _run(run_example, "--quick", "--backend", "runtime", "--duration", "2", timeout=600)
    _check_common(m)
    assert m["duration_s"] == 2.0


@pytest.mark.long
def test_quick_mode_rewards_credit_the_chosen_synapse(run_example):
    """300 s with the paper's parameters (measured with the code's timing, seed 1: 6 rewards,
    each raised the chosen synapse, by 0.13 mV on average, 20 random synapses by -0.027 mV;
    0 -> 0.71 mV, median 0.87 mV, 0.4 % above w_max/2).  Five simulated minutes are too few
    for the chosen synapse to pass the median (the paper needs an hour): what is reliable is
    the credit assignment, each reward raising the chosen synapse more than the others, and
    the other weights staying low.  A reward lowers a random synapse a little on average (its
    eligibility is negative on average: the code's LTD, A- = 1.5 A+ at the nearest pair, is
    the larger), which is no credit to it: the others' gain counts against the chosen one's
    only when positive (the first version compared with its absolute value, -0.0005 mV
    then, with the LTD 5 % too weak)."""
    m = _run(run_example, "--quick")
    _check_common(m)
    assert m["rewards"] >= 2
    assert m["reward_gain_chosen_mV"] > 0.02
    assert m["reward_gain_chosen_mV"] > 5 * max(m["reward_gain_others_mV"], 0.0)
    assert m["reward_gain_others_mV"] < 0.02
    assert m["rewards_raising_chosen"] >= 0.8 * m["rewards"]
    assert m["target_weight_mV"] > 0.1  # from 0 mV
    assert m["fraction_exc_weights_above_half_w_max"] < 0.05


@pytest.mark.long
def test_full_mode_chosen_synapse_reaches_w_max(run_example):
    """The paper's hour: the chosen synapse at the end within 10 % of w_max and above 99 % of
    the excitatory weights (a weight tied with it at w_max does not count against it).  The
    bar is the paper's Fig. 1 as its code produces it: a numpy port of dastdp.m ends (seed 2)
    at 3.95 mV, 99.5th percentile, with ~1 % of the weights above 3.5 mV and < 0.1 % at w_max;
    the same port with seed 1 ends at 2.70 mV (97.5th): the outcome depends on the seed in
    the code too.  Measured here with the code's timing (seed 1, 46 min wall): the chosen
    synapse came within 10 % of w_max at 1138 s and sat at w_max most of the rest of the
    hour, but ended at 3.54 mV = 0.886 w_max, 98.0th percentile, after a dip in the last
    seconds (median 0.32 mV, 8.4 % above w_max/2): this test fails there.  Seed 2: within
    10 % of w_max at 1868 s, 2.98 mV at the end (98.3rd percentile; median 0.24 mV, 5.0 %
    above w_max/2, as the port's).  The first version (its timing 1 ms off the
    code's, LTD 5 % too weak, 10 ms window) ended at 3.92 mV, 96.6th percentile (median
    0.40 mV, 13 % above w_max/2).  See the example's docstring."""
    m = _run(run_example, timeout=4 * 3600)  # one simulated hour: ~40 CPU-minutes
    _check_common(m)
    assert m["target_weight_fraction"] > 0.9
    assert m["target_percentile"] > 99.0
