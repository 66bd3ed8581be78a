"""admit: runs the low-priority lane's documents, one per message, each to its end; the
lane's queue gives it only a few messages at once, so only that many run."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.runtime import logger, metrics, tracer
from docflow.workflows import StepFunctionsWorkflows

workflows = StepFunctionsWorkflows.from_environment()
processor = BatchProcessor(event_type=EventType.SQS)


def handle_message(record: SQSRecord) -> None:
    queued = json.loads(record.body)
    status = workflows.run_document(queued["run"], queued["document"])
    logger.info("ran", extra={"run": queued["run"], "status": status})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_message, processor=processor, context=context)
