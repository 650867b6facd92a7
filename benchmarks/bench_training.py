"""Benchmark: one training step (forward + exact backward), brainkit vs PyTorch autograd BPTT.

The network is the recurrent theta-neuron network with gated synapses of
:class:`brainkit.training.recurrent.RecurrentSNN` (2 input channels, 2 readouts), batch 16,
T = 2000 steps of dt = 1 ms, N = 100, 300, 1000 neurons; the loss is the MSE of the readout
against a smooth target.  Both implementations get the same parameters (``init_params(0)``)
and inputs, written to an ``.npz`` file by this driver:

* brainkit (``.venv``, Python 3.12): ``RecurrentSNN.loss_and_grad`` on ``cpp_standalone``
  (compiled once, the compile is not timed; the batch shares one weight table read by a C++
  function, and another records the states into a mapped file) + the adjoint as one
  numba-compiled loop generated from the sympy Jacobians (event-driven through ``W``),
  float64 IEEE; ``--threads 2``: the binary on Brian2's OpenMP, the backward loop's chunks
  of trials in parallel;
* PyTorch 2.13 CPU (``.venv-bench``, Python 3.11, a benchmark-only dependency:
  ``benchmarks/torch_bptt.py``) autograd through the same forward-Euler map, in float32 (what
  a PyTorch user runs) and in float64 (brainkit's precision).  The input projection ``U x`` is
  computed once for all steps and ``unbind`` into per-step views: indexing ``xin[:, n]``
  instead makes autograd build a full-size ``(B, T, N)`` zero gradient for every one of the T
  slices (measured: 53 s instead of 1.7 s per step at N = 300, almost all of it page faults).

Same model: over T = 300 steps (N = 100) brainkit's and torch's float64 losses agree to
5e-15 (relative); over T = 2000 the spiking network's chaos amplifies the different rounding
of the two (e.g. the phase wrap) to ~1e-3 in the loss, which the last column shows.

Measured 2026-12-07 (2-core machine, 1 thread each unless said, median of 3; this shared
machine's timings move by up to ~25 % between runs, so two runs are shown)::

        N | brainkit s  torch s    f64 s speed-up | brainkit MiB  torch MiB | binary/read/bwd %
      100 |      0.430    1.005    1.052    2.34x |          399        494 |          40/2/58
      300 |      1.186    1.515    2.150    1.28x |          706       1084 |          46/2/52
     1000 |      5.179    8.464   13.398    1.63x |         1860       3084 |          45/1/54
  an earlier run (the same but for the backward's weight-gradient history, then 8 steps per
  chunk): 0.392 / 1.342 / 6.493 s against torch 1.017 / 1.743 / 6.642 s (2.60x / 1.30x /
  1.02x).

  ``--threads 2`` (brainkit: Brian2's OpenMP in the binary, the backward loop's chunks of
  trials on two threads; the same numbers as one thread)::

      100 |      0.469    1.066    1.236    2.27x |          400        501 |          54/2/44
      300 |      0.783    1.722    1.971    2.20x |          708       1088 |          51/2/47
     1000 |      3.384    5.135    9.903    1.52x |         1865       3084 |          48/1/51

  before this change (the same machine, same day, one run each): 0.858 / 2.629 / 12.025 s
  (1.13x / 0.60x / 0.56x; 2 threads 0.844 / 2.464 / 11.857 s); the issue's original figures
  1.214 / 4.496 / 24.208 s (0.93x / 0.37x / 0.24x).

  ``--sizes 3000 --repeat 1`` (one run each): brainkit 47.1 s, torch float32 58.2 s, float64
  194.7 s (1.24x; before this change 68.2 s, 0.86x); peak memory brainkit 5653 MiB (+ 3339
  MiB in the simulation binary, which maps the same recording) vs torch 9095 MiB.

Where brainkit's time goes now (N = 1000, 1 thread, per step: zone fraction 8.75 %,
17.6 Hz): the binary ~2.7 s (Brian2's profile: state update 0.95 s -- 32 M neuron-steps of
IEEE scalar ``cos`` and the input's ``TimedArray`` lookups, ~30 ns each --, the shared-table
pathway 0.65 s (in-zone rows of ``W``, memory bound), the recording 0.3-0.6 s (3 x 256 MB
copied into a mapped file: fresh pages when the last two steps' traces are still held), the
zone test and the in-zone drive 0.2 s, storing ``I`` 0.1 s), reading the recordings 0.07 s
(the mapping), the backward loop ~2.8 s (scalar ``sincos`` of every neuron-step ~0.7 s, the
in-zone dot products ~0.7 s, the weight gradient ~0.4 s, the rest per-neuron arithmetic).
The floor of this design: per-neuron float64 IEEE arithmetic in scalar code (Brian2's
generated loops do not vectorise: ``gcc -fopt-info-vec`` reports the state updater's loop
as not vectorised) against PyTorch's vectorised float32 (``cos`` 8 lanes per instruction).
Measured per element on this machine: scalar IEEE ``cos`` 13.5 ns in double, 3.6 ns in float;
vectorised (``-ffast-math``) 2.1 / 1.4 ns.  A float32 training mode would cut the scalar
``cos`` ~3.7x and halve the recording and the memory traffic of ``W`` (an estimated 1.3-1.5x
per step) at the price of exact gradients (the gradient check needs float64); not built.

Each implementation runs in a fresh subprocess per N (so peak memory is its own), with the same
number of threads (``--threads``, default 1), a warm-up step, then the median of ``--repeat``
timed steps; the table also shows how far the two losses of the same step agree (the check that
both compute the same model).  Peak memory is the peak resident set size
of the process (for brainkit the Python process, which holds the recorded states and runs the
adjoint; the compiled simulation runs as a child process whose ``ru_maxrss`` is shown apart: it
is polluted by the forked parent's pages, so it is an upper bound of the binary's own peak).  Usage (what ``make bench`` runs)::

    /root/.pyenv/versions/3.11.7/bin/python3.11 -m venv .venv-bench
    .venv-bench/bin/pip install torch==2.13.0 numpy
    .venv/bin/python benchmarks/bench_training.py [--sizes 100 300 1000] [--repeat 3]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DT, TAU_V, TAU_S, WIDTH = 1e-3, 10e-3, 10e-3, 1.0


def make_data(path, n, steps, batch, seed=0):
    """Parameters (``RecurrentSNN.init_params(seed)`` distributions) and smooth inputs."""
    sys.path.insert(0, str(ROOT))
    from brainkit.training.tasks import smooth_signal

    rng = np.random.default_rng(seed)
    p = {"U": rng.normal(0.0, 1.0 / np.sqrt(2), (n, 2)),
         "W": rng.normal(0.0, 0.02 / np.sqrt(n), (n, n)),
         "O": rng.normal(0.0, 0.05 / np.sqrt(n), (2, n)),
         "I0": rng.uniform(-0.1, 0.6, n)}
    x = smooth_signal(rng, batch, steps, 2, 20.0)
    np.savez(path, x=x, target=x, dt=DT, tau_v=TAU_V, tau_s=TAU_S, width=WIDTH, **p)


def worker_brainkit(data, repeat):
    """Run in .venv: time loss_and_grad of RecurrentSNN on the data file; print JSON."""
    from brian2 import ms

    from brainkit.training.losses import mse
    from brainkit.training.recurrent import RecurrentSNN

    d = np.load(data)
    x, target = d["x"], d["target"]
    B, T, _ = x.shape
    params = {k: d[k] for k in ("U", "W", "O", "I0")}
    N = params["W"].shape[0]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    m = RecurrentSNN(2, N, 2, T, batch=B, dt=DT * 1000 * ms,
                     neuron_params={"tau": TAU_V * 1000 * ms, "gate_width": WIDTH},
                     synapse_params={"tau_s": TAU_S * 1000 * ms})
    loss_fn = lambda o: mse(o, target)  # noqa: E731
    loss, _, tr = m.loss_and_grad(params, x, loss_fn)  # compiles, warms up
    first = time.perf_counter() - t0
    times, parts = [], []
    for _ in range(repeat):
        t1 = time.perf_counter()
        loss, g, tr = m.loss_and_grad(params, x, loss_fn)
        times.append(time.perf_counter() - t1)
        parts.append(dict(tr.timings, backward=m.last_backward.get("backward_s")))
    zone = float(np.mean(m.last_backward.get("zone_fraction", np.nan))) \
        if "zone_fraction" in m.last_backward else None
    spikes = sum(len(i) for i, _ in tr.spikes)
    m.close()
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(dict(impl="brainkit", n=N, steps=T, batch=B, dtype="float64",
                          seconds=sorted(times)[len(times) // 2], times=times, parts=parts,
                          first_call_s=first, loss=float(loss), zone_fraction=zone,
                          rate_hz=spikes / (B * N * T * DT),
                          peak_rss_mib=self_peak, self_peak_mib=self_peak,
                          child_peak_mib=child_peak, base_rss_mib=base)))


def _shares(parts):
    """'a/b/c': the median step's percentages of time in the simulation binary (forward,
    recording included), reading the recordings, and the backward pass."""
    p = sorted(parts, key=lambda q: q["run"] + q["collect"] + q["backward"])[len(parts) // 2]
    total = p["run"] + p["collect"] + p["backward"]
    return "/".join(f"{100 * p[k] / total:.0f}" for k in ("run", "collect", "backward"))


def run_json(cmd, timeout, env=None):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout).strip().splitlines()[-1:], "wall": time.perf_counter() - t0}
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("{")][-1]
    return json.loads(line)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bench-python", default=str(ROOT / ".venv-bench" / "bin" / "python"))
    ap.add_argument("--out", default=str(ROOT / "out" / "bench_training.json"))
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--threads", type=int, default=1,
                    help="threads for both (torch.set_num_threads; brainkit through "
                         "$OMP_NUM_THREADS: the binary's OpenMP threads, the backward loop's, "
                         "numpy's BLAS); 1 by default: on a shared 2-core machine torch's 2 "
                         "spinning threads slow it down many times over")
    ap.add_argument("--worker", choices=["brainkit"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker_brainkit(a.data, a.repeat)
        return 0
    if not Path(a.bench_python).exists():
        print(f"PyTorch venv not found at {a.bench_python}: create it with\n"
              "  /root/.pyenv/versions/3.11.7/bin/python3.11 -m venv .venv-bench && "
              ".venv-bench/bin/pip install torch==2.13.0 numpy", file=sys.stderr)
        return 2
    rows = []
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), OPENBLAS_NUM_THREADS=str(a.threads),
               MKL_NUM_THREADS=str(a.threads))
    print(f"one training step (forward + backward), batch {a.batch}, T = {a.steps}, "
          f"dt = {DT * 1e3:g} ms, {a.threads} thread(s) each on {os.cpu_count()} CPUs; "
          f"median of {a.repeat}; load average {os.getloadavg()[0]:.1f}")
    hdr = (f"{'N':>5} | {'brainkit s':>10} {'torch s':>8} {'f64 s':>8} {'speed-up':>8} | "
           f"{'brainkit MiB':>12} {'(child)':>8} {'torch MiB':>9} {'mem ratio':>9} | {'zone %':>6} {'Hz':>5} "
           f"{'loss rel.diff':>13} | {'binary/read/bwd %':>17}")
    print(hdr)
    print("-" * len(hdr))
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.sizes:
            data = os.path.join(tmp, f"data_{n}.npz")
            make_data(data, n, a.steps, a.batch)
            bk = run_json([sys.executable, str(HERE / "bench_training.py"), "--worker",
                           "brainkit", "--data", data, "--repeat", str(a.repeat)], a.timeout, env)
            torch_cmd = [a.bench_python, str(HERE / "torch_bptt.py"), "--n", str(n),
                         "--data", data, "--repeat", str(a.repeat), "--threads", str(a.threads)]
            pt = run_json(torch_cmd, a.timeout, env)
            pt64 = run_json(torch_cmd + ["--double"], a.timeout, env)
            rows.append(dict(n=n, brainkit=bk, torch=pt, torch_float64=pt64))
            if "error" in bk or "error" in pt or "error" in pt64:
                print(f"{n:>5} | error: brainkit {bk.get('error')} torch {pt.get('error')} "
                      f"torch float64 {pt64.get('error')}")
                continue
            zone = bk.get("zone_fraction")
            print(f"{n:>5} | {bk['seconds']:>10.3f} {pt['seconds']:>8.3f} {pt64['seconds']:>8.3f} "
                  f"{pt['seconds'] / bk['seconds']:>7.2f}x | {bk['self_peak_mib']:>12.0f} "
                  f"{bk['child_peak_mib']:>8.0f} "
                  f"{pt['peak_rss_mib']:>9.0f} {pt['peak_rss_mib'] / bk['self_peak_mib']:>8.2f}x | "
                  f"{'' if zone is None else f'{100 * zone:6.2f}':>6} {bk['rate_hz']:>5.1f} "
                  f"{abs(pt['loss'] - bk['loss']) / abs(bk['loss']):>13.1e} | "
                  f"{_shares(bk['parts']):>17}", flush=True)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    tmpf = a.out + ".tmp"
    with open(tmpf, "w") as f:
        json.dump(rows, f, indent=1)
    os.replace(tmpf, a.out)
    print(f"torch s: float32 (what a PyTorch user runs), f64 s: torch in float64 like brainkit; "
          f"speed-up = torch float32 time / brainkit time; mem ratio = torch peak RSS / brainkit "
          f"Python peak RSS (child: the simulation binary, an upper bound); loss rel.diff: torch float32 vs brainkit "
          f"float64 loss of the same step (same model, same numbers).  Details: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
