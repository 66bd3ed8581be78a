"""ingest: S3 "Object Created" events, from EventBridge through SQS, start document workflows.

Each message is handled on its own; a failed one is reported back to SQS alone (partial
batch response), retried after its visibility timeout and, after too many receives, moved
to the dead-letter queue."""

from datetime import UTC, datetime
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import (
    S3EventNotificationEventBridgeDetailModel,
    S3EventNotificationEventBridgeModel,
    S3EventNotificationObjectModel,
    SqsRecordModel,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import AliasChoices, Field, Json

from docflow.admission import EventBridgeScheduler, SqsLane
from docflow.dynamodb_records import DynamoRecordStore
from docflow.ingestion import Admission, Upload, ingest
from docflow.runtime import logger, metrics, tracer
from docflow.workflows import StepFunctionsWorkflows


class UploadedObject(S3EventNotificationObjectModel):
    # moto's S3 writes "eTag" where S3 writes "etag".
    etag: str = Field("", validation_alias=AliasChoices("etag", "eTag"))


class UploadDetail(S3EventNotificationEventBridgeDetailModel):
    object: UploadedObject


class ObjectCreatedEvent(S3EventNotificationEventBridgeModel):
    detail: UploadDetail


class UploadMessage(SqsRecordModel):
    body: Json[ObjectCreatedEvent]


records = DynamoRecordStore.from_environment()
workflows = StepFunctionsWorkflows.from_environment()
admission = Admission(SqsLane.from_environment(), EventBridgeScheduler.from_environment())
processor = BatchProcessor(event_type=EventType.SQS, model=UploadMessage)


@tracer.capture_method
def handle_message(record: UploadMessage) -> None:
    created = record.body.detail.object
    # Keys in S3 events are URL-encoded; docflow's upload keys never hold % or +.
    upload = Upload(key=unquote_plus(created.key), etag=created.etag, version_id=created.version_id)
    outcome = ingest(records, workflows, admission, upload, datetime.now(UTC).isoformat(timespec="microseconds"))
    logger.info("ingested", extra={"key": upload.key, "outcome": outcome})
    metrics.add_metric(name=f"Uploads{outcome.capitalize()}", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=handle_message, processor=processor, context=context)
