"""notify: turns each of docflow's events (from its bus, through SQS) into one delivery for
each webhook that asked for it, queued for deliver."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.dynamodb_records import DynamoRecordStore
from docflow.fanout import deliveries_of
from docflow.runtime import logger, metrics, tracer
from docflow.settings import Settings
from docflow.storage import S3ObjectStore
from docflow.webhook_queue import SqsDeliveryQueue

records = DynamoRecordStore.from_environment()
presigner = S3ObjectStore.from_environment()
settings = Settings.from_environment()
queue = SqsDeliveryQueue.from_environment()
processor = BatchProcessor(event_type=EventType.SQS)


def handle_message(record: SQSRecord) -> None:
    event = json.loads(record.body)
    deliveries = deliveries_of(event, records, presigner, settings)
    queue.send(deliveries)
    logger.info("notified", extra={"detail_type": event.get("detail-type"), "deliveries": len(deliveries)})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_message, processor=processor, context=context)
