"""The ``brainkit`` command line (also ``python -m brainkit``).

Sub-commands::

    brainkit demo [--out DIR]                    the main job (what `make demo` runs)
    brainkit models                              list the model library
    brainkit gradcheck --model NAME ...          adjoint vs finite differences
    brainkit train TASK --out DIR [--neuron NAME] [--quick] [--resume] [--workers N]
    brainkit finetune NETWORK.h5 --out DIR [--steps N]   Loihi-aware fine-tuning
    brainkit export NETWORK.h5 --to TARGET --out DIR [--check] [--trials N]
                                                 TARGET: brainkit.exporters.TARGETS
    brainkit sweep EXPERIMENT --grid NAME=V1,V2,... --out DIR [--workers N | --scheduler ADDR]
                                                 a parameter sweep on Dask (brainkit.sweep)
    brainkit import GRAPH.nir --out NETWORK.h5 [--dt 1ms] [--spike step|delta]
                  [--discretisation euler|exp] [--analog-inputs] [--overwrite]

Every command that writes into ``--out DIR`` claims the folder before any work
(:class:`brainkit.runfolder.RunFolder`): it must be creatable and writable, no other run may be
writing there, and it may not hold another run's results unless ``--resume`` (train) or
``--overwrite`` is given.

Exit status: 0 done; 1 the run finished but failed (a gradient check above its threshold, a
diverged training); 2 an error, reported as one line ``brainkit COMMAND: cause`` on stderr
(``brainkit --debug ...`` also prints the traceback); 130 interrupted (Ctrl-C or SIGINT:
``interrupted`` -- for a training ``interrupted at step K, checkpoint kept at PATH``).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
from contextlib import contextmanager
from typing import List, Optional

#: exit status of an error (one line on stderr) and of an interrupted command
EXIT_ERROR, EXIT_INTERRUPTED = 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``brainkit train: argument --steps: ... (see
    brainkit train --help)``, exit 2."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"must be a whole number >= {least}, got {text!r}")
    return value


def count(text: str) -> int:
    """An argument that is a whole number >= 1 (steps, trials, neurons)."""
    return _whole(text, 1)


def seed(text: str) -> int:
    """An argument that is a random seed: a whole number >= 0."""
    return _whole(text, 0)


def positive(text: str) -> float:
    """An argument that is a finite number > 0 (a learning rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    from .backends import BACKENDS

    debug = dict(action="store_true", help="show the traceback of an error")
    p = _Parser(prog="brainkit", description=__doc__.split("\n")[0])
    p.add_argument("--debug", **debug)
    sub = p.add_subparsers(dest="command", required=True)
    debug["default"] = argparse.SUPPRESS  # where given after the command (not resetting it)
    overwrite = dict(action="store_true",
                     help="replace the results of an earlier run in --out")

    d = sub.add_parser("demo", help="run the main job, writing results and plots to --out")
    d.add_argument("--out", default="out")
    d.add_argument("--full", action="store_true", help="full (not quick) settings")
    d.add_argument("--overwrite", **overwrite)
    d.add_argument("--debug", **debug)

    sub.add_parser("models", help="list the model library").add_argument("--debug", **debug)

    g = sub.add_parser("gradcheck", help="adjoint gradients vs central finite differences")
    g.add_argument("--model", default="theta", help="neuron model of the recurrent network")
    g.add_argument("--neurons", type=count, default=5)
    g.add_argument("--steps", type=count, default=200)
    g.add_argument("--seed", type=seed, default=0)
    g.add_argument("--backend", default="cpp_standalone", choices=BACKENDS)
    g.add_argument("--out", default="out/gradcheck")
    g.add_argument("--overwrite", **overwrite)
    g.add_argument("--debug", **debug)

    t = sub.add_parser("train", help="train a task network by exact gradients")
    t.add_argument("task", choices=["xor", "autoencode"])
    t.add_argument("--out", required=True)
    t.add_argument("--quick", action="store_true")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its checkpoint")
    t.add_argument("--overwrite", **overwrite)
    t.add_argument("--steps", type=count, default=None)
    t.add_argument("--seed", type=seed, default=0)
    t.add_argument("--backend", default="cpp_standalone", choices=BACKENDS)
    t.add_argument("--debug", **debug)
    t.add_argument("--neuron", default="theta",
                   help="reset-free neuron model of the library (theta, rotator, ...)")
    t.add_argument("--time-constants", action="store_true",
                   help="also train the neuron's tau and the synapse's tau_s (exact gradients)")
    parallel = t.add_mutually_exclusive_group()
    parallel.add_argument("--workers", type=count, default=None,
                          help="split every batch over N Dask worker processes (an embedded "
                               "LocalCluster); the batch must divide by N")
    parallel.add_argument("--scheduler", help="split every batch over the workers of a "
                                              "running Dask scheduler (tcp://HOST:8786)")

    w = sub.add_parser("sweep", help="run an experiment over a parameter grid on Dask (one "
                                     "compile per worker; finished points are kept: resume)")
    w.add_argument("experiment", help="'rate' (brainkit.sweep.RateExperiment), 'brunel2000' "
                                      "(brainkit.brunel2000.BrunelExperiment: grid g, eta, "
                                      "seed) or MODULE:NAME of an Experiment class")
    w.add_argument("--grid", action="append", required=True, metavar="NAME=V1,V2,...",
                   help="a parameter and its values (repeat for more; the sweep runs the "
                        "product)")
    w.add_argument("--out", required=True)
    where = w.add_mutually_exclusive_group()
    where.add_argument("--workers", type=count, default=2,
                       help="processes of the embedded Dask LocalCluster (default 2)")
    where.add_argument("--scheduler", help="address of a running Dask scheduler "
                                           "(tcp://HOST:8786) instead")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.add_argument("--debug", **debug)

    from .exporters import TARGETS

    e = sub.add_parser("export", help="export a network file to " + ", ".join(TARGETS))
    e.add_argument("network")
    e.add_argument("--to", required=True, choices=list(TARGETS),
                   help="; ".join(f"{k}: {t.help}" for k, t in TARGETS.items()))
    e.add_argument("--out", required=True)
    e.add_argument("--check", action="store_true",
                   help="also run it in Brian2, Lava float and Lava fixed_pt and compare")
    e.add_argument("--steps", type=count, default=None,
                   help="steps to simulate (not for a task network: its trials set them)")
    e.add_argument("--trials", type=count, default=None,
                   help="held-out trials for a task network (default 32)")
    e.add_argument("--overwrite", **overwrite)
    e.add_argument("--debug", **debug)

    f = sub.add_parser("finetune", help="fine-tune a trained task network for Loihi (CUBA LIF, "
                                        "quantisation in the loop)")
    f.add_argument("network")
    f.add_argument("--out", required=True)
    f.add_argument("--steps", type=count, default=600)
    f.add_argument("--lr", type=positive, default=0.01)
    f.add_argument("--trials", type=count, default=256)
    f.add_argument("--overwrite", **overwrite)
    f.add_argument("--debug", **debug)
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
    i.add_argument("--debug", **debug)
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
    """``brainkit import``: a NIR graph to a network file (refuses to replace one; errors are
    reported by :func:`main`)."""
    from pathlib import Path

    from .exporters.nir import read_nir
    from .netfile import save_network

    out = Path(args.out)
    dt = None if args.dt is None else parse_dt(args.dt)
    if out.exists() and not args.overwrite:
        raise ValueError(f"{out} exists; give --overwrite to replace it")
    spec = read_nir(args.graph, dt, spike=args.spike, discretisation=args.discretisation,
                    analog_inputs=args.analog_inputs)
    save_network(out, spec)
    sizes = ", ".join(f"{k} ({p.n})" for k, p in spec.populations.items())
    print(f"imported {args.graph} -> {out}: populations {sizes}; dt = {spec.dt}")
    return 0


#: what each command writes into its --out folder (another run's results, if found there)
def _outputs(args) -> tuple:
    if args.command == "train":
        from .training.cli import OUTPUTS
    elif args.command == "finetune":
        from .loihi.cli import FINETUNE_OUTPUTS as OUTPUTS
    elif args.command == "export":
        from .exporters import TARGETS
        from .loihi.cli import EXPORT_OUTPUTS

        OUTPUTS = EXPORT_OUTPUTS + (TARGETS[args.to].filename,)
    elif args.command == "gradcheck":
        from .gradcheck import OUTPUTS
    elif args.command == "demo":
        from .demo import OUTPUTS
    else:
        return None
    return tuple(OUTPUTS)


def _run_folder(args):
    """The claim on ``--out`` of a command that writes a run into a folder (None for the
    others)."""
    from .runfolder import RunFolder

    outputs = _outputs(args)
    if outputs is None:
        return None
    resume = bool(getattr(args, "resume", False))
    overwrite = bool(getattr(args, "overwrite", False))
    if resume and overwrite:
        raise ValueError("--resume continues the run in --out, --overwrite replaces it: "
                         "give one of them")
    return RunFolder(args.out, outputs, command=f"brainkit {args.command}", resume=resume,
                     overwrite=overwrite, resumable=hasattr(args, "resume"))


def _validate(args) -> None:
    """Checks of the arguments that need more than their own text (before any work)."""
    if getattr(args, "backend", None) is not None:
        from .backends import check_backend

        check_backend(args.backend)


def _dispatch(args) -> int:
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
    elif args.command == "sweep":
        run = _sweep_main
    else:
        from .loihi.cli import export_main as run
    _validate(args)
    folder = _run_folder(args)
    if folder is None:
        return int(run(args) or 0)
    with folder:
        return int(run(args) or 0)


def _grid_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _sweep_main(args) -> int:
    """``brainkit sweep``: exit 0 when every point ran, 1 when some recorded an error."""
    import importlib

    from . import sweep as sw

    grid = {}
    for item in args.grid:
        name, sep, values = item.partition("=")
        if not sep or not name.strip() or not values.strip():
            raise sw.SweepError(f"--grid {item!r}: write NAME=V1,V2,...")
        grid[name.strip()] = [_grid_value(v.strip()) for v in values.split(",")]
    if args.experiment == "rate":
        experiment = sw.RateExperiment()
    elif args.experiment == "brunel2000":
        from .brunel2000 import BrunelExperiment

        experiment = BrunelExperiment()
    else:
        module, sep, attr = args.experiment.partition(":")
        if not sep:
            raise sw.SweepError(f"experiment {args.experiment!r}: give 'rate', 'brunel2000' or "
                                "MODULE:NAME")
        try:
            experiment = getattr(importlib.import_module(module), attr)()
        except (ImportError, AttributeError) as exc:
            raise sw.SweepError(f"experiment {args.experiment!r}: {exc}") from None
    if args.scheduler:
        with sw.dask_client(scheduler=args.scheduler) as client:
            res = sw.sweep(experiment, grid, args.out, client=client, progress=not args.quiet)
    else:  # the sweep starts its own LocalCluster, only when points are left to run
        res = sw.sweep(experiment, grid, args.out, workers=args.workers,
                       progress=not args.quiet)
    print(f"{len(res.points)} points ({res.ran} run now, {res.compiles} network builds, "
          f"{len(res.errors)} errors) in {res.wall_s:.1f} s -> "
          f"{os.path.join(args.out, 'sweep.json')}")
    for r in res.errors:
        print(f"  {sw.point_id(r['point'])}: {r['error']}", file=sys.stderr)
    return 1 if res.errors else 0


def _user_errors() -> tuple:
    """The exception types whose message is all a user needs: brainkit's own errors (most
    are ValueErrors), Brian2's unit and object errors, files, missing backends, numbers."""
    from .runfolder import RunFolderError

    known = (ValueError, ArithmeticError, ImportError, OSError, RuntimeError, KeyError,
             RunFolderError)
    try:
        from brian2.core.base import BrianObjectException
        from brian2.units.fundamentalunits import DimensionMismatchError
    except ImportError:  # pragma: no cover - brainkit without Brian2 is broken anyway
        return known
    return known + (DimensionMismatchError, BrianObjectException)


def one_line(exc: BaseException) -> str:
    """The message of ``exc`` on one line: an OS error as ``PATH: reason``, a Brian2 object
    error as its original error naming the object, other messages with their line breaks
    folded."""
    brian_object_error = getattr(sys.modules.get("brian2.core.base"), "BrianObjectException", ())
    if isinstance(exc, brian_object_error):
        cause = exc.__cause__ or exc.__context__
        what = one_line(cause) if cause is not None else str(exc).split("\n")[0]
        return f"{what} (in Brian2 object '{getattr(exc, '_brian_objname', '?')}')"
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
        if exc.filename is not None:
            text = f"{exc.filename}: {text}"
        if exc.filename2 is not None:
            text += f" ({exc.filename2})"
    elif isinstance(exc, KeyError) and len(exc.args) == 1:  # str() would quote the message
        key = exc.args[0]
        text = key if isinstance(key, str) and " " in key.strip() else f"unknown name {key!r}"
    else:
        text = str(exc) or type(exc).__name__
    return re.sub(r"\s*\n\s*", " ", text).strip()


@contextmanager
def _interruptible():
    """SIGINT raises KeyboardInterrupt for the block, whatever handler was there before
    (Brian2 installs one that turns the first Ctrl-C during a run into a "stop" request, and
    calls a previous handler that may be SIG_IGN, which fails); restored afterwards."""
    import brian2  # noqa: F401  (installs its handler at import: before ours, not after)

    def interrupt(signum, frame):
        _quiet_brian2()  # before the unwinding deletes the objects Brian2 would warn about
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGINT, interrupt)
    except ValueError:  # not the main thread: signals are not ours to handle
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_brian2() -> None:
    """After a run cut short, Brian2 warns at clean-up about every object it built but never
    ran ("... is getting deleted, but was never included in a network"): noise after the
    one line that says what happened, so its console shows errors only from here on."""
    if "brian2" in sys.modules:
        from brian2.utils.logger import BrianLogger

        BrianLogger.log_level_error()


def main(argv: Optional[List[str]] = None) -> int:
    """Run one command; returns the exit status (see the module docstring).  Errors are
    reported here, once, for every command."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0), or a bad argument (2, one line printed)
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    name = f"brainkit {args.command}"
    try:
        with _interruptible():
            return _dispatch(args)
    except KeyboardInterrupt as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        else:
            _quiet_brian2()
        print(f"{name}: {str(exc) or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            import traceback

            traceback.print_exc()
        else:
            _quiet_brian2()
        line = one_line(exc)
        if not isinstance(exc, _user_errors()):
            line = (f"internal error, {type(exc).__name__}: {line} (brainkit --debug "
                    f"{args.command} ... shows the traceback)")
        print(f"{name}: {line}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
