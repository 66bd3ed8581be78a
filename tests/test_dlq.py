"""`docflow dlq`: messages ingest gave up on go back to the queue they came from."""

from __future__ import annotations

import json

import boto3
import pytest

from docflow_cli.dlq import count, dead_letter_queue_url, redrive


@pytest.fixture
def queues(aws):
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="docflow-ingest-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = sqs.create_queue(
        QueueName="docflow-ingest",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "5"})},
    )["QueueUrl"]
    return sqs, source, dlq


def test_redrive_moves_every_message_back_to_its_source_queue(queues):
    sqs, source, dlq = queues
    bodies = [json.dumps({"n": n}) for n in range(23)]  # more than one receive's worth
    for body in bodies:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    assert dead_letter_queue_url(sqs, None, None) == dlq
    assert count(sqs, dlq) == 23
    progress = []
    assert redrive(sqs, dlq, on_moved=progress.append) == 23
    assert count(sqs, dlq) == 0 and progress[-1] == 23
    moved = []
    while messages := sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10).get("Messages", []):
        moved += [m["Body"] for m in messages]
        sqs.delete_message_batch(QueueUrl=source, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages])
    assert sorted(moved) == sorted(bodies)


def test_the_deployed_queue_comes_from_the_stacks_outputs(queues):
    sqs, _, dlq = queues

    class Stacks:
        def describe_stacks(self, StackName):
            assert StackName == "Docflow"
            return {"Stacks": [{"Outputs": [{"OutputKey": "DeadLetterQueueUrl", "OutputValue": dlq}]}]}

    assert dead_letter_queue_url(sqs, Stacks(), "Docflow") == dlq
