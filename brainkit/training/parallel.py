"""Data-parallel training on Dask: each worker simulates its share of the batch, exact
gradients summed.

:class:`DataParallel` stands in for a :class:`~brainkit.training.recurrent.RecurrentSNN` of
batch ``B`` (what :class:`~brainkit.training.trainer.Trainer` and the evaluation need:
``init_params``, ``loss_and_grad``, ``forward``, ``batch``): ``W`` workers each hold their own
compiled network of ``B / W`` trials (built once, on that worker).  One training step::

    forward:   worker k runs trials k*B/W .. (k+1)*B/W - 1 and keeps its trace   (in parallel)
    loss:      o of all trials gathered here; (L, dL/do) = loss_fn(o) on the whole batch
    backward:  worker k runs the adjoint of its trials with its share of dL/do   (in parallel)
    gradient:  the sum of the W workers' gradients

Trials are independent in the simulation (block-diagonal), so every trial's readout is the
single-process one bit for bit, the loss is computed by the same function on the same numbers,
and the gradient differs from the single-process one only by the order of one sum over trials
(rounding).  Only the readouts (``B x T x n_out``) and the gradients travel; the recorded
states stay on the workers.  The two rounds go to the same workers (Dask ``workers=``); a
worker lost mid-step fails the step with a clear error (training is resumed from its
checkpoint with ``--resume``).
"""

from __future__ import annotations

import itertools
import os
import uuid
from typing import Any, Callable, Dict, List

import numpy as np

__all__ = ["DataParallel"]

#: per worker process: this worker's model and its last trace, by DataParallel key
_MODELS: Dict[str, List[Any]] = {}


def _build(key: str, make_model: Callable, batch: int) -> int:
    model = make_model(batch)
    if model.backend != "runtime":
        model.build()
    _MODELS[key] = [model, None]
    return os.getpid()


def _forward(key: str, params, x):
    entry = _MODELS[key]
    entry[1] = entry[0].forward(params, x)
    return entry[1]


def _readout(key: str, params, x):
    return _forward(key, params, x).o


def _backward(key: str, dl_do):
    model, trace = _MODELS[key]
    return model.backward(trace, dl_do)


def _close(key: str) -> None:
    entry = _MODELS.pop(key, None)
    if entry is not None:
        entry[0].close()


class DataParallel:
    """A training model whose batch is split over the workers of a Dask cluster.

    Parameters
    ----------
    make_model : callable
        ``make_model(batch) -> RecurrentSNN`` (picklable, e.g. a ``functools.partial``): called
        once here (``batch=1``, for the parameters' shapes and initialisation, not built) and
        once on each worker with ``batch / workers``.
    batch : int
        The batch of one training step; divisible by the number of workers.
    client : distributed.Client
    workers : int, optional
        How many of the cluster's workers to use (default: all).
    """

    _ids = itertools.count()

    def __init__(self, make_model: Callable, batch: int, client, workers: int = None):
        from ..sweep import worker_plugin

        addrs = sorted(client.scheduler_info()["workers"])
        n = len(addrs) if workers is None else int(workers)
        if not 1 <= n <= len(addrs):
            raise ValueError(f"data-parallel training on {n} workers: the cluster has "
                             f"{len(addrs)}")
        if batch % n:
            raise ValueError(f"the batch of {batch} trials does not split over {n} workers "
                             f"(give a batch divisible by {n})")
        self.client, self.addrs, self.batch = client, addrs[:n], int(batch)
        self.shard = self.batch // n
        self.key = f"brainkit-dp-{uuid.uuid4().hex[:8]}-{next(self._ids)}"
        self.local = make_model(1)  # parameters and their checks; never simulated
        for k in ("n_in", "n_hidden", "n_out", "steps", "dt", "dt_s", "backend"):
            setattr(self, k, getattr(self.local, k))
        client.register_plugin(worker_plugin(), name="brainkit-import-brian2")
        self.worker_pids = client.gather([
            client.submit(_build, self.key, make_model, self.shard, workers=[a], pure=False,
                          allow_other_workers=False) for a in self.addrs])

    def init_params(self, seed) -> Dict[str, np.ndarray]:
        return self.local.init_params(seed)

    def check_params(self, params):
        return self.local.check_params(params)

    def constant_defaults(self):
        return self.local.constant_defaults()

    def _split(self, x) -> List[np.ndarray]:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] != self.batch:
            raise ValueError(f"input x has {x.shape[0]} trials, expected the batch of "
                             f"{self.batch}")
        return [x[k * self.shard:(k + 1) * self.shard] for k in range(len(self.addrs))]

    def _each(self, fn, *per_worker_args):
        return self.client.gather([
            self.client.submit(fn, self.key, *args, workers=[a], pure=False,
                               allow_other_workers=False)
            for a, args in zip(self.addrs, zip(*per_worker_args))])

    def __getattr__(self, name):
        # what the evaluation and the export read of the model (neuron, synapse, units, ...)
        if name == "local":
            raise AttributeError(name)
        return getattr(self.local, name)

    def forward(self, params, x):
        """The whole batch's :class:`~brainkit.training.recurrent.Trace`, the workers' traces
        joined in trial order."""
        from .recurrent import Trace

        parts = self._split(x)
        traces = self._each(_forward, [params] * len(parts), parts)
        first = traces[0]
        return Trace(o=np.concatenate([t.o for t in traces], axis=0),
                     states={k: np.concatenate([t.states[k] for t in traces], axis=1)
                             for k in first.states},
                     I=np.concatenate([t.I for t in traces], axis=1),
                     spikes=[s for t in traces for s in t.spikes],
                     x=np.concatenate([t.x for t in traces], axis=0), params=first.params,
                     voltage=first.voltage, trace_name=first.trace_name,
                     timings={"run": max(t.timings.get("run", 0.0) for t in traces)})

    def loss_and_grad(self, params, x, loss_fn):
        """``(loss, grads, None)`` of the whole batch; see the module docstring."""
        parts = self._split(x)
        o = np.concatenate(self._each(_readout, [params] * len(parts), parts), axis=0)
        loss, dl_do = loss_fn(o)
        dl_do = np.asarray(dl_do, dtype=np.float64)
        shares = [dl_do[k * self.shard:(k + 1) * self.shard] for k in range(len(parts))]
        grads = self._each(_backward, shares)
        total = {k: np.array(v, dtype=np.float64, copy=True) for k, v in grads[0].items()}
        for g in grads[1:]:
            for k in total:
                total[k] += g[k]
        return float(loss), total, None

    def close(self) -> None:
        """Delete the workers' networks."""
        try:
            self.client.gather([self.client.submit(_close, self.key, workers=[a], pure=False)
                                for a in self.addrs])
        except Exception:  # a worker already gone: nothing of it to delete
            pass
