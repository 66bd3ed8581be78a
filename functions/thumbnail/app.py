"""thumbnail: makes a thumbnail of an image, at most 300 px on its longest side, and reads
its text by OCR."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.events import DocumentRef
from docflow.runtime import logger, metrics, step
from docflow.settings import Settings
from docflow.storage import S3ObjectStore
from docflow.thumbnails import make_thumbnail

store = S3ObjectStore.from_environment()
settings = Settings.from_environment()


@step(DocumentRef)
def handler(document: DocumentRef, context: LambdaContext) -> dict:
    logger.append_keys(document_id=document.document_id)
    thumbnail = make_thumbnail(store, document_id=document.document_id, key=document.key, settings=settings)
    metrics.add_metric(name="ThumbnailsMade", unit=MetricUnit.Count, value=1)
    logger.info("thumbnailed", extra=thumbnail.to_dict())
    return thumbnail.to_dict()
