"""Progress bars on stderr for long CLI work (downloads, unpacking, analysis)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 28


class ProgressBar:
    """A ``progress(label, done, total)`` callback. On a terminal it redraws one line; in a log
    (not a TTY) it writes a line per label and at each quarter, so CI logs stay short."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._label = ""
        self._quarter = -1
        self._drawn = 0.0

    def __call__(self, label: str, done: int, total: int | None) -> None:
        if label != self._label:
            self._finish_line()
            self._label, self._quarter = label, -1
        if total is None or total <= 0:
            if self.tty:
                self.stream.write(f"\r{label} …")
            elif self._quarter < 0:
                self.stream.write(f"{label} …\n")
                self._quarter = 0
            self.stream.flush()
            return
        frac = min(1.0, done / total)
        if self.tty:
            now = time.monotonic()
            if frac < 1.0 and now - self._drawn < 0.1:
                return
            self._drawn = now
            filled = int(frac * _WIDTH)
            self.stream.write(
                f"\r{label} [{'#' * filled}{'.' * (_WIDTH - filled)}] {frac:4.0%}"
                f" {_size(done)}/{_size(total)}"
            )
        else:
            quarter = int(frac * 4)
            if quarter == self._quarter:
                return
            self._quarter = quarter
            self.stream.write(f"{label}: {frac:.0%} of {_size(total)}\n")
        self.stream.flush()

    def _finish_line(self) -> None:
        if self.tty and self._label:
            self.stream.write("\n")

    def close(self) -> None:
        self._finish_line()
        self._label = ""
        self.stream.flush()


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"
