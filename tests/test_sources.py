"""Spike sources (Network.renewal_source): Poisson, gamma of order k, Poisson with dead time,
inhomogeneous Poisson.  Thousands of independent neurons per source; every statistic is
compared with renewal theory within stated bounds:

* ISI distributions: Kolmogorov-Smirnov distance D below the alpha = 1e-3 critical value plus
  the time-grid bound (each registered ISI is within dt of the continuous one, which moves the
  CDF by at most dt * max pdf),
* CV = 1 (Poisson), 1/sqrt(k) (gamma), 1 - r d (dead time d at output rate r),
* Fano factor of counts = 1 (Poisson, any window), -> CV^2 (renewal, long windows),
* rates: counts against their mean and renewal variance CV^2 r T per neuron,
* the inhomogeneous rate profile recovered bin by bin (Poisson counts, chi-square), and the
  time-rescaling theorem (Brown et al. 2002): rescaled ISIs are Exp(1).
"""

import numpy as np
import pytest
from brian2 import Hz, ms, second
from scipy import stats

from brainkit import Network, NetworkError

DT = 0.1e-3  # s
N = 3000
T = 1.0  # s
R_POI, R_GAM, K_GAM, R_DEAD, D_DEAD = 20.0, 20.0, 4, 40.0, 5e-3
RATE_DT = 1e-3
PROFILE = 30.0 * (1 + 0.8 * np.sin(2 * np.pi * 3.0 * np.arange(0, T, RATE_DT)))  # Hz


@pytest.fixture(scope="module")
def trains():
    net = Network(dt=DT * second, backend="runtime", seed=12)
    net.renewal_source("poisson", N, R_POI * Hz)
    net.renewal_source("gamma", N, R_GAM * Hz, order=K_GAM)
    net.renewal_source("dead", N, R_DEAD * Hz, refractory=D_DEAD * second)
    net.renewal_source("inhom", N, PROFILE * Hz, rate_dt=RATE_DT * second)
    for s in ("poisson", "gamma", "dead", "inhom"):
        net.record(s, "spikes")
    res = net.run(T * second)
    out = {}
    for s in ("poisson", "gamma", "dead", "inhom"):
        i, t = res.spikes[s]
        t = np.asarray(t / second)
        o = np.lexsort((t, i))
        out[s] = (i[o], t[o])
    return out


def _first_isis(i, t, m=5):
    """The first ``m`` ISIs of every neuron with at least m + 1 spikes (long before the end
    of the run, so the window does not bias them towards short intervals)."""
    starts = np.searchsorted(i, np.arange(N))
    counts = np.bincount(i, minlength=N)
    ok = counts >= m + 1
    idx = starts[ok][:, None] + np.arange(m + 1)[None, :]
    return np.diff(t[idx], axis=1), ok


def _ks_bound(n, max_pdf, shift=DT):
    # one-sample KS critical value at alpha = 1e-3 plus the grid error of the CDF
    return stats.kstwo.ppf(1 - 1e-3, n) + shift * max_pdf


@pytest.mark.parametrize("name,dist,cv", [
    ("poisson", stats.expon(scale=1 / R_POI), 1.0),
    ("gamma", stats.gamma(K_GAM, scale=1 / (K_GAM * R_GAM)), 1 / np.sqrt(K_GAM)),
    ("dead", stats.expon(loc=D_DEAD, scale=1 / R_DEAD - D_DEAD), 1 - R_DEAD * D_DEAD),
])
def test_isi_distribution_and_cv_match_renewal_theory(trains, name, dist, cv):
    i, t = trains[name]
    isis, ok = _first_isis(i, t)
    assert ok.mean() > 0.99
    x = isis.ravel()
    D = stats.kstest(x, dist.cdf).statistic
    grid = np.linspace(dist.ppf(1e-6), dist.ppf(1 - 1e-6), 20001)
    assert D < _ks_bound(len(x), dist.pdf(grid).max()), (name, D)
    # CV from 15000 ISIs: its standard error is below 0.01 for these laws; 4 sigma
    assert abs(x.std() / x.mean() - cv) < 0.04, (name, x.std() / x.mean())
    # mean ISI = 1/r: standard error std/sqrt(n), plus the grid (< dt)
    r = {"poisson": R_POI, "gamma": R_GAM, "dead": R_DEAD}[name]
    assert abs(x.mean() - 1 / r) < 4 * x.std() / np.sqrt(len(x)) + DT
    # the dead time is absolute: no ISI shorter than d (to the grid)
    if name == "dead":
        assert x.min() >= D_DEAD - 1e-9


@pytest.mark.parametrize("name,rate,cv", [
    ("poisson", R_POI, 1.0),
    ("gamma", R_GAM, 1 / np.sqrt(K_GAM)),
    ("dead", R_DEAD, 1 - R_DEAD * D_DEAD),
])
def test_rates_and_fano_factors(trains, name, rate, cv):
    i, t = trains[name]
    t0 = 0.2  # leave out the start (ordinary renewal: the first interval is special)
    counts = np.bincount(i[t >= t0], minlength=N)
    W = T - t0
    mean, var = counts.mean(), counts.var(ddof=1)
    # mean count r W; its standard error sqrt(CV^2 r W / N) (+ a renewal offset of O(1)/N)
    assert abs(mean - rate * W) < 4 * np.sqrt(cv ** 2 * rate * W / N) + 0.05, (name, mean)
    fano = var / mean
    # sampling error of a variance: F sqrt(2/(N-1)); the finite-window correction of a
    # stationary renewal process to F = CV^2 is O(1/(r W)), 1/(r W) at most
    if name == "poisson":
        assert abs(fano - 1) < 4 * np.sqrt(2 / (N - 1)), fano
    else:
        assert abs(fano - cv ** 2) < 4 * cv ** 2 * np.sqrt(2 / (N - 1)) + 1 / (rate * W), fano


def test_inhomogeneous_poisson_recovers_the_rate_profile(trains):
    i, t = trains["inhom"]
    # PSTH in 10 ms bins: counts are Poisson with mean N * integral of r over the bin
    bins = np.arange(0, T + 1e-9, 0.01)
    counts, _ = np.histogram(t, bins)
    cum = np.concatenate([[0], np.cumsum(PROFILE * RATE_DT)])  # Lambda on the 1 ms grid
    expected = N * np.diff(np.interp(bins, np.arange(len(cum)) * RATE_DT, cum))
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert stats.chi2.sf(chi2, len(counts)) > 1e-3, chi2
    # the profile's modulation depth recovered (fit a + b sin(2 pi 3 t))
    centre = (bins[:-1] + bins[1:]) / 2
    A = np.column_stack([np.ones_like(centre), np.sin(2 * np.pi * 3 * centre),
                         np.cos(2 * np.pi * 3 * centre)])
    coef = np.linalg.lstsq(A, counts / (N * 0.01), rcond=None)[0]
    assert abs(coef[0] - 30) < 1.0 and abs(coef[1] - 24) < 1.5 and abs(coef[2]) < 1.5
    # time rescaling: Lambda(t_{k+1}) - Lambda(t_k) ~ Exp(1); a spike registered at step q
    # happened in (q dt, (q+1) dt], so Lambda((q+1) dt) is within r_max dt of the true value
    # (the first 5 rescaled ISIs of every neuron: all ISIs of a window are biased short)
    lam = np.interp(t + DT, np.arange(len(cum)) * RATE_DT, cum)
    z, ok = _first_isis(i, lam)
    assert ok.mean() > 0.99
    z = z.ravel()
    D = stats.kstest(z, "expon").statistic
    assert D < _ks_bound(len(z), 1.0, shift=PROFILE.max() * DT), D


def test_bad_source_arguments_are_rejected():
    net = Network(dt=0.1 * ms, backend="runtime")
    with pytest.raises(NetworkError, match="order must be an integer >= 1"):
        net.renewal_source("a", 5, 10 * Hz, order=0)
    with pytest.raises(NetworkError, match="rates must be in Hz"):
        net.renewal_source("a", 5, 10 * ms)
    with pytest.raises(NetworkError, match="rate x refractory must be < 1"):
        net.renewal_source("a", 5, 200 * Hz, refractory=5 * ms)
    with pytest.raises(NetworkError, match="3 rates for 5 neurons"):
        net.renewal_source("a", 5, [1, 2, 3] * Hz)
    with pytest.raises(NetworkError, match=r"shape \(T,\) or \(T, 5\)"):
        net.renewal_source("a", 5, np.ones((10, 3)) * Hz, rate_dt=1 * ms)
