"""The local cloud: docflow's state machines and Lambda handlers, unchanged, on this machine.

moto serves S3, SQS, DynamoDB, EventBridge and Step Functions, with moto's ASL interpreter
executing the definitions in statemachine/. moto cannot run Lambda code without Docker, so
every invocation the interpreter makes is dispatched to the real handler in a warm worker
process (workers.py)."""

from localcloud.cloud import LocalCloud

__all__ = ["LocalCloud"]
