"""report: combines a batch's document outcomes into batches/<id>/report.json, or, when the
batch workflow failed, records the batch as failed; and announces how the batch ended."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.dynamodb_records import DynamoRecordStore
from docflow.events import BatchRef
from docflow.notifications import EventBridgePublisher, end_batch
from docflow.reporting import READERS, write_batch_report
from docflow.runtime import logger, metrics, step
from docflow.statuses import ENDED
from docflow.storage import S3ObjectStore

store = S3ObjectStore.from_environment(connections=READERS)
records = DynamoRecordStore.from_environment()
events = EventBridgePublisher.from_environment()


@step(BatchRef)
def handler(batch: BatchRef, context: LambdaContext) -> dict:
    logger.append_keys(batch_id=batch.batch_id)
    if batch.failure is not None:
        logger.error("batch failed", extra={"failure": batch.failure.get("Error")})
        end_batch(records, events, batch.batch_id, "failed", batch.failed_at or "")
        metrics.add_metric(name="BatchesFailed", unit=MetricUnit.Count, value=1)
        return {"batch_id": batch.batch_id, "status": "failed"}
    report = write_batch_report(store, batch.batch_id, batch.manifest_key, batch.started_at)
    summary = report.summary
    # A batch cancelled meanwhile stays cancelled; one the API did not start has no record.
    end_batch(
        records, events, batch.batch_id, "completed", summary["finished_at"],
        summary=summary, report_key=report.report_key,
    )  # fmt: skip
    for name, field in (
        ("BatchDocuments", "total_documents"),
        ("BatchDocumentsSucceeded", "succeeded"),
        ("BatchDocumentsFailed", "failed"),
        ("BatchDocumentsSkipped", "skipped"),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=summary[field])
    logger.info("reported", extra={key: summary[key] for key in ("total_documents", *ENDED)})
    # The report key and the summary only: the documents list could outgrow the state.
    return report.to_dict()
