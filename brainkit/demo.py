"""``brainkit demo`` (what ``make demo`` runs): train a spiking network by exact gradients and
run it on Loihi's fixed-point arithmetic (Lava).

1. Trains the delayed-memory XOR task (:class:`brainkit.training.tasks.DelayedXOR`) on a
   recurrent theta-neuron network with gated synapses, by the exact discrete adjoint of its
   Brian2 simulation (``<out>/xor``: ``metrics.json``, ``network.h5``, plots).
2. Maps it to Lava's CUBA LIF (:mod:`brainkit.loihi.mapping`) and exports that mapping
   (``<out>/xor_lava_mapped``), then fine-tunes the CUBA LIF network with quantisation in the
   loop (:mod:`brainkit.loihi.finetune`, ``<out>/xor_loihi``) and exports it
   (``<out>/xor_lava``: ``lava_network.npz`` with the chip's integer registers,
   ``metrics.json``).
3. Prints the accuracy table: Brian2, Lava floating_pt, Lava fixed_pt, on the same held-out
   trials.

Quick settings by default (about 3 minutes on 2 idle cores: the training about 120 s, the
Loihi part about 70 s); ``--full`` uses the full ones.  An
``--out`` holding an earlier demo's results is refused unless ``--overwrite`` (which replaces
them).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

#: held-out trials of the Loihi table; fine-tuning steps (quick, full)
TABLE_TRIALS = 128
FINETUNE_STEPS = {"quick": 600, "full": 1500}
#: what the demo writes into its ``--out`` folder
OUTPUTS = ("xor", "xor_lava_mapped", "xor_loihi", "xor_lava")


def main(args) -> int:
    from .exporters.cuba import ExportError
    from .exporters.loihi_ref import LoihiOverflowError
    from .loihi.cli import export_network
    from .loihi.finetune import finetune_file
    from .training.cli import TrainingInterrupted, train
    from .training.trainer import TrainingDiverged

    out = Path(args.out)
    full = bool(getattr(args, "full", False))
    kind = "full" if full else "quick"
    print(f"brainkit demo: training delayed-memory XOR ({kind} settings) -> {out / 'xor'}")
    t0 = time.perf_counter()
    try:
        m = train("xor", out / "xor", quick=not full, seed=0)
    except TrainingDiverged as e:
        print(f"brainkit demo: {e}", file=sys.stderr)
        return 1
    except TrainingInterrupted as e:  # the demo has no --resume: no checkpoint to speak of
        raise KeyboardInterrupt(f"interrupted at step {e.step} of {e.total} of the XOR "
                                f"training") from None
    s = m["settings"]
    print(f"  network: {s['n_hidden']} theta neurons, gated synapses (tau_s = "
          f"{s['tau_s'] * 1e3:g} ms, gate width {s['gate_width']:g} rad), dt = {s['dt'] * 1e3:g} ms")
    print(f"  training: {m['steps']} Adam steps of {s['batch']} trials in {m['seconds']:.1f} s "
          f"({m['seconds_per_step']:.2f} s/step), final loss {m['train_loss']:.4f} "
          f"(first {m['train_loss_first']:.4f})")
    print(f"  held-out accuracy: {m['test_accuracy']:.3f} on {m['test_trials']} trials "
          f"(chance {m['chance']:.2f})")

    net = out / "xor" / "network.h5"
    print(f"brainkit demo: the trained network on Loihi (Lava), {TABLE_TRIALS} held-out trials")
    try:
        before = export_network(net, "lava-fixed", out / "xor_lava_mapped",
                                trials=TABLE_TRIALS, check=True)
        print(f"  fine-tuning the CUBA LIF network with quantisation in the loop "
              f"({FINETUNE_STEPS[kind]} steps)")
        finetune_file(net, out / "xor_loihi", steps=FINETUNE_STEPS[kind])
        after = export_network(out / "xor_loihi" / "network.h5", "lava-fixed",
                               out / "xor_lava", trials=TABLE_TRIALS, check=True)
    except (ExportError, LoihiOverflowError, FloatingPointError) as e:
        print(f"brainkit demo: {e}", file=sys.stderr)
        return 2
    rows = [("trained theta/gated network", before["accuracy_brian2"], None, None),
            ("mapped to CUBA LIF", before["accuracy_lif_brian2"],
             before["accuracy_lava_float"], before["accuracy_lava_fixed"]),
            ("fine-tuned CUBA LIF", after["accuracy_lif_brian2"],
             after["accuracy_lava_float"], after["accuracy_lava_fixed"])]
    print()
    print(f"  XOR accuracy ({TABLE_TRIALS} held-out trials, chance 0.50)")
    print(f"  {'network':30s} {'Brian2':>8s} {'Lava float':>11s} {'Lava fixed':>11s}")
    for name, b, f, x in rows:
        cell = lambda v: f"{v:.3f}" if v is not None else "-"  # noqa: E731
        print(f"  {name:30s} {cell(b):>8s} {cell(f):>11s} {cell(x):>11s}")
    print(f"  fixed_pt vs brainkit's Loihi reference: {after['spike_mismatches']} spike "
          f"mismatches")
    print()
    print(f"  results: {out / 'xor'}, {out / 'xor_loihi'}, {out / 'xor_lava'}")
    print(f"brainkit demo: done in {time.perf_counter() - t0:.1f} s")
    return 0
