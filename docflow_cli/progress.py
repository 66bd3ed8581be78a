"""A progress bar on stderr that redraws in place on a terminal and prints a line now and
then elsewhere (CI logs, pipes), so long batches show they are alive either way."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, stream: TextIO = sys.stderr, width: int = 30, quiet_seconds: float = 10):
        self.label = label
        self.stream = stream
        self.width = width
        self.interactive = stream.isatty()
        self.quiet_seconds = quiet_seconds
        self.started = time.monotonic()
        self._last: tuple[int, int] | None = None
        self._last_printed = 0.0

    def update(self, done: int, total: int) -> None:
        if (done, total) == self._last:
            if self.interactive:
                self._draw(done, total)  # keeps the clock moving
            return
        self._last = (done, total)
        if self.interactive:
            self._draw(done, total)
        elif done == total or time.monotonic() - self._last_printed >= self.quiet_seconds:
            self._last_printed = time.monotonic()
            self.stream.write(f"{self.label}: {done}/{total} documents\n")
            self.stream.flush()

    def _draw(self, done: int, total: int) -> None:
        filled = self.width * done // total if total else self.width
        elapsed = time.monotonic() - self.started
        bar = "█" * filled + "░" * (self.width - filled)
        self.stream.write(f"\r{self.label} {bar} {done}/{total} documents  {elapsed:5.1f}s")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
