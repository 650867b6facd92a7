"""The command line loses nothing and hides nothing (issue 16): a run owns its ``--out`` folder
(a lock while it writes, no silent replacement of another run's results, the folder checked
before any work); every error is one line naming the cause with exit status 2 (``--debug``
adds the traceback); Ctrl-C or SIGINT ends a command with exit status 130, a training naming
the step and the checkpoint kept, and leaves no build folder; arguments are checked where they
are given; progress is plain lines where stderr is not a terminal.

The interrupts are real: ``python -m brainkit`` in a subprocess, sent SIGINT (to the process,
or to its process group as a terminal's Ctrl-C is) while it compiles or trains.
"""

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from brainkit.cli import main
from brainkit.progress import PlainProgress, progress_bar
from brainkit.runfolder import LOCK_FILE, RunFolder, RunFolderError

from brainkit.training.tasks import HYPER

ROOT = Path(__file__).resolve().parents[1]
QUICK_XOR_STEPS = HYPER["xor"]["quick"]["steps"]


def _err_line(capsys) -> str:
    """stderr of the last command, which must be exactly one line."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _start(args, build_root, cwd, new_session=False):
    env = dict(os.environ, BRAINKIT_BUILD_ROOT=str(build_root), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "brainkit", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=new_session)


def _wait_for(condition, proc, timeout=240.0, what=""):
    t0 = time.monotonic()
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the command ended (rc {proc.returncode}) before {what}:\n"
                        f"{out[-2000:]}\n{err[-3000:]}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail(f"no {what} after {timeout} s")
        time.sleep(0.1)


def _nir_network(path):
    from brainkit.loihi.random_network import random_cuba_network
    from brainkit.netfile import save_network

    _, spec = random_cuba_network(n_in=4, n=5, steps=20, seed=1)
    return save_network(path, spec)


# ---------------------------------------------------------------- arguments, where given
@pytest.mark.parametrize("argv, message", [
    (["train", "xor", "--steps", "0", "--out", "X"],
     "brainkit train: argument --steps: must be a whole number >= 1, got '0'"),
    (["train", "xor", "--steps", "-5", "--out", "X"],
     "brainkit train: argument --steps: must be a whole number >= 1, got '-5'"),
    (["train", "xor", "--seed", "-1", "--out", "X"],
     "brainkit train: argument --seed: must be a whole number >= 0, got '-1'"),
    (["train", "xor", "--backend", "nest", "--out", "X"],
     "brainkit train: argument --backend: invalid choice: 'nest'"),
    (["export", "N.h5", "--to", "nir", "--out", "X", "--trials", "0"],
     "brainkit export: argument --trials: must be a whole number >= 1, got '0'"),
    (["export", "N.h5", "--to", "nir", "--out", "X", "--steps", "0"],
     "brainkit export: argument --steps: must be a whole number >= 1, got '0'"),
    (["finetune", "N.h5", "--out", "X", "--lr", "-0.01"],
     "brainkit finetune: argument --lr: must be a finite number > 0, got '-0.01'"),
    (["finetune", "N.h5", "--out", "X", "--lr", "nan"],
     "brainkit finetune: argument --lr: must be a finite number > 0, got 'nan'"),
    (["finetune", "N.h5", "--out", "X", "--trials", "0"],
     "brainkit finetune: argument --trials: must be a whole number >= 1, got '0'"),
    (["gradcheck", "--neurons", "0"],
     "brainkit gradcheck: argument --neurons: must be a whole number >= 1, got '0'"),
    (["gradcheck", "--steps", "1.5"],
     "brainkit gradcheck: argument --steps: must be a whole number >= 1, got '1.5'"),
])
def test_bad_arguments_are_refused_in_one_line_before_anything_runs(tmp_path, capsys,
                                                                    monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    line = _err_line(capsys)
    assert line.startswith(message), line
    assert line.endswith(f"(see brainkit {argv[0]} --help)")
    assert not (tmp_path / "X").exists()


def test_unknown_and_unavailable_backends_and_contradictions_are_one_line(tmp_path, capsys):
    assert main(["train", "xor", "--out", str(tmp_path / "a"), "--backend", "genn"]) == 2
    assert _err_line(capsys).startswith("brainkit train: backend 'genn' is not available: "
                                        "install brian2genn and GeNN")
    assert main(["train", "xor", "--out", str(tmp_path / "a"), "--resume", "--overwrite"]) == 2
    assert _err_line(capsys) == ("brainkit train: --resume continues the run in --out, "
                                 "--overwrite replaces it: give one of them")
    assert not (tmp_path / "a").exists()


# ---------------------------------------------------------------- one line per error
def test_errors_of_the_commands_are_one_line_naming_the_cause(tmp_path, capsys):
    from brainkit.training.trainer import TrainState, save_checkpoint

    # a checkpoint of another configuration (found before anything compiles)
    out = tmp_path / "ck"
    save_checkpoint(out / "checkpoint.npz", TrainState(
        step=3, params={"U": np.zeros(2)}, optimizer={"config": {}}, rng_state={},
        config={"task": "xor", "n_hidden": 7}))
    assert main(["train", "xor", "--quick", "--out", str(out), "--resume"]) == 2
    line = _err_line(capsys)
    assert line.startswith(f"brainkit train: checkpoint {out / 'checkpoint.npz'} was written "
                           f"by a different configuration (differs in: "), line
    # a missing network file; a model the library lacks
    assert main(["export", str(tmp_path / "none.h5"), "--to", "nir",
                 "--out", str(tmp_path / "e")]) == 2
    assert _err_line(capsys) == (f"brainkit export: network file {tmp_path / 'none.h5'} does "
                                 f"not exist")
    assert main(["train", "xor", "--neuron", "no_such_model", "--out", str(tmp_path / "t")]) == 2
    assert _err_line(capsys).startswith("brainkit train: no model named 'no_such_model' in "
                                        "the library")
    # nothing of these runs is left behind
    assert not (tmp_path / "e").exists() and not (tmp_path / "t").exists()
    assert not (out / LOCK_FILE).exists() and (out / "checkpoint.npz").exists()


def test_an_internal_error_is_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    import brainkit.library

    def broken():
        raise TypeError("list_models() broke")

    monkeypatch.setattr(brainkit.library, "list_models", broken)
    assert main(["models"]) == 2
    assert _err_line(capsys) == ("brainkit models: internal error, TypeError: list_models() "
                                 "broke (brainkit --debug models ... shows the traceback)")
    assert main(["--debug", "models"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and 'raise TypeError("list_models() ' in err
    assert err.strip().splitlines()[-1].startswith("brainkit models: internal error")
    assert main(["models", "--debug"]) == 2  # also after the command
    assert "Traceback" in capsys.readouterr().err


def test_a_model_gradcheck_cannot_differentiate_is_one_line_not_brians_banner(tmp_path):
    """In a real process, where Brian2's excepthook and logging are installed: one line on
    stderr, exit 2; ``--debug`` prints the traceback (and still no Brian2 banner)."""
    args = ["gradcheck", "--model", "lif", "--neurons", "2", "--steps", "10", "--backend",
            "runtime", "--out", str(tmp_path / "gc")]
    run = subprocess.run([sys.executable, "-m", "brainkit", *args], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("brainkit gradcheck: ") and "lif.yaml, line" in run.stderr
    assert "reset 'v = V_r'" in run.stderr
    debug = subprocess.run([sys.executable, "-m", "brainkit", "--debug", *args],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert debug.returncode == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert "NotDifferentiableError" in debug.stderr
    assert "Brian 2 encountered an unexpected error" not in run.stderr + debug.stderr
    assert not (tmp_path / "gc").exists()


# ---------------------------------------------------------------- run folders
def test_out_that_cannot_be_written_is_refused_before_any_work(tmp_path, capsys,
                                                               _build_root):
    afile = tmp_path / "a_file"
    afile.write_text("x")
    before = set(os.listdir(_build_root))
    t0 = time.perf_counter()
    assert main(["train", "xor", "--quick", "--out", str(afile / "run")]) == 2
    assert _err_line(capsys) == f"brainkit train: cannot create --out {afile / 'run'}: Not a directory"
    assert main(["train", "xor", "--quick", "--out", str(afile)]) == 2
    assert _err_line(capsys) == f"brainkit train: --out {afile} is a file, not a folder"
    assert main(["finetune", "N.h5", "--out", str(afile / "ft")]) == 2
    assert "cannot create --out" in _err_line(capsys)
    assert main(["export", "N.h5", "--to", "nir", "--out", str(afile / "ex")]) == 2
    assert "cannot create --out" in _err_line(capsys)
    assert time.perf_counter() - t0 < 20  # nothing compiled, nothing trained
    assert set(os.listdir(_build_root)) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="a read-only folder is writable for root")
def test_a_read_only_out_is_refused_before_any_work(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["train", "xor", "--quick", "--out", str(ro)]) == 2
        assert _err_line(capsys) == f"brainkit train: cannot write into --out {ro}: Permission denied"
    finally:
        ro.chmod(0o755)


def test_another_runs_results_are_kept_unless_overwrite(tmp_path, capsys):
    """A second export into a folder holding one is refused and changes nothing; with
    --overwrite it replaces it."""
    net = _nir_network(tmp_path / "net.h5")
    out = tmp_path / "nir"
    assert main(["export", str(net), "--to", "nir", "--out", str(out)]) == 0
    capsys.readouterr()
    first = (out / "metrics.json").read_bytes()
    (out / "metrics.json").write_text("{\"mine\": 1}")
    assert main(["export", str(net), "--to", "nir", "--out", str(out)]) == 2
    assert _err_line(capsys) == (f"brainkit export: --out {out} holds another run's results "
                                 f"(metrics.json, network.nir); give --overwrite to replace "
                                 f"it or choose another --out")
    assert json.loads((out / "metrics.json").read_text()) == {"mine": 1}
    assert main(["export", str(net), "--to", "nir", "--out", str(out), "--overwrite"]) == 0
    assert (out / "metrics.json").read_bytes() == first
    assert sorted(os.listdir(out)) == ["metrics.json", "network.nir"]  # no lock left
    # a training refuses a folder with a checkpoint, naming --resume too
    (tmp_path / "tr").mkdir()
    (tmp_path / "tr" / "checkpoint.npz").write_bytes(b"")
    assert main(["train", "xor", "--out", str(tmp_path / "tr")]) == 2
    assert _err_line(capsys) == (
        f"brainkit train: --out {tmp_path / 'tr'} holds another run's results (checkpoint.npz); "
        f"give --resume to continue that run, --overwrite to replace it, or choose another --out")


def test_a_folder_in_use_by_another_process_is_refused(tmp_path, capsys):
    """The lock is the kernel's (flock): held by a live process it refuses, naming that
    process; once that process is gone (even killed) the folder is free."""
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom brainkit.runfolder import RunFolder\n"
         f"with RunFolder({str(out)!r}, command='brainkit train'):\n"
         "    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["gradcheck", "--out", str(out)]) == 2
        line = _err_line(capsys)
        assert line.startswith(f"brainkit gradcheck: --out {out} is in use by another run "
                               f"(brainkit train, pid {holder.pid} on "), line
        assert line.endswith("; wait for it to end or choose another --out")
    finally:
        holder.kill()
        holder.wait()
    assert (out / LOCK_FILE).exists()  # killed: its lock file stays, its lock does not
    with RunFolder(out, ["metrics.json"]) as claim:
        assert claim.lock_path.exists()
    assert not (out / LOCK_FILE).exists()
    with pytest.raises(RunFolderError, match="is in use by another run"):
        with RunFolder(out):
            RunFolder(out).acquire()  # a second claim in the same process is refused too


# ---------------------------------------------------------------- gradcheck of nothing
def test_a_gradient_check_that_compared_only_zeros_fails(tmp_path, capsys):
    out = tmp_path / "gc"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    args = ["gradcheck", "--neurons", "2", "--steps", "1", "--backend", "runtime",
            "--out", str(out)]
    assert main(args) == 2
    assert "holds another run's results (metrics.json)" in _err_line(capsys)
    assert main(args + ["--overwrite"]) == 1
    printed = capsys.readouterr().out
    assert "[FAIL, threshold 1e-06]" in printed and "PASS" not in printed
    assert "FAIL: every gradient compared is zero (adjoint and finite differences)" in printed
    m = json.loads((out / "metrics.json").read_text())
    assert m["passed"] is False and m["n_nonzero"] == 0 and m["max_rel_error"] == 0.0


# ---------------------------------------------------------------- the engine cleans up
def test_a_failed_build_deletes_its_folder_at_once(_build_root):
    import brian2

    from brainkit.engine import StandaloneEngine

    engine = StandaloneEngine(prefix="brainkit-failed-")
    folder = engine.project_dir
    with pytest.raises(Exception, match="tau_nowhere") as failed:
        with engine.compiling():
            G = brian2.NeuronGroup(2, "dv/dt = -v/tau_nowhere : 1", dt=0.1 * brian2.ms)
            brian2.Network(G).run(1 * brian2.ms, namespace={})  # an undefined name
    assert failed.value is not None
    assert not os.path.exists(folder)  # though the engine (and the traceback) still live
    with pytest.raises(RuntimeError, match="this engine is closed"):
        with engine.compiling():
            pass
    assert not [f for f in os.listdir(_build_root) if f.startswith("brainkit-failed-")]


# ---------------------------------------------------------------- Ctrl-C, for real
@pytest.mark.long  # timing: a SIGINT that lands in a finalizer is swallowed by Python
# ("Exception ignored in ... weakref ... KeyboardInterrupt"), seen once in 4 full runs
def test_sigint_during_a_gradcheck_is_interrupted_exit_130(tmp_path):
    out = tmp_path / "gc"
    (tmp_path / "builds").mkdir()
    proc = _start(["gradcheck", "--neurons", "2", "--steps", "100", "--backend", "runtime",
                   "--out", str(out)], tmp_path / "builds", tmp_path)
    _wait_for(lambda: (out / LOCK_FILE).exists(), proc, what="the claim on --out")
    time.sleep(1.0)  # into the run
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip() == "brainkit gradcheck: interrupted"
    assert not out.exists()  # created by the run, left empty: gone with its lock


@pytest.mark.standalone
def test_ctrl_c_while_compiling_leaves_no_build_folder(tmp_path):
    """Ctrl-C in a terminal goes to the whole process group: ``make`` stops (Python itself
    ignores SIGINT while ``system()`` runs it); that is an interrupt, not a failed build."""
    builds = tmp_path / "builds"
    builds.mkdir()
    out = tmp_path / "run"
    proc = _start(["train", "xor", "--quick", "--out", str(out)], builds, tmp_path,
                  new_session=True)

    def compiling():
        return any((builds / d / "code_objects").is_dir() for d in os.listdir(builds))

    _wait_for(compiling, proc, what="a compile")
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == (
        f"brainkit train: interrupted at step 0 of {QUICK_XOR_STEPS}, before the first "
        "checkpoint (step 25): nothing kept")
    assert "Traceback" not in err and "Project compilation failed" not in err
    assert os.listdir(builds) == []
    assert not out.exists()


@pytest.mark.long  # compiles and trains to the first checkpoint: 30-90 s
@pytest.mark.standalone
def test_sigint_during_training_keeps_the_checkpoint_and_a_second_run_is_refused(tmp_path,
                                                                                capsys):
    """``brainkit train xor --quick``: while it runs, a second training into the same --out
    is refused (exit 2); SIGINT after the first checkpoint ends the first with exit 130,
    "interrupted at step K of N, checkpoint kept at PATH", and no build folder; a new run
    is then refused (the checkpoint is another run's result) unless --resume."""
    builds = tmp_path / "builds"
    builds.mkdir()
    out = tmp_path / "xor"
    proc = _start(["train", "xor", "--quick", "--out", str(out)], builds, tmp_path)
    _wait_for(lambda: (out / LOCK_FILE).exists(), proc, what="the claim on --out")
    assert main(["train", "xor", "--quick", "--out", str(out)]) == 2
    line = _err_line(capsys)
    assert line.startswith(f"brainkit train: --out {out} is in use by another run "
                           f"(brainkit train, pid {proc.pid} on "), line
    _wait_for(lambda: (out / "checkpoint.npz").exists(), proc, what="the first checkpoint")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Handlers" not in err and "Project run failed" not in err
    last = err.strip().splitlines()[-1]
    prefix = "brainkit train: interrupted at step "
    assert last.startswith(prefix), err
    step = int(last[len(prefix):].split()[0])
    assert 25 <= step < QUICK_XOR_STEPS
    assert last == (f"{prefix}{step} of {QUICK_XOR_STEPS}, checkpoint kept at {out / 'checkpoint.npz'} "
                    f"(step 25; --resume continues from it)")
    assert os.listdir(builds) == []  # the build folder went with the interrupt
    assert sorted(os.listdir(out)) == ["checkpoint.npz"]
    # stderr was no terminal: plain progress lines, no carriage-return bar states
    assert "\r" not in err
    assert main(["train", "xor", "--quick", "--out", str(out)]) == 2
    assert "give --resume to continue that run" in _err_line(capsys)


# ---------------------------------------------------------------- progress
def test_progress_is_a_plain_line_per_tenth_where_stderr_is_not_a_terminal():
    log = io.StringIO()
    bar = progress_bar(total=400, desc="train xor", unit="step", file=log)
    assert isinstance(bar, PlainProgress)
    for k in range(400):
        bar.update(1)
        bar.set_postfix(loss=f"{1 / (k + 1):.4f}")
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 10 and "\r" not in log.getvalue()
    assert lines[0].startswith("train xor: 40/400 steps (10%), ")
    assert lines[0].endswith(", loss=0.0250")  # the values of that step
    assert lines[-1].startswith("train xor: 400/400 steps (100%), ")
    # resumed at 130 of 400; stopped at 170: a line at 160 only
    log = io.StringIO()
    bar = progress_bar(total=400, initial=130, desc="t", unit="step", file=log)
    for _ in range(40):
        bar.update(1)
    bar.close()
    assert [s.split(",")[0] for s in log.getvalue().splitlines()] == ["t: 160/400 steps (40%)"]
    # a short run: one line per step
    log = io.StringIO()
    bar = progress_bar(total=3, file=log)
    for _ in range(3):
        bar.update()
    bar.close()
    assert len(log.getvalue().splitlines()) == 3


def test_progress_on_a_terminal_is_tqdm():
    import pty

    from tqdm.auto import tqdm

    master, slave = pty.openpty()
    try:
        with open(slave, "w", closefd=False) as tty:
            bar = progress_bar(total=5, desc="x", file=tty)
            assert isinstance(bar, tqdm)
            bar.close()
    finally:
        os.close(master)
        os.close(slave)
