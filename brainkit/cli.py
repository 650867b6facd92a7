"""The ``brainkit`` command line (also ``python -m brainkit``).

Sub-commands::

    brainkit demo [--out DIR]                    the main job (what `make demo` runs)
    brainkit models                              list the model library
    brainkit gradcheck --model NAME ...          adjoint vs finite differences
    brainkit train TASK --out DIR [--neuron NAME] [--quick] [--resume]
    brainkit finetune NETWORK.h5 --out DIR [--steps N]   Loihi-aware fine-tuning
    brainkit export NETWORK.h5 --to TARGET --out DIR [--check] [--trials N]
                                                 TARGET: brainkit.exporters.TARGETS
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="brainkit", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="run the main job, writing results and plots to --out")
    d.add_argument("--out", default="out")
    d.add_argument("--full", action="store_true", help="full (not quick) settings")

    sub.add_parser("models", help="list the model library")

    g = sub.add_parser("gradcheck", help="adjoint gradients vs central finite differences")
    g.add_argument("--model", default="theta", help="neuron model of the recurrent network")
    g.add_argument("--neurons", type=int, default=5)
    g.add_argument("--steps", type=int, default=200)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--backend", default="cpp_standalone")
    g.add_argument("--out", default="out/gradcheck")

    t = sub.add_parser("train", help="train a task network by exact gradients")
    t.add_argument("task", choices=["xor", "autoencode"])
    t.add_argument("--out", required=True)
    t.add_argument("--quick", action="store_true")
    t.add_argument("--resume", action="store_true")
    t.add_argument("--steps", type=int, default=None)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--backend", default="cpp_standalone")
    t.add_argument("--neuron", default="theta",
                   help="reset-free neuron model of the library (theta, rotator, ...)")
    t.add_argument("--time-constants", action="store_true",
                   help="also train the neuron's tau and the synapse's tau_s (exact gradients)")

    from .exporters import TARGETS

    e = sub.add_parser("export", help="export a network file to " + ", ".join(TARGETS))
    e.add_argument("network")
    e.add_argument("--to", required=True, choices=list(TARGETS),
                   help="; ".join(f"{k}: {t.help}" for k, t in TARGETS.items()))
    e.add_argument("--out", required=True)
    e.add_argument("--check", action="store_true",
                   help="also run it in Brian2, Lava float and Lava fixed_pt and compare")
    e.add_argument("--steps", type=int, default=None,
                   help="steps to simulate (not for a task network: its trials set them)")
    e.add_argument("--trials", type=int, default=None,
                   help="held-out trials for a task network (default 32)")

    f = sub.add_parser("finetune", help="fine-tune a trained task network for Loihi (CUBA LIF, "
                                        "quantisation in the loop)")
    f.add_argument("network")
    f.add_argument("--out", required=True)
    f.add_argument("--steps", type=int, default=600)
    f.add_argument("--lr", type=float, default=0.01)
    f.add_argument("--trials", type=int, default=256)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from .demo import main as run
    elif args.command == "models":
        from .library import list_models, load_model

        for name in list_models():
            m = load_model(name)
            print(f"{m.kind:11s} {name:24s} {m.title}")
        return 0
    elif args.command == "gradcheck":
        from .gradcheck import main as run
    elif args.command == "train":
        from .training.cli import main as run
    elif args.command == "finetune":
        from .loihi.cli import finetune_main as run
    else:
        from .loihi.cli import export_main as run
    return int(run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
