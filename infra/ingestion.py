"""Ingestion: S3 "Object Created" events under uploads/ -> EventBridge rule -> SQS queue
(dead-letter queue after the catalog's receive count) -> the ingest function."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from docflow.ingestion import upload_event_pattern
from infra.nag import acknowledge
from infra.pipeline import Pipeline


class Ingestion(Construct):
    def __init__(self, scope: Construct, id: str, *, pipeline: Pipeline):
        super().__init__(scope, id)
        spec = pipeline.specs["ingest"]
        assert spec.queue is not None, "the catalog gives ingest its queue"
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "Uploads",
            visibility_timeout=Duration.seconds(spec.queue.visibility_timeout_seconds),
            retention_period=Duration.days(4),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=spec.queue.max_receive_count
            ),
        )
        pattern = upload_event_pattern(pipeline.storage.bucket.bucket_name)
        self.rule = events.Rule(
            self,
            "UploadCreated",
            description="Uploads under uploads/ start their document workflow",
            event_pattern=events.EventPattern(
                source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
            ),
            # Events EventBridge cannot deliver land beside the messages ingest gave up on.
            targets=[targets.SqsQueue(self.queue, dead_letter_queue=self.dead_letters, retry_attempts=8)],
        )
        pipeline.functions["ingest"].add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=spec.queue.batch_size,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
            )
        )
        acknowledge(
            pipeline.functions["ingest"], "Serverless-LambdaEventSourceMappingDestination",
            "A message ingest fails stays in its queue, whose redrive policy moves it to the dead-letter queue.",
        )  # fmt: skip
        acknowledge(
            self.dead_letters, "Serverless-SQSRedrivePolicy", "This is the dead-letter queue; it has none of its own."
        )
