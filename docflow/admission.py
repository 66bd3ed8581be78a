"""When and how fast work starts: starts scheduled for later (EventBridge Scheduler one-time
schedules, which invoke the jobs function's `start` job when due) and the low-priority lane
(an SQS queue the admit function drains a few documents at a time, running each to its end,
so that a flood of low-priority work never holds up the rest).

The local cloud runs the same schedules (localcloud/scheduler.py) and the same lane."""

from __future__ import annotations

import contextlib
import json
import os
import re
from datetime import UTC, datetime
from typing import Any, Protocol

# How many of a batch's Map children (10 documents each) run at once: a low-priority batch
# takes one lane of them, the others ten.
BATCH_CHILDREN = {"high": 10, "normal": 10, "low": 1}
# Schedule names: letters, digits and -_. up to 64 characters.
_UNSAFE = re.compile(r"[^0-9A-Za-z_.-]")


def batch_input(batch_id: str, manifest_key: str, priority: str = "normal") -> dict[str, Any]:
    """What the batch workflow starts from, however it is started (the API, docflow run)."""
    return {"batch_id": batch_id, "manifest_key": manifest_key, "max_children": BATCH_CHILDREN[priority]}


class Scheduler(Protocol):
    def start_at(self, when: datetime, name: str, job: dict[str, Any]) -> None:
        """Runs the jobs function with `job` at `when`, once."""


class Lane(Protocol):
    def enqueue(self, run: str, document: dict[str, Any]) -> None:
        """Queues a document's workflow to be run when the lane has room."""


def at_expression(when: datetime) -> str:
    """EventBridge Scheduler's one-time expression, in UTC, to the second."""
    return f"at({when.astimezone(UTC):%Y-%m-%dT%H:%M:%S})"


class EventBridgeScheduler:
    """One-time schedules in docflow's group, deleted once run, invoking the jobs function."""

    def __init__(self, group: str, target_arn: str, role_arn: str, client: Any = None):
        import boto3

        self.group, self.target_arn, self.role_arn = group, target_arn, role_arn
        self.client = client or boto3.client("scheduler")

    @classmethod
    def from_environment(cls) -> EventBridgeScheduler:
        return cls(
            os.environ["DOCFLOW_SCHEDULE_GROUP"],
            os.environ["DOCFLOW_JOBS_FUNCTION_ARN"],
            os.environ["DOCFLOW_SCHEDULER_ROLE_ARN"],
        )

    def start_at(self, when: datetime, name: str, job: dict[str, Any]) -> None:
        # A schedule of that name exists already: a redelivered upload event made it.
        with contextlib.suppress(self.client.exceptions.ConflictException):
            self.client.create_schedule(
                Name=_UNSAFE.sub("-", name)[:64],
                GroupName=self.group,
                ScheduleExpression=at_expression(when),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self.target_arn,
                    "RoleArn": self.role_arn,
                    "Input": json.dumps(job),
                    "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 24 * 3600},
                },
            )


class SqsLane:
    def __init__(self, url: str, client: Any = None):
        import boto3

        self.url = url
        self.client = client or boto3.client("sqs")

    @classmethod
    def from_environment(cls) -> SqsLane:
        return cls(os.environ["DOCFLOW_LOW_LANE_URL"])

    def enqueue(self, run: str, document: dict[str, Any]) -> None:
        self.client.send_message(QueueUrl=self.url, MessageBody=json.dumps({"run": run, "document": document}))
