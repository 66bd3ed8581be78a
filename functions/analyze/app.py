"""analyze: tells the language of a document's extracted text, ranks its keywords and
estimates its sentiment."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.analysis import analyze_document
from docflow.events import AnalysisRequest
from docflow.runtime import logger, metrics, step
from docflow.storage import S3ObjectStore

store = S3ObjectStore.from_environment()


@step(AnalysisRequest)
def handler(request: AnalysisRequest, context: LambdaContext) -> dict:
    logger.append_keys(document_id=request.document_id)
    analysis = analyze_document(store, request.extraction.text_key)
    sentiment = analysis.sentiment["label"] if analysis.sentiment else "none"
    metrics.add_dimension(name="language", value=analysis.language or "unknown")
    metrics.add_dimension(name="sentiment", value=sentiment)
    metrics.add_metric(name="WordsAnalyzed", unit=MetricUnit.Count, value=analysis.word_count)
    logger.info(
        "analysed", extra={"word_count": analysis.word_count, "language": analysis.language, "sentiment": sentiment}
    )
    return analysis.to_dict()
