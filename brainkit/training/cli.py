"""``brainkit train TASK --out DIR [--neuron NAME] [--quick] [--resume | --overwrite] [--steps N]
[--seed S]``.

Trains a recurrent network of reset-free library neurons (``theta`` by default, ``rotator``,
...) with gated synapses on ``xor`` (delayed-memory XOR) or ``autoencode`` by exact gradients (:class:`~brainkit.training.recurrent.RecurrentSNN`), with the
settings of :data:`brainkit.training.tasks.HYPER`, and writes to ``DIR``:

``checkpoint.npz``   training state every 25 steps (``--resume`` continues from it)
``metrics.json``     task, train_loss, test_accuracy (xor) or test_nmse (autoencode), steps,
                     seconds, chance level, settings
``network.h5``       the trained network (a :class:`brainkit.tasknet.TaskNetwork`)
``loss.png``, ``raster.png``, ``readout.png``   plots (:mod:`brainkit.training.plots`)

Ctrl-C (or SIGINT) stops training with :class:`TrainingInterrupted` ("interrupted at step K,
checkpoint kept at DIR/checkpoint.npz (step J; --resume continues from it)").
"""

from __future__ import annotations

import functools
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Dict, Optional, Tuple

import numpy as np

from ..fileio import write_json
from ..tasknet import TaskNetwork, save_task_network

from .optim import Adam, Schedule
from .tasks import COMMON, HYPER, Batch, Task, get_task, init_function, lr_scale
from .trainer import CHECKPOINT, TrainingDiverged, Trainer, load_checkpoint

#: what ``brainkit train`` writes into its ``--out`` folder
OUTPUTS = (CHECKPOINT, "metrics.json", "network.h5", "loss.png", "raster.png", "readout.png")


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by Ctrl-C (KeyboardInterrupt); the message names the step reached and
    the checkpoint kept (``--resume`` continues from it).  Attributes: ``step`` (steps done),
    ``total``, ``checkpoint`` (its path, or None) and ``saved`` (its step, or None)."""

    def __init__(self, message: str, step: int = 0, total: int = 0, checkpoint=None,
                 saved: Optional[int] = None):
        super().__init__(message)
        self.step, self.total, self.checkpoint, self.saved = step, total, checkpoint, saved


def interrupted(trainer: Optional[Trainer], total: int) -> TrainingInterrupted:
    """The :class:`TrainingInterrupted` of a run interrupted with ``trainer`` (None: before
    training began): the step reached and the checkpoint on disk, if any."""
    step = trainer.state.step if trainer is not None and trainer.state is not None else 0
    text = f"interrupted at step {step} of {total}"
    path = trainer.checkpoint_path if trainer is not None else None
    saved = None
    if path is not None and path.exists():
        try:
            saved = load_checkpoint(path).step
        except ValueError:
            saved = None
    if saved is not None:
        text += f", checkpoint kept at {path} (step {saved}; --resume continues from it)"
    elif trainer is not None:
        text += (f", before the first checkpoint (step {trainer.checkpoint_every}): nothing "
                 f"kept")
    return TrainingInterrupted(text, step, total, path if saved is not None else None, saved)


#: what ``brainkit train --time-constants`` trains besides the weights: the neuron's
#: ``tau`` and the gated synapse's ``tau_s`` (one value each for the whole network)
TIME_CONSTANTS = ("tau", "tau_s")


def settings(task_name: str, quick: bool = False, steps: Optional[int] = None,
             time_constants: bool = False, neuron: str = "theta") -> dict:
    """The run's settings: :data:`HYPER` of the task (quick or full) + :data:`COMMON`
    (+ the trainable time constants, whose Adam steps scale with their initial values)."""
    h = dict(COMMON)
    h.update(HYPER[task_name]["quick" if quick else "full"])
    if steps is not None:
        if steps < 1:
            raise ValueError(f"--steps must be >= 1, got {steps}")
        h["steps"] = int(steps)
    h["lr_scale"] = lr_scale(h["n_hidden"], h.get("init"))
    h["constants"] = list(TIME_CONSTANTS) if time_constants else []
    h["neuron"] = neuron
    if time_constants:
        h["lr_scale"].update({"tau": h["tau_v"], "tau_s": h["tau_s"]})
    return h


def start(model, h: dict):
    """``seed -> params`` of the settings' ``init`` entry (e.g. the efficient-coding start,
    :func:`~brainkit.training.tasks.init_function`), with the trainable constants at the
    models' values; None for the model's own random ``init_params``."""
    init_fn = init_function(h.get("init"), model.n_hidden, model.n_in, model.n_out)
    if init_fn is None:
        return None
    return lambda seed: model.check_params({**model.constant_defaults(), **init_fn(seed)})


def build_model(task: Task, h: dict, backend: str = "cpp_standalone", build_dir=None):
    """The :class:`RecurrentSNN` of a task with settings ``h``."""
    from brian2 import ms, second

    from ..library import load_model
    from .recurrent import RecurrentSNN

    neuron = load_model(h.get("neuron", "theta"))
    wanted = {"tau": h["tau_v"] * 1000 * ms, "gate_width": h["gate_width"]}
    return RecurrentSNN(task.n_in, h["n_hidden"], task.n_out, task.steps, batch=h["batch"],
                        dt=h["dt"] * second, neuron=neuron, synapse="gated",
                        neuron_params={k: v for k, v in wanted.items() if k in neuron.parameters},
                        synapse_params={"tau_s": h["tau_s"] * 1000 * ms},
                        backend=backend, build_dir=build_dir, constants=h.get("constants", ()))


def build_optimizer(h: dict) -> Adam:
    sched = Schedule(h["lr"], "cosine", total=h["steps"], warmup=h["warmup"], lr_min=h["lr_min"])
    return Adam(sched, clip_norm=h["clip_norm"], lr_scale=h["lr_scale"])


def evaluate(model, task: Task, params, seed: int, trials: int) -> Tuple[float, np.ndarray, Batch, object]:
    """Score on ``trials`` held-out trials (run in batches of the model's batch size).

    Returns the score, the readout of all trials, the concatenated batch and the trace of the
    first batch (for plots)."""
    B = model.batch
    nb = max(1, -(-trials // B))
    big = task.test_batch(seed, nb * B)
    outs, first = [], None
    for k in range(nb):
        sl = slice(k * B, (k + 1) * B)
        tr = model.forward(params, big.x[sl])
        outs.append(tr.o)
        if first is None:
            first = tr
    o = np.concatenate(outs)
    return task.score(o, big), o, big, first


def task_network(model, params: Dict[str, np.ndarray], task: Task, h: dict,
                 metadata: dict) -> TaskNetwork:
    """The trained network as a :class:`~brainkit.tasknet.TaskNetwork`: the model's neuron and
    synapse (with trained time constants in place of the models' values), its parameters
    (already ``[post, pre]``) and ``I0`` as the bias."""
    from brian2 import second

    constants = getattr(model, "constants", ())
    nm = model.neuron.with_parameters(**{k: float(params[k]) * second for k in constants
                                         if k in model.neuron.parameters})
    sm = model.synapse.with_parameters(**{k: float(params[k]) * second for k in constants
                                          if k in model.synapse.parameters})
    return TaskNetwork(U=params["U"], W=params["W"], O=params["O"], bias=params["I0"],
                       neuron=nm.name, synapse=sm.name, dt=h["dt"], task=task.name,
                       readout_tau_s=float(sm.parameters["tau_s"] / second),
                       seed=int(metadata.get("seed", 0)), neuron_params=dict(nm.parameters),
                       synapse_params=dict(sm.parameters),
                       weight_unit=repr(model.weight_unit), metadata=dict(metadata))


def _task_model(task_name: str, h: dict, backend: str, batch: int):
    """The task's network for ``batch`` trials (what each data-parallel worker builds)."""
    return build_model(get_task(task_name), {**h, "batch": batch}, backend)


def train(task_name: str, out, quick: bool = False, resume: bool = False,
          steps: Optional[int] = None, seed: int = 0, backend: str = "cpp_standalone",
          progress: bool = True, plots: bool = True, model=None,
          time_constants: bool = False, neuron: str = "theta", workers: Optional[int] = None,
          scheduler: Optional[str] = None) -> dict:
    """Train, evaluate, save; returns the metrics (also written to ``out/metrics.json``).

    ``model`` may be passed to reuse an already compiled network with the same settings.
    ``workers`` (an embedded Dask ``LocalCluster`` of that many processes) or ``scheduler``
    (a running cluster's address) split every batch over Dask workers
    (:class:`brainkit.training.parallel.DataParallel`: the same loss, gradients summed).
    Raises :class:`TrainingDiverged` if training diverges (the last checkpoint is kept), and
    :class:`TrainingInterrupted` (a KeyboardInterrupt naming the step and the checkpoint kept)
    on Ctrl-C.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    task = get_task(task_name)
    h = settings(task_name, quick, steps, time_constants, neuron)
    own_model = model is None
    trainer = None
    dask = ExitStack()
    try:
        if own_model and (workers or scheduler):
            from ..sweep import dask_client
            from .parallel import DataParallel

            client = dask.enter_context(dask_client(workers, scheduler))
            model = DataParallel(functools.partial(_task_model, task_name, h, backend),
                                 h["batch"], client)
        elif own_model:
            model = build_model(task, h, backend)
        config = dict(task=task_name, quick=bool(quick), **{k: v for k, v in h.items()
                                                             if k not in ("steps", "test_trials")})
        trainer = Trainer(model, task, out, steps=h["steps"], batch=h["batch"], seed=seed,
                          optimizer=build_optimizer(h), checkpoint_every=h["checkpoint_every"],
                          diverge_factor=h["diverge_factor"], progress=progress, config=config,
                          init_params=start(model, h))
        state = trainer.run(resume=resume)
        t0 = time.perf_counter()
        score, o, batch, trace = evaluate(model, task, state.params, seed, h["test_trials"])
        eval_s = time.perf_counter() - t0
        rates = [len(i) / (model.n_hidden * task.steps * task.dt) for i, _ in trace.spikes]
        losses = state.losses
        metrics = {
            "task": task_name,
            "train_loss": float(np.mean(losses[-10:])),
            "train_loss_first": float(losses[0]) if losses else None,
            task.metric: float(score),
            "chance": task.chance(),
            "steps": int(state.step),
            "seconds": round(state.seconds, 2),
            "seconds_per_step": round(state.seconds / max(state.step, 1), 4),
            "eval_seconds": round(eval_s, 2),
            "test_trials": int(len(o)),
            "mean_rate_hz": float(np.mean(rates)),
            "seed": seed,
            "backend": model.backend,
            "quick": bool(quick),
            "settings": {k: v for k, v in h.items()},
        }
        metrics.update({f"trained_{k}": float(state.params[k]) for k in h["constants"]})  # s
        meta = dict(task=task_name, steps=int(state.step), seed=seed, losses=[float(x) for x in losses],
                    gate_width=h["gate_width"], tau_s=h["tau_s"], tau_v=h["tau_v"], dt=h["dt"],
                    trial_steps=task.steps, metric=task.metric, score=float(score),
                    trained_by="brainkit train")
        save_task_network(out / "network.h5", task_network(model, state.params, task, h, meta))
        if plots:
            from . import plots as P

            P.loss_curve(losses, out / "loss.png", title=f"{task_name}: training loss")
            P.spike_raster(trace, out / "raster.png", trial=0, dt=task.dt,
                           title=f"{task_name}: hidden spikes (held-out trial 0)")
            P.readout(o[: min(4, len(o))], batch, task, out / "readout.png")
        write_json(out / "metrics.json", metrics)
        return metrics
    except KeyboardInterrupt as exc:
        if isinstance(exc, TrainingInterrupted):
            raise
        raise interrupted(trainer, h["steps"]) from None
    finally:
        if own_model and model is not None:
            model.close()
        dask.close()


def main(args) -> int:
    """Entry point of ``brainkit train`` (``args`` from :mod:`brainkit.cli`, which claims
    ``--out`` and reports errors and interrupts)."""
    t0 = time.perf_counter()
    try:
        m = train(args.task, args.out, quick=args.quick, resume=args.resume, steps=args.steps,
                  seed=args.seed, backend=args.backend, time_constants=args.time_constants,
                  neuron=args.neuron, workers=getattr(args, "workers", None),
                  scheduler=getattr(args, "scheduler", None))
    except TrainingDiverged as e:
        print(f"brainkit train: {e}", file=sys.stderr)
        return 1
    task = get_task(args.task)
    print(f"{args.task}: {task.metric} = {m[task.metric]:.4f} (chance {m['chance']:.2f}), "
          f"train loss {m['train_loss']:.4f}, {m['steps']} steps in {m['seconds']:.1f} s "
          f"(total {time.perf_counter() - t0:.1f} s)")
    print(f"results in {args.out}: metrics.json, network.h5, loss.png, raster.png, readout.png")
    return 0
