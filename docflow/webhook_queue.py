"""The queue of webhook deliveries (SQS): notify sends to it, deliver consumes it and puts a
delivery that was not taken back for its next attempt."""

from __future__ import annotations

import json
import os
from typing import Any, Protocol

from docflow.webhooks import Delivery


class DeliveryQueue(Protocol):
    def send(self, deliveries: list[Delivery]) -> None: ...

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        """Makes a received delivery visible again after `seconds`."""


class SqsDeliveryQueue:
    def __init__(self, url: str, client: Any = None):
        import boto3

        self.url = url
        self.client = client or boto3.client("sqs")

    @classmethod
    def from_environment(cls) -> SqsDeliveryQueue:
        return cls(os.environ["DOCFLOW_DELIVERIES_QUEUE_URL"])

    def send(self, deliveries: list[Delivery]) -> None:
        for start in range(0, len(deliveries), 10):  # SendMessageBatch's limit
            entries = [
                {"Id": str(number), "MessageBody": json.dumps(delivery.to_dict(), separators=(",", ":"))}
                for number, delivery in enumerate(deliveries[start : start + 10])
            ]
            answer = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
            if answer.get("Failed"):
                from docflow.errors import TransientError

                raise TransientError(
                    f"SQS refused {len(answer['Failed'])} deliveries: {answer['Failed'][0].get('Code')}"
                )

    def retry_later(self, receipt_handle: str, seconds: int) -> None:
        self.client.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
