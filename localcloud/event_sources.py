"""Lambda's SQS event source mapping, for the local cloud: polls a queue, hands batches of
messages to a function, and deletes the ones it did not report as failed.

moto's SQS keeps the rest: a message that is not deleted becomes visible again after the
queue's visibility timeout, and after max_receive_count receives its redrive policy moves
it to the dead-letter queue, as on AWS."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from localcloud.loops import Loop
from localcloud.workers import Invocation

# Lambda's pollers long-poll; moto's long poll spins on the CPU for its whole wait, so
# this one asks without waiting and rests between empty answers instead.
IDLE_SECONDS = 0.2


class QueuePoller:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        batch_size: int,
        invoke: Callable[[dict], Invocation],
        region: str,
    ):
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = batch_size
        self.invoke = invoke
        self.region = region
        self.loop = Loop(f"poll {queue_arn}", self.poll_once, IDLE_SECONDS)

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def poll_once(self, wait_seconds: int = 0) -> int:
        """One receive and one invocation; returns how many messages were received."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        result = self.invoke({"Records": [self._record(message) for message in messages]})
        if result.error:
            return len(messages)  # nothing deleted: all of them come back after the timeout
        response = json.loads(result.payload or b"{}") or {}
        failed = {item.get("itemIdentifier") for item in response.get("batchItemFailures", [])}
        done = [message for message in messages if message["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(messages)

    def _record(self, message: dict) -> dict:
        """The record Lambda's SQS event source puts in an event for one message."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }
