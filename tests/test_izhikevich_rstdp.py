"""examples/izhikevich_2007_rstdp.py: the closed reward loop and Izhikevich's (2007) Fig. 1.

Fast test: a few simulated seconds on Brian2's runtime backend (no compile): the script writes
its metrics and plot, the network fires at the paper's low rates, the weights stay in
[0, w_max], and the pairings the compiled loop detected are exactly those found offline in
the recorded spikes of i and j (0 < t_j - t_i <= 10 ms), every reward following one of them
by 1-3 s.
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
    """300 s with the paper's parameters (measured: seed 1, 7 rewards, each raised the chosen
    synapse, 0 -> 0.74 mV, median 0.89 mV; seed 2, 3 rewards, each raised it, 0 -> 0.28 mV,
    median 0.92 mV; mean gain per reward 0.12 / 0.10 mV, random synapses -0.0005 / 0.006).  Five simulated
    minutes are too few for the chosen synapse to pass the median (the paper needs an hour):
    what is reliable is the credit assignment, each reward raising the chosen synapse more
    than the others, and the other weights staying low."""
    m = _run(run_example, "--quick")
    _check_common(m)
    assert m["rewards"] >= 2
    assert m["reward_gain_chosen_mV"] > 0.02
    assert m["reward_gain_chosen_mV"] > 5 * abs(m["reward_gain_others_mV"])
    assert m["rewards_raising_chosen"] >= 0.8 * m["rewards"]
    assert m["target_weight_mV"] > 0.1  # from 0 mV
    assert m["fraction_exc_weights_above_half_w_max"] < 0.05


@pytest.mark.long
def test_full_mode_chosen_synapse_reaches_w_max(run_example):
    m = _run(run_example, timeout=4 * 3600)  # one simulated hour: ~40 CPU-minutes
    _check_common(m)
    assert m["target_weight_fraction"] > 0.9
    assert m["target_percentile"] > 99.0
