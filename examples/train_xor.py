"""Delayed-memory XOR learnt by a spiking network through exact gradients (Huh & Sejnowski 2018).

Two input pulses, each + or -, separated by random delays of 30-60 ms (3-6 times every time
constant of the network), then a go cue: the readout must answer whether the signs differed.
A recurrent network of theta neurons with gated synapses is simulated by Brian2 (C++
standalone, compiled once) and trained with Adam on the exact discrete adjoint of that
simulation.  Writes metrics.json, network.h5 and plots (loss, spike raster, readout) to --out.

    python examples/train_xor.py --out out/train_xor [--quick] [--steps N] [--resume]
"""

import argparse
import json

from brainkit.training.cli import train
from brainkit.training.tasks import HYPER, DelayedXOR

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--out", default="out/train_xor")
parser.add_argument("--quick", action="store_true", help="small network, few steps")
parser.add_argument("--steps", type=int, default=None)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--resume", action="store_true", help="continue from out/checkpoint.npz")
parser.add_argument("--backend", default="cpp_standalone")
args = parser.parse_args()

task = DelayedXOR()
print(f"trial: {task.steps} steps of {task.dt * 1e3:g} ms; delays {task.delay_min * task.dt * 1e3:g}-"
      f"{task.delay_max * task.dt * 1e3:g} ms; settings {HYPER['xor']['quick' if args.quick else 'full']}")
metrics = train("xor", args.out, quick=args.quick, resume=args.resume, steps=args.steps,
                seed=args.seed, backend=args.backend)
print(json.dumps({k: metrics[k] for k in ("test_accuracy", "chance", "train_loss", "steps",
                                           "seconds")}, indent=1))
print(f"plots: {args.out}/loss.png, {args.out}/raster.png, {args.out}/readout.png")
