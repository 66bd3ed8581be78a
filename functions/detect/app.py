"""detect: reads a document's first bytes and says what it is."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.detection import detect_document
from docflow.events import DocumentRef
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
    detection = detect_document(store, key=document.key, filename=document.filename)
    metrics.add_dimension(name="kind", value=detection.kind)
    metrics.add_metric(name="DocumentsDetected", unit=MetricUnit.Count, value=1)
    logger.info("detected", extra=detection.to_dict())
    return detection.to_dict()
