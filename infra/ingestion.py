"""What feeds each function's queue, as the catalog says (QueueSpec.fed_by), and the queue's
event source: S3 "Object Created" events under uploads/ through a rule on the default bus
(ingest), every event docflow puts on its own bus through a rule there (notify), or other
functions sending to it (deliver). The queues themselves are the pipeline's."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from docflow.ingestion import upload_event_pattern
from docflow.notifications import EVENT_PATTERN
from infra.nag import acknowledge
from infra.pipeline import Pipeline


class Ingestion(Construct):
    def __init__(self, scope: Construct, id: str, *, pipeline: Pipeline):
        super().__init__(scope, id)
        self.queue, self.dead_letters = pipeline.queues["ingest"], pipeline.dead_letters["ingest"]
        for name, queue in pipeline.queues.items():
            spec = pipeline.specs[name]
            assert spec.queue is not None
            dead_letters = pipeline.dead_letters[name]
            # Events EventBridge cannot deliver land beside the messages the function gave up on.
            target = targets.SqsQueue(queue, dead_letter_queue=dead_letters, retry_attempts=8)
            if spec.queue.fed_by == "uploads":
                pattern = upload_event_pattern(pipeline.storage.bucket.bucket_name)
                events.Rule(
                    self, "UploadCreated", description="Uploads under uploads/ start their document workflow",
                    event_pattern=events.EventPattern(
                        source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
                    ),
                    targets=[target],
                )  # fmt: skip
            elif spec.queue.fed_by == "events":
                events.Rule(
                    self, "DocflowEvents", description="Every document and batch that ends, for the webhooks",
                    event_bus=pipeline.event_bus, event_pattern=events.EventPattern(source=EVENT_PATTERN["source"]),
                    targets=[target],
                )  # fmt: skip
            # A queue fed by functions needs no rule: they hold sqs:SendMessage on it (pipeline.py).
            pipeline.functions[name].add_event_source(
                sources.SqsEventSource(
                    queue,
                    batch_size=spec.queue.batch_size,
                    max_batching_window=Duration.seconds(1),
                    report_batch_item_failures=True,
                    max_concurrency=spec.queue.max_concurrency,
                )
            )
            acknowledge(
                pipeline.functions[name], "Serverless-LambdaEventSourceMappingDestination",
                "A message the function fails stays in its queue, whose redrive policy moves it to the dead letters.",
            )  # fmt: skip
