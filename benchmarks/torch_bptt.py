"""PyTorch autograd BPTT of the brainkit recurrent theta network (benchmark peer).

Runs in the benchmark-only venv ``.venv-bench`` (Python 3.11, torch 2.13 CPU) as a subprocess
of ``benchmarks/bench_training.py``; prints one JSON line with the time and peak memory of
training steps (forward + backward).  The model is the discretised network brainkit simulates
(forward Euler with Brian2's ``euler`` state updater, every variable updated from the values
at the start of the step)::

    I_n      = W s_n + U x_n + I0
    F_n      = (1 - cos th_n) + (1 + cos th_n) I_n
    th_{n+1} = th_n + dt F_n / tau_v
    s_{n+1}  = s_n + dt (-s_n + g(th_n) F_n / tau_v) / tau_s
    o_n      = O s_n
    g(th)    = [|d| < D/2] (1 + cos(2 pi d / D)) / D,   d = th - 2 pi floor(th / 2 pi) - pi

with ``s`` in 1/second and ``W`` in seconds (so ``W s`` is dimensionless), loss = MSE of the
readout against a target (the same mean over all steps and channels as brainkit's ``mse``).  float32 by default (what a PyTorch user would run), ``--double``
for float64.
"""

import argparse
import json
import math
import sys
import time


def rss_mib(who=None):
    import resource as r
    ru = r.getrusage(r.RUSAGE_SELF if who is None else who)
    return ru.ru_maxrss / 1024.0  # Linux: KiB


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, required=True)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--n-in", type=int, default=2)
    p.add_argument("--n-out", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--double", action="store_true")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--data", default=None,
                   help="npz with U, W, O, I0, x, target and dt, tau_v, tau_s, width (written by "
                        "bench_training.py so both implementations run the same numbers)")
    a = p.parse_args(argv)

    import numpy as np
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    dtype = torch.float64 if a.double else torch.float32
    dt, tau_v, tau_s, width = 1e-3, 10e-3, 10e-3, 1.0
    N, B, T = a.n, a.batch, a.steps
    t = lambda v: torch.tensor(np.asarray(v), dtype=dtype)  # noqa: E731
    if a.data:
        d = np.load(a.data)
        dt, tau_v, tau_s, width = (float(d[k]) for k in ("dt", "tau_v", "tau_s", "width"))
        U, W, O, I0 = (t(d[k]).requires_grad_() for k in ("U", "W", "O", "I0"))
        x, target = t(d["x"]), t(d["target"])
        B, T = x.shape[0], x.shape[1]
        N = U.shape[0]
    else:  # same distributions as RecurrentSNN.init_params
        rng = np.random.default_rng(0)
        U = t(rng.normal(0, 1.0 / math.sqrt(a.n_in), (N, a.n_in))).requires_grad_()
        W = t(rng.normal(0, 0.02 / math.sqrt(N), (N, N))).requires_grad_()
        O = t(rng.normal(0, 0.05 / math.sqrt(N), (a.n_out, N))).requires_grad_()
        I0 = t(rng.uniform(-0.1, 0.6, N)).requires_grad_()
        x = t(rng.normal(0, 1, (B, T, a.n_in)))
        target = t(rng.normal(0, 1, (B, T, a.n_out)))
    base = rss_mib()

    def step():
        th = torch.full((B, N), -math.pi / 2, dtype=dtype)
        s = torch.zeros((B, N), dtype=dtype)
        xin = (x @ U.T).unbind(1)  # T views of (B, N): one stacked gradient, not T full-size ones
        outs = []
        for n in range(T):
            I = s @ W.T + xin[n] + I0
            cth = torch.cos(th)
            F = (1 - cth) + (1 + cth) * I
            d = th - 2 * math.pi * torch.floor(th / (2 * math.pi)) - math.pi
            g = (d.abs() < width / 2).to(dtype) * (1 + torch.cos(2 * math.pi * d / width)) / width
            outs.append(s @ O.T)
            s = s + dt * (-s + g * F / tau_v) / tau_s
            th = th + dt * F / tau_v
        o = torch.stack(outs, 1)
        loss = ((o - target) ** 2).mean()
        for P in (U, W, O, I0):
            P.grad = None
        loss.backward()
        return float(loss.detach())

    times = []
    for r in range(a.repeat + 1):  # the first one warms up
        t0 = time.perf_counter()
        loss = step()
        if r:
            times.append(time.perf_counter() - t0)
    print(json.dumps(dict(impl="torch", n=N, steps=T, batch=B, dtype=str(dtype),
                          threads=torch.get_num_threads(), seconds=sorted(times)[len(times) // 2], loss=loss,
                          times=times, peak_rss_mib=rss_mib(), base_rss_mib=base)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
