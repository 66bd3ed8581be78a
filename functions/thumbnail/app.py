"""thumbnail: makes a thumbnail of an image, at most 300 px on its longest side."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.events import DocumentRef
from docflow.storage import S3ObjectStore
from docflow.thumbnails import make_thumbnail

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
    thumbnail = make_thumbnail(store, document_id=document.document_id, key=document.key)
    metrics.add_metric(name="ThumbnailsMade", unit=MetricUnit.Count, value=1)
    logger.info("thumbnailed", extra=thumbnail.to_dict())
    return thumbnail.to_dict()
