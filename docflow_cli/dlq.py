"""`docflow dlq`: the upload events that ingest gave up on, and their replay.

A message lands in the dead-letter queue after the ingest queue's max receive count (the
ingest function kept failing on it: a bug, an outage). Once the cause is fixed, redrive
moves every message back to the queue it came from, which SQS names for us, so each
upload's workflow is started; ingest's deterministic execution names keep the ones that
did start from starting twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def dead_letter_queue_url(sqs: Any, cloudformation: Any | None, stack: str | None) -> str:
    """The stack's DeadLetterQueueUrl output on AWS; the local cloud's queue otherwise."""
    if stack:
        assert cloudformation is not None, "a stack is read with CloudFormation"
        (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
        outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
        return outputs["DeadLetterQueueUrl"]
    return sqs.get_queue_url(QueueName="docflow-ingest-dlq")["QueueUrl"]


def count(sqs: Any, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def redrive(sqs: Any, dead_letter_url: str, on_moved: Callable[[int], None] = lambda n: None) -> int:
    """Moves every message of the dead-letter queue back to its source queue; returns how many."""
    (source,) = sqs.list_dead_letter_source_queues(QueueUrl=dead_letter_url)["queueUrls"]
    moved = 0
    while True:
        messages = sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not messages:
            return moved
        entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
        sent = sqs.send_message_batch(QueueUrl=source, Entries=entries)
        delivered = {entry["Id"] for entry in sent.get("Successful", [])}
        # Only what reached the source queue leaves the dead-letter queue: nothing is lost.
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages) if str(i) in delivered
        ]
        if done:
            sqs.delete_message_batch(QueueUrl=dead_letter_url, Entries=done)
        moved += len(done)
        on_moved(moved)
