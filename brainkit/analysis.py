"""Spike-train statistics and f-I curves.

Small functions of one spike train (a sorted array of spike times, a Brian2 Quantity in
seconds or a plain array in seconds):

==========================  ==============================================================
:func:`isi`                 inter-spike intervals  ISI_k = t_{k+1} - t_k
:func:`isi_cv`              coefficient of variation  CV = std(ISI)/mean(ISI)
:func:`firing_rate`         spike count / window length
:func:`isi_rate`            1/mean(ISI) of the spikes in a window (the steady rate)
:func:`adaptation_index`    A = mean_k (ISI_{k+1} - ISI_k)/(ISI_{k+1} + ISI_k)
:func:`bursts`              sizes of groups of spikes separated by ISIs < ``max_isi``
:func:`van_rossum_distance` distance of two spike trains (van Rossum 2001)
==========================  ==============================================================

and :func:`fi_curve`, which simulates one population of a library model with one constant
current per neuron (the network builder's ``I_ext``) and returns the firing rate of each,
and :func:`rheobase`, the smallest current of an f-I curve that fires.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

__all__ = ["isi", "isi_cv", "firing_rate", "isi_rate", "adaptation_index", "bursts",
           "fi_curve", "rheobase", "van_rossum_distance"]


def _seconds(times, what: str = "spike times") -> np.ndarray:
    """Spike times as a 1-D float array in seconds; errors name what was wrong."""
    from brian2 import second
    from brian2.units.fundamentalunits import Quantity, get_dimensions, have_same_dimensions

    if isinstance(times, Quantity):
        if not have_same_dimensions(times, second):
            raise ValueError(f"{what} must have units of time (or be plain seconds), got "
                             f"units {get_dimensions(times)!s}")
        arr = np.asarray(times / second, dtype=float)
    else:
        arr = np.asarray(times, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array (one spike train), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contain NaN or inf")
    if np.any(np.diff(arr) < 0):
        k = int(np.argmax(np.diff(arr) < 0))
        raise ValueError(f"{what} are not sorted: t[{k + 1}] = {arr[k + 1]} s < "
                         f"t[{k}] = {arr[k]} s")
    return arr


def _window(t: np.ndarray, t_start, t_stop):
    from brian2 import second

    lo = -np.inf if t_start is None else float(t_start / second)
    hi = np.inf if t_stop is None else float(t_stop / second)
    if hi <= lo:
        raise ValueError(f"empty window: t_stop ({t_stop}) must be after t_start ({t_start})")
    return t[(t >= lo) & (t < hi)], lo, hi


def isi(times):
    """Inter-spike intervals ``t[k+1] - t[k]`` (Quantity in seconds; length ``len(times)-1``)."""
    from brian2 import second

    return np.diff(_seconds(times)) * second


def isi_cv(times) -> float:
    """Coefficient of variation of the inter-spike intervals, ``std(ISI)/mean(ISI)``.

    0 for a regular train, 1 for a Poisson process.  NaN when there are fewer than two
    intervals (the CV is undefined)."""
    d = np.diff(_seconds(times))
    if len(d) < 2:
        return float("nan")
    return float(np.std(d) / np.mean(d))


def firing_rate(times, t_start=None, t_stop=None):
    """Spike count in ``[t_start, t_stop)`` divided by the window length (Quantity in Hz).

    ``t_start`` defaults to 0 s; ``t_stop`` is required (the end of the recording: a count
    rate is meaningless without the window it was counted in)."""
    from brian2 import Hz, second

    if t_stop is None:
        raise ValueError("firing_rate needs t_stop (the end of the counting window)")
    t_start = 0 * second if t_start is None else t_start
    sel, lo, hi = _window(_seconds(times), t_start, t_stop)
    return len(sel) / (hi - lo) * Hz


def isi_rate(times, t_start=None, t_stop=None):
    """Rate from the spikes in ``[t_start, t_stop)``: ``(n - 1)/(t_last - t_first)``, i.e.
    1/mean ISI (Quantity in Hz).

    Unlike a spike count it has no edge effect of the window, so it is the estimator to
    compare with a periodic firing rate.  0 Hz with fewer than two spikes in the window.
    """
    from brian2 import Hz

    sel, _, _ = _window(_seconds(times), t_start, t_stop)
    if len(sel) < 2:
        return 0 * Hz
    return (len(sel) - 1) / (sel[-1] - sel[0]) * Hz


def adaptation_index(times) -> float:
    """Spike-frequency adaptation index (Allen Cell Types Database; Druckmann et al. 2013)

    .. math:: A = \\frac{1}{N-1} \\sum_{k=1}^{N-1} \\frac{ISI_{k+1} - ISI_k}{ISI_{k+1} + ISI_k}

    over the N intervals: > 0 when the intervals lengthen (adaptation), 0 for a regular
    train, < 0 when they shorten.  NaN with fewer than two intervals."""
    d = np.diff(_seconds(times))
    if len(d) < 2:
        return float("nan")
    return float(np.mean((d[1:] - d[:-1]) / (d[1:] + d[:-1])))


def bursts(times, max_isi) -> np.ndarray:
    """Sizes (spike counts) of the groups of spikes in which consecutive spikes are closer
    than ``max_isi``; an isolated spike is a group of size 1.

    >>> from brian2 import ms, second
    >>> bursts([0.0, 0.005, 0.010, 0.100, 0.200, 0.203] * second, 20 * ms)
    array([3, 1, 2])
    """
    t = _seconds(times)
    limit = _seconds(np.reshape(max_isi, (1,)), "max_isi")[0]
    if limit <= 0:
        raise ValueError(f"max_isi must be positive, got {max_isi}")
    if len(t) == 0:
        return np.zeros(0, dtype=int)
    breaks = np.flatnonzero(np.diff(t) >= limit)
    edges = np.concatenate(([0], breaks + 1, [len(t)]))
    return np.diff(edges).astype(int)


def van_rossum_distance(times_a, times_b, tau) -> float:
    """Van Rossum (2001) distance of two spike trains, exact (no time grid).

    Each train is filtered with the causal exponential f(t) = exp(-t/tau) (t >= 0) and

    .. math:: D^2 = \\frac{1}{\\tau} \\int_0^\\infty \\left[(f * S_a)(t) - (f * S_b)(t)\\right]^2 dt
              = \\frac{1}{2} \\Big[\\sum_{i,j} e^{-|a_i - a_j|/\\tau}
                + \\sum_{i,j} e^{-|b_i - b_j|/\\tau} - 2 \\sum_{i,j} e^{-|a_i - b_j|/\\tau}\\Big]

    (the integral of a product of two kernels is (tau/2) exp(-|t_1 - t_2|/tau)).  In this
    normalisation one spike against none gives D^2 = 1/2, two single spikes dt apart give
    D^2 = 1 - exp(-|dt|/tau), and n unmatched spikes far apart give D^2 = n/2.
    Reference: M. C. W. van Rossum, "A novel spike distance", Neural Comput. 13 (2001) 751-763.

    Parameters
    ----------
    times_a, times_b : Quantity or array (seconds)
        The two spike trains (1-D, any order).
    tau : Quantity
        Time constant of the filter.

    Returns
    -------
    float
        D (not D^2), dimensionless.
    """
    from brian2 import second
    from brian2.units.fundamentalunits import get_dimensions, have_same_dimensions

    if not have_same_dimensions(tau, second) or not float(tau / second) > 0:
        raise ValueError(f"tau must be a positive time (e.g. 10*ms), got {tau!r} "
                         f"(units {get_dimensions(tau)!s})")
    tau_s = float(tau / second)
    a = _seconds(np.sort(times_a), "times_a")
    b = _seconds(np.sort(times_b), "times_b")

    def overlap(x, y):
        return float(np.exp(-np.abs(x[:, None] - y[None, :]) / tau_s).sum())

    d2 = 0.5 * (overlap(a, a) + overlap(b, b) - 2 * overlap(a, b))
    return float(np.sqrt(max(d2, 0.0)))


def fi_curve(model, currents, duration, *, variant: Optional[str] = None,
             params: Optional[Dict[str, Any]] = None, init: Optional[Dict[str, Any]] = None,
             dt=None, transient=None, estimator: str = "isi", backend: str = "runtime",
             codegen_target: str = "numpy", seed: Optional[int] = None, report=None):
    """Firing rate of a library neuron model for each constant input in ``currents``.

    One population of ``len(currents)`` neurons of ``model`` (a name or a
    :class:`~brainkit.library.Model`) is simulated once for ``duration``; neuron k receives
    the constant input ``I_ext = currents[k]`` (in the model's input unit, e.g. amp for
    ``lif``, volt/second for ``izhikevich``, amp/meter**2 for ``hodgkin_huxley``).

    Parameters
    ----------
    model : str or Model
    currents : Quantity, shape (n,)
        Constant inputs, in the units of the model's input variable.
    duration : Quantity
        Simulated time.
    variant, params, init :
        Passed to :meth:`brainkit.Network.population` (named parameter set, parameter
        overrides with units, initial values).
    dt : Quantity, optional
        Time step (default: the Network default, 0.1 ms).  Spike times are multiples of dt,
        so a rate f is measured to about ``f*dt`` relative precision at best: choose
        ``dt << 1/f``.
    transient : Quantity, optional
        Spikes before this time are ignored (default 0 s): the onset transient of adapting
        neurons.
    estimator : {'isi', 'count'}
        ``'isi'``: (n - 1)/(t_last - t_first) of the spikes after ``transient``, the steady
        (periodic) rate, without the window's edge effects; ``'count'``: spikes after
        ``transient`` / (duration - transient).
    backend, codegen_target, seed :
        Passed to :class:`brainkit.Network`.

    Returns
    -------
    rates : Quantity, shape (n,)
        Firing rates in Hz (0 Hz for a neuron with fewer than two spikes after the transient
        with ``'isi'``).
    """
    from brian2 import Hz, second
    from brian2.units.fundamentalunits import get_dimensions, have_same_dimensions

    from .library import evaluate_expression, load_model
    from .network import Network

    if estimator not in ("isi", "count"):
        raise ValueError(f"fi_curve: estimator must be 'isi' or 'count', got {estimator!r}")
    if isinstance(model, str):
        m = load_model(model, variant=variant)
    else:
        m = model
        if variant is not None:
            if variant not in m.variants:
                raise ValueError(f"fi_curve: model '{m.name}' has no variant '{variant}' "
                                 f"(variants: {', '.join(sorted(m.variants)) or 'none'})")
            m = m.with_parameters(**m.variants[variant])
    if m.kind != "neuron" or not m.input:
        raise ValueError(f"fi_curve: model '{m.name}' is not a neuron model with an input "
                         "variable (its file declares no 'input:')")
    unit = evaluate_expression(m.input["unit"], {})
    if not have_same_dimensions(currents, unit):
        raise ValueError(f"fi_curve: currents have units {get_dimensions(currents)!s}, model "
                         f"'{m.name}' takes its input {m.input['name']} in {m.input['unit']}")
    if np.ndim(currents) != 1 or len(currents) == 0:
        raise ValueError(f"fi_curve: currents must be a non-empty 1-D array, got shape "
                         f"{np.shape(currents)}")
    if not np.all(np.isfinite(np.asarray(currents, dtype=float))):
        raise ValueError("fi_curve: currents contain NaN or inf")
    transient = 0 * second if transient is None else transient
    if not transient < duration:
        raise ValueError(f"fi_curve: transient ({transient}) must be shorter than the "
                         f"duration ({duration})")
    n = len(currents)
    net = Network(dt=dt, backend=backend, codegen_target=codegen_target, seed=seed,
                  name="fi_curve")
    net.population("fi", m, n, params=params, init=init)
    net.record("fi", "spikes")
    res = net.run(duration, I_ext={"fi": currents}, report=report)
    trains = res.spike_trains("fi")
    rates = np.zeros(n)
    for k in range(n):
        if estimator == "isi":
            rates[k] = float(isi_rate(trains[k], t_start=transient) / Hz)
        else:
            rates[k] = float(firing_rate(trains[k], t_start=transient, t_stop=duration) / Hz)
    return rates * Hz


def rheobase(currents, rates, min_rate=None):
    """The smallest current of an f-I curve whose rate exceeds ``min_rate`` (default 0 Hz).

    ``currents`` must be increasing.  Returns None when no current fires: the rheobase then
    lies above the tested range (the caller decides whether that is an error).
    """
    from brian2 import Hz

    min_rate = 0 * Hz if min_rate is None else min_rate
    c = np.asarray(currents, dtype=float)
    if c.ndim != 1 or len(c) != len(rates):
        raise ValueError(f"rheobase: {len(c)} currents and {len(rates)} rates differ in length")
    if np.any(np.diff(c) <= 0):
        raise ValueError("rheobase: currents must be strictly increasing")
    firing = np.flatnonzero(np.asarray(rates / Hz) > float(min_rate / Hz))
    if len(firing) == 0:
        return None
    return currents[int(firing[0])]


def network_statistics(results, sizes, t_start, t_stop) -> dict:
    """Rate, ISI variability and synchrony of several populations taken together.

    Only spikes at ``t_start <= t < t_stop`` count.  Returns ``rate_<pop>_hz`` per population,
    ``rate_hz`` over all neurons, ``cv_isi`` (mean CV of the ISIs of neurons with >= 3 ISIs,
    ``n_neurons_cv`` of them), ``cv2`` (Holt et al. 1996: mean of 2|I_{k+1} - I_k|/(I_{k+1} + I_k)
    over successive ISIs of a neuron; 1 for Poisson, 0 for regular firing, unbiased by short
    windows) and ``chi`` (Golomb's synchrony, sqrt(var of the population count / sum of the
    single-neuron count variances) in 1 ms bins; ~0 asynchronous, 1 fully synchronous).

    Parameters
    ----------
    results : Results
        With ``results.spikes[pop]`` for every population in ``sizes``.
    sizes : dict
        ``{population: number of neurons}``, in the order their indices are stacked.
    t_start, t_stop : Quantity
    """
    from brian2 import second

    t0, t1 = float(t_start / second), float(t_stop / second)
    out = {}
    all_i, all_t, offset = [], [], 0
    for pop, n in sizes.items():
        i, t = results.spikes[pop]
        t = np.asarray(t / second)
        keep = t >= t0
        out[f"rate_{pop}_hz"] = float(keep.sum() / n / (t1 - t0))
        all_i.append(i[keep] + offset)
        all_t.append(t[keep])
        offset += n
    i, t = np.concatenate(all_i), np.concatenate(all_t)
    o = np.lexsort((t, i))
    i, t = i[o], t[o]
    same = i[1:] == i[:-1]
    owner, isis = i[1:][same], np.diff(t)[same]
    cvs = [isis[owner == k].std() / isis[owner == k].mean()
           for k in np.unique(owner) if (owner == k).sum() >= 3]
    out["cv_isi"] = float(np.mean(cvs)) if cvs else float("nan")
    out["n_neurons_cv"] = len(cvs)
    pair = owner[1:] == owner[:-1]
    a, b_ = isis[:-1][pair], isis[1:][pair]
    out["cv2"] = float(np.mean(2 * np.abs(b_ - a) / (a + b_))) if pair.any() else float("nan")
    edges = np.arange(t0, t1 + 1e-9, 1e-3)
    n = offset
    per = np.zeros((n, len(edges) - 1))
    b = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)
    np.add.at(per, (i, b), 1)
    out["chi"] = float(np.sqrt(per.sum(0).var() / (n * per.var(axis=1).sum())))
    out["rate_hz"] = float(len(i) / n / (t1 - t0))
    return out
