"""How the service itself is doing, read as an operator reads AWS: per function, CloudWatch's
invocations, errors, throttles and p50/p95 durations; per queue, its depth, its oldest
message's age and its dead letters; documents recorded per minute over the last hour.

These are the service's counts, shared by every caller: they name no document. The same
code reads a deployed stack and the local cloud, which publishes the metrics AWS publishes
by itself (localcloud/service_metrics.py)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from docflow_cli.dlq import redrive

WINDOW = timedelta(hours=1)
REFRESH_SECONDS = 2.0  # a snapshot is shared by the requests of this long
# (field of the answer, Lambda's metric, statistic)
_FUNCTION_STATS = (
    ("invocations", "Invocations", "Sum"),
    ("errors", "Errors", "Sum"),
    ("throttles", "Throttles", "Sum"),
    ("p50_ms", "Duration", "p50"),
    ("p95_ms", "Duration", "p95"),
)


@dataclass(frozen=True)
class Resources:
    """What the console reads, by the names the deployment gave them."""

    functions: dict[str, str]  # catalog name -> deployed function name
    queue_urls: list[str]  # every queue, dead-letter queues among them
    document_workflow_arn: str

    @classmethod
    def of_stack(cls, cloudformation: Any, stack: str, function_names: set[str]) -> Resources:
        """A deployed stack's, by the names infra/ gives them: <stack>-<name>, for each of the
        catalog's `function_names` (CloudFormation names CDK's own helpers <stack>-… too)."""
        functions, queues, document_workflow = {}, [], ""
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
            for resource in page["StackResourceSummaries"]:
                physical, kind = resource.get("PhysicalResourceId", ""), resource["ResourceType"]
                name = physical.removeprefix(f"{stack}-")
                if kind == "AWS::Lambda::Function" and name in function_names:
                    functions[name] = physical
                elif kind == "AWS::SQS::Queue":
                    queues.append(physical)
                elif kind == "AWS::StepFunctions::StateMachine" and physical.endswith(f":{stack}-document"):
                    document_workflow = physical
        return cls(functions, queues, document_workflow)


class Operations:
    def __init__(self, cloudwatch: Any, sqs: Any, resources: Resources, clock: Callable[[], float] = time.time):
        self.cloudwatch = cloudwatch
        self.sqs = sqs
        self.resources = resources
        self.clock = clock
        self._snapshot: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> dict[str, Any]:
        """{"functions": [...], "queues": [...], "throughput": {...}}, at most REFRESH_SECONDS old."""
        with self._lock:
            if self._snapshot is None or self.clock() - self._snapshot[0] >= REFRESH_SECONDS:
                self._snapshot = (self.clock(), self._read())
            return self._snapshot[1]

    def redrive(self, dead_letter_queue: str) -> int:
        """Moves a dead-letter queue's messages back to their queue; the queue by its name."""
        for url in self.resources.queue_urls:
            if _queue_name(url) == dead_letter_queue and self._is_dead_letter_queue(url):
                moved = redrive(self.sqs, url)
                with self._lock:
                    self._snapshot = None  # the next read shows the queue as it is now
                return moved
        raise KeyError(dead_letter_queue)

    # -- reading -------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        end = datetime.fromtimestamp(self.clock(), UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = end - WINDOW
        queues = self._queues()
        queries = self._function_queries() + self._age_queries(queues) + [self._throughput_query()]
        results = self._metric_data(queries, start, end)
        functions = [
            {"name": name, **{field: _total(results, f"f{number}_{field}", stat) for field, _, stat in _FUNCTION_STATS}}
            for number, name in enumerate(self.resources.functions)
        ]
        return {
            "window_minutes": int(WINDOW.total_seconds() // 60),
            "functions": functions,
            "queues": [
                {**queue, "oldest_age_seconds": _latest(results.get(f"q{index}_age"))}
                for index, queue in enumerate(queues)
            ],
            "throughput": _per_minute(results.get("recorded"), start),
        }

    def _function_queries(self) -> list[dict[str, Any]]:
        return [
            _query(f"f{index}_{field}", "AWS/Lambda", metric, "FunctionName", deployed, 3600, stat)
            for index, deployed in enumerate(self.resources.functions.values())
            for field, metric, stat in _FUNCTION_STATS
        ]

    def _age_queries(self, queues: list[dict[str, Any]]) -> list[dict[str, Any]]:
        age = "ApproximateAgeOfOldestMessage"
        return [
            _query(f"q{number}_age", "AWS/SQS", age, "QueueName", queue["name"], 60, "Maximum")
            for number, queue in enumerate(queues)
        ]

    def _throughput_query(self) -> dict[str, Any]:
        record = self.resources.functions.get("record", "")
        return _query("recorded", "AWS/Lambda", "Invocations", "FunctionName", record, 60, "Sum")

    def _metric_data(self, queries: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, dict]:
        results: dict[str, dict] = {}
        for first in range(0, len(queries), 500):  # GetMetricData's limit
            for page in self.cloudwatch.get_paginator("get_metric_data").paginate(
                MetricDataQueries=queries[first : first + 500], StartTime=start, EndTime=end
            ):
                for result in page["MetricDataResults"]:
                    found = results.setdefault(result["Id"], {"Timestamps": [], "Values": []})
                    found["Timestamps"] += result["Timestamps"]
                    found["Values"] += result["Values"]
        return results

    def _queues(self) -> list[dict[str, Any]]:
        """Each queue that has a dead-letter queue: its depth, in flight, and dead letters."""
        attributes = {url: self._attributes(url) for url in self.resources.queue_urls}
        by_arn = {found.get("QueueArn"): url for url, found in attributes.items()}
        queues = []
        for url, found in attributes.items():
            policy = json.loads(found.get("RedrivePolicy") or "{}")
            dead_letters_url = by_arn.get(policy.get("deadLetterTargetArn"))
            if dead_letters_url is None:
                continue
            queues.append(
                {
                    "name": _queue_name(url),
                    "depth": int(found.get("ApproximateNumberOfMessages", 0)),
                    "in_flight": int(found.get("ApproximateNumberOfMessagesNotVisible", 0)),
                    "dead_letter_queue": _queue_name(dead_letters_url),
                    "dead_letters": int(attributes[dead_letters_url].get("ApproximateNumberOfMessages", 0)),
                }
            )
        return sorted(queues, key=lambda queue: queue["name"])

    def _attributes(self, url: str) -> dict[str, str]:
        names = ["QueueArn", "RedrivePolicy", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]

    def _is_dead_letter_queue(self, url: str) -> bool:
        return any(queue["dead_letter_queue"] == _queue_name(url) for queue in self._queues())


def _query(identifier: str, namespace: str, metric: str, dimension: str, value: str, period: int, stat: str) -> dict:
    return {
        "Id": identifier,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": dimension, "Value": value}],
            },
            "Period": period,
            "Stat": stat,
        },
    }


def _total(results: dict[str, dict], identifier: str, stat: str) -> float | None:
    values = [value for value in results.get(identifier, {}).get("Values", []) if value is not None]
    if not values:
        return 0 if stat == "Sum" else None
    return round(sum(values) if stat == "Sum" else max(values), 1)


def _latest(result: dict | None) -> float | None:
    if not result or not result["Values"]:
        return None
    pairs = sorted(zip(result["Timestamps"], result["Values"], strict=True))
    return round(pairs[-1][1], 1)


def _per_minute(result: dict | None, start: datetime) -> dict[str, Any]:
    """The window's minutes, oldest first, with how many documents were recorded in each."""
    minutes = int(WINDOW.total_seconds() // 60)
    counts = [0] * minutes
    for at, value in zip((result or {}).get("Timestamps", []), (result or {}).get("Values", []), strict=True):
        index = int((at.astimezone(UTC) - start).total_seconds() // 60)
        if 0 <= index < minutes:
            counts[index] += int(value)
    return {"start": start.isoformat(), "per_minute": counts}


def _queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]
