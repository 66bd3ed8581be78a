"""`docflow dlq`: the messages docflow gave up on, and their replay.

Two dead-letter queues hold them: `uploads`, the upload events ingest kept failing on (a
bug, an outage), and `webhooks`, the deliveries no target took in 24 attempts over 24
hours. Once the cause is fixed, redrive moves every message back to the queue it came from,
which SQS names for us: each upload's workflow is started (ingest's deterministic
execution names keep the ones that did start from starting twice), each delivery gets its
24 attempts again, with its webhook-id unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Each dead-letter queue by the name `docflow dlq --queue` gives it: its stack output, and
# the function whose queue it serves (the local cloud names it docflow-<function>-dlq).
DEAD_LETTER_QUEUES = {"uploads": ("DeadLetterQueueUrl", "ingest"), "webhooks": ("WebhookDeadLetterQueueUrl", "deliver")}


def dead_letter_queue_url(sqs: Any, cloudformation: Any | None, stack: str | None, queue: str = "uploads") -> str:
    """The stack's output for the queue on AWS; the local cloud's queue otherwise."""
    output, function = DEAD_LETTER_QUEUES[queue]
    if stack:
        assert cloudformation is not None, "a stack is read with CloudFormation"
        (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
        outputs = {found["OutputKey"]: found["OutputValue"] for found in described.get("Outputs", [])}
        return outputs[output]
    return sqs.get_queue_url(QueueName=f"docflow-{function}-dlq")["QueueUrl"]


def peek(sqs: Any, queue_url: str, limit: int = 10) -> list[str]:
    """Up to `limit` messages' bodies, left in the queue (visible again at once)."""
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=min(limit, 10), VisibilityTimeout=0)
    return [message["Body"] for message in answer.get("Messages", [])]


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
