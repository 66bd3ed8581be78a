"""A background thread that does one step of work after another, resting when a step found
nothing to do: the local cloud's stand-ins for AWS's pollers (SQS event sources, the
scheduler)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("docflow.localcloud")


class Loop:
    def __init__(self, name: str, step: Callable[[], int], idle_seconds: float):
        """`step()` returns how much it did; after 0, or an error, the loop rests `idle_seconds`."""
        self.name, self.step, self.idle_seconds = name, step, idle_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                busy = self.step()
            except Exception:  # the server may be stopping; the loop must outlive a bad step
                if self._stopped.is_set():
                    return
                logger.exception("%s failed", self.name)
                busy = 0
            if not busy:
                self._stopped.wait(self.idle_seconds)
