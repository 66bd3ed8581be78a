"""detect: reads a document's first bytes and says what it is."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.detection import detect_document
from docflow.events import DocumentRef
from docflow.runtime import logger, metrics, step
from docflow.settings import Settings
from docflow.storage import S3ObjectStore

store = S3ObjectStore.from_environment()
settings = Settings.from_environment()


@step(DocumentRef)
def handler(document: DocumentRef, context: LambdaContext) -> dict:
    logger.append_keys(document_id=document.document_id)
    detection = detect_document(store, key=document.key, filename=document.filename, settings=settings)
    metrics.add_dimension(name="kind", value=detection.kind)
    metrics.add_metric(name="DocumentsDetected", unit=MetricUnit.Count, value=1)
    logger.info("detected", extra=detection.to_dict())
    return detection.to_dict()
