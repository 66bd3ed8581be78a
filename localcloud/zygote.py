"""Forks the local cloud's Lambda execution environments: `python -m localcloud.zygote FD`.

Every handler imports boto3, Powertools and pydantic, and most import Pillow, pypdf or
pdfium: a second or more of a fresh interpreter's time each, and on two cores nine such
starts at once made the first documents wait. This process imports those libraries once,
then forks a worker per request: the child takes the function's environment, its log and
its socket, and runs localcloud.worker's loop, which imports the handler itself (its cold
start), as Lambda's runtime does. Nothing docflow's own modules set up at import time
(loggers, clients, settings read from the environment) is imported here, so each worker
builds those from its own environment.

Requests come over the socket FD (SOCK_SEQPACKET, so each message arrives whole): JSON
{code_dir, handler, environment, log} with the worker's socket passed beside it
(SCM_RIGHTS); the answer is the child's pid.
Children are reaped by the kernel (SIGCHLD ignored): the pool tells a dead worker by
its closed socket.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import traceback
from pathlib import Path

# The libraries the handlers share (functions/*/requirements.txt), heaviest first.
PRELOADED = (
    "boto3",
    "botocore.session",
    "pydantic",
    "aws_lambda_powertools",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.tracing",
    "aws_xray_sdk.core",  # the Tracer imports it even when tracing is off: its recorder makes clients
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.event_handler",
    "PIL.Image",
    "pypdf",
    "pypdfium2",
    "magic",
)


# The AWS services the handlers' clients speak: their models are read from botocore's JSON
# once here, not by every worker's first client.
SERVICE_MODELS = ("s3", "dynamodb", "stepfunctions", "sqs")


def preload() -> None:
    for name in PRELOADED:
        # A library no handler here uses is left out; its worker will say so itself.
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    import boto3

    # A client of each, with everything given explicitly, fills the default session's
    # caches (models, endpoint rules). Nothing is read from the environment here: each
    # worker's own clients read its region, endpoints and credentials after the fork.
    boto3.setup_default_session()
    for service in SERVICE_MODELS:
        boto3.DEFAULT_SESSION.client(service, region_name="us-east-1", aws_access_key_id="-", aws_secret_access_key="-")


def _become_worker(request: dict, fd: int, control: socket.socket) -> None:
    """In the forked child: the function's environment, log and socket, then its loop."""
    from localcloud import worker

    control.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the handler's own subprocesses are its own
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.clear()
    os.environ.update(request["environment"])
    worker.serve(Path(request["code_dir"]), request["handler"], fd)


def serve(control_fd: int) -> None:
    control = socket.socket(fileno=control_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # no zombies: the kernel reaps them
    preload()
    control.send(b"ready")
    while True:
        message, fds, _, _ = socket.recv_fds(control, 1 << 20, 1)
        if not message:
            return  # the cloud closed its end: stop
        (fd,) = fds
        pid = os.fork()
        if pid == 0:
            status = 0
            try:
                _become_worker(json.loads(message), fd, control)
            except BaseException:  # as an interpreter would: the trace to the log, exit 1
                traceback.print_exc()
                status = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        os.close(fd)
        control.send(str(pid).encode())


if __name__ == "__main__":
    serve(int(sys.argv[1]))
