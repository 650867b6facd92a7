"""Brunel (2000) Fig. 2: the phase diagram of model A, computed as a sweep on Dask.

N. Brunel, "Dynamics of sparsely connected networks of excitatory and inhibitory spiking
neurons", J. Comput. Neurosci. 8 (2000) 183-208.  The network of :mod:`brainkit.brunel2000`
(model A: N_E = 10000, N_I = 2500, C_E = 1000, C_I = 250, J = 0.1 mV, D = 1.5 ms) is built and
compiled once per Dask worker; every grid point (relative inhibition ``g``, external rate
``eta = nu_ext/nu_thr``, seed) re-runs that binary with its own weights and external rate,
measures the excitatory population after a 100 ms transient (rate, CV of the ISIs, Golomb's
synchrony chi, the population rate's spectrum) and names its state (SR, SI fast, SI slow, AI;
:func:`brainkit.brunel2000.classify`).

The plot (``phase_diagram.png``) draws the measured states over (g, eta) with what the paper
gives of its diagram that can be checked without its figure's pixels: the balance line
g = C_E/C_I = 4 (excitation and inhibition cancel; SR lies left of it), the threshold line
nu_ext = nu_thr, and its four example points of Fig. 8 (A: SR at g = 3, eta = 2; B: SI fast at
6, 4; C: AI at 5, 2; D: SI slow at 4.5, 0.9), whose states the sweep must reproduce; in AI
cells the measured rate is compared with the paper's mean-field rate (eq. 21).  The Hopf lines
of Fig. 2 (the linear stability of the stationary state) are not recomputed here.

    python examples/brunel_phase_diagram.py --out out/brunel_phase [--quick] [--workers N |
        --scheduler tcp://HOST:8786]

``--quick``: N_E = 2000 (C_E = 200, J = 0.5 mV: the same mean input, larger fluctuations),
300 ms, the paper's four points only.  Writes ``metrics.json``, ``phase_diagram.png`` and the
sweep's folder (``sweep/points/*.json``: re-running resumes).

Measured (2 cores, cpp_standalone): the full grid (63 points) 1209 s on 1 worker (1 compile),
620 s on 2 workers (2 compiles): 1.95x, the 63 results identical point for point.  Fig. 8's
four states reproduced; with seeds 1, 2, 3 (``--paper-points --seeds 1,2,3``, 113 s on 2
workers) 11 of 12 (the SI slow point comes out AI for seed 3: it lies near the classifier's
threshold).  AI cells vs the mean-field rate: median 3 %, within 4.3 % where nu_ext >= 1.5
nu_thr, 9-28 % in the fluctuation-driven cells at nu_ext <= nu_thr.  A strip of regular,
asynchronous (cluster) states at g = 3.5-4 comes out AR where the paper's Fig. 2 has SR.
``--quick`` reproduces SR and AI; SI slow and SI fast come out AI at that size.
"""

import argparse
import os
import sys

import numpy as np

from brainkit.brunel2000 import PAPER_STATES, REGIMES, BrunelExperiment, mean_field_rate
from brainkit.fileio import write_json
from brainkit.sweep import dask_client, sweep

COLORS = dict(zip(REGIMES, ("tab:red", "tab:orange", "tab:purple", "tab:green", "tab:blue",
                            "0.85")))
FULL_G = [2, 3, 3.5, 4, 4.5, 5, 6, 7, 8]
FULL_ETA = [0.5, 0.9, 1.0, 1.5, 2, 3, 4]


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="out/brunel_phase")
    p.add_argument("--quick", action="store_true", help="N_E = 2000, 300 ms, Fig. 8's points")
    p.add_argument("--paper-points", action="store_true",
                   help="only Fig. 8's four points (each with every seed)")
    p.add_argument("--n-e", type=int, default=None, help="excitatory neurons (default 10000)")
    p.add_argument("--duration-ms", type=float, default=None, help="per point (default 500)")
    p.add_argument("--g", default=None, help="comma-separated g values")
    p.add_argument("--eta", default=None, help="comma-separated nu_ext/nu_thr values")
    p.add_argument("--seeds", default="1", help="comma-separated seeds (default 1)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2, help="LocalCluster processes")
    where.add_argument("--scheduler", help="a running Dask scheduler (tcp://HOST:8786)")
    return p.parse_args(argv)


def floats(text):
    return [float(x) for x in text.split(",")]


def points_of(args):
    """The sweep's grid: a product of ``g``, ``eta`` and seeds, or Fig. 8's points x seeds."""
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.g or args.eta:
        return {"g": floats(args.g or "3,5"), "eta": floats(args.eta or "2"), "seed": seeds}
    if args.quick or args.paper_points:
        return [{"g": g, "eta": eta, "seed": seed} for g, eta in PAPER_STATES.values()
                for seed in seeds]
    return {"g": FULL_G, "eta": FULL_ETA, "seed": seeds}


def edges(values):
    """Cell edges around sorted grid values: midpoints between neighbours (a non-uniform
    grid tiles the plane without gaps)."""
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def plot(records, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    gs = sorted({r["point"]["g"] for r in records})
    etas = sorted({r["point"]["eta"] for r in records})
    ge, ee = edges(gs), edges(etas)
    names = list(COLORS)
    grids = {k: np.full((len(etas), len(gs)), np.nan) for k in ("regime", "rate_hz", "chi")}
    for r in records:
        if r["status"] != "ok":
            continue
        row, col = etas.index(r["point"]["eta"]), gs.index(r["point"]["g"])
        m = r["metrics"]
        grids["regime"][row, col] = names.index(m["regime"])
        if m.get("rate_hz") is not None:
            grids["rate_hz"][row, col] = np.log10(max(m["rate_hz"], 1e-2))
        if m.get("chi") is not None:
            grids["chi"][row, col] = m["chi"]
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    ax = axes[0]
    ax.pcolormesh(ge, ee, grids["regime"], cmap=ListedColormap(list(COLORS.values())),
                  vmin=-0.5, vmax=len(names) - 0.5, alpha=0.8, edgecolors="w", linewidth=0.5)
    ax.axvline(4, color="k", ls="--", lw=1)
    ax.axhline(1, color="k", ls=":", lw=1)
    for name, (g, eta) in PAPER_STATES.items():
        ax.plot(g, eta, "k*", ms=12)
        ax.annotate(f"paper: {name}", (g, eta), xytext=(4, 4), textcoords="offset points",
                    fontsize=8)
    ax.set_xlabel("g (relative inhibition)")
    ax.set_ylabel(r"$\nu_{ext}/\nu_{thr}$")
    ax.set_title(title, fontsize=9)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.8) for c in COLORS.values()]
    ax.legend(handles + [plt.Line2D([], [], color="k", ls="--"),
                         plt.Line2D([], [], color="k", ls=":"),
                         plt.Line2D([], [], color="k", marker="*", ls="")],
              names + ["g = 4 (balance)", r"$\nu_{ext} = \nu_{thr}$",
                       "paper's Fig. 8 states"],
              fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for ax, key, label in ((axes[1], "rate_hz", "rate (Hz, log10)"),
                           (axes[2], "chi", "synchrony chi")):
        im = ax.pcolormesh(ge, ee, grids[key], cmap="viridis")
        fig.colorbar(im, ax=ax, label=label)
        ax.set_xlabel("g")
        ax.set_title(label)
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse(argv)
    n_e = args.n_e or (2000 if args.quick else 10000)
    duration = args.duration_ms or (300.0 if args.quick else 500.0)
    experiment = BrunelExperiment(n_e=n_e, duration_ms=duration)
    os.makedirs(args.out, exist_ok=True)
    grid = points_of(args)
    where = {"scheduler": args.scheduler} if args.scheduler else {"workers": args.workers}
    with dask_client(**where) as client:  # the sweep's cluster (or the running one)
        res = sweep(experiment, grid, os.path.join(args.out, "sweep"), client=client)
    # the points' cost over every call on the folder (a resumed sweep keeps its first calls)
    records, ran = res.points, res.ran
    compiles = sum(c["compiles"] for c in res.calls)
    wall = sum(c["wall_s"] for c in res.calls)
    # one cell per (g, eta): the state most seeds reach, the statistics' means
    by_point = {}
    for r in records:
        by_point.setdefault((r["point"]["g"], r["point"]["eta"]), []).append(r)
    cells = []
    for (g, eta), rs in sorted(by_point.items()):
        ok = [r for r in rs if r["status"] == "ok"]
        regimes = [r["metrics"]["regime"] for r in ok]
        cell = {"g": g, "eta": eta, "seeds": len(rs), "errors": len(rs) - len(ok),
                "regimes": regimes,
                "regime": max(sorted(set(regimes)), key=regimes.count) if regimes else None}
        for key in ("rate_hz", "cv_isi", "chi", "peak_hz", "peak_power_ratio"):
            vals = [r["metrics"][key] for r in ok if r["metrics"].get(key) is not None]
            cell[key] = float(np.mean(vals)) if vals else None
        if cell["regime"] == "AI":
            try:
                cell["mean_field_rate_hz"] = mean_field_rate(g, eta, n_e)
            except ValueError:
                cell["mean_field_rate_hz"] = None
        cells.append(cell)
    paper = {}
    for name, (g, eta) in PAPER_STATES.items():
        cell = next((c for c in cells if c["g"] == g and c["eta"] == eta), None)
        if cell is not None:
            paper[name] = {"g": g, "eta": eta, "measured": cell["regime"],
                           "agrees": cell["regime"] == name}
    ai = [c for c in cells if c.get("mean_field_rate_hz")]
    metrics = {"n_e": n_e, "duration_ms": duration, "points": len(records), "ran_now": ran,
               "compiles": compiles, "sweep_wall_s": wall, "sweep_calls": res.calls,
               "cells": cells,
               "paper_points": paper,
               "paper_points_agree": sum(p["agrees"] for p in paper.values()),
               "ai_rate_vs_mean_field_max_rel": max(
                   (abs(c["rate_hz"] - c["mean_field_rate_hz"]) / c["mean_field_rate_hz"]
                    for c in ai), default=None)}
    write_json(os.path.join(args.out, "metrics.json"), metrics, indent=1)
    plot(records, os.path.join(args.out, "phase_diagram.png"),
         f"Brunel (2000) model A, N_E = {n_e}, {duration:.0f} ms per point: "
         f"{len(records)} points, {compiles} compiles, {wall:.0f} s")
    for c in cells:
        print(f"g={c['g']:<4} eta={c['eta']:<4} {c['regime'] or 'error':9s} "
              f"rate {c['rate_hz'] or 0:7.2f} Hz  CV {c['cv_isi'] or float('nan'):.2f}  "
              f"chi {c['chi'] or float('nan'):.3f}  peak {c['peak_hz'] or float('nan'):.0f} Hz")
    print(f"paper's Fig. 8 points reproduced: {metrics['paper_points_agree']} of {len(paper)}; "
          f"{compiles} compiles, sweep {wall:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
