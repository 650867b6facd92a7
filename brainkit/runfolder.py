"""Run folders: one run at a time writes into an output folder, and no run silently replaces
another's results.

A command that writes into ``--out DIR`` claims the folder first, before it compiles, trains
or converts anything::

    with RunFolder(out, outputs=("metrics.json", "network.h5"), command="brainkit train",
                   resume=args.resume, overwrite=args.overwrite):
        ...                                     # the run writes its files into out

The claim

1. creates ``DIR`` (with its parents) and its lock file ``DIR/.brainkit-run.lock`` -- this is
   the check that the folder can be written, so a read-only or impossible ``--out`` is found
   before any work;
2. locks the lock file (``flock``, released by the kernel when the process ends, so a killed
   run leaves no stale lock): a second run into the same folder while the first runs is
   refused, naming the first (its process id, command and start time);
3. refuses a folder that already holds one of the run's ``outputs`` (another run's results)
   unless ``resume`` (the run continues the one there) or ``overwrite`` (the previous run's
   outputs are deleted now, so that nothing of it is mistaken for the new run's).

Releasing the claim deletes the lock file, and the folders the claim created if the run left
them empty (a run refused or failed before it wrote anything leaves no trace).  Every refusal
is a :class:`RunFolderError` whose message is one line naming the folder and the cause.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Iterable, List, Optional

__all__ = ["LOCK_FILE", "RunFolder", "RunFolderError"]

#: the lock file a run holds in its output folder while it writes there
LOCK_FILE = ".brainkit-run.lock"


class RunFolderError(Exception):
    """An output folder that cannot be used for a new run: in use by another run, holding
    another run's results, or not writable."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _lock(fd: int) -> bool:
    """Lock ``fd`` exclusively without waiting; False if another process holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: the lock file's existence is the lock
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class RunFolder:
    """The claim of one run on its output folder (a context manager; see the module
    docstring).

    Parameters
    ----------
    path : path
        The output folder (created with its parents).
    outputs : iterable of str
        Names (files or folders) inside ``path`` that the run writes; a folder holding any of
        them holds another run's results.
    command : str
        What runs (named in the lock file and in the refusal of a second run).
    resume : bool
        The run continues the one whose results are there (``brainkit train --resume``).
    overwrite : bool
        The run replaces the one whose results are there (its ``outputs`` are deleted).
    resumable : bool
        The command can continue a run (the refusal then names ``--resume`` too).
    """

    def __init__(self, path, outputs: Iterable[str] = (), command: str = "brainkit",
                 resume: bool = False, overwrite: bool = False, resumable: bool = False):
        self.path = Path(path)
        self.outputs = tuple(outputs)
        self.command = command
        self.resume, self.overwrite = bool(resume), bool(overwrite)
        self.resumable = bool(resumable)
        self._fd: Optional[int] = None
        self._created: List[Path] = []

    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_FILE

    # ------------------------------------------------------------------ claim
    def acquire(self) -> "RunFolder":
        """Create, lock and check the folder (:class:`RunFolderError` if it cannot be used)."""
        if self._fd is not None:
            return self
        self._make_folder()
        try:
            self._take_lock()
            self._check_results()
        except BaseException:
            self.release()
            raise
        return self

    def _make_folder(self) -> None:
        p = self.path
        if p.exists() and not p.is_dir():
            raise RunFolderError(f"--out {p} is a file, not a folder")
        missing = []
        q = p
        while not q.exists() and q != q.parent:
            missing.append(q)
            q = q.parent
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunFolderError(f"cannot create --out {p}: {_reason(exc)}") from exc
        self._created = missing  # deepest first

    def _take_lock(self) -> None:
        for _ in range(5):
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise RunFolderError(f"cannot write into --out {self.path}: "
                                     f"{_reason(exc)}") from exc
            if not _lock(fd):
                holder = self._holder(fd)
                os.close(fd)
                raise RunFolderError(f"--out {self.path} is in use by another run ({holder}); "
                                     f"wait for it to end or choose another --out")
            try:  # the file locked must still be the one at the path (not one just released)
                same = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                break
            os.close(fd)
        else:  # pragma: no cover - five runs racing for one folder
            raise RunFolderError(f"--out {self.path}: could not lock {LOCK_FILE}")
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            os.ftruncate(self._fd, 0)
            os.write(self._fd, (json.dumps(info) + "\n").encode())
        except OSError as exc:
            raise RunFolderError(f"cannot write into --out {self.path}: "
                                 f"{_reason(exc)}") from exc

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        except (OSError, ValueError):
            info = {}
        if not info:
            return "starting"
        return (f"{info.get('command', '?')}, pid {info.get('pid', '?')} on "
                f"{info.get('host', '?')}, since {info.get('started', '?')}")

    def _check_results(self) -> None:
        there = [name for name in self.outputs if (self.path / name).exists()]
        if not there or self.resume:
            return
        if self.overwrite:
            for name in there:
                target = self.path / name
                try:
                    if target.is_dir() and not target.is_symlink():
                        shutil.rmtree(target)
                    else:
                        target.unlink()
                except OSError as exc:
                    raise RunFolderError(f"--overwrite: cannot delete {target}: "
                                         f"{_reason(exc)}") from exc
            return
        names = ", ".join(there)
        how = ("--resume to continue that run, --overwrite to replace it,"
               if self.resumable else "--overwrite to replace it")
        raise RunFolderError(f"--out {self.path} holds another run's results ({names}); give "
                             f"{how} or choose another --out")

    # ------------------------------------------------------------------ release
    def release(self) -> None:
        """Delete the lock file (if it is still this run's), and the folders the claim created
        if they are empty."""
        if self._fd is not None:
            try:
                if os.fstat(self._fd).st_ino == os.stat(self.lock_path).st_ino:
                    os.unlink(self.lock_path)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None
        for folder in self._created:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break
        self._created = []

    def __enter__(self) -> "RunFolder":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
