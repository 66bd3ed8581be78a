"""Warm worker processes that run the Lambda handlers as Lambda would.

Each function gets a pool of processes that import its handler once and then serve
invocations one at a time, like Lambda's execution environments. The processes are forked
by one zygote (zygote.py) that has imported the libraries every handler shares, so a new
one costs a fork and its handler's own imports, not a fresh interpreter.

Time is counted as Lambda counts it. Initialisation (importing the handler) has its own
limit, INIT_SECONDS; an initialisation that fails or overruns it is tried once more in a
fresh worker with the function's whole timeout, as Lambda's service retries a failed init
within the invocation. The function's timeout counts from when its handler starts, so a
worker that was slow to be scheduled on a busy machine is not a document that took too
long. A worker that overruns is killed and the invocation fails as Lambda's does, with
`Sandbox.Timedout`; a worker that dies fails it with `Runtime.ExitError`. Both leave the
pool healthy: the next invocation gets a fresh worker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from infra.catalog import FunctionSpec

INIT_SECONDS = 10  # Lambda's limit on a function's initialisation
INVOCATIONS_LOG = "invocations.jsonl"  # beside the functions' logs
# How long a warm worker may take to pick an invocation up before it counts as dead.
PICKUP_SECONDS = 60


@dataclass(frozen=True)
class Invocation:
    """What came back: the handler's JSON result, or Lambda's error payload, and what
    Lambda would bill: the handler's milliseconds and, on a cold start, the init's."""

    payload: bytes
    error: str | None = None  # Lambda's FunctionError, "Unhandled", when the handler failed
    duration_ms: float = 0.0
    init_ms: float | None = None

    @classmethod
    def failed(cls, error_type: str, message: str) -> Invocation:
        body = {"errorType": error_type, "errorMessage": message}
        return cls(json.dumps(body).encode(), "Unhandled")


class InitFailed(Exception):
    """The worker did not finish importing its handler: it died, or overran its limit."""


class Zygote:
    """`python -m localcloud.zygote`: forks every worker of one local cloud."""

    def __init__(self, environment: Mapping[str, str], log_path: Path):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "localcloud.zygote", str(theirs.fileno())],
                env=dict(environment),
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, which its workers join
            )
        theirs.close()
        self.log_path = log_path
        self._control = ours
        self._lock = threading.Lock()
        self._ready = False

    def fork(self, spec: FunctionSpec, environment: Mapping[str, str], log_path: Path) -> _Worker:
        ours, theirs = socket.socketpair()
        request = {
            "code_dir": str(spec.code_dir),
            "handler": spec.handler,
            "environment": dict(environment),
            "log": str(log_path),
        }
        with self._lock:
            if not self._ready:
                self._answer()  # "ready": the libraries are imported
                self._ready = True
            socket.send_fds(self._control, [json.dumps(request).encode()], [theirs.fileno()])
            pid = int(self._answer())
        theirs.close()
        return _Worker(pid, Connection(ours.detach()))

    def _answer(self) -> bytes:
        answer = self._control.recv(64)
        if not answer:
            raise RuntimeError(f"the local cloud's worker zygote exited; see {self.log_path}")
        return answer

    def close(self) -> None:
        """Ends the zygote and every worker it forked, at once: a worker holds nothing
        unwritten between invocations (its log is flushed after each)."""
        self._control.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


class _Worker:
    """One execution environment, forked by the zygote, talking over a socket pair (see
    localcloud/worker.py for its side), with its output in the function's log."""

    def __init__(self, pid: int, connection: Connection):
        self.pid = pid
        self.connection = connection
        self.ready = False

    def call(
        self, event: Any, timeout_seconds: float, init_seconds: float | None = None, stall: bool = False
    ) -> Invocation:
        """Runs one invocation; raises InitFailed when the handler could not be imported.
        `stall` freezes the worker once its handler has started (a fault tests inject)."""
        init_ms = None
        if not self.ready:
            try:
                _, init_ms = self._await(init_seconds or INIT_SECONDS)  # ("ready", milliseconds)
            except (TimeoutError, EOFError, OSError) as error:
                self.kill()
                raise InitFailed from error
            self.ready = True
        try:
            self.connection.send((str(uuid.uuid4()), event, timeout_seconds))
            self._await(PICKUP_SECONDS)  # ("started", None): the handler's clock starts now
            started = time.monotonic()
            if stall:
                os.kill(self.pid, signal.SIGSTOP)  # killed, stopped or not, when it times out
            status, body = self._await(timeout_seconds)
        except TimeoutError:
            self.kill()
            failed = Invocation.failed("Sandbox.Timedout", f"Task timed out after {timeout_seconds:.2f} seconds")
            return replace(failed, duration_ms=timeout_seconds * 1000, init_ms=init_ms)
        except (EOFError, OSError):
            self.kill()
            return replace(
                Invocation.failed("Runtime.ExitError", "Runtime exited without providing a reason"), init_ms=init_ms
            )
        duration_ms = (time.monotonic() - started) * 1000
        return Invocation(body.encode(), None if status == "ok" else "Unhandled", duration_ms, init_ms)

    def _await(self, seconds: float) -> tuple[str, Any]:
        if not self.connection.poll(seconds):
            raise TimeoutError
        return self.connection.recv()

    @property
    def alive(self) -> bool:
        return not self.connection.closed and _running(self.pid)

    def kill(self) -> None:
        _kill(self.pid)
        _await_exit(self.pid, 5)
        if not self.connection.closed:
            self.connection.close()

    def ask_to_stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # already gone
            self.connection.send(None)

    def stop(self) -> None:
        """Waits a moment for the worker to finish after ask_to_stop, then kills it."""
        _await_exit(self.pid, 2)
        self.kill()


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Whether the process is alive. The zygote ignores SIGCHLD, so a worker that dies is
    gone; one orphaned when the zygote is killed may linger as a zombie until whatever
    adopted it reaps it, and a zombie is not running."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _await_exit(pid: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


class FunctionPool:
    """Up to `concurrency` warm workers for one function; callers beyond that wait their turn."""

    def __init__(
        self,
        spec: FunctionSpec,
        zygote: Zygote,
        environment: Mapping[str, str],
        log_path: Path,
        concurrency: int,
    ):
        self.spec = spec
        self._make = lambda: zygote.fork(spec, environment, log_path)
        self._invocations_log = log_path.parent / INVOCATIONS_LOG
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(concurrency)

    def warm(self) -> None:
        """Starts one worker ahead of the first invocation (nothing, if the cloud is stopping)."""
        try:
            worker = self._make()
        except (OSError, RuntimeError):
            return
        with self._lock:
            self._idle.append(worker)
            self._all.add(worker)

    def invoke(
        self, event: Any, *, timeout_seconds: float | None = None, kill_after: float | None = None, stall: bool = False
    ) -> Invocation:
        """Runs the event in a warm worker. Tests inject faults: kill_after (the worker dies
        mid-invocation), stall (the worker is frozen, so the handler overruns its timeout)."""
        timeout_seconds = timeout_seconds or self.spec.timeout_seconds
        asked = time.monotonic()
        with self._slots:
            waited_ms = (time.monotonic() - asked) * 1000
            worker = self._checkout()
            if kill_after is not None:
                threading.Timer(kill_after, _kill, (worker.pid,)).start()
            try:
                result = worker.call(event, timeout_seconds, stall=stall)
            except InitFailed:
                with self._lock:
                    self._all.discard(worker)
                worker = self._checkout()
                try:
                    result = worker.call(event, timeout_seconds, init_seconds=timeout_seconds)
                except InitFailed:
                    result = Invocation.failed("Runtime.ExitError", "The function's initialisation failed twice")
            with self._lock:
                if worker.alive:
                    self._idle.append(worker)
                else:
                    self._all.discard(worker)
        self._log(result, waited_ms)
        return result

    def _log(self, result: Invocation, waited_ms: float) -> None:
        """One line per invocation in logs/invocations.jsonl: what make bench reports per
        step (p50, p95) and what its cost model bills as Lambda's GB-seconds."""
        status = "ok" if result.error is None else json.loads(result.payload).get("errorType", "error")
        line = {
            "function": self.spec.name,
            "memory_mb": self.spec.memory_mb,
            "duration_ms": round(result.duration_ms, 2),
            "init_ms": None if result.init_ms is None else round(result.init_ms, 2),
            "wait_ms": round(waited_ms, 2),
            "status": status,
        }
        with open(self._invocations_log, "a") as log:  # one short write: whole lines, whatever the threads
            log.write(json.dumps(line) + "\n")

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
