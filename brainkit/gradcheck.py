"""``brainkit gradcheck``: adjoint gradients against finite differences of the same simulation.

A recurrent gated-synapse network (:class:`brainkit.training.RecurrentSNN`, ``n_in = 2``,
``n_out = 2``, batch 2) of ``--neurons`` neurons of library model ``--model`` runs ``--steps``
steps (dt = 0.1 ms) on random inputs; the loss is the mean squared error of the readout against
a random target,

.. math::  L = \\frac{1}{2}\\,\\overline{(o - y)^2}\\cdot 10^3 .

Every entry of ``U``, ``I0`` (and ``W``, ``O`` up to ``MAX_PER_PARAM`` entries each, a random
subset beyond that, half of it among the entries with a non-zero gradient) and every time
constant of the two models (``tau`` of the neuron, ``tau_s`` of the gated synapse; trained as
:class:`RecurrentSNN` ``constants``) is checked against
central differences of the very simulation that ran (Brian2, float64, C++ compiled without
``-ffast-math``),  ``D(h) = (L(p + h) - L(p - h)) / 2h``,  on the ladder
``h = scale_P * 10^(-3), 10^(-3.5), ..., 10^(-8)`` where ``scale_P`` makes a step of parameter
array ``P`` move the neuron input by about ``h`` (1 for ``I0``, ``1/max|x|`` for ``U``,
``1/max|s|`` for ``W`` and ``O``; ``s`` is in Hz; the value itself for a time constant).  The simulated map is C1 but not C2 (the
raised-cosine gate's second derivative jumps at the zone edges, so ``L''`` has kinks wherever a
perturbation moves a state across an edge at some step): a large ``h`` straddles those kinks, a
small one drowns in rounding noise (``~ulp(L)/h``).  The estimate used is the ladder value
that agrees best with both its neighbours, counting its rounding error too (smallest
``max(|D_k - D_(k-1)|, |D_k - D_(k+1)|) + 16 ulp(L) / h_k``: a standard step selection that
never looks at the adjoint value); ladder values whose two
losses differ by less than 64 ulp(L) are rounding, not a derivative, and never selected.  All 22 perturbed simulations of one entry run as 22 independent copies of the
network in ONE Brian2 run (:meth:`RecurrentSNN.readouts`), and the adjoint is computed on the
same compiled network (copy 0).  The relative error of one entry is

.. math::  e = \\frac{|g_{adj} - g_{FD}|}{\\max(|g_{adj}|, |g_{FD}|, \\tau \\max_P |g_{adj}|,
           \\nu |L|)},\\qquad \\tau = 10^{-3},\\ \\nu = 10^{-9},

i.e. relative to the larger of the two values, but never to less than a thousandth of the
largest gradient entry of the same parameter array, nor to less than the finite differences'
own resolution (``ulp(L)/h ~ 1e-11 |L|``, with a margin): entries that are zero or nearly
zero, where finite differences only see rounding noise, are measured against those scales; an
exact zero on both sides counts as error 0.

Writes ``OUT/metrics.json`` (``max_rel_error``, ``n_checked``, per-parameter maxima, the
definition above, spike counts, timings) and prints a table; returns 1 if ``max_rel_error``
exceeds ``THRESHOLD`` (1e-6), or if every entry compared is zero on both sides (``n_nonzero``
= 0: e.g. ``--steps 1``, where no parameter reaches the readout yet) -- a check that compared
nothing passes nothing.
"""

from __future__ import annotations

import os
import time
from typing import Dict, List, Tuple

import numpy as np

from .fileio import write_json

#: what ``brainkit gradcheck`` writes into its ``--out`` folder
OUTPUTS = ("metrics.json",)
MAX_PER_PARAM = 24
THRESHOLD = 1e-6
TAU = 1e-3
NOISE = 1e-9  # finite differences resolve no gradient below ~ulp(L)/h ~ 1e-11 |L| (h ~ 1e-5)
N_IN, N_OUT, BATCH = 2, 2, 2


def problem(net, seed: int):
    """Parameters, input and target of the check (seeded): inputs and a bias strong enough that
    most neurons cross the active zone a few times within the window."""
    rng = np.random.default_rng(seed + 1000)
    p = net.init_params(seed)
    N = net.n_hidden
    p["I0"] = rng.uniform(1.5, 3.0, N)
    p["W"] = rng.normal(0.0, 0.05 / np.sqrt(N), (N, N))
    p["O"] = rng.normal(0.0, 0.5 / np.sqrt(N), (N_OUT, N)) * 1e-2
    T = net.steps
    # smooth inputs: random sinusoids per trial and channel
    t = np.arange(T) * net.dt_s
    f = rng.uniform(5, 40, (BATCH, 1, N_IN))
    ph = rng.uniform(0, 2 * np.pi, (BATCH, 1, N_IN))
    x = 0.5 * np.sin(2 * np.pi * f * t[None, :, None] + ph)
    # a target of the readout's size keeps L small, so its rounding noise (which limits the
    # finite differences) is small too
    y = rng.normal(0.0, 0.1, (BATCH, T, N_OUT))
    return p, x, y


def make_loss(y):
    def loss_fn(o):
        d = o - y
        return 0.5e3 * float(np.mean(d * d)), 1e3 * d / d.size

    return loss_fn


def time_constants(neuron: str, synapse: str = "gated") -> List[str]:
    """The scalar parameters with the dimension of time of the two models (checked too)."""
    from brian2 import second
    from brian2.units.fundamentalunits import have_same_dimensions

    from .library import load_model

    out = []
    for m in (load_model(neuron), load_model(synapse)):
        out += [k for k, v in m.parameters.items()
                if np.ndim(v) == 0 and have_same_dimensions(v, second) and k not in out]
    return out


def choose_entries(grads: Dict[str, np.ndarray], rng, constants=()) -> List[tuple]:
    chosen = [(name, ()) for name in constants]
    for name in ("U", "W", "O", "I0"):
        g = grads[name]
        flat = np.arange(g.size)
        if g.size <= MAX_PER_PARAM:
            pick = flat
        else:
            nz = flat[g.ravel() != 0]
            k = min(len(nz), MAX_PER_PARAM // 2)
            a = rng.choice(nz, k, replace=False) if k else np.zeros(0, int)
            rest = np.setdiff1d(flat, a)
            b = rng.choice(rest, MAX_PER_PARAM - k, replace=False)
            pick = np.sort(np.concatenate([a, b]))
        chosen += [(name, np.unravel_index(int(i), g.shape)) for i in pick]
    return chosen


LADDER = tuple(10.0 ** (-k / 2) for k in range(6, 17))  # 1e-3 ... 1e-8, steps of sqrt(10)
STENCIL = (1, -1)
COPIES = len(LADDER) * len(STENCIL)


def step_scales(trace, x, constants=()) -> Dict[str, float]:
    """The unit of each parameter's finite-difference step: a step ``h`` of ``I0`` moves the
    input by ``h``; of ``U`` by ``h`` for the largest input ``|x|``; of ``W`` (and ``O``) by
    ``h`` for the largest trace ``|s|`` (in Hz, so ``W`` steps are ~1/max|s| smaller); of a
    time constant by ``h`` times its value (a relative step)."""
    smax = float(np.max(np.abs(trace.s[:BATCH]))) or 1.0
    xmax = float(np.max(np.abs(x))) or 1.0
    scales = {"U": 1.0 / xmax, "I0": 1.0, "W": 1.0 / smax, "O": 1.0 / smax}
    scales.update({k: abs(float(trace.params[k])) or 1.0 for k in constants})
    return scales


def finite_difference(net, params, x, loss_fn, name, idx, scale) -> Tuple[float, float]:
    """(estimate, h used) for d loss / d params[name][idx]: central differences on the ladder
    ``h = scale * (1e-3 ... 1e-8)``, all 22 perturbed simulations in one run; the estimate is
    the ladder value that agrees best with both its neighbours."""
    sets = []
    hs = np.array(LADDER) * scale
    for h in hs:
        for k in STENCIL:
            p = {a: b.copy() for a, b in params.items()}
            p[name][idx] += k * h
            sets.append(p)
    outs = net.readouts(sets, x)
    L = np.array([loss_fn(o)[0] for o in outs]).reshape(len(LADDER), len(STENCIL))
    est = (L[:, 0] - L[:, 1]) / (2 * hs)
    d = np.abs(np.diff(est))
    spread = np.maximum(d[:-1], d[1:])  # of ladder values k-1, k, k+1 (k = 1 .. len-2)
    # a difference of a few ulp(L) is rounding, not a derivative: such values (and runs of
    # exactly equal losses at tiny h) cannot form the plateau
    resolved = np.abs(L[:, 0] - L[:, 1]) > 64 * np.spacing(np.abs(L).max())
    ok = resolved[:-2] & resolved[1:-1] & resolved[2:]
    if not ok.any():  # L does not change measurably: the largest step says how little
        return float(est[0]), float(hs[0])
    spread[~ok] = np.inf
    # plus the rounding error of each estimate (a few ulp of L over 2h): a chance agreement
    # of noisy values at tiny h must not win over a real plateau
    rounding = 16 * np.spacing(np.abs(L).max()) / hs[1:-1]
    k = int(np.argmin(spread + rounding)) + 1
    return float(est[k]), float(hs[k])


def run_check(model: str, neurons: int, steps: int, seed: int, backend: str,
              verbose: bool = True) -> Dict:
    """Build the network, compare adjoint and finite differences; return the metrics dict."""
    from .training import RecurrentSNN

    constants = time_constants(model)
    net = RecurrentSNN(N_IN, neurons, N_OUT, steps, batch=BATCH * COPIES, neuron=model,
                       backend=backend, constants=constants, weight_sets=COPIES)
    try:
        params, x, y = problem(net, seed)
        loss_fn = make_loss(y)
        zero = np.zeros((BATCH * (COPIES - 1), steps, N_OUT))
        xfull = np.concatenate([x] * COPIES, axis=0)
        t0 = time.perf_counter()
        trace = net.forward(params, xfull)
        t_fwd = time.perf_counter() - t0
        loss, dl_do = loss_fn(trace.o[:BATCH])
        t0 = time.perf_counter()
        grads = net.backward(trace, np.concatenate([dl_do, zero], axis=0))
        t_bwd = time.perf_counter() - t0
        rng = np.random.default_rng(seed + 2000)
        entries = choose_entries(grads, rng, constants)
        rows = []
        t0 = time.perf_counter()
        gmax = {k: float(np.max(np.abs(v))) for k, v in grads.items()}
        scales = step_scales(trace, x, constants)
        for name, idx in entries:
            g = float(grads[name][idx])
            fd, h = finite_difference(net, params, x, loss_fn, name, idx, scales[name])
            denom = max(abs(g), abs(fd), TAU * gmax[name], NOISE * abs(loss))
            err = abs(g - fd) / denom if denom > 0 else 0.0
            rows.append((name, tuple(int(i) for i in idx), g, fd, err, h))
        t_fd = time.perf_counter() - t0
        spikes = int(sum(len(s[0]) for s in trace.spikes[:BATCH]))
    finally:
        net.close()
    if verbose:
        print(f"gradcheck: model={model} neurons={neurons} steps={steps} seed={seed} "
              f"backend={backend}  loss={loss:.6g}  spikes={spikes}")
        print(f"{'param':6s} {'index':10s} {'adjoint':>17s} {'finite diff':>17s} {'h':>7s} "
              f"{'rel err':>9s}")
        for name, idx, g, fd, err, h in rows:
            print(f"{name:6s} {str(idx):10s} {g:17.10e} {fd:17.10e} {h:7.0e} {err:9.2e}")
    per_param = {}
    for name in ["U", "W", "O", "I0"] + constants:
        errs = [r[4] for r in rows if r[0] == name]
        per_param[name] = {"max_rel_error": max(errs) if errs else None, "n_checked": len(errs),
                           "size": int(grads[name].size)}
    max_err = max(r[4] for r in rows)
    # entries where either side is non-zero: a check of zeros against zeros proves nothing
    nonzero = sum(1 for r in rows if r[2] != 0.0 or r[3] != 0.0)
    passed = bool(max_err <= THRESHOLD and nonzero > 0)
    metrics = {
        "model": model, "neurons": neurons, "steps": steps, "seed": seed, "backend": backend,
        "batch": BATCH, "dt_s": net.dt_s, "loss": loss,
        "max_rel_error": max_err, "n_checked": len(rows), "n_nonzero": nonzero,
        "threshold": THRESHOLD, "passed": passed, "per_param": per_param, "spikes": spikes,
        "zone_fraction": net.last_backward.get("zone_fraction"),
        "relative_error": ("|g_adj - g_fd| / max(|g_adj|, |g_fd|, 1e-3 * max_P |g_adj|, "
                           "1e-9 |L|), 0 where both are exactly 0"),
        "finite_difference": ("central, h = scale_P * 1e-3 ... 1e-8 (factors of sqrt(10)); "
                              "the best-agreeing value (+ 16 ulp(L)/h); scale_P "
                              "= 1 (I0), 1/max|x| (U), 1/max|s| (W, O), the value (time "
                              "constants)"),
        "timings_s": {"forward": t_fwd, "backward": t_bwd, "finite_differences": t_fd,
                      "compile": net.timings.get("compile")},
        "entries": [{"param": r[0], "index": list(r[1]), "adjoint": r[2], "fd": r[3],
                     "h": r[5], "rel_error": r[4]} for r in rows],
    }
    return metrics


def main(args) -> int:
    """Entry point of ``brainkit gradcheck`` (args: model, neurons, steps, seed, backend, out).
    FAIL (exit 1) where the largest relative error exceeds :data:`THRESHOLD`, and where every
    compared gradient is zero on both sides (nothing was checked)."""
    for name in ("neurons", "steps"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name} must be >= 1, got {getattr(args, name)}")
    metrics = run_check(args.model, args.neurons, args.steps, args.seed, args.backend)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "metrics.json")
    write_json(path, metrics)
    status = "PASS" if metrics["passed"] else "FAIL"
    print(f"max_rel_error = {metrics['max_rel_error']:.3e} over {metrics['n_checked']} entries "
          f"({metrics['n_nonzero']} non-zero, {metrics['spikes']} spikes)  [{status}, "
          f"threshold {THRESHOLD:g}]  -> {path}")
    if not metrics["n_nonzero"]:
        print(f"FAIL: every gradient compared is zero (adjoint and finite differences), so "
              f"the check compared nothing; give more --steps than {args.steps} (e.g. 200)")
    return 0 if metrics["passed"] else 1
