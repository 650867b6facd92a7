"""Atomic file writes: readers see the old file or the complete new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union


@contextmanager
def atomic_write(path: Union[str, Path], suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary file name beside ``path``; when the block ends without an error the
    file is flushed to disk (fsync) and renamed onto ``path``, otherwise it is removed.

    >>> with atomic_write("out/result.h5") as tmp:
    ...     write_everything_to(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it owner-only; a new file of open() is not
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Union[str, Path], data, indent: int = 2) -> None:
    """Write ``data`` as JSON to ``path`` atomically (:func:`atomic_write`); numpy scalars and
    arrays become numbers and lists, anything else unknown its ``str``."""
    import json

    import numpy as np

    def default(x):
        if isinstance(x, np.integer):
            return int(x)
        if isinstance(x, np.floating):
            return float(x)
        if isinstance(x, (np.ndarray, np.bool_)):
            return x.tolist()
        return str(x)

    with atomic_write(path) as tmp:
        with open(tmp, "w") as fh:
            json.dump(data, fh, indent=indent, default=default)
            fh.write("\n")
