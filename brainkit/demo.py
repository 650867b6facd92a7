"""``brainkit demo`` (what ``make demo`` runs): train a spiking network by exact gradients.

Trains the delayed-memory XOR task (:class:`brainkit.training.tasks.DelayedXOR`) on a recurrent
theta-neuron network with gated synapses, by the exact discrete adjoint of its Brian2
simulation, and prints the held-out accuracy and where the results are.  Quick settings by
default (a few minutes on 2 cores); ``--full`` uses the full ones.  Writes into
``<out>/xor``: ``metrics.json``, ``network.h5``, ``loss.png``, ``raster.png``, ``readout.png``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(args) -> int:
    from .training.cli import train
    from .training.trainer import TrainingDiverged

    out = Path(args.out) / "xor"
    full = bool(getattr(args, "full", False))
    print(f"brainkit demo: training delayed-memory XOR ({'full' if full else 'quick'} settings) "
          f"-> {out}")
    t0 = time.perf_counter()
    try:
        m = train("xor", out, quick=not full, seed=0)
    except TrainingDiverged as e:
        print(f"brainkit demo: {e}", file=sys.stderr)
        return 1
    s = m["settings"]
    print(f"  network: {s['n_hidden']} theta neurons, gated synapses (tau_s = "
          f"{s['tau_s'] * 1e3:g} ms, gate width {s['gate_width']:g} rad), dt = {s['dt'] * 1e3:g} ms")
    print(f"  training: {m['steps']} Adam steps of {s['batch']} trials in {m['seconds']:.1f} s "
          f"({m['seconds_per_step']:.2f} s/step), final loss {m['train_loss']:.4f} "
          f"(first {m['train_loss_first']:.4f})")
    print(f"  held-out accuracy: {m['test_accuracy']:.3f} on {m['test_trials']} trials "
          f"(chance {m['chance']:.2f})")
    print(f"  results: {out / 'metrics.json'}, trained network {out / 'network.h5'}")
    print(f"  plots:   {out / 'loss.png'}, {out / 'raster.png'}, {out / 'readout.png'}")
    print(f"brainkit demo: done in {time.perf_counter() - t0:.1f} s")
    return 0
