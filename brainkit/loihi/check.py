"""The exported network checked against its references, on the same inputs.

:func:`compare` runs one network spec (the file's spike/Poisson inputs, ``seed`` for Poisson
draws) in Brian2, Lava ``floating_pt``, Lava ``fixed_pt`` and brainkit's Loihi integer
reference (:mod:`brainkit.exporters.loihi_ref`):

* ``spike_mismatches``: Lava ``fixed_pt`` vs the Loihi reference, number of (step, neuron)
  pairs that differ;
* ``rate_correlation_float``: Pearson correlation of the per-neuron spike counts of Lava
  ``floating_pt`` and Brian2 (``spike_count_max_difference_float`` and
  ``spike_time_mismatches_float`` say how far from identical they are);
* ``rate_correlation_fixed``: the same between the fixed-point and the float network.

:func:`compare_task` does this for a task network (:class:`~brainkit.tasknet.TaskNetwork`)
on held-out trials of its task: a trained reset-free/gated network through its CUBA LIF
mapping (:func:`brainkit.loihi.mapping.to_cuba_lif`), and scores the readouts of every run.
This module sits above training (tasks, :class:`~brainkit.training.recurrent.RecurrentSNN`)
and the exporters; ``brainkit export --check`` and ``brainkit demo`` use it.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..exporters.cuba import to_cuba
from ..exporters.fixed_point import quantise_inputs, to_fixed
from ..exporters.inputs import input_values
from ..exporters.loihi_ref import simulate
from ..netfile import NetworkSpec
from ..network_spec import simulate_brian2
from ..tasknet import POPULATION, TaskNetwork
from ..training.tasks import Batch, get_task
from .mapping import lif_inputs, readout, tile, to_cuba_lif

#: trials run side by side in one simulation (block-diagonal copies of the network)
CHUNK = 32


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two count vectors (1 for two identical constant ones)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return 1.0 if np.array_equal(a, b) else float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def compare(spec, steps: int, seed: int = 0, values=None, backend: str = "runtime"):
    """Run Brian2, Lava float, Lava fixed and the Loihi reference on the same inputs.

    Returns ``(metrics, float network, fixed network, runs)``."""
    from .lava_env import run_lava_many

    inputs = input_values(spec, steps, seed=seed, values=values)
    cuba = to_cuba(spec)
    meta = spec.metadata if isinstance(spec.metadata, dict) else {}
    fixed = to_fixed(cuba, inputs, steps, population_scales=meta.get("fixed_point_scales"))
    ints = quantise_inputs(fixed, inputs)
    ref = simulate(fixed, ints, steps, on_overflow="raise")
    t0 = time.perf_counter()
    b2, b2res = simulate_brian2(spec, inputs, steps, backend=backend)
    b2_s = time.perf_counter() - t0
    lf, lx = run_lava_many([(cuba, inputs, steps), (fixed, ints, steps)])
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
            "rate_correlation_float": correlation(cb, cf),
            "spike_count_max_difference_float": int(np.max(np.abs(cb - cf), initial=0)),
            "spike_time_mismatches_float": int(np.sum(b2[p] != lf.spikes[p])),
            "rate_correlation_fixed": correlation(cf, cx),
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


def compare_task(net: TaskNetwork, trials: int = 32, chunk: int = CHUNK,
                 lif: Optional[TaskNetwork] = None):
    """For a task network (a trained reset-free/gated one, or a ``cuba_lif`` one such as the
    output of ``brainkit finetune``): run ``trials`` held-out trials of its task (the test
    seed stream of its seed) through :func:`compare`, ``chunk`` trials at a time side by side,
    and score the readouts.

    ``accuracy_brian2``: the network itself in Brian2 (for a trained gated network: the
    trained network, whose CUBA LIF mapping the other runs use); ``accuracy_lif_brian2``,
    ``accuracy_lava_float``, ``accuracy_lava_fixed``: the CUBA LIF network in Brian2, Lava
    floating_pt and Lava fixed_pt (for ``autoencode`` the score is the NMSE, named so).  A
    network fine-tuned on the chip's input grid (``input_grid``) gets its inputs on that grid
    in every run.  Spike counts and mismatches add up over the chunks; correlations are those
    of the worst chunk.  ``lif``: ``net``'s CUBA LIF mapping where the caller has it already
    (:func:`~brainkit.loihi.mapping.to_cuba_lif` fits it, which takes a second)."""
    task = get_task(net.task)
    batch = task.test_batch(net.seed, trials)
    lif = to_cuba_lif(net) if lif is None else lif
    mapped = lif is not net
    name = task.score_name
    keys = ("lif_brian2", "lava_float", "lava_fixed")
    readouts: Dict[str, list] = {k: [] for k in keys}
    counts_b2 = []
    metrics = None
    for a in range(0, trials, chunk):
        sub = _sub_batch(batch, a, min(a + chunk, trials))
        spec, z = task_inputs(lif, sub.x)
        m, cuba, fixed, runs = compare(spec, task.steps, seed=net.seed, values={"in": z})
        metrics = m if metrics is None else _merge(metrics, m)
        dt = float(m["dt_seconds"])
        for key, sp in (("lif_brian2", runs["brian2"][POPULATION]),
                        ("lava_float", runs["lava_float"].spikes[POPULATION]),
                        ("lava_fixed", runs["lava_fixed"].spikes[POPULATION])):
            readouts[key].append(readout(sp, lif.O, dt, lif.readout_tau_s, sub.x.shape[0]))
        counts_b2.append(runs["brian2"][POPULATION].sum(0))
    for key in keys:
        metrics[f"{name}_{key}"] = float(task.score(np.concatenate(readouts[key]), batch))
    lif_counts = np.concatenate(counts_b2)
    if mapped:
        score, _, trained_spikes = trained_score_brian2(net, task, batch)
        metrics[f"{name}_brian2"] = score
        metrics["mapping_cost"] = {
            f"rate_correlation_{net.neuron}_vs_lif": correlation(trained_spikes.sum(0),
                                                                 lif_counts),
            f"mean_spikes_per_neuron_trial_{net.neuron}": float(trained_spikes.sum(0).mean()),
            "mean_spikes_per_neuron_trial_lif": float(lif_counts.mean())}
        metrics["note"] = ("spikes_*, rate_correlation_* and spike_mismatches compare runs of "
                           "the CUBA LIF mapping (Brian2 = the mapped cuba_lif network); "
                           f"{name}_brian2 is the trained {net.neuron}/{net.synapse} network "
                           "itself")
    else:
        metrics[f"{name}_brian2"] = metrics[f"{name}_lif_brian2"]
        metrics["note"] = f"{name}_brian2: this cuba_lif network simulated by Brian2"
    metrics.update({"task": net.task, "trials": trials, "trial_steps": task.steps,
                    "chance": task.chance(), "score_in_file": net.metadata.get("score"),
                    "mapping": lif.metadata.get("mapping")})
    return metrics, cuba, fixed, runs


def task_inputs(lif: TaskNetwork, x: np.ndarray) -> Tuple[NetworkSpec, np.ndarray]:
    """The CUBA LIF task network ``lif`` as ``B`` copies side by side for the trials ``x``
    (B, steps, n_in), and the input generator's values for them (steps, B n_in): whitened
    (:func:`~brainkit.loihi.mapping.lif_inputs`) and, for a network tuned on the chip's
    input grid, on that grid."""
    z = lif_inputs(x, float(lif.neuron_params["d_u"]))
    if lif.input_grid:
        z = np.round(z * lif.input_grid) / lif.input_grid
    return tile(lif.to_spec(), x.shape[0]), z


def trained_score_brian2(net: TaskNetwork, task, batch: Batch
                         ) -> Tuple[float, np.ndarray, np.ndarray]:
    """Score of the trained (reset-free, gated) network itself, simulated by Brian2 (runtime)
    through :class:`~brainkit.training.recurrent.RecurrentSNN` on the trials ``batch``; also
    its readout and spikes as ``(steps, batch * n)`` (the layout of the mapped network)."""
    from brian2 import second

    from ..training.recurrent import RecurrentSNN

    B, T, _ = batch.x.shape
    N = net.n_hidden
    model = RecurrentSNN(net.n_in, N, net.n_out, T, batch=B, dt=net.dt * second,
                         neuron=net.neuron, synapse=net.synapse,
                         neuron_params=net.neuron_params, synapse_params=net.synapse_params,
                         backend="runtime")
    try:
        trace = model.forward({"U": net.U, "W": net.W, "O": net.O, "I0": net.bias}, batch.x)
    finally:
        model.close()
    spikes = np.zeros((T, B * N), bool)
    for b, (i, k) in enumerate(trace.spikes):
        spikes[np.asarray(k, int), b * N + np.asarray(i, int)] = True
    return float(task.score(trace.o, batch)), trace.o, spikes


def _sub_batch(batch, a: int, b: int):
    """Trials ``a .. b-1`` of a task batch."""
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
