"""report: combines a batch's document outcomes into batches/<id>/report.json."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.events import BatchRef
from docflow.reporting import write_batch_report
from docflow.runtime import logger, metrics, step
from docflow.storage import S3ObjectStore

store = S3ObjectStore.from_environment()


@step(BatchRef)
def handler(batch: BatchRef, context: LambdaContext) -> dict:
    logger.append_keys(batch_id=batch.batch_id)
    report = write_batch_report(store, batch.batch_id, batch.manifest_key, batch.started_at)
    summary = report.summary
    metrics.add_metric(name="BatchDocuments", unit=MetricUnit.Count, value=summary["total_documents"])
    metrics.add_metric(name="BatchDocumentsFailed", unit=MetricUnit.Count, value=summary["failed"])
    logger.info("reported", extra={key: summary[key] for key in ("total_documents", "succeeded", "failed", "skipped")})
    return report.to_dict()
