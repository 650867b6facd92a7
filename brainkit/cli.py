"""The ``brainkit`` command line (also ``python -m brainkit``).

Sub-commands::

    brainkit demo [--out DIR]                    the main job (what `make demo` runs)
    brainkit models                              list the model library
    brainkit gradcheck --model NAME ...          adjoint vs finite differences
    brainkit train TASK --out DIR [--neuron NAME] [--quick] [--resume]
    brainkit finetune NETWORK.h5 --out DIR [--steps N]   Loihi-aware fine-tuning
    brainkit export NETWORK.h5 --to TARGET --out DIR [--check] [--trials N]
                                                 TARGET: brainkit.exporters.TARGETS
    brainkit import GRAPH.nir --out NETWORK.h5 [--dt 1ms] [--spike step|delta]
                  [--discretisation euler|exp] [--analog-inputs] [--overwrite]
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
    from .exporters.nir_convention import DISCRETISATIONS, SPIKES

    i = sub.add_parser("import", help="read a NIR graph (snnTorch, Norse, Rockpool, ...) into a "
                                      "network file")
    i.add_argument("graph")
    i.add_argument("--out", required=True, help="the network file (.h5) to write")
    i.add_argument("--dt", default=None,
                   help="time step (e.g. 1ms, 100us, 0.001); required where the graph states none")
    i.add_argument("--spike", choices=SPIKES, default=None,
                   help="what a spike is worth: 'step' (default: once per step, as snnTorch "
                        "and Norse) or 'delta' (a pulse of area 1)")
    i.add_argument("--discretisation", choices=DISCRETISATIONS, default=None,
                   help="decay per step: 'euler' (default: dt/tau) or 'exp' (1 - exp(-dt/tau))")
    i.add_argument("--analog-inputs", action="store_true",
                   help="inputs carry values (a 'current' input), not spikes")
    i.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    return p


def parse_dt(text: str):
    """``'1ms'``, ``'100 us'``, ``'0.5e-3 s'`` or ``'0.001'`` (seconds) as a Brian2 time."""
    import re

    from brian2 import ms, second, us

    m = re.fullmatch(r"\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)\s*(s|ms|us)?\s*", text)
    if not m:
        raise ValueError(f"--dt {text!r} is not a time such as 1ms, 100us or 0.001")
    value = float(m.group(1)) * {"s": second, "ms": ms, "us": us, None: second}[m.group(2)]
    if not value > 0:
        raise ValueError(f"--dt {text!r} must be positive")
    return value


def _import_main(args) -> int:
    """``brainkit import``: a NIR graph to a network file (refuses to replace one)."""
    from pathlib import Path

    from .exporters.cuba import ExportError
    from .exporters.nir import read_nir
    from .netfile import NetworkFileError, save_network

    out = Path(args.out)
    try:
        dt = None if args.dt is None else parse_dt(args.dt)
        if out.exists() and not args.overwrite:
            raise ValueError(f"{out} exists; give --overwrite to replace it")
        spec = read_nir(args.graph, dt, spike=args.spike, discretisation=args.discretisation,
                        analog_inputs=args.analog_inputs)
        save_network(out, spec)
    except (ValueError, ExportError, NetworkFileError, OSError) as exc:
        print(f"brainkit import: {exc}", file=sys.stderr)
        return 2
    sizes = ", ".join(f"{k} ({p.n})" for k, p in spec.populations.items())
    print(f"imported {args.graph} -> {out}: populations {sizes}; dt = {spec.dt}")
    return 0


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
    elif args.command == "import":
        run = _import_main
    else:
        from .loihi.cli import export_main as run
    return int(run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
