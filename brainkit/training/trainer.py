"""The training loop: batches, seeds, progress bar, atomic checkpoints, exact resume.

One training step draws a batch of trials from the task's training stream, runs the network
forward and its exact adjoint backward (``model.loss_and_grad``), and applies one Adam update::

    batch   = task.sample(rng, B)                       # rng: the (seed, 0) stream
    L, g, _ = model.loss_and_grad(params, batch.x, task.loss_fn(batch))
    params  = adam.step(params, g)

Everything that decides the next step (parameters, Adam's moments and step count, the data
generator's bit-generator state, the step number, the loss history) is written every
``checkpoint_every`` steps to ``<out>/checkpoint.npz`` through a temporary file and
``os.replace``, so the file on disk is always a complete checkpoint.  ``resume=True`` reloads it
and continues; because nothing else carries state, a resumed run reproduces an uninterrupted
one bit for bit (tested).

A step whose loss or gradient is NaN/inf, or whose loss exceeds ``diverge_factor`` times the
first loss, stops training with :class:`TrainingDiverged` (naming the step and the value) and
leaves the last checkpoint - written from finite parameters - untouched.

The model only needs ``init_params(seed) -> dict`` and
``loss_and_grad(params, x, loss_fn) -> (loss, grads, trace)``, as
:class:`brainkit.training.recurrent.RecurrentSNN` has.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from ..fileio import atomic_write
from .optim import Adam
from .tasks import Task

CHECKPOINT = "checkpoint.npz"


class TrainingDiverged(RuntimeError):
    """The loss or a gradient became NaN/inf, or the loss diverged; training stopped."""


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or belongs to a different training configuration."""


@dataclass
class TrainState:
    """What a checkpoint holds."""

    step: int
    params: Dict[str, np.ndarray]
    optimizer: dict
    rng_state: dict
    losses: List[float] = field(default_factory=list)
    grad_norms: List[float] = field(default_factory=list)
    seconds: float = 0.0  # training wall time summed over all (resumed) sessions
    config: dict = field(default_factory=dict)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    raise TypeError(f"not JSON-able: {type(o).__name__}")


def save_checkpoint(path, state: TrainState) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file in the same folder + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"params/{k}": np.asarray(v) for k, v in state.params.items()}
    opt = dict(state.optimizer)
    opt_config = opt.pop("config", {})
    arrays.update({f"opt/{k}": np.asarray(v) for k, v in opt.items()})
    arrays["losses"] = np.asarray(state.losses, dtype=np.float64)
    arrays["grad_norms"] = np.asarray(state.grad_norms, dtype=np.float64)
    meta = dict(step=state.step, rng_state=state.rng_state, opt_config=opt_config,
                seconds=state.seconds, config=state.config, format="brainkit-checkpoint",
                version=1)
    arrays["meta"] = np.frombuffer(json.dumps(meta, default=_json_default).encode(), np.uint8)
    with atomic_write(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


def load_checkpoint(path) -> TrainState:
    """Read a checkpoint written by :func:`save_checkpoint` (:class:`CheckpointError` if bad)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(bytes(data.pop("meta")).decode())
    except Exception as e:  # zip/npz/JSON errors all mean the same thing here
        raise CheckpointError(f"checkpoint {path} is corrupt or not a checkpoint: {e}") from e
    if meta.get("format") != "brainkit-checkpoint":
        raise CheckpointError(f"{path} is not a brainkit checkpoint")
    params = {k[7:]: v for k, v in data.items() if k.startswith("params/")}
    opt = {k[4:]: v for k, v in data.items() if k.startswith("opt/")}
    opt["config"] = meta["opt_config"]
    return TrainState(step=int(meta["step"]), params=params, optimizer=opt,
                      rng_state=meta["rng_state"], losses=data["losses"].tolist(),
                      grad_norms=data["grad_norms"].tolist(), seconds=float(meta["seconds"]),
                      config=meta["config"])


def _finite(d: Dict[str, np.ndarray]) -> bool:
    return all(np.all(np.isfinite(v)) for v in d.values())


class Trainer:
    """Train ``model`` on ``task`` with Adam.

    Parameters
    ----------
    model : RecurrentSNN (or anything with ``init_params`` and ``loss_and_grad``)
    task : Task
    out : path
        Folder for ``checkpoint.npz``.
    steps : int
        Total number of training steps (a resumed run continues up to this number).
    batch : int
        Trials per step (must equal the model's batch size).
    seed : int
        Seeds the initial parameters (``init_params(seed)``) and the data stream
        (``task.train_rng(seed)``).
    optimizer : Adam
        A fresh optimiser (its state is replaced on resume).
    checkpoint_every : int
        Write a checkpoint every K steps (and after the last step).
    diverge_factor : float
        Stop when the loss exceeds this many times the first step's loss.
    progress : bool
        Show a tqdm progress bar with the loss (on stderr).
    config : dict
        JSON-able description of the run (task settings, network size, ...); a resumed run
        must have the same config.
    init_params : callable, optional
        ``seed -> params``, the starting point (default: ``model.init_params``).
    """

    def __init__(self, model, task: Task, out, steps: int, batch: int, seed: int,
                 optimizer: Adam, checkpoint_every: int = 25, diverge_factor: float = 10.0,
                 progress: bool = True, config: Optional[dict] = None, init_params=None):
        if steps < 1 or batch < 1 or checkpoint_every < 1:
            raise ValueError(f"steps ({steps}), batch ({batch}) and checkpoint_every "
                             f"({checkpoint_every}) must all be >= 1")
        self.model, self.task, self.out = model, task, Path(out)
        self.steps, self.batch, self.seed = int(steps), int(batch), int(seed)
        self.optimizer, self.checkpoint_every = optimizer, int(checkpoint_every)
        self.diverge_factor, self.progress = float(diverge_factor), progress
        self.config = json.loads(json.dumps(dict(config or {}, batch=self.batch, seed=self.seed),
                                            default=_json_default))
        self.init_params = init_params or model.init_params
        self.state: Optional[TrainState] = None
        self.trace = None  # trace of the last training step

    @property
    def checkpoint_path(self) -> Path:
        return self.out / CHECKPOINT

    def _fresh_state(self) -> TrainState:
        rng = self.task.train_rng(self.seed)
        params = {k: np.array(v, dtype=np.float64) for k, v in self.init_params(self.seed).items()}
        return TrainState(step=0, params=params, optimizer=self.optimizer.state_dict(),
                          rng_state=rng.bit_generator.state, config=self.config)

    def _resumed_state(self) -> TrainState:
        st = load_checkpoint(self.checkpoint_path)
        if st.config != self.config:
            diff = sorted(k for k in set(st.config) | set(self.config)
                          if st.config.get(k) != self.config.get(k))
            raise CheckpointError(
                f"checkpoint {self.checkpoint_path} was written by a different configuration "
                f"(differs in: {', '.join(diff)}); use another --out or drop --resume")
        if st.step > self.steps:
            raise CheckpointError(f"checkpoint {self.checkpoint_path} is at step {st.step}, "
                                  f"beyond the requested {self.steps} steps")
        self.optimizer.load_state_dict(st.optimizer)
        return st

    def run(self, resume: bool = False) -> TrainState:
        """Train up to ``steps`` steps (continuing from the checkpoint if ``resume``)."""
        if resume and self.checkpoint_path.exists():
            st = self._resumed_state()
        else:
            if resume:
                print(f"no checkpoint in {self.out}: starting from step 0", file=sys.stderr)
            st = self._fresh_state()
        self.state = st
        rng = np.random.default_rng()
        rng.bit_generator.state = st.rng_state
        bar = None
        if self.progress:
            from ..progress import progress_bar

            bar = progress_bar(total=self.steps, initial=st.step, desc=f"train {self.task.name}",
                               unit="step", file=sys.stderr)
        last_saved = st.step if resume else None
        try:
            while st.step < self.steps:
                t0 = time.perf_counter()
                b = self.task.sample(rng, self.batch)
                loss, grads, trace = self.model.loss_and_grad(st.params, b.x, self.task.loss_fn(b))
                loss = float(loss)
                bad = None
                if not np.isfinite(loss):
                    bad = f"the loss is {loss}"
                elif not _finite(grads):
                    bad = "a gradient holds NaN/inf (" + ", ".join(
                        k for k, g in grads.items() if not np.all(np.isfinite(g))) + ")"
                elif st.losses and loss > self.diverge_factor * st.losses[0]:
                    bad = (f"the loss {loss:.4g} diverged (> {self.diverge_factor:g} x the "
                           f"first loss {st.losses[0]:.4g})")
                if bad is None:
                    new = self.optimizer.step(st.params, grads)
                    if not _finite(new):
                        bad = "the Adam update made a parameter NaN/inf"
                if bad is not None:
                    where = (f"the last good checkpoint (step {last_saved}) is kept in "
                             f"{self.checkpoint_path}" if last_saved is not None else
                             "no checkpoint had been written yet")
                    raise TrainingDiverged(
                        f"training stopped at step {st.step + 1}: {bad}; {where}. Try a lower "
                        f"learning rate or a tighter gradient clip.")
                st.params = new
                st.step += 1
                st.losses.append(loss)
                st.grad_norms.append(float(self.optimizer.last_norm))
                st.seconds += time.perf_counter() - t0
                self.trace = trace
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}")
                if st.step % self.checkpoint_every == 0 or st.step == self.steps:
                    st.optimizer = self.optimizer.state_dict()
                    st.rng_state = rng.bit_generator.state
                    save_checkpoint(self.checkpoint_path, st)
                    last_saved = st.step
        finally:
            if bar is not None:
                bar.close()
        st.optimizer = self.optimizer.state_dict()
        st.rng_state = rng.bit_generator.state
        return st
