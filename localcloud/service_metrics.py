"""The metrics AWS publishes to CloudWatch by itself, published by the local cloud to moto's.

On AWS, Lambda puts each invocation's Invocations, Errors, Throttles and Duration in the
`AWS/Lambda` namespace, and SQS puts each queue's ApproximateAgeOfOldestMessage in `AWS/SQS`.
moto's services publish none of them; here the local cloud does, under the same names and
dimensions, so the console (docflow_console) reads the same metrics in both runtimes.
Invocations are tallied per function and put once a second, off the invocation's path."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localcloud.loops import Loop
from localcloud.workers import Invocation

FLUSH_SECONDS = 1.0
QUEUE_AGE_SECONDS = 10.0  # how often queues' ages are put (AWS: every minute)
PUT_LIMIT = 1000  # PutMetricData's datums per request
VALUES_LIMIT = 150  # a datum's values
_THROTTLED = ("Lambda.TooManyRequestsException", "TooManyRequestsException")


@dataclass
class FunctionTally:
    """One function's invocations since the last put."""

    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    durations_ms: list[float] = field(default_factory=list)

    def add(self, invocation: Invocation) -> None:
        # Lambda counts a throttled request as throttled only, not as an invocation.
        if invocation.error and _error_type(invocation) in _THROTTLED:
            self.throttles += 1
            return
        self.invocations += 1
        self.errors += 1 if invocation.error else 0
        self.durations_ms.append(invocation.duration_ms)

    def datums(self, function_name: str, at: datetime) -> list[dict[str, Any]]:
        dimensions = [{"Name": "FunctionName", "Value": function_name}]
        base = {"Dimensions": dimensions, "Timestamp": at}
        counts = [
            {**base, "MetricName": name, "Value": float(value), "Unit": "Count"}
            for name, value in (
                ("Invocations", self.invocations),
                ("Errors", self.errors),
                ("Throttles", self.throttles),
            )
        ]
        chunks = [
            self.durations_ms[start : start + VALUES_LIMIT] for start in range(0, len(self.durations_ms), VALUES_LIMIT)
        ]
        durations = [{**base, "MetricName": "Duration", "Values": chunk, "Unit": "Milliseconds"} for chunk in chunks]
        return counts + durations


def _error_type(invocation: Invocation) -> str:
    try:
        return str(json.loads(invocation.payload).get("errorType", ""))
    except (ValueError, AttributeError):
        return ""


class ServiceMetrics:
    """Buffers invocations' metrics and puts them, with the queues' ages, every second."""

    def __init__(self, cloudwatch: Any, sqs_queues: Any):
        """`sqs_queues()` gives moto's queues by name (its backend's, in this process)."""
        self.cloudwatch = cloudwatch
        self.sqs_queues = sqs_queues
        self._tallies: dict[str, FunctionTally] = {}
        self._ages_put_at = 0.0
        self._lock = threading.Lock()
        self.loop = Loop("service metrics", self.flush, FLUSH_SECONDS)

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()
        self.flush()

    def invoked(self, function_name: str, invocation: Invocation) -> None:
        with self._lock:
            self._tallies.setdefault(function_name, FunctionTally()).add(invocation)

    def flush(self) -> int:
        """Puts the invocations since the last flush and, now and then, each queue's age;
        answers 0, so the loop rests its second."""
        at = datetime.now(UTC)
        with self._lock:
            tallies, self._tallies = self._tallies, {}
        invocations = [datum for name, tally in tallies.items() for datum in tally.datums(name, at)]
        ages: list[dict[str, Any]] = []
        if time.monotonic() - self._ages_put_at >= QUEUE_AGE_SECONDS:
            self._ages_put_at = time.monotonic()
            ages = self._queue_ages(at)
        for namespace, datums in (("AWS/Lambda", invocations), ("AWS/SQS", ages)):
            for start in range(0, len(datums), PUT_LIMIT):
                self.cloudwatch.put_metric_data(Namespace=namespace, MetricData=datums[start : start + PUT_LIMIT])
        return 0

    def _queue_ages(self, at: datetime) -> list[dict[str, Any]]:
        now_ms = time.time() * 1000
        datums = []
        for name, queue in list(self.sqs_queues().items()):
            sent = [message.sent_timestamp for message in list(queue._messages)]
            age = (now_ms - min(sent)) / 1000 if sent else 0.0
            datums.append(
                {
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": name}],
                    "Value": round(age, 3),
                    "Unit": "Seconds",
                    "Timestamp": at,
                }
            )
        return datums
