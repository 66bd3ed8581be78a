"""record: writes a document's outcome (succeeded, failed or skipped) and returns its summary."""

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.dynamodb_records import DynamoRecordStore
from docflow.events import WorkflowState
from docflow.notifications import EventBridgePublisher
from docflow.outcome import record_outcome, track_outcome
from docflow.runtime import logger, metrics, step
from docflow.storage import S3ObjectStore

store = S3ObjectStore.from_environment()
records = DynamoRecordStore.from_environment()
events = EventBridgePublisher.from_environment()

METRIC_BY_STATUS = {"succeeded": "DocumentsSucceeded", "failed": "DocumentsFailed", "skipped": "DocumentsSkipped"}


@step(WorkflowState)
def handler(state: WorkflowState, context: LambdaContext) -> dict:
    logger.append_keys(document_id=state.document_id)
    workflow_state = state.model_dump(exclude_none=True)
    outcome = record_outcome(store, workflow_state)
    track_outcome(records, events, workflow_state, outcome)
    error_code = outcome["error"]["code"] if outcome["error"] else None
    if outcome["status"] == "failed" and error_code:
        # Failures by code show which ones to look at; one metric per invocation, so the
        # dimension applies to DocumentsFailed only.
        metrics.add_dimension(name="error_code", value=error_code)
    metrics.add_metric(name=METRIC_BY_STATUS[outcome["status"]], unit=MetricUnit.Count, value=1)
    # Documents by kind need their own dimension, so their own metric set.
    with single_metric(name="DocumentsByKind", unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as by_kind:
        by_kind.add_dimension(name="kind", value=outcome["kind"] or "unknown")
    # The failure's Error name says which step and exception; its Cause (a stack trace) is
    # already in that step's own log.
    failed_with = state.failure.get("Error") if state.failure else None
    logger.info("recorded", extra={"status": outcome["status"], "error_code": error_code, "failure": failed_with})
    # Only this goes back into the workflow state; the outcome itself is in S3.
    return {"document_id": outcome["document_id"], "status": outcome["status"], "error_code": error_code}
