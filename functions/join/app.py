"""join: puts the pages the ocr step read into a PDF's text, in page order, and counts it again."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.events import TextToJoin
from docflow.ocr_parts import join_ocr_parts
from docflow.runtime import logger, step
from docflow.settings import Settings
from docflow.storage import S3ObjectStore
from docflow.text import Extraction

store = S3ObjectStore.from_environment()
settings = Settings.from_environment()


@step(TextToJoin)
def handler(request: TextToJoin, context: LambdaContext) -> dict:
    logger.append_keys(document_id=request.document_id)
    extraction = join_ocr_parts(store, request.document_id, Extraction(**request.extraction), settings)
    logger.info("joined", extra=extraction.to_dict())
    return extraction.to_dict()
