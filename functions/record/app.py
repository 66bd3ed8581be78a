"""record: writes a document's outcome (succeeded, failed or skipped) and returns its summary."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.events import WorkflowState
from docflow.outcome import record_outcome
from docflow.runtime import logger, metrics, step
from docflow.storage import S3ObjectStore

store = S3ObjectStore.from_environment()


@step(WorkflowState)
def handler(state: WorkflowState, context: LambdaContext) -> dict:
    logger.append_keys(document_id=state.document_id)
    outcome = record_outcome(store, state.model_dump(exclude_none=True))
    error_code = outcome["error"]["code"] if outcome["error"] else None
    metrics.add_dimension(name="status", value=outcome["status"])
    if error_code:
        metrics.add_dimension(name="error_code", value=error_code)
    metrics.add_metric(name="DocumentsRecorded", unit=MetricUnit.Count, value=1)
    logger.info("recorded", extra={"status": outcome["status"], "error_code": error_code})
    return {"document_id": outcome["document_id"], "status": outcome["status"], "error_code": error_code}
