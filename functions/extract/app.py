"""extract: writes the text of every page of a PDF to S3 and returns its counts."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.events import DocumentRef
from docflow.extraction import extract_document
from docflow.storage import S3ObjectStore

logger = Logger()
tracer = Tracer()
metrics = Metrics()
store = S3ObjectStore.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=DocumentRef)
def handler(document: DocumentRef, context: LambdaContext) -> dict:
    logger.append_keys(document_id=document.document_id)
    extraction = extract_document(store, document_id=document.document_id, key=document.key)
    metrics.add_metric(name="PagesExtracted", unit=MetricUnit.Count, value=extraction.page_count)
    if extraction.pages_failed:
        metrics.add_metric(name="PagesFailed", unit=MetricUnit.Count, value=extraction.pages_failed)
    logger.info("extracted", extra=extraction.to_dict())
    return extraction.to_dict()
