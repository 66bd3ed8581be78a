"""deliver: posts one webhook delivery, signed; one the target does not take comes back
after its retry delay (docflow/webhooks.py's RETRY_DELAYS), and after the last attempt
goes to the dead-letter queue."""

import json

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.dynamodb_records import DynamoRecordStore
from docflow.runtime import logger, metrics, tracer
from docflow.settings import Settings
from docflow.webhook_queue import SqsDeliveryQueue
from docflow.webhooks import ATTEMPTS, Delivery, DeliveryFailed, deliver, retry_delay

records = DynamoRecordStore.from_environment()
settings = Settings.from_environment()
queue = SqsDeliveryQueue.from_environment()
processor = BatchProcessor(event_type=EventType.SQS)


def handle_message(record: SQSRecord) -> None:
    delivery = Delivery(**json.loads(record.body))
    attempt = int(record.attributes.approximate_receive_count)
    logger.append_keys(delivery_id=delivery.delivery_id, webhook_id=delivery.webhook_id, attempt=attempt)
    try:
        delivered = deliver(delivery, records, allow_loopback=bool(settings.webhook_loopback))
    except DeliveryFailed as error:
        metrics.add_metric(name="WebhookDeliveriesFailed", unit=MetricUnit.Count, value=1)
        last = attempt >= ATTEMPTS
        logger.warning("delivery not taken", extra={"reason": str(error), "dead_letter": last})
        if not last:
            queue.retry_later(record.receipt_handle, retry_delay(attempt))
        raise
    metrics.add_metric(
        name="WebhookDeliveries" if delivered else "WebhookDeliveriesDropped", unit=MetricUnit.Count, value=1
    )
    logger.info("delivered" if delivered else "webhook gone: dropped")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_message, processor=processor, context=context)
