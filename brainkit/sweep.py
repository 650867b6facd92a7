"""Parameter sweeps on Dask: every worker compiles a network once and re-runs it per point.

A sweep runs one :class:`Experiment` over a grid of parameter values (the cartesian product
of the values given per name)::

    result = sweep(RateExperiment(), {"rate_hz": [5, 10, 20], "seed": [1, 2]}, "out/sweep")

on a ``dask.distributed`` cluster: an embedded ``LocalCluster`` of ``workers`` processes by
default, or the ``Client`` of an existing cluster (``Client("tcp://scheduler:8786")``).  Every
point is one task.  A worker builds the experiment's network the first time it gets one of its
points (on ``cpp_standalone``: generated and compiled once) and keeps it; every later point it
gets re-runs that binary with the point's values (``run_args``: weights, rates, initial values,
seeds), so a sweep of P points on W workers compiles at most W times.

Each point's result is written as ``<out>/points/<id>.json`` (atomically, when it finishes);
run again, the sweep skips the points whose file exists (resume); ``<out>/sweep.json`` lists
the grid and every call on the folder (points run, compiles, seconds, workers).  A point that
raises is recorded with its error (``status: "error"``) and the others finish.  A worker
that dies mid-sweep loses nothing: Dask's scheduler gives its unfinished points to the other
workers (up to ``distributed.scheduler.allowed-failures`` times per point), and since a
point's result depends only on the point (its values and seed), the sweep's results are
those of an undisturbed run.

An experiment is a picklable object (defined in an importable module: Dask sends it to the
workers) with a ``name``, ``build()`` returning a :class:`brainkit.Network` and
``measure(net, point)`` returning a JSON-able dict.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import product
from typing import Any, Dict, List, Optional, Sequence

from .fileio import write_json

__all__ = ["Experiment", "SweepError", "SweepResult", "dask_client", "grid_points", "point_id",
           "run_point", "sweep", "worker_plugin", "RateExperiment"]


class SweepError(ValueError):
    """A wrong grid, experiment or output folder (names what is wrong)."""


class Experiment:
    """What a sweep runs at every point: override :meth:`build` and :meth:`measure`."""

    name = "experiment"

    def build(self):
        """The network (a :class:`brainkit.Network`), built once per worker."""
        raise NotImplementedError

    def measure(self, net, point: Dict[str, Any]) -> Dict[str, Any]:
        """Run ``net`` with the point's values; return JSON-able metrics."""
        raise NotImplementedError


def grid_points(grid) -> List[Dict[str, Any]]:
    """The cartesian product of ``grid`` (name -> values) as a list of points (dicts), in the
    order of the names given and their values; or ``grid`` itself when it is a list of
    points (dicts with the same names), e.g. a paper's few parameter sets."""
    if isinstance(grid, (list, tuple)) and grid and all(isinstance(p, dict) for p in grid):
        names = list(grid[0])
        points = []
        for k, p in enumerate(grid):
            if list(p) != names:
                raise SweepError(f"point {k} has the names {list(p)}, point 0 {names}: every "
                                 "point of a list gives the same parameters")
            points.append(grid_points({n: [v] for n, v in p.items()})[0])
        if len({point_id(p) for p in points}) != len(points):
            raise SweepError("the list of points has a point twice")
        return points
    if not isinstance(grid, dict) or not grid:
        raise SweepError("the grid must be a non-empty dict of parameter name -> values, or "
                         "a list of points (dicts)")
    names = list(grid)
    values = []
    for k in names:
        v = grid[k]
        v = list(v) if isinstance(v, (list, tuple, range)) or hasattr(v, "tolist") else [v]
        v = [x.item() if hasattr(x, "item") else x for x in v]
        if not v:
            raise SweepError(f"grid parameter '{k}' has no values")
        for x in v:
            if not isinstance(x, (int, float, str, bool)):
                raise SweepError(f"grid parameter '{k}': value {x!r} is not a number or "
                                 f"string")
        values.append(v)
    return [dict(zip(names, combo)) for combo in product(*values)]


def point_id(point: Dict[str, Any]) -> str:
    """A file name for ``point``, readable and unique: ``rate_hz=5,seed=1-<hash>``."""
    text = json.dumps(point, sort_keys=True)
    readable = ",".join(f"{k}={point[k]}" for k in sorted(point))
    readable = re.sub(r"[^A-Za-z0-9_.=,+-]", "_", readable)[:80]
    return f"{readable}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


#: the networks this process has built, by experiment (a worker's compile-once store)
_BUILT: Dict[str, Any] = {}


def worker_plugin():
    """A Dask worker plugin importing Brian2 when a worker starts (also a worker restarted
    after a crash): its first import installs a signal handler, which Python allows only in
    a process's main thread, and tasks run in other threads."""
    from distributed import WorkerPlugin

    class ImportBrian2(WorkerPlugin):
        name = "brainkit-import-brian2"

        def setup(self, worker):
            import brian2  # noqa: F401

    return ImportBrian2()


def run_point(experiment: Experiment, point: Dict[str, Any]) -> Dict[str, Any]:
    """Run one point in this process (a Dask task): build the experiment's network if this
    process has not yet, then measure.  An error of the point is returned, not raised."""
    key = f"{type(experiment).__module__}.{type(experiment).__qualname__}:" \
          f"{json.dumps(getattr(experiment, '__dict__', {}), sort_keys=True, default=str)}"
    t0 = time.perf_counter()
    built_here = key not in _BUILT
    out = {"point": dict(point), "worker_pid": os.getpid(), "built_here": False}
    try:
        if built_here:
            _BUILT[key] = experiment.build()
            out["built_here"] = True
        metrics = experiment.measure(_BUILT[key], dict(point))
        json.dumps(metrics)  # JSON-able, or the point's error says so
        out.update(status="ok", metrics=metrics)
    except Exception as exc:  # recorded with the point; the sweep goes on
        out.update(status="error", error=f"{type(exc).__name__}: {exc}")
    out["seconds"] = time.perf_counter() - t0
    return out


@dataclass
class SweepResult:
    """All points of a sweep folder (done now or before).

    Attributes
    ----------
    points : list of dict
        One record per grid point, in grid order: ``point``, ``status`` (``ok``/``error``),
        ``metrics`` or ``error``, ``worker_pid``, ``built_here``, ``seconds``.
    ran : int
        Points run by this call (the others were done already: resume).
    compiles : int
        Networks built by this call (at most one per worker process).
    wall_s : float
        Seconds of this call.
    calls : list of dict
        Every call on this folder so far (``ran``, ``compiles``, ``wall_s``, ``workers``,
        ``finished``), as ``sweep.json`` keeps them: a resumed sweep's first calls included.
    """

    points: List[Dict[str, Any]]
    ran: int
    compiles: int
    wall_s: float
    errors: List[Dict[str, Any]] = field(default_factory=list)
    calls: List[Dict[str, Any]] = field(default_factory=list)


@contextmanager
def dask_client(workers: int = 2, scheduler: Optional[str] = None):
    """A ``distributed.Client`` for the block, closed after it: of the running scheduler at
    ``scheduler`` (``tcp://HOST:8786``), else of an embedded ``LocalCluster`` of ``workers``
    processes with one thread each (started and shut down with the block)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    if int(workers) < 1:
        raise SweepError(f"workers must be >= 1, got {workers}")
    with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


def sweep(experiment: Experiment, grid, out: str, client=None,
          workers: int = 2, progress: bool = True) -> SweepResult:
    """Run ``experiment`` at every point of ``grid`` on Dask; see the module docstring.

    Parameters
    ----------
    experiment : Experiment
    grid : dict or list of dict
        Parameter name -> values (numbers or strings): the sweep runs their product; or a
        list of points (dicts with the same names) run as given.
    out : str
        Folder of the results (``points/<id>.json`` per point, ``sweep.json``).
    client : distributed.Client, optional
        An existing cluster's client; by default a ``LocalCluster`` of ``workers`` processes
        (one thread each) is started for the sweep and closed after it.
    workers : int
    progress : bool
        A progress bar counting points (tqdm).
    """
    from distributed import as_completed
    from tqdm import tqdm

    if not hasattr(experiment, "build") or not hasattr(experiment, "measure"):
        raise SweepError(f"{experiment!r} is not an experiment (it needs build() and "
                         f"measure(net, point))")
    points = grid_points(grid)
    folder = os.path.join(out, "points")
    os.makedirs(folder, exist_ok=True)
    paths = {point_id(p): os.path.join(folder, point_id(p) + ".json") for p in points}
    todo = [p for p in points if not os.path.exists(paths[point_id(p)])]
    t0 = time.perf_counter()
    ran = compiles = 0
    if todo:
        with ExitStack() as own:
            if client is None:
                client = own.enter_context(dask_client(workers))
            client.register_plugin(worker_plugin(), name="brainkit-import-brian2")
            futures = [client.submit(run_point, experiment, p, pure=False,
                                     key=f"brainkit-sweep-{point_id(p)}-{time.time_ns()}")
                       for p in todo]
            bar = tqdm(total=len(points), initial=len(points) - len(todo), unit="point",
                       desc=f"sweep {getattr(experiment, 'name', '')}", disable=not progress)
            for fut in as_completed(futures):
                record = fut.result()
                write_json(paths[point_id(record["point"])], record, indent=1)
                ran += 1
                compiles += bool(record.get("built_here") and record["status"] == "ok")
                bar.update(1)
            bar.close()
    records = []
    for p in points:
        with open(paths[point_id(p)]) as f:
            records.append(json.load(f))
    result = SweepResult(points=records, ran=ran, compiles=compiles,
                         wall_s=time.perf_counter() - t0,
                         errors=[r for r in records if r["status"] != "ok"])
    # sweep.json keeps every call (a resumed sweep adds one): what the points cost in all
    info = os.path.join(out, "sweep.json")
    calls = []
    if os.path.exists(info):
        with open(info) as f:
            calls = json.load(f).get("calls", [])
    calls.append({"ran": ran, "compiles": compiles, "wall_s": result.wall_s,
                  "workers": _workers(client) if todo else 0,
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
    result.calls = calls
    write_json(info,
               {"experiment": getattr(experiment, "name", type(experiment).__name__),
                "grid": {k: list(dict.fromkeys(p[k] for p in points)) for k in points[0]},
                "points": len(points), "errors": len(result.errors),
                "ran": sum(c["ran"] for c in calls),
                "compiles": sum(c["compiles"] for c in calls),
                "wall_s": sum(c["wall_s"] for c in calls), "calls": calls}, indent=1)
    return result


def _workers(client) -> int:
    try:
        return len(client.scheduler_info()["workers"])
    except Exception:  # noqa: BLE001 - informative only
        return 0


class RateExperiment(Experiment):
    """A population of ``n`` LIF neurons driven by ``n_in`` Poisson inputs (exp_current,
    p = 0.2): a point sets the input rate ``rate_hz``, the weight ``weight_na`` and the
    ``seed`` (all run-time values: one binary for every point) and measures the mean rate.
    The sweep's smallest real experiment (tests, documentation)."""

    name = "rate"

    def __init__(self, n: int = 50, n_in: int = 100, duration_ms: float = 200.0,
                 backend: str = "cpp_standalone"):
        self.n, self.n_in, self.duration_ms, self.backend = n, n_in, duration_ms, backend

    def build(self):
        from brian2 import Hz, ms, nA

        from .network import Network

        net = Network(dt=0.1 * ms, backend=self.backend, seed=1, name="sweep-rate")
        net.population("exc", "lif", self.n)
        net.poisson_source("inp", self.n_in, rates=10 * Hz)
        net.connect("inp", "exc", "exp_current", weights=0.5 * nA, p=0.2, seed=2,
                    name="inp->exc")
        net.record("exc", "spikes")
        return net

    def measure(self, net, point):
        from brian2 import Hz, ms, nA

        kwargs = {"restart": True, "seed": int(point.get("seed", 1))}
        if "rate_hz" in point:
            kwargs["rates"] = {"inp": float(point["rate_hz"]) * Hz}
        if "weight_na" in point:
            n_syn = len(net.connections["inp->exc"].i)
            kwargs["weights"] = {"inp->exc": [float(point["weight_na"])] * n_syn * nA}
        res = net.run(self.duration_ms * ms, **kwargs)
        counts = res.spike_counts("exc")
        return {"rate_hz": float(counts.sum() / (self.n * self.duration_ms * 1e-3)),
                "spikes": int(counts.sum())}
