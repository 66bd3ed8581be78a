"""Starting, watching and stopping the state machines, behind a small protocol.

Executions are always named by the caller. A Standard workflow's name (the batch's) is
what makes its start idempotent (Step Functions refuses a second execution of the same
name) and what finds it again; an Express workflow (the document's) takes a name for its
logs only, and a caller that must start it once says so on the document's record."""

from __future__ import annotations

import json
import os
from typing import Any, Literal, Protocol

from docflow.aws_errors import ErrorMap
from docflow.errors import TransientError

ExecutionStatus = Literal["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"]


class Throttled(TransientError):
    """Step Functions is refusing new executions for now; the caller may try again later."""

    code = "throttled"
    advice = "docflow is busy; try again in a few seconds."


# Step Functions' answers that say "not now" rather than "never".
SFN_ERRORS = ErrorMap(
    service="Step Functions",
    transient_codes=frozenset(
        {"ThrottlingException", "ExecutionLimitExceeded", "ServiceUnavailable", "InternalFailure", "RequestTimeout"}
    ),
    transient=Throttled,
)


class Workflows(Protocol):
    def start_document(self, name: str, document: dict[str, Any]) -> str:
        """Starts the document workflow on {document_id, key, filename}; returns the
        execution's ARN. Express: every start runs, whatever its name."""

    def start_batch(self, name: str, batch: dict[str, Any]) -> str: ...

    def run_document(self, name: str, document: dict[str, Any]) -> str:
        """Runs the document workflow and waits for its end (Express's synchronous start);
        returns its status."""

    def status(self, execution_arn: str) -> ExecutionStatus: ...

    def stop(self, execution_arn: str, cause: str) -> None: ...


class StepFunctionsWorkflows:
    def __init__(self, document_workflow_arn: str, batch_workflow_arn: str, client: Any = None):
        if client is None:
            import boto3
            from botocore.config import Config

            # AWS answers StartSyncExecution on its "sync-" host; an endpoint of one's own
            # (LocalStack, the local cloud) answers every operation on one.
            own_endpoint = bool(os.environ.get("AWS_ENDPOINT_URL_SFN") or os.environ.get("AWS_ENDPOINT_URL"))
            client = boto3.client("stepfunctions", config=Config(inject_host_prefix=not own_endpoint))
        self.document_workflow_arn = document_workflow_arn
        self.batch_workflow_arn = batch_workflow_arn
        self.client = client

    @classmethod
    def from_environment(cls) -> StepFunctionsWorkflows:
        return cls(os.environ["DOCFLOW_DOCUMENT_WORKFLOW_ARN"], os.environ["DOCFLOW_BATCH_WORKFLOW_ARN"])

    def start_document(self, name: str, document: dict[str, Any]) -> str:
        return self._start(self.document_workflow_arn, name, document)

    def start_batch(self, name: str, batch: dict[str, Any]) -> str:
        return self._start(self.batch_workflow_arn, name, batch)

    def run_document(self, name: str, document: dict[str, Any]) -> str:
        with SFN_ERRORS.translated():
            return self.client.start_sync_execution(
                stateMachineArn=self.document_workflow_arn, name=name, input=json.dumps(document)
            )["status"]

    def status(self, execution_arn: str) -> ExecutionStatus:
        with SFN_ERRORS.translated():
            return self.client.describe_execution(executionArn=execution_arn)["status"]

    def stop(self, execution_arn: str, cause: str) -> None:
        with SFN_ERRORS.translated():
            self.client.stop_execution(executionArn=execution_arn, error="Cancelled", cause=cause)

    def _start(self, state_machine_arn: str, name: str, execution_input: dict[str, Any]) -> str:
        with SFN_ERRORS.translated():
            try:
                return self.client.start_execution(
                    stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
                )["executionArn"]
            except self.client.exceptions.ExecutionAlreadyExists:
                # Same name: this start already happened. Its ARN is derived from the name.
                return execution_arn(state_machine_arn, name)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """arn:aws:states:<region>:<account>:stateMachine:<machine> -> ...:execution:<machine>:<name>"""
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
