"""Warm worker processes that run the Lambda handlers as Lambda would.

Each function gets a pool of processes that import its handler once and then serve
invocations one at a time, like Lambda's execution environments. The pool enforces the
function's timeout from the catalog: a worker that overruns is killed and the invocation
fails as Lambda's does, with `Sandbox.Timedout`; a worker that dies fails it with
`Runtime.ExitError`. Both leave the pool healthy: the next invocation gets a fresh worker.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Mapping

from infra.catalog import FunctionSpec

INIT_SECONDS = 10  # Lambda's limit on a function's initialisation


@dataclass(frozen=True)
class Invocation:
    """What came back: the handler's JSON result, or Lambda's error payload."""

    payload: bytes
    error: str | None = None  # Lambda's FunctionError, "Unhandled", when the handler failed

    @classmethod
    def failed(cls, error_type: str, message: str) -> Invocation:
        body = {"errorType": error_type, "errorMessage": message}
        return cls(json.dumps(body).encode(), "Unhandled")


class _Worker:
    """One execution environment, `python -m localcloud.worker`, talking over a
    socket pair, with the function's environment and its output in the function's log."""

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str], log_path: Path):
        parent, child = socket.socketpair()
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "localcloud.worker", str(spec.code_dir), spec.handler, str(child.fileno())],
                env=dict(environment),
                pass_fds=[child.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        child.close()
        self.connection = Connection(parent.detach())
        self.ready = False

    def call(self, event: Any, timeout_seconds: float) -> Invocation:
        """Runs one invocation. As on Lambda, the cold start (importing the handler) has its
        own limit and the function's timeout counts from the invocation."""
        try:
            if not self.ready:
                self._await(time.time() + INIT_SECONDS)  # ("ready", None)
                self.ready = True
            deadline = time.time() + timeout_seconds
            self.connection.send((str(uuid.uuid4()), event, deadline))
            status, body = self._await(deadline)
        except TimeoutError:
            self.kill()
            return Invocation.failed("Sandbox.Timedout", f"Task timed out after {timeout_seconds:.2f} seconds")
        except (EOFError, OSError):
            self.kill()
            return Invocation.failed("Runtime.ExitError", "Runtime exited without providing a reason")
        if status == "ok":
            return Invocation(body.encode())
        return Invocation(body.encode(), "Unhandled")

    def _await(self, deadline: float) -> tuple[str, Any]:
        if not self.connection.poll(max(0.0, deadline - time.time())):
            raise TimeoutError
        return self.connection.recv()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and not self.connection.closed

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        if not self.connection.closed:
            self.connection.close()

    def ask_to_stop(self) -> None:
        try:
            self.connection.send(None)
        except (OSError, ValueError):
            pass  # already gone

    def stop(self) -> None:
        """Waits a moment for the worker to finish after ask_to_stop, then kills it."""
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self.kill()


class FunctionPool:
    """Up to `concurrency` warm workers for one function; callers beyond that wait their turn."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: Mapping[str, str],
        log_path: Path,
        concurrency: int,
    ):
        self.spec = spec
        self._make = lambda: _Worker(spec, environment, log_path)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(concurrency)

    def warm(self) -> None:
        """Starts one worker ahead of the first invocation."""
        worker = self._make()
        with self._lock:
            self._idle.append(worker)
            self._all.add(worker)

    def invoke(
        self, event: Any, *, timeout_seconds: float | None = None, kill_after: float | None = None, stall: bool = False
    ) -> Invocation:
        """Runs the event in a warm worker. Tests inject faults: kill_after (the worker dies
        mid-invocation), stall (the worker is frozen, so the handler overruns its timeout)."""
        with self._slots:
            worker = self._checkout()
            if kill_after is not None:
                threading.Timer(kill_after, worker.process.kill).start()
            if stall:
                os.kill(worker.process.pid, signal.SIGSTOP)  # killed, stopped or not, when it times out
            result = worker.call(event, timeout_seconds or self.spec.timeout_seconds)
            with self._lock:
                if worker.alive:
                    self._idle.append(worker)
                else:
                    self._all.discard(worker)
            return result

    def _checkout(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive:
                    return worker
                self._all.discard(worker)
            worker = self._make()
            self._all.add(worker)
            return worker

    def close(self) -> None:
        with self._lock:
            workers, self._all, self._idle = list(self._all), set(), []
        for worker in workers:
            worker.ask_to_stop()
        for worker in workers:
            worker.stop()
