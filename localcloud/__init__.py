"""The local cloud: docflow's state machines and Lambda handlers, unchanged, on this machine.

moto serves S3, SQS, DynamoDB, EventBridge and Step Functions, with moto's ASL interpreter
executing the definitions in statemachine/. moto cannot run Lambda code without Docker, so
every invocation the interpreter makes is dispatched to the real handler in a warm worker
process (workers.py)."""

from typing import Any

__all__ = ["LocalCloud"]


def __getattr__(name: str) -> Any:
    # Lazily: the worker processes (zygote.py, worker.py) live in this package too, and must
    # not pay for importing moto.
    if name == "LocalCloud":
        from localcloud.cloud import LocalCloud

        return LocalCloud
    raise AttributeError(name)
