"""The local SQS event source: deletes what the function handled, leaves the rest to
moto's redrive policy, which moves a message that keeps failing to the dead-letter queue."""

from __future__ import annotations

import json

import boto3
import pytest

from localcloud.event_sources import QueuePoller
from localcloud.workers import Invocation


@pytest.fixture
def queues(aws):
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName="work",
        Attributes={
            "VisibilityTimeout": "0",  # a message not deleted is received again at once
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, queue, arn, dlq


def count(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_handled_messages_are_deleted_and_failed_ones_kept(queues):
    sqs, queue, arn, dlq = queues
    for body in ("good", "bad", "good"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    events = []

    def function(event: dict) -> Invocation:
        events.append(event)
        failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "bad"]
        return Invocation(json.dumps({"batchItemFailures": failed}).encode())

    poller = QueuePoller(sqs, queue, arn, batch_size=10, invoke=function, region="us-east-1")
    assert poller.poll_once(wait_seconds=0) == 3
    record = events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert int(record["attributes"]["ApproximateReceiveCount"]) == 1
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])] == ["bad"]


def test_a_message_that_keeps_failing_lands_in_the_dead_letter_queue(queues):
    sqs, queue, arn, dlq = queues
    sqs.send_message(QueueUrl=queue, MessageBody="poison")
    crash = lambda event: Invocation.failed("Runtime.ExitError", "the worker died")  # noqa: E731
    poller = QueuePoller(sqs, queue, arn, batch_size=10, invoke=crash, region="us-east-1")
    received = [poller.poll_once(wait_seconds=0) for _ in range(5)]
    assert received[:3] == [1, 1, 1]  # three receives, then moved on the fourth
    assert count(sqs, queue) == 0
    moved = sqs.receive_message(QueueUrl=dlq).get("Messages", [])
    assert [m["Body"] for m in moved] == ["poison"]
