"""A :class:`~brainkit.exporters.cuba.CubaNetwork` as Lava processes, run on Lava's CPU
simulator.

This module runs where lava-nc is installed: its own Python 3.10 environment (``.venv-lava``;
lava-nc 0.10.0 needs numpy < 2 and Python < 3.11), which needs only numpy and lava-nc, no
Brian2.  There, :func:`build_processes` gives the Lava processes of an exported network
(:func:`brainkit.exporters.cuba.load_cuba`) to wire into a Lava program, and
``python -m brainkit.exporters.lava JOBS.json`` runs some (:func:`main`; what
:func:`brainkit.loihi.lava_env.run_lava` calls from the core environment, which never
imports lava).

Processes (lava-nc 0.10.0)::

    RingBuffer (lava.proc.io.source)   input generator: channel values x[:, t-1] at step t
      -> Dense (lava.proc.dense)         a_out[t+1] = W x[t]  (<< weight_exp in fixed point)
      -> LIF (lava.proc.lif)             u, v, spikes (Lava's CUBA LIF)
      -> Dense (recurrent / feed-forward between populations)
      -> SpikeBits (lava_procs)          readout: the spikes of every step, 32 steps a value
                                          (Lava's RingBuffer sink reads back one value per
                                          message: 20 s for 1920 neurons x 210 steps)

run under ``Loihi2SimCfg(select_tag='floating_pt')`` for a float network and
``Loihi2SimCfg(select_tag='fixed_pt')`` (the bit-accurate models ``PyLifModelBitAcc`` and
``PyDenseModelBitAcc``) for a fixed-point one.  Binary inputs and spikes use
``num_message_bits=0``; analog ('current') input channels are graded values
(``num_message_bits=24``).  :func:`run_processes` always stops the runtime (its worker processes),
also when the run fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Dict

import numpy as np

from .cuba import CubaNetwork, ExportError


def _import_lava() -> None:
    """Import Lava's runtime.  Lava calls ``multiprocessing.set_start_method('fork')`` when
    it is first imported, which fails once anything in the process has used multiprocessing
    (a tqdm progress bar does, through its lock).  Where the start method in use is 'fork'
    already, unset it (the public ``force=True`` call) so that Lava can set the same."""
    import multiprocessing as mp
    import sys

    if "lava.magma.runtime.message_infrastructure.multiprocessing" not in sys.modules:
        method = mp.get_start_method(allow_none=True)
        if method not in (None, "fork"):
            raise ExportError(f"Lava needs the 'fork' multiprocessing start method; this "
                              f"process already uses '{method}'")
        if method == "fork":
            mp.set_start_method(None, force=True)
    import lava.magma.runtime.message_infrastructure.multiprocessing  # noqa: F401


@dataclass
class LavaRun:
    """Spikes ``{population: (T, n) bool}`` (row ``t-1`` = step ``t``), the final ``u``, ``v``
    and the wall-clock seconds of the run (``seconds``, without building the processes)."""

    spikes: Dict[str, np.ndarray]
    u: Dict[str, np.ndarray] = field(default_factory=dict)
    v: Dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    build_seconds: float = 0.0


def build_processes(net: CubaNetwork, inputs: Dict[str, np.ndarray], steps: int) -> Dict[str, Any]:
    """Create (not run) the Lava processes of ``net``; ``inputs`` as in
    :func:`brainkit.exporters.loihi_ref.simulate`.  Returns ``{name: process}`` with the
    spike recorders (:class:`~brainkit.exporters.lava_procs.spike_bits.SpikeBits`; after a
    run, ``.spikes()`` gives ``(steps, n)`` booleans) under ``'sink:<population>'``."""
    _import_lava()
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    from .lava_procs.spike_bits import SpikeBits
    from .loihi_ref import check_inputs

    x = check_inputs(net, inputs, steps)
    procs: Dict[str, Any] = {}
    for name, arr in x.items():
        data = arr.T.astype(np.int32 if net.fixed else float)  # (n, T): time last
        procs[name] = Source(data=np.ascontiguousarray(data))
    for p, P in net.populations.items():
        kw = dict(shape=(P.n,), name=p)
        u0 = np.zeros(P.n) if P.u0 is None else np.asarray(P.u0)
        v0 = np.zeros(P.n) if P.v0 is None else np.asarray(P.v0)
        if net.fixed:
            procs[p] = LIF(du=int(P.d_u), dv=int(P.d_v), vth=int(P.vth),
                           bias_mant=np.asarray(P.bias, np.int32) * np.ones(P.n, np.int32),
                           bias_exp=np.asarray(P.bias_exp, np.int32) * np.ones(P.n, np.int32),
                           u=u0.astype(np.int32), v=v0.astype(np.int32), **kw)
        else:
            procs[p] = LIF(du=float(P.d_u), dv=float(P.d_v), vth=float(P.vth),
                           bias_mant=np.asarray(P.bias, float) * np.ones(P.n), bias_exp=0,
                           u=u0.astype(float), v=v0.astype(float), **kw)
        procs[f"sink:{p}"] = SpikeBits(shape=(P.n,), steps=steps)
        procs[p].s_out.connect(procs[f"sink:{p}"].a_in)
    for c in net.connections.values():
        w = np.asarray(c.weights)
        w = w.astype(np.int32) if net.fixed else w.astype(float)
        kw = dict(weights=w, num_message_bits=24 if c.graded else 0)
        if net.fixed:
            kw["weight_exp"] = int(c.weight_exp)
        d = Dense(**kw)
        procs[f"dense:{c.name}"] = d
        src = procs[c.pre]
        src.s_out.connect(d.s_in)
        d.a_out.connect(procs[c.post].a_in)
    return procs


def run_processes(net: CubaNetwork, inputs: Dict[str, np.ndarray], steps: int) -> LavaRun:
    """Build and run ``net`` on Lava's CPU simulator for ``steps`` steps in this process
    (lava-nc must be importable); always stops it."""
    _import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    if steps < 1:
        raise ExportError(f"steps = {steps}: run at least one step")
    if not net.populations:
        raise ExportError("the network has no population to run")
    t0 = time.perf_counter()
    procs = build_processes(net, inputs, steps)
    first = procs[next(iter(net.populations))]
    cfg = Loihi2SimCfg(select_tag="fixed_pt" if net.fixed else "floating_pt")
    build_s = time.perf_counter() - t0
    started = False
    try:
        t0 = time.perf_counter()
        started = True
        first.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
        seconds = time.perf_counter() - t0
        out = LavaRun(spikes={}, seconds=seconds, build_seconds=build_s)
        for p in net.populations:
            out.spikes[p] = procs[f"sink:{p}"].spikes()
            out.u[p] = np.asarray(procs[p].u.get())
            out.v[p] = np.asarray(procs[p].v.get())
        return out
    finally:
        if started:
            first.stop()


def save_run(path, run: LavaRun) -> None:
    """Write a :class:`LavaRun` as one ``.npz`` file, atomically."""
    from brainkit.fileio import atomic_write

    arrays = {"seconds": np.float64(run.seconds), "build_seconds": np.float64(run.build_seconds)}
    for key in ("spikes", "u", "v"):
        for p, a in getattr(run, key).items():
            arrays[f"{key}/{p}"] = np.asarray(a)
    with atomic_write(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


def load_run(path) -> LavaRun:
    """Read a file written by :func:`save_run`."""
    out = LavaRun(spikes={})
    with np.load(path) as f:
        out.seconds, out.build_seconds = float(f["seconds"]), float(f["build_seconds"])
        for k in f.files:
            if "/" in k:
                key, p = k.split("/", 1)
                getattr(out, key)[p] = f[k]
    return out


def main(argv=None) -> int:
    """``python -m brainkit.exporters.lava JOBS.json``: run exported networks
    (:func:`brainkit.exporters.cuba.save_cuba`), one after the other in this process.
    ``JOBS.json`` lists ``{"network": NET.npz, "inputs": INPUTS.npz, "steps": T, "out":
    OUT.npz}``; each run's :class:`LavaRun` goes to its ``out``.  Exit 2 with one line on
    stderr for a network or inputs Lava cannot run."""
    import json
    import sys

    from .cuba import load_cuba

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m brainkit.exporters.lava JOBS.json", file=sys.stderr)
        return 2
    try:
        with open(args[0]) as f:
            jobs = json.load(f)
        for job in jobs:
            net = load_cuba(job["network"])
            with np.load(job["inputs"]) as f:
                inputs = {k: f[k] for k in f.files}
            save_run(job["out"], run_processes(net, inputs, int(job["steps"])))
    except ExportError as exc:
        print(f"lava: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a module in the Lava environment
    raise SystemExit(main())
