"""Benchmark: Dask scale-out on one machine, 1 worker against 2 (brainkit.sweep and
data-parallel training).

* Sweep: ``RateExperiment`` (``--n`` LIF neurons, Poisson input, ``--duration-ms`` per point)
  over a grid of input rates x seeds, on a ``LocalCluster`` of 1 and of 2 worker processes
  (one thread each); prints the wall time of the whole sweep (cluster start, one compile per
  worker, every point) and the compile count.  The build cache is off, so that every worker
  really compiles.
* Training: ``brainkit train xor --quick`` (batch 16) for ``--train-steps`` steps in one
  process and with ``--workers 2`` (8 trials each); prints the training loop's time (networks
  compiled before it in both) and the largest relative difference of the two loss
  trajectories.

* One training step of bench_training's problem (theta network, T = 2000, batch 16) at
  ``--step-n`` sizes, in one process and split over 2 workers (8 trials each).

Measured 2026-12-07 (2-core machine)::

    sweep, 16 points, N = 4000, 8 s each:  1 worker 92.6 s (1 compile), 2 workers 60.1 s
                                           (2 compiles): 1.54x, the same results
    one training step, N = 300:            2.41 s vs 1.75 s: 1.38x, the same loss bit for bit
    one training step, N = 1000:           11.80 s vs 7.37 s: 1.60x, the same loss
    xor --quick (N = 60, 0.12 s per step): 0.74x -- two Dask round trips per step cost
                                           more than half of such a small step saves
    loss trajectories of xor --quick: equal for 2 steps, then the rounding difference of the
    summed gradients (1e-15) grows ~100x per step (Adam's normalisation turns a relative
    difference in a tiny gradient entry into one of a full-size update): 0.3 after 30 steps

    python benchmarks/bench_sweep.py [--points 16] [--n 4000] [--duration-ms 8000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np


def sweep_wall(workers: int, grid, n: int, duration_ms: float, out: str):
    from brainkit.sweep import RateExperiment, sweep

    t0 = time.perf_counter()
    res = sweep(RateExperiment(n=n, n_in=n // 2, duration_ms=duration_ms), grid, out,
                workers=workers, progress=False)
    return time.perf_counter() - t0, res


def train_losses(out: str, steps: int, workers=None):
    """(losses, metrics) of ``xor --quick`` for ``steps`` steps; the single-process network is
    compiled before training starts (as the data-parallel workers' are), so ``seconds``
    counts training steps only."""
    from brainkit.training.cli import build_model, settings, train
    from brainkit.training.tasks import get_task
    from brainkit.training.trainer import load_checkpoint

    model = None
    if not workers:
        h = settings("xor", True, steps, False, "theta")
        model = build_model(get_task("xor"), h)
        model.build()
    try:
        m = train("xor", out, quick=True, steps=steps, model=model, workers=workers,
                  progress=False, plots=False)
    finally:
        if model is not None:
            model.close()
    return np.array(load_checkpoint(os.path.join(out, "checkpoint.npz")).losses), m


def step_times(n: int, steps: int, batch: int, repeats: int = 3):
    """Median seconds of one ``loss_and_grad`` of bench_training's problem (theta network,
    ``n`` neurons, ``steps`` steps of 1 ms, ``batch`` trials) in one process and split over a
    2-worker LocalCluster; and the relative difference of the two losses."""
    import functools

    from brainkit.sweep import dask_client
    from brainkit.training.losses import mse
    from brainkit.training.parallel import DataParallel

    rng = np.random.default_rng(0)
    t = np.arange(steps) * 1e-3
    x = np.sin(2 * np.pi * rng.uniform(2, 20, (batch, 1, 2)) * t[None, :, None])
    y = rng.normal(0, 1, (batch, steps, 2))
    make = functools.partial(_bench_model, n, steps)
    out = {}
    single = make(batch)
    single.build()
    with dask_client(2) as client:
        dp = DataParallel(make, batch, client)
        try:
            p = single.init_params(0)
            for name, model in (("1 process", single), ("2 workers", dp)):
                times, loss = [], None
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    loss, _, _ = model.loss_and_grad(p, x, lambda o: mse(o, y))
                    times.append(time.perf_counter() - t0)
                out[name] = (sorted(times)[len(times) // 2], loss)
        finally:
            dp.close()
            single.close()
    return out


def _bench_model(n, steps, batch):
    from brian2 import ms

    from brainkit.training.recurrent import RecurrentSNN

    return RecurrentSNN(2, n, 2, steps, batch=batch, dt=1 * ms,
                        neuron_params={"tau": 10 * ms, "gate_width": 1.0},
                        synapse_params={"tau_s": 10 * ms})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=16, help="grid points (rates x 4 seeds)")
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--duration-ms", type=float, default=8000.0)
    ap.add_argument("--train-steps", type=int, default=30)
    ap.add_argument("--step-n", type=int, nargs="*", default=[300, 1000],
                    help="network sizes of the one-step timing (bench_training's problem)")
    a = ap.parse_args(argv)
    os.environ["BRAINKIT_BUILD_CACHE"] = "off"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rates = list(np.linspace(5, 40, max(1, a.points // 4)).round(1))
    grid = {"rate_hz": rates, "seed": [1, 2, 3, 4]}
    print(f"sweep: {len(rates) * 4} points, N = {a.n}, {a.duration_ms:g} ms each; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    walls = {}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for w in (1, 2):
            wall, res = sweep_wall(w, grid, a.n, a.duration_ms, os.path.join(tmp, f"s{w}"))
            walls[w], results[w] = wall, res
            print(f"  {w} worker(s): {wall:7.1f} s, {res.compiles} compiles, "
                  f"{len(res.errors)} errors", flush=True)
        same = [r["metrics"] for r in results[1].points] == \
            [r["metrics"] for r in results[2].points]
        print(f"  speed-up {walls[1] / walls[2]:.2f}x; the same results on 1 and 2 workers: "
              f"{same}")
        print(f"training: xor --quick, {a.train_steps} steps")
        rows = {}
        for w in (None, 2):
            losses, m = train_losses(os.path.join(tmp, f"t{w}"), a.train_steps, w)
            rows[w] = (losses, m)
            print(f"  {'1 process' if w is None else f'{w} workers'}: {m['seconds']:.1f} s for "
                  f"{m['steps']} steps ({m['seconds_per_step']:.3f} s/step), train loss "
                  f"{m['train_loss']:.6f}", flush=True)
        for n in a.step_n:
            res = step_times(n, 2000, 16)
            (t1, l1), (t2, l2) = res["1 process"], res["2 workers"]
            print(f"  one step, N = {n}, T = 2000, batch 16: 1 process {t1:.2f} s, 2 workers "
                  f"{t2:.2f} s, speed-up {t1 / t2:.2f}x; losses equal: {l1 == l2}", flush=True)
        la, lb = rows[None][0], rows[2][0]
        print(f"  step speed-up {rows[None][1]['seconds'] / rows[2][1]['seconds']:.2f}x; "
              f"largest relative difference of the loss trajectories: "
              f"{np.max(np.abs(la - lb) / np.abs(la)):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
