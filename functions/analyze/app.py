"""analyze: ranks the keywords of a document's extracted text and estimates its sentiment."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.analysis import analyze_document
from docflow.events import AnalysisRequest
from docflow.storage import S3ObjectStore

logger = Logger()
tracer = Tracer()
metrics = Metrics()
store = S3ObjectStore.from_environment()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=AnalysisRequest)
def handler(request: AnalysisRequest, context: LambdaContext) -> dict:
    logger.append_keys(document_id=request.document_id)
    analysis = analyze_document(store, request.extraction.text_key)
    metrics.add_dimension(name="sentiment", value=analysis.sentiment["label"])
    metrics.add_metric(name="WordsAnalyzed", unit=MetricUnit.Count, value=analysis.word_count)
    logger.info("analysed", extra={"word_count": analysis.word_count, "sentiment": analysis.sentiment["label"]})
    return analysis.to_dict()
