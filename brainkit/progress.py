"""Progress bars that suit where the output goes.

On a terminal a :mod:`tqdm` bar (redrawn in place with carriage returns); anywhere else (a log
file, CI, ``make demo > log 2>&1``) a plain line at every tenth of the way, so that a log holds
ten lines rather than thousands of bar states::

    train xor: 40/400 steps (10%), 12 s, loss=0.6012
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

__all__ = ["PlainProgress", "progress_bar"]


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class PlainProgress:
    """tqdm's ``update``/``set_postfix``/``close`` as plain lines, one per tenth of ``total``
    (the line of a tenth waits for that step's ``set_postfix``, so it shows its values)."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = "it",
                 file: Optional[TextIO] = None, parts: int = 10):
        self.total, self.n, self.desc, self.unit = int(total), int(initial), desc, unit
        self.file = file if file is not None else sys.stderr
        self.parts = max(1, int(parts))
        self.postfix = ""
        self._t0 = time.perf_counter()
        self._next = self._mark_after(self.n)
        self._due = False

    def _mark_after(self, n: int) -> int:
        """The first step above ``n`` that completes a tenth of ``total``."""
        if self.total <= 0:
            return 0
        k = n * self.parts // self.total + 1
        return -(-k * self.total // self.parts)

    def update(self, n: int = 1) -> None:
        if self._due:
            self._emit()
        self.n += int(n)
        if self.total > 0 and self.n >= self._next:
            self._due = True
            self._next = self._mark_after(self.n)

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())
        if self._due:
            self._emit()

    def _emit(self) -> None:
        self._due = False
        pct = f" ({100 * self.n // self.total}%)" if self.total > 0 else ""
        line = (f"{self.desc}: {self.n}/{self.total} {self.unit}s{pct}, "
                f"{time.perf_counter() - self._t0:.0f} s")
        if self.postfix:
            line += f", {self.postfix}"
        print(line, file=self.file, flush=True)

    def close(self) -> None:
        if self._due:
            self._emit()


def progress_bar(total: int, initial: int = 0, desc: str = "", unit: str = "it",
                 file: Optional[TextIO] = None):
    """A progress bar on ``file`` (stderr by default): tqdm where that is a terminal, else a
    :class:`PlainProgress` (a line every 10 %).  Both have ``update(n)``,
    ``set_postfix(**values)`` and ``close()``."""
    file = file if file is not None else sys.stderr
    if _is_terminal(file):
        from tqdm.auto import tqdm

        return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=file,
                    dynamic_ncols=True)
    return PlainProgress(total, initial, desc, unit, file)
