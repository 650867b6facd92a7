"""``brainkit export NETWORK.h5 --to TARGET --out DIR [--check]`` and ``brainkit finetune``.

Export (targets: :data:`brainkit.exporters.TARGETS`) writes into DIR the target's file
(``lava_network.npz`` or ``network.nir``) and ``metrics.json`` (how the network was mapped),
each atomically, only once conversion and checks have passed, so a refused export leaves
nothing half-way.  A task network (``brainkit train``/``finetune``) is exported through its
CUBA LIF mapping (:func:`brainkit.loihi.mapping.to_cuba_lif`); to Lava as the first
``min(trials, 32)`` held-out trials side by side (the fixed-point scales fit their inputs),
to NIR as one copy.  ``--check`` also runs the network in Brian2, Lava float and Lava fixed
(:mod:`brainkit.loihi.check`) and adds spike mismatches, correlations and, for a task
network, the held-out scores.  Exit status 0, or 2 with a one-line reason on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, Optional

#: simulated steps of a network that is not a task network (its inputs' length)
DEFAULT_STEPS = 1000
#: held-out trials of a task network's check
DEFAULT_TRIALS = 32
#: what ``brainkit export`` writes into ``--out`` (besides the target's file)
EXPORT_OUTPUTS = ("metrics.json",)
#: what ``brainkit finetune`` writes into ``--out``
FINETUNE_OUTPUTS = ("network.h5", "metrics.json", "finetune.png")


def export_network(network, to: str, out, steps: Optional[int] = None,
                   trials: Optional[int] = None, check: bool = False) -> Dict[str, Any]:
    """Export the network file ``network`` to target ``to`` into folder ``out``; returns the
    metrics also written to ``out/metrics.json`` (see the module docstring)."""
    from ..exporters import TARGETS
    from ..exporters.cuba import ExportError
    from ..exporters.inputs import input_values
    from ..fileio import write_json
    from ..netfile import load_network
    from ..tasknet import TaskNetwork, is_task_network
    from ..training.tasks import get_task
    from .check import CHUNK, compare, compare_task, task_inputs
    from .mapping import to_cuba_lif

    if to not in TARGETS:
        raise ExportError(f"unknown target '{to}' (targets: {', '.join(TARGETS)})")
    target = TARGETS[to]
    steps = DEFAULT_STEPS if steps is None else int(steps)
    trials = DEFAULT_TRIALS if trials is None else int(trials)
    if steps < 1 or trials < 1:
        raise ExportError(f"--steps {steps}, --trials {trials}: each must be at least 1")
    spec = load_network(network)
    metrics: Dict[str, Any] = {"network": str(network), "to": to, "checked": bool(check)}
    inputs = None
    if is_task_network(spec):
        net = TaskNetwork.from_spec(spec, where=str(network))
        lif = to_cuba_lif(net)
        if lif is not net:
            metrics["exported_network"] = (f"the CUBA LIF mapping of the trained "
                                           f"{net.neuron}/{net.synapse} network")
        if target.trials_side_by_side:
            task = get_task(net.task)
            first = task.test_batch(net.seed, min(trials, CHUNK)).x
            spec, z = task_inputs(lif, first)
            inputs, steps = {"in": z}, task.steps
            metrics["trials_side_by_side"] = int(first.shape[0])
        else:
            spec = lif.to_spec()
        if check:
            metrics.update(compare_task(net, trials=trials, lif=lif)[0])
    else:
        seed = int(spec.metadata.get("seed", 0)) if isinstance(spec.metadata, dict) else 0
        if target.needs_inputs:
            inputs = input_values(spec, steps, seed=seed)
        if check:
            metrics.update(compare(spec, steps, seed=seed)[0])
    _, report = target.export(spec, out, inputs, steps)
    metrics.update(report)
    write_json(Path(out) / "metrics.json", metrics)
    return metrics


def export_main(args) -> int:
    """Entry point of ``brainkit export`` (``args`` from :mod:`brainkit.cli`)."""
    from ..exporters.cuba import ExportError
    from ..exporters.loihi_ref import LoihiOverflowError
    from ..netfile import NetworkFileError
    from ..training.tasks import TaskError

    try:
        m = export_network(args.network, args.to, args.out, steps=args.steps,
                           trials=args.trials, check=args.check)
    except (NetworkFileError, ExportError, LoihiOverflowError, TaskError) as exc:
        print(f"brainkit export: {exc}", file=sys.stderr)
        return 2
    line = f"exported {args.network} -> {args.out} ({args.to})"
    if args.check:
        line += (f": spike_mismatches = {m['spike_mismatches']}, rate_correlation_float = "
                 f"{m['rate_correlation_float']:.4f}")
    print(line)
    return 0


def finetune_main(args) -> int:
    """Entry point of ``brainkit finetune`` (``args`` from :mod:`brainkit.cli`)."""
    from ..exporters.cuba import ExportError
    from ..netfile import NetworkFileError
    from ..training.tasks import TaskError, get_task
    from .finetune import finetune_file

    if args.steps < 1 or args.trials < 1:
        print("brainkit finetune: --steps and --trials must be >= 1", file=sys.stderr)
        return 2
    if not args.lr > 0:
        print(f"brainkit finetune: --lr must be > 0, got {args.lr}", file=sys.stderr)
        return 2
    try:
        m = finetune_file(args.network, args.out, steps=args.steps, lr=args.lr,
                          trials=args.trials)
    except (NetworkFileError, ExportError, TaskError, FloatingPointError) as exc:
        print(f"brainkit finetune: {exc}", file=sys.stderr)
        return 2
    name = get_task(m["task"]).score_name
    print(f"finetuned {args.network} -> {args.out}/network.h5: {name} of the Loihi network "
          f"{m[f'{name}_hardware_before']:.3f} -> {m[f'{name}_hardware_after']:.3f} "
          f"({m['trials']} held-out trials, {m['steps']} steps in {m['seconds']:.1f} s)")
    return 0
