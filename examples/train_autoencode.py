"""Auto-encoding a smooth random signal through a spiking network trained by exact gradients.

Two smooth Gaussian input signals (correlation width 20 ms) drive a recurrent network of
theta neurons with gated synapses; the linear readout of the synaptic traces must reproduce
them (Huh & Sejnowski 2018, predictive coding).  Trained with Adam on the exact discrete
adjoint of the Brian2 simulation; scored by the normalised MSE on held-out signals.  Writes
metrics.json, network.h5 and plots (loss, spike raster, readout vs target) to --out.

    python examples/train_autoencode.py --out out/train_autoencode [--quick] [--steps N]
"""

import argparse
import json

from brainkit.training.cli import train
from brainkit.training.tasks import HYPER

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--out", default="out/train_autoencode")
parser.add_argument("--quick", action="store_true", help="small network, few steps")
parser.add_argument("--steps", type=int, default=None)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--resume", action="store_true", help="continue from out/checkpoint.npz")
parser.add_argument("--backend", default="cpp_standalone")
args = parser.parse_args()

print(f"settings {HYPER['autoencode']['quick' if args.quick else 'full']}")
metrics = train("autoencode", args.out, quick=args.quick, resume=args.resume, steps=args.steps,
                seed=args.seed, backend=args.backend)
print(json.dumps({k: metrics[k] for k in ("test_nmse", "chance", "train_loss", "steps",
                                           "seconds")}, indent=1))
print(f"plots: {args.out}/loss.png, {args.out}/raster.png, {args.out}/readout.png")
