"""extract: writes the text of every page of a PDF to S3 (by OCR where a page is a scan) and
a preview of its first page, and returns its counts."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.events import DocumentRef
from docflow.extraction import extract_document
from docflow.runtime import logger, metrics, step
from docflow.settings import Settings
from docflow.storage import S3ObjectStore

store = S3ObjectStore.from_environment()
settings = Settings.from_environment()


@step(DocumentRef)
def handler(document: DocumentRef, context: LambdaContext) -> dict:
    logger.append_keys(document_id=document.document_id)
    extraction = extract_document(
        store,
        document_id=document.document_id,
        key=document.key,
        remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
        settings=settings,
    )
    metrics.add_metric(name="PagesExtracted", unit=MetricUnit.Count, value=extraction.page_count or 0)
    if extraction.pages_failed:
        metrics.add_metric(name="PagesFailed", unit=MetricUnit.Count, value=extraction.pages_failed)
    if extraction.pages_unread:
        metrics.add_metric(name="PagesUnreadForTime", unit=MetricUnit.Count, value=extraction.pages_unread)
    logger.info("extracted", extra=extraction.to_dict())
    return extraction.to_dict()
