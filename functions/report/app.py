"""report: combines a batch's document outcomes into batches/<id>/report.json."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.dynamodb_records import DynamoRecordStore
from docflow.events import BatchRef
from docflow.reporting import READERS, write_batch_report
from docflow.runtime import logger, metrics, step
from docflow.statuses import ENDED
from docflow.storage import S3ObjectStore

store = S3ObjectStore.from_environment(connections=READERS)
records = DynamoRecordStore.from_environment()


@step(BatchRef)
def handler(batch: BatchRef, context: LambdaContext) -> dict:
    logger.append_keys(batch_id=batch.batch_id)
    report = write_batch_report(store, batch.batch_id, batch.manifest_key, batch.started_at)
    summary = report.summary
    # A batch cancelled meanwhile stays cancelled; one the API did not start has no record.
    records.finish_batch(
        batch.batch_id, "completed", summary["finished_at"], summary=summary, report_key=report.report_key
    )
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
