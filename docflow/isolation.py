"""Native code that a crafted file can crash or hang (pdfium, Tesseract) runs in a forked
child process: a child that dies takes only its own work with it. extract forks one per
document for its pages (docflow.extraction); run_in_child is the same for one piece of work."""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import os
import signal
from collections.abc import Callable


def die_with(parent: int) -> None:
    """Has the kernel kill this child if its parent dies (Linux's PR_SET_PDEATHSIG): a
    worker killed for overrunning its time must not leave native code spinning behind it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except Exception:  # not Linux: the parent's own kill on its way out has to do
        return
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def run_in_child(work: Callable[[], bytes], timeout: float) -> bytes | None:
    """What `work()` returns, computed in a forked child; None when the child crashed,
    raised, or was still working after `timeout` seconds (it is killed then). A pipe, not a
    queue: a queue needs /dev/shm, which Lambda lacks."""
    from multiprocessing import Pipe

    receiver, sender = Pipe(duplex=False)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            gc.disable()  # short-lived: no collections writing to (and copying) the parent's pages
            faulthandler.disable()  # a crash here is an answer (None), not a trace for the log
            die_with(parent)
            receiver.close()
            sender.send_bytes(work())
            code = 0
        except BaseException:
            pass
        finally:
            os._exit(code)
    sender.close()
    try:
        if not receiver.poll(timeout):
            return None
        try:
            return receiver.recv_bytes()
        except EOFError:  # it died (a native abort, a signal) before it answered
            return None
    finally:
        receiver.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
