"""ocr: reads one part of a PDF's pages by OCR and writes their text beside the document."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.events import OcrPartRequest
from docflow.ocr_parts import read_ocr_part
from docflow.runtime import logger, metrics, step
from docflow.settings import Settings
from docflow.storage import S3ObjectStore

store = S3ObjectStore.from_environment()
settings = Settings.from_environment()


@step(OcrPartRequest)
def handler(request: OcrPartRequest, context: LambdaContext) -> dict:
    logger.append_keys(document_id=request.document_id, part=request.part)
    read = read_ocr_part(
        store,
        document_id=request.document_id,
        key=request.key,
        part=request.part,
        remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
        settings=settings,
        started_at=request.started_at,
    )
    metrics.add_metric(name="PagesReadByOcr", unit=MetricUnit.Count, value=read.read)
    if read.unread:
        metrics.add_metric(name="PagesUnreadForTime", unit=MetricUnit.Count, value=read.unread)
    logger.info("read by OCR", extra=read.to_dict())
    return read.to_dict()
