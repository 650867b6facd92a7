"""Parameter sweeps on a 2-worker Dask LocalCluster (brainkit.sweep): one compile per worker,
results written per point and resumed, an erroring point recorded while the others finish,
and a worker killed mid-sweep losing nothing (the same results as an undisturbed sweep).

About 40 s on 2 cores (the workers share a build cache: one compile in all)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

pytest.importorskip("distributed")
from distributed import Client, LocalCluster  # noqa: E402

from brainkit.sweep import RateExperiment, SweepError, grid_points, point_id, sweep  # noqa: E402

GRID = {"rate_hz": [10, 40], "seed": [1, 2, 3]}


@pytest.fixture(scope="module", autouse=True)
def shared_build_cache(tmp_path_factory):
    """The workers of every cluster here share one build cache (inherited environment): each
    still builds its network once, but only the first build compiles."""
    old = os.environ.get("BRAINKIT_BUILD_CACHE")
    os.environ["BRAINKIT_BUILD_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("BRAINKIT_BUILD_CACHE", None)
    else:
        os.environ["BRAINKIT_BUILD_CACHE"] = old


@pytest.fixture(scope="module")
def client(shared_build_cache):
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    c = Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def undisturbed(client, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    return out, sweep(RateExperiment(), GRID, str(out), client=client, progress=False)


def _metrics(result):
    return {point_id(r["point"]): r["metrics"] for r in result.points}


def test_a_sweep_compiles_once_per_worker_and_resumes(client, undisturbed):
    out, res = undisturbed
    assert res.ran == 6 and not res.errors
    assert 1 <= res.compiles <= 2  # one build per worker process, re-run for every point
    assert len({r["worker_pid"] for r in res.points if r["built_here"]}) == res.compiles
    rates = {(r["point"]["rate_hz"], r["point"]["seed"]): r["metrics"]["rate_hz"]
             for r in res.points}
    for s in (1, 2, 3):  # more input, more output
        assert rates[(40, s)] > rates[(10, s)] > 0
    assert len({rates[(10, s)] for s in (1, 2, 3)}) > 1  # the seed reaches the binary
    assert sorted(os.listdir(out / "points")) == sorted(f"{point_id(p)}.json"
                                                        for p in grid_points(GRID))
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["points"] == 6 and summary["compiles"] == res.compiles
    # run again: every point is there, nothing runs, the same results
    again = sweep(RateExperiment(), GRID, str(out), client=client, progress=False)
    assert again.ran == 0 and _metrics(again) == _metrics(res)
    # sweep.json keeps both calls: what the points cost is not lost by the resume
    summary = json.loads((out / "sweep.json").read_text())
    assert [c["ran"] for c in summary["calls"]] == [6, 0]
    assert summary["ran"] == 6 and summary["compiles"] == res.compiles
    assert summary["calls"][0]["workers"] == 2


def test_a_point_that_raises_is_recorded_and_the_others_finish(client, tmp_path):
    grid = {"rate_hz": [10, "fast"], "seed": [1]}
    res = sweep(RateExperiment(), grid, str(tmp_path), client=client, progress=False)
    bad = [r for r in res.points if r["status"] == "error"]
    assert [r["point"]["rate_hz"] for r in bad] == ["fast"]
    assert "ValueError" in bad[0]["error"] and "fast" in bad[0]["error"]
    good = [r for r in res.points if r["status"] == "ok"]
    assert len(good) == 1 and good[0]["metrics"]["spikes"] > 0


def test_a_killed_worker_loses_nothing(undisturbed, tmp_path):
    _, reference = undisturbed
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=":0")
    c = Client(cluster)
    killed = []

    def kill_one_when_a_point_is_done():
        folder = tmp_path / "points"
        while not (folder.exists() and any(f.suffix == ".json" for f in folder.iterdir())):
            time.sleep(0.05)
        pids = c.run(os.getpid)  # {worker address: pid}
        pid = sorted(pids.values())[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    t = threading.Thread(target=kill_one_when_a_point_is_done, daemon=True)
    t.start()
    try:
        res = sweep(RateExperiment(), GRID, str(tmp_path), client=c, progress=False)
    finally:
        c.close()
        cluster.close()
    t.join(timeout=5)
    assert killed, "no worker was killed"
    assert res.ran == 6 and not res.errors
    assert _metrics(res) == _metrics(reference)  # complete and identical


def test_bad_grids_are_named():
    with pytest.raises(SweepError, match="non-empty dict"):
        grid_points({})
    with pytest.raises(SweepError, match="'rate_hz' has no values"):
        grid_points({"rate_hz": []})
    with pytest.raises(SweepError, match=r"value \[1\] is not a number or string"):
        grid_points({"rate_hz": [[1]]})
    assert grid_points({"a": np.array([1, 2]), "b": "x"}) == [{"a": 1, "b": "x"},
                                                            {"a": 2, "b": "x"}]


def test_cli_sweep_runs_and_reports_errors_in_one_line(tmp_path):
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "brainkit", "sweep", "rate", "--grid",
                           "rate_hz=20", "--grid", "seed=1,2", "--out", str(tmp_path / "s"),
                           "--workers", "1", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 points (2 run now, 1 network builds, 0 errors)" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "brainkit", "sweep", "rate", "--grid",
                           "rate_hz", "--out", str(tmp_path / "t")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "brainkit sweep: --grid 'rate_hz': write NAME=V1,V2,..."


def test_a_list_of_points_runs_as_given_and_is_checked():
    assert grid_points([{"g": 3, "eta": 2.0}, {"g": 6, "eta": 4}]) == [
        {"g": 3, "eta": 2.0}, {"g": 6, "eta": 4}]
    with pytest.raises(SweepError, match=r"point 1 has the names \['g'\], point 0 \['g', "
                                         r"'eta'\]"):
        grid_points([{"g": 3, "eta": 2}, {"g": 6}])
    with pytest.raises(SweepError, match="a point twice"):
        grid_points([{"g": 3}, {"g": 3}])


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """A cluster started apart from brainkit, as on several machines: ``dask scheduler`` and
    ``dask worker`` processes; yields the scheduler's address."""
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    info = tmp_path_factory.mktemp("scheduler") / "scheduler.json"
    procs = [subprocess.Popen([dask, "scheduler", "--scheduler-file", str(info), "--port", "0",
                               "--dashboard-address", ":0"], stderr=subprocess.DEVNULL)]
    try:
        deadline = time.time() + 60
        while not info.exists() and time.time() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([dask, "worker", address, "--nworkers", "2", "--nthreads",
                                       "1", "--dashboard-address", ":0"],
                                      stderr=subprocess.DEVNULL))
        with Client(address) as c:
            c.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for p in procs[::-1]:
            p.terminate()
            p.wait(timeout=30)


def test_an_existing_scheduler_runs_the_cli_sweep(scheduler, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "brainkit", "sweep", "rate", "--grid",
                           "rate_hz=20,40", "--out", str(tmp_path / "s"), "--scheduler",
                           scheduler, "--quiet"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 points (2 run now" in proc.stdout
    pids = {json.loads(p.read_text())["worker_pid"]
            for p in (tmp_path / "s" / "points").glob("*.json")}
    assert pids and os.getpid() not in pids  # run by the cluster's workers


@pytest.mark.long
def test_an_existing_scheduler_runs_data_parallel_training(scheduler, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "brainkit", "train", "xor", "--quick",
                           "--steps", "2", "--out", str(tmp_path / "xor"), "--scheduler",
                           scheduler], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.exists(tmp_path / "xor" / "metrics.json")
