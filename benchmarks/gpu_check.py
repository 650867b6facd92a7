"""GPU check: the same networks on ``cuda_standalone`` (brian2cuda) and ``cpp_standalone``.

Runs, in one process, for each case on both backends: generate, compile (timed), run (timed,
where a GPU exists), and compares what the two simulated:

* ``cuba``, ``coba``: the Brette et al. (2007) benchmark networks of ``bench_networks.py``
  (same connectivity, drawn with numpy, and the same initial values, so neither backend draws
  random numbers): total spike counts, mean rates, and how long the two spike trains stay
  identical (the networks are chaotic, so float rounding that differs between the GPU's and
  the CPU's arithmetic makes them drift apart after a while; the rates must still agree);
* ``training``: one forward pass of :class:`brainkit.training.recurrent.RecurrentSNN` (theta
  neurons, gated synapses, batch of trials) with the same parameters and inputs: the largest
  difference of the readouts ``o`` relative to their range, and identical spikes.

Per case it prints a table row and writes everything to ``--out``/gpu_check.json: the
machine (GPUs from ``nvidia-smi``, the CUDA toolkit, the compute capability built for),
compile and run times of both backends, the simulation time each binary measured itself, the
spike counts and the comparison.

Exit status: 0 when a GPU ran every case and each agreed within its tolerance; 1 when a case
failed (an error, or results that disagree); 3 when the machine has no GPU (``no GPU:
compiled only``: the cuda_standalone projects were generated and compiled, the cpp_standalone
ones ran), unless ``--allow-no-gpu``, which makes that 0.  Usage::

    python benchmarks/gpu_check.py --out out/gpu_check
    python benchmarks/gpu_check.py --sizes 4000 32000 --duration-ms 1000 --out out/gpu_check
    python benchmarks/gpu_check.py --cases training --allow-no-gpu --out out/gpu_check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_networks as bn  # noqa: E402  (same directory: the networks' definition)

BACKENDS = ("cpp_standalone", "cuda_standalone")
CASES = ("cuba", "coba", "training")
RATE_TOL = 0.10  # relative difference of the mean rates the two backends may show
O_TOL = 1e-3  # training: largest |o_cuda - o_cpp| relative to the range of o_cpp
EXIT_NO_GPU = 3


def benchmark_network(model, n, backend, seed=1, dt_ms=0.1, build_dir=None):
    """The ``cuba``/``coba`` network of ``bench_networks.py`` (one population ``P``, the first
    80 % excitatory; connections ``exc`` and ``inh`` with one shared weight each; the
    benchmark's initial values compiled in) on ``backend``."""
    from brian2 import mV, ms, nS, pA

    import brainkit as bk

    n_e, n_i, conn = bn.connectivity(n, seed)
    init = bn.initial_values(model, n, seed)
    net = bk.Network(dt=dt_ms * ms, backend=backend, build_dir=build_dir, seed=seed,
                     name=f"gpucheck-{model}-{n}")
    net.population("P", "lif", n, params={
        "tau_m": 20 * ms, "V_th": -50 * mV, "V_r": -60 * mV, "t_ref": 5 * ms,
        "E_L": (-49 if model == "cuba" else -60) * mV}, external_current=False)
    i_e = np.concatenate([conn["EE"][0], conn["EI"][0]])
    j_e = np.concatenate([conn["EE"][1], conn["EI"][1] + n_e])
    i_i = np.concatenate([conn["IE"][0], conn["II"][0]]) + n_e
    j_i = np.concatenate([conn["IE"][1], conn["II"][1] + n_e])
    s = bn.weight_scale(n)
    for name, i, j, exc in (("exc", i_e, j_e, True), ("inh", i_i, j_i, False)):
        tau = (5 if exc else 10) * ms
        if model == "cuba":  # PSP / R with R = 100 Mohm
            net.connect("P", "P", "exp_current", i=i, j=j, name=name, shared_weight=True,
                        weights=s * (16.2 if exc else -90.0) * pA, params={"tau_syn": tau})
        else:
            net.connect("P", "P", "exp_conductance", i=i, j=j, name=name, shared_weight=True,
                        weights=s * (6 if exc else 67) * nS,
                        params={"tau_syn": tau, "E_rev": (0 if exc else -80) * mV})
    net.record("P", "spikes")
    vals = {"v": init["v"] * mV}
    if model == "coba":
        vals[f"g_syn{net.connections['exc'].suffix}"] = init["ge"] * nS
        vals[f"g_syn{net.connections['inh'].suffix}"] = init["gi"] * nS
    net.populations["P"].init.update(vals)
    return net


def training_network(n, batch, steps, backend, build_dir=None):
    """A :class:`RecurrentSNN` (2 inputs, ``n`` theta neurons, 2 readouts) with
    ``init_params(0)`` and smooth random inputs (seed 1)."""
    from brainkit.training.recurrent import RecurrentSNN

    net = RecurrentSNN(2, n, 2, steps, batch=batch, backend=backend, build_dir=build_dir)
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.normal(0, 0.05, (batch, steps, 2)), axis=1)
    return net, net.init_params(0), x


def first_divergence_ms(a, b):
    """The time (ms) of the first spike in which two spike trains ``(i, t_ms)`` differ (both
    sorted by time, then index), or None if they are identical."""
    ka = sorted(zip(np.round(a[1], 6), a[0]))
    kb = sorted(zip(np.round(b[1], 6), b[0]))
    for x, y in zip(ka, kb):
        if x != y:
            return float(min(x[0], y[0]))
    if len(ka) != len(kb):
        longer = ka if len(ka) > len(kb) else kb
        return float(longer[min(len(ka), len(kb))][0])
    return None


def run_network_case(model, n, duration_ms, backend, root, gpu):
    """Compile (and run where possible) one benchmark network; a dict of what happened."""
    from brian2 import ms

    net = benchmark_network(model, n, backend, build_dir=os.path.join(root, f"{model}-{n}-"
                                                                              f"{backend}"))
    out = {"backend": backend}
    t0 = time.perf_counter()
    net.build(duration_ms * ms)
    out["compile_s"] = time.perf_counter() - t0
    out["binary"] = os.path.exists(os.path.join(net.engine.project_dir, "main"))
    if backend == "cuda_standalone" and not gpu:
        out["ran"] = False
        return out, None
    res = net.run(duration_ms * ms)
    out.update(ran=True, run_s=net.timings["run"],
               binary_s=float(getattr(net.engine.device, "_last_run_time", float("nan"))))
    i, t = res.spikes["P"]
    spikes = (np.asarray(i), np.asarray(t / ms))
    out["spikes"] = int(len(spikes[0]))
    out["rate_hz"] = out["spikes"] / n / (duration_ms / 1000.0)
    net.close()
    return out, spikes


def run_training_case(n, batch, steps, backend, root, gpu):
    net, params, x = training_network(n, batch, steps, backend,
                                      build_dir=os.path.join(root, f"training-{n}-{backend}"))
    out = {"backend": backend}
    t0 = time.perf_counter()
    engine = net.build()
    out["compile_s"] = time.perf_counter() - t0
    out["binary"] = os.path.exists(os.path.join(engine.project_dir, "main"))
    if backend == "cuda_standalone" and not gpu:
        out["ran"] = False
        return out, None
    t0 = time.perf_counter()
    tr = net.forward(params, x)
    out.update(ran=True, forward_s=time.perf_counter() - t0, run_s=tr.timings["run"],
               collect_s=tr.timings["collect"],
               binary_s=float(getattr(engine.device, "_last_run_time", float("nan"))))
    out["spikes"] = int(sum(len(s[0]) for s in tr.spikes))
    net.close()
    return out, tr


def compare_networks(a, b):
    """cpp (a) against cuda (b) spike trains: counts, rates, time of the first difference."""
    na, nb = len(a[0]), len(b[0])
    div = first_divergence_ms(a, b)
    rel = abs(nb - na) / max(na, 1)
    return {"spikes_cpp": na, "spikes_cuda": nb, "count_rel_diff": rel,
            "identical": div is None, "identical_until_ms": div,
            "ok": bool(rel <= RATE_TOL and na > 0)}


def compare_training(a, b):
    scale = float(np.ptp(a.o)) or 1.0
    err = float(np.max(np.abs(a.o - b.o))) / scale
    same_spikes = all(np.array_equal(sa[0], sb[0]) and np.array_equal(sa[1], sb[1])
                      for sa, sb in zip(a.spikes, b.spikes))
    return {"o_max_rel_diff": err, "identical_spikes": bool(same_spikes),
            "ok": bool(err <= O_TOL)}


def environment():
    """The machine: GPUs, the CUDA toolkit and what a cuda_standalone build targets."""
    from brainkit import backends, engine

    env = {"python": platform.python_version(), "machine": platform.node(),
           "cpus": os.cpu_count()}
    try:
        import brian2
        import brian2cuda

        env.update(brian2=brian2.__version__, brian2cuda=brian2cuda.__version__)
    except ImportError as exc:
        env["brian2cuda"] = f"not importable: {exc}"
    env["gpus"] = backends.cuda_gpus()
    try:
        cuda = backends.find_cuda()
        env.update(nvcc=cuda.nvcc, cuda_root=cuda.root, cuda_version=cuda.version,
                   curand=cuda.curand_lib,
                   compute_capability=os.environ.get(engine.CUDA_CC_ENV) or (
                       "the GPU's (brian2cuda detects it)" if env["gpus"]
                       else cuda.default_compute_capability))
    except backends.BackendNotAvailable as exc:
        env["cuda_error"] = str(exc)
    return env


def _fmt(v, spec):
    if isinstance(v, (int, float)) and v == v:
        return format(v, spec)
    return "-".rjust(int(spec.split(".")[0]))


def print_row(name, results, comparison):
    cpp, cuda = results.get("cpp_standalone", {}), results.get("cuda_standalone", {})
    cmp_txt = "-"
    if comparison:
        if "count_rel_diff" in comparison:
            until = comparison["identical_until_ms"]
            cmp_txt = (f"counts {comparison['spikes_cpp']}/{comparison['spikes_cuda']} "
                       f"({100 * comparison['count_rel_diff']:.1f}%), identical "
                       + ("throughout" if until is None else f"until {until:.1f} ms"))
        else:
            cmp_txt = (f"o rel diff {comparison['o_max_rel_diff']:.2e}, spikes "
                       + ("identical" if comparison["identical_spikes"] else "differ"))
        cmp_txt += "  OK" if comparison["ok"] else "  MISMATCH"
    elif cuda.get("error") or cpp.get("error"):
        cmp_txt = "ERROR: " + (cuda.get("error") or cpp.get("error")).splitlines()[-1][:80]
    elif cuda and not cuda.get("ran"):
        cmp_txt = "no GPU: compiled only" if cuda.get("binary") else "not compiled"
    print(f"{name:<16} | {_fmt(cpp.get('compile_s'), '8.1f')} {_fmt(cuda.get('compile_s'), '8.1f')}"
          f" | {_fmt(cpp.get('run_s'), '8.3f')} {_fmt(cuda.get('run_s'), '8.3f')}"
          f" | {_fmt(cpp.get('binary_s'), '8.3f')} {_fmt(cuda.get('binary_s'), '8.3f')} | {cmp_txt}",
          flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/gpu_check", help="folder for gpu_check.json")
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    ap.add_argument("--sizes", nargs="+", type=int, default=[4000],
                    help="network sizes of cuba/coba (4000: the papers' network)")
    ap.add_argument("--duration-ms", type=float, default=1000.0)
    ap.add_argument("--train-n", type=int, default=100, help="training network: neurons")
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--train-steps", type=int, default=500)
    ap.add_argument("--build-root", default=None,
                    help="folder for the generated projects (default: a temporary one, deleted)")
    ap.add_argument("--allow-no-gpu", action="store_true",
                    help="exit 0 on a machine without a GPU (compiled only)")
    args = ap.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    env = environment()
    gpu = bool(env["gpus"])
    print("brainkit GPU check: cuda_standalone (brian2cuda) against cpp_standalone")
    for k, v in env.items():
        print(f"  {k}: {v}")
    if not gpu:
        print("  no GPU on this machine: the cuda_standalone projects are generated and "
              "compiled, not run")
    root = args.build_root or tempfile.mkdtemp(prefix="brainkit-gpucheck-")
    report = {"environment": env, "args": vars(args), "cases": {},
              "tolerances": {"rate_rel": RATE_TOL, "o_rel": O_TOL}}
    print(f"\n{'case':<16} | {'compile s':^17} | {'run wall s':^17} | {'binary sim s':^17} |"
          " cpp vs cuda")
    print(f"{'':<16} | {'cpp':>8} {'cuda':>8} | {'cpp':>8} {'cuda':>8} | {'cpp':>8} {'cuda':>8} |")
    jobs = [(m, n) for m in ("cuba", "coba") if m in args.cases for n in args.sizes]
    if "training" in args.cases:
        jobs.append(("training", args.train_n))
    failed = False
    for model, n in jobs:
        name = f"{model}-{n}"
        results, outputs = {}, {}
        for backend in BACKENDS:
            try:
                if model == "training":
                    results[backend], outputs[backend] = run_training_case(
                        n, args.train_batch, args.train_steps, backend, root, gpu)
                else:
                    results[backend], outputs[backend] = run_network_case(
                        model, n, args.duration_ms, backend, root, gpu)
            except Exception as exc:  # keep going: report every case
                results[backend] = {"backend": backend, "error": traceback.format_exc(),
                                    "error_type": type(exc).__name__}
                outputs[backend] = None
                failed = True
        comparison = None
        if outputs.get("cpp_standalone") is not None and outputs.get("cuda_standalone") is not None:
            comparison = (compare_training if model == "training" else compare_networks)(
                outputs["cpp_standalone"], outputs["cuda_standalone"])
            failed |= not comparison["ok"]
        if not results["cuda_standalone"].get("error") and not results["cuda_standalone"].get(
                "binary"):
            failed = True
        report["cases"][name] = {"results": results, "comparison": comparison}
        print_row(name, results, comparison)
        with open(os.path.join(args.out, "gpu_check.json"), "w") as f:
            json.dump(report, f, indent=2, default=str)
    report["gpu"] = gpu
    report["status"] = "failed" if failed else ("ok" if gpu else "no GPU: compiled only")
    with open(os.path.join(args.out, "gpu_check.json"), "w") as f:
        json.dump(report, f, indent=2, default=str)
    if not args.build_root:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{report['status']} (written {os.path.join(args.out, 'gpu_check.json')})")
    if failed:
        return 1
    if not gpu:
        return 0 if args.allow_no_gpu else EXIT_NO_GPU
    return 0


if __name__ == "__main__":
    sys.exit(main())
