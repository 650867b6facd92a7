"""examples/izhikevich_2007_rstdp.py: the closed reward loop and Izhikevich's (2007) Fig. 1.

Fast test: a few simulated seconds on Brian2's runtime backend (no compile): the script writes
its metrics and plot, the network fires at the paper's low rates, the weights stay in
[0, w_max], and the pairings the compiled loop detected are exactly those found offline in
the recorded spikes of i and j (0 < t_j - t_i < 20 ms, the window of the paper's code), every
reward following one of them by 1-3 s.
Long tests: the quick mode (cpp_standalone, 300 s), where each reward must raise the chosen
synapse more than the others, and the full mode (the paper's hour), where the chosen synapse
must reach w_max while the other weights stay low (the paper's Fig. 1, as its code gives it).
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
    """The paper's hour (Fig. 1): the chosen synapse is potentiated to w_max while the other
    excitatory weights stay low.  The bar is what the paper's own code gives: a numpy port of
    dastdp.m, seeds 1 and 2, ends with the chosen synapse at 2.70 mV (97.5th percentile; it
    had fallen back to 0 at 21 min) and 3.95 mV (99.5th), median weights 0.21 / 0.27 mV,
    5.1 / 6.4 % of them above w_max/2.  The chosen synapse wanders near w_max once there (each
    unrewarded pairing and the tonic dopamine times its eligibility move it), so its value at
    the last instant is no measure: the former bar (> 0.9 w_max and the 99th percentile at the
    end) failed the paper's code itself for seed 1.  Asked here: it reaches w_max within the
    hour, ends above 95 % of the excitatory weights, and the rest stay low.
    Measured with the code's timing (cpp_standalone): seed 1 (46 min wall): within 10 % of
    w_max at 1138 s, peak 4.0 mV, end 3.54 mV = 0.886 w_max, 98.0th percentile, median
    0.32 mV, 8.4 % above w_max/2; seed 2 (41 min): 1868 s, peak 4.0 mV, end 2.98 mV (98.3rd;
    last 5 min median 3.21 mV), median 0.24 mV, 5.0 %.  The first version (its timing 1 ms off
    the code's, LTD 5 % too weak, a 10 ms window) ended at 3.92 mV, 96.6th percentile, median
    0.40 mV, 13 % above w_max/2.  See the example's docstring."""
    m = _run(run_example, timeout=4 * 3600)  # one simulated hour: ~40 CPU-minutes
    _check_common(m)
    assert m["target_weight_peak_mV"] >= 0.95 * m["w_max_mV"]
    assert m["target_first_above_0.9_w_max_s"] < 3000
    assert m["target_percentile"] > 95.0
    assert m["median_exc_weight_mV"] < 0.5 and m["fraction_exc_weights_above_half_w_max"] < 0.12
