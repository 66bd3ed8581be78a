"""One local Lambda execution environment: `python -m localcloud.worker CODE_DIR HANDLER FD`.

Imports the function's handler once (the cold start), says it is ready, then runs one
invocation at a time from the socket FD until told to stop, saying when each starts. Its
stdout and stderr are the function's log. The pool in workers.py enforces timeouts by
killing this process. The zygote (zygote.py) forks workers into `serve`; run as a module,
this is a worker of its own, started from a fresh interpreter."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path


class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, request_id: str, deadline: float):
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = os.environ.get("DOCFLOW_FUNCTION_ARN", "")
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def load_handler(code_dir: Path, handler: str):
    """The handler function named "module.function" in `code_dir`, as Lambda loads it."""
    module_name, _, handler_name = handler.rpartition(".")
    if str(code_dir) not in sys.path:
        sys.path.insert(0, str(code_dir))  # as Lambda puts the bundle's root on the path
    module_spec = importlib.util.spec_from_file_location(
        f"docflow_function_{code_dir.name}", code_dir / f"{module_name.replace('.', '/')}.py"
    )
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"No handler module {module_name} in {code_dir}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return getattr(module, handler_name)


def error_payload(error: BaseException) -> str:
    """What Lambda's Python runtime reports for an unhandled exception."""
    return json.dumps(
        {
            "errorType": type(error).__name__,
            "errorMessage": str(error),
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
    )


def serve(code_dir: Path, handler_name: str, fd: int) -> None:
    connection = Connection(fd)
    started = time.monotonic()
    handler = load_handler(code_dir, handler_name)
    connection.send(("ready", (time.monotonic() - started) * 1000))  # the init's milliseconds
    while (message := connection.recv()) is not None:
        request_id, event, timeout_seconds = message
        deadline = time.time() + timeout_seconds  # Lambda's clock starts with the handler
        connection.send(("started", None))
        try:
            reply = ("ok", json.dumps(handler(event, LambdaContext(request_id, deadline))))
        except Exception as error:  # the handler's failure is the invocation's answer
            reply = ("error", error_payload(error))
        sys.stdout.flush()
        sys.stderr.flush()
        connection.send(reply)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
