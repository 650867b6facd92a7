"""``brainkit export NETWORK.h5 --to lava|lava-fixed|nir --out DIR [--steps N]``.

Loads the network file, converts it (``CONVERTERS`` table of
:mod:`brainkit.exporters.cuba`), maps it to fixed point, and checks the export against the
references on the same inputs (the file's spike/Poisson inputs, ``--seed`` for Poisson draws):

* ``spike_mismatches``: Lava ``fixed_pt`` vs brainkit's Loihi integer reference
  (:mod:`brainkit.exporters.loihi_ref`), number of (step, neuron) pairs that differ;
* ``rate_correlation_float``: Pearson correlation of the per-neuron spike counts of Lava
  ``floating_pt`` and Brian2 (``spike_count_max_difference_float`` and
  ``spike_time_mismatches_float`` say how far from identical they are);
* ``rate_correlation_fixed``: the same between the fixed-point and the float network.

A trained theta/gated task network (``brainkit train``) is first approximated by CUBA LIF
neurons (:mod:`brainkit.exporters.gated`); the checks above then run on that mapping over 32
held-out trials of its task, and ``accuracy_brian2`` (the trained network itself, Brian2),
``accuracy_lif_brian2``, ``accuracy_lava_float`` and ``accuracy_lava_fixed`` score the readouts
(``nmse_*`` for ``autoencode``); ``--steps`` is then the task's trial length, not an option.

Writes into DIR (each file atomically, only once every check has passed, so a refused export
leaves nothing half-way): ``--to lava``: ``lava_network.npz`` (float registers);
``--to lava-fixed``: ``lava_network.npz`` (integer registers); ``--to nir``: ``network.nir``;
and always ``metrics.json``.  Exit status 0, or 2 with a one-line reason on stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np

from brainkit.fileio import write_json

DEFAULT_STEPS = 1000


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return 1.0 if np.array_equal(a, b) else float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def compare(spec, steps: int, seed: int = 0, values=None, backend: str = "runtime"):
    """Run Brian2, Lava float, Lava fixed and the Loihi reference on the same inputs.

    Returns ``(metrics, float network, fixed network, runs)``."""
    from .brian2_spec import input_values, simulate_brian2
    from .cuba import to_cuba
    from .fixed_point import quantise_inputs, to_fixed
    from .lava import run_lava
    from .loihi_ref import simulate

    inputs = input_values(spec, steps, seed=seed, values=values)
    cuba = to_cuba(spec)
    meta = spec.metadata if isinstance(spec.metadata, dict) else {}
    fixed = to_fixed(cuba, inputs, steps, population_scales=meta.get("fixed_point_scales"))
    ints = quantise_inputs(fixed, inputs)
    ref = simulate(fixed, ints, steps, on_overflow="raise")
    t0 = time.perf_counter()
    b2, b2res = simulate_brian2(spec, inputs, steps, backend=backend)
    b2_s = time.perf_counter() - t0
    lf = run_lava(cuba, inputs, steps)
    lx = run_lava(fixed, ints, steps)
    m: Dict[str, Any] = {"steps": steps, "dt_seconds": cuba.dt, "populations": {}}
    total_mis = 0
    for p in spec.populations:
        mis = int(np.sum(lx.spikes[p] != ref.spikes[p]))
        total_mis += mis
        cb, cf, cx = (b2[p].sum(0), lf.spikes[p].sum(0), lx.spikes[p].sum(0))
        m["populations"][p] = {
            "spike_mismatches": mis,
            "spikes_lava_fixed": int(cx.sum()), "spikes_reference": int(ref.spikes[p].sum()),
            "spikes_lava_float": int(cf.sum()), "spikes_brian2": int(cb.sum()),
            "rate_correlation_float": _corr(cb, cf),
            "spike_count_max_difference_float": int(np.max(np.abs(cb - cf), initial=0)),
            "spike_time_mismatches_float": int(np.sum(b2[p] != lf.spikes[p])),
            "rate_correlation_fixed": _corr(cf, cx),
            "final_state_equal_fixed": bool(np.array_equal(lx.u[p], ref.u[p])
                                            and np.array_equal(lx.v[p], ref.v[p])),
        }
    pops = m["populations"].values()
    m["spike_mismatches"] = total_mis
    m["rate_correlation_float"] = min(x["rate_correlation_float"] for x in pops)
    m["rate_correlation_fixed"] = min(x["rate_correlation_fixed"] for x in pops)
    m["spike_count_max_difference_float"] = max(x["spike_count_max_difference_float"]
                                                 for x in pops)
    m["timings_seconds"] = {"brian2": b2_s, "lava_float": lf.seconds, "lava_fixed": lx.seconds}
    m["fixed_point"] = fixed.report
    return m, cuba, fixed, {"brian2": b2, "lava_float": lf, "lava_fixed": lx, "reference": ref}


def compare_task(spec, trials: int = 32, chunk: int = 32):
    """For a task network (a trained theta/gated one, or a ``cuba_lif`` one such as the
    output of ``brainkit finetune``): run ``trials`` held-out trials of its task (the test
    seed stream of the file's seed) through :func:`compare`, ``chunk`` trials at a time side
    by side, and score the readouts.

    ``accuracy_brian2``: the network itself in Brian2 (for theta/gated: the trained network,
    whose CUBA LIF mapping (:func:`brainkit.exporters.gated.task_network`) the other runs
    use); ``accuracy_lif_brian2``, ``accuracy_lava_float``, ``accuracy_lava_fixed``: the CUBA
    LIF network in Brian2, Lava floating_pt and Lava fixed_pt (for ``autoencode`` the score is
    the NMSE, named so).  A network fine-tuned on the chip's input grid (metadata
    ``input_grid``, :mod:`brainkit.training.hardware`) gets its inputs on that grid in every
    run.  Spike counts and mismatches add up over the chunks; correlations are those of the
    worst chunk."""
    from brainkit.training.tasks import get_task

    from .cuba import ExportError
    from .gated import (_is_cuba_task, lif_inputs, readout, task_network,
                        theta_accuracy_brian2, tile)

    meta = spec.metadata if isinstance(spec.metadata, dict) else {}
    if "task" not in meta:
        raise ExportError("a task network needs metadata 'task' (xor or autoencode) to be "
                          "checked on its task")
    task = get_task(meta["task"])
    seed = int(meta.get("seed", 0))
    batch = task.test_batch(seed, trials)
    theta = not _is_cuba_task(spec)
    lif = task_network(spec)
    pop = next(iter(lif.populations))
    d_u = float(lif.populations[pop].parameters["d_u"])
    tau_s = float(lif.metadata["readout_tau_s"])
    grid = float(lif.metadata.get("input_grid", 0.0))
    O = np.asarray(next(iter(lif.readouts.values())).weights)
    name = task.score_name
    keys = ("lif_brian2", "lava_float", "lava_fixed")
    readouts: Dict[str, list] = {k: [] for k in keys}
    counts_b2 = []
    metrics = None
    for a in range(0, trials, chunk):
        sub = _sub_batch(batch, a, min(a + chunk, trials))
        n_b = sub.x.shape[0]
        z = lif_inputs(sub.x, d_u)
        if grid:  # a network tuned on the chip's input grid gets its inputs on it everywhere
            z = np.round(z * grid) / grid
        m, cuba, fixed, runs = compare(tile(lif, n_b), task.steps, seed=seed,
                                       values={"in": z})
        metrics = m if metrics is None else _merge(metrics, m)
        dt = float(m["dt_seconds"])
        for key, sp in (("lif_brian2", runs["brian2"][pop]),
                        ("lava_float", runs["lava_float"].spikes[pop]),
                        ("lava_fixed", runs["lava_fixed"].spikes[pop])):
            readouts[key].append(readout(sp, O, dt, tau_s, n_b))
        counts_b2.append(runs["brian2"][pop].sum(0))
    for key in keys:
        metrics[f"{name}_{key}"] = float(task.score(np.concatenate(readouts[key]), batch))
    lif_counts = np.concatenate(counts_b2)
    if theta:
        acc_theta, _, theta_spikes = theta_accuracy_brian2(spec, task, batch)
        metrics[f"{name}_brian2"] = acc_theta
        metrics["mapping_cost"] = {
            "rate_correlation_theta_vs_lif": _corr(theta_spikes.sum(0), lif_counts),
            "mean_spikes_per_neuron_trial_theta": float(theta_spikes.sum(0).mean()),
            "mean_spikes_per_neuron_trial_lif": float(lif_counts.mean())}
        metrics["note"] = ("spikes_*, rate_correlation_* and spike_mismatches compare runs of "
                           "the CUBA LIF mapping (Brian2 = the mapped cuba_lif network); "
                           f"{name}_brian2 is the trained theta/gated network itself")
    else:
        metrics[f"{name}_brian2"] = metrics[f"{name}_lif_brian2"]
        metrics["note"] = f"{name}_brian2: this cuba_lif network simulated by Brian2"
    metrics.update({"task": meta["task"], "trials": trials, "trial_steps": task.steps,
                    "chance": task.chance(), "score_in_file": meta.get("score"),
                    "mapping": lif.metadata.get("mapping")})
    return metrics, cuba, fixed, runs


def _sub_batch(batch, a: int, b: int):
    """Trials ``a .. b-1`` of a task batch."""
    from brainkit.training.tasks import Batch

    pick = lambda x: None if x is None else x[a:b]  # noqa: E731
    return Batch(x=batch.x[a:b], mask=batch.mask[a:b], target=pick(batch.target),
                 labels=pick(batch.labels), info={k: v[a:b] for k, v in batch.info.items()})


def _merge(m: Dict[str, Any], n: Dict[str, Any]) -> Dict[str, Any]:
    """Metrics of two chunks of trials: counts add up, correlations keep the worst."""
    for p, x in n["populations"].items():
        y = m["populations"][p]
        for k, v in x.items():
            if k.startswith("rate_correlation"):
                y[k] = min(y[k], v)
            elif k == "final_state_equal_fixed":
                y[k] = y[k] and v
            elif k == "spike_count_max_difference_float":
                y[k] = max(y[k], v)
            else:
                y[k] += v
    m["spike_mismatches"] += n["spike_mismatches"]
    for k in ("rate_correlation_float", "rate_correlation_fixed"):
        m[k] = min(m[k], n[k])
    m["spike_count_max_difference_float"] = max(m["spike_count_max_difference_float"],
                                                n["spike_count_max_difference_float"])
    for k, v in n["timings_seconds"].items():
        m["timings_seconds"][k] += v
    m["fixed_point_chunks"] = m.get("fixed_point_chunks", 1) + 1
    return m


def main(args) -> int:
    from brainkit.netfile import NetworkFileError, load_network

    from brainkit.training.tasks import TaskError

    from .cuba import ExportError, save_cuba
    from .gated import task_network
    from .loihi_ref import LoihiOverflowError
    from .nir import from_nir, to_nir, write_nir

    out = Path(args.out)
    steps = int(getattr(args, "steps", None) or DEFAULT_STEPS)
    try:
        if steps < 1:
            raise ExportError(f"--steps {steps}: run at least one step")
        spec = load_network(args.network)
        seed = int(spec.metadata.get("seed", 0)) if isinstance(spec.metadata, dict) else 0
        is_task = isinstance(spec.metadata, dict) and "task" in spec.metadata
        if is_task or any(p.model == "theta" for p in spec.populations.values()):
            metrics, cuba, fixed, _ = compare_task(spec, trials=int(getattr(args, "trials",
                                                                            None) or 32))
        else:
            metrics, cuba, fixed, _ = compare(spec, steps, seed=seed)
        metrics["network"] = str(args.network)
        metrics["to"] = args.to
        nir_spec = spec
        if args.to == "nir" and any(p.model == "theta" for p in spec.populations.values()):
            nir_spec = task_network(spec)
            metrics["nir_network"] = ("the CUBA LIF mapping of the theta/gated network (batch "
                                      "1); inputs pre-whitened as in brainkit.exporters.gated")
        if args.to == "nir":
            graph = to_nir(nir_spec)
            back = from_nir(graph)
            metrics["nir_nodes"] = {k: type(v).__name__ for k, v in graph.nodes.items()}
            metrics["nir_roundtrip_max_weight_error"] = max(
                (float(np.max(np.abs(back.connections[c].weights
                                     - nir_spec.connections[c].weights), initial=0))
                 for c in nir_spec.connections), default=0.0)
    except (NetworkFileError, ExportError, LoihiOverflowError, TaskError) as exc:
        print(f"brainkit export: {exc}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    if args.to == "lava":
        save_cuba(out / "lava_network.npz", cuba)
    elif args.to == "lava-fixed":
        save_cuba(out / "lava_network.npz", fixed)
    else:
        write_nir(out / "network.nir", nir_spec)
    write_json(out / "metrics.json", metrics)
    print(f"exported {args.network} -> {out} ({args.to}): spike_mismatches = "
          f"{metrics['spike_mismatches']}, rate_correlation_float = "
          f"{metrics['rate_correlation_float']:.4f}")
    return 0
