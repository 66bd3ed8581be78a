"""A document's timeline: the steps its workflow ran, read from Step Functions' history.

`steps` is a plain function of the history's events, as boto3 gives them; `WorkflowHistory`
finds the document's latest execution by the names docflow gives them (an upload's run
<document>-<digest>, a re-run <document>-run-<id>, a batch's <batch>-<document>) and
reads them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

_FAILURES = ("LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut", "MapStateFailed")
CAUSE_SHOWN = 300  # characters of an error's cause; the rest is in the function's log


@dataclass
class Step:
    name: str
    started_at: str
    duration_ms: float | None  # None while it runs
    attempts: int
    error: str | None = None
    cause: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def steps(events: list[dict[str, Any]]) -> list[Step]:
    """Each Task and Map state the execution entered, in order: when it started, how long it
    took, how many times it was tried (a retry is another attempt) and its last error. A
    Map is one step: the states its iterations ran inside it are its own business."""
    found: list[Step] = []
    entered: dict[str, datetime] = {}
    depth = 0  # how many Maps deep the event is
    for event in events:
        kind: str = event["type"]
        at: datetime = event["timestamp"]
        if kind in ("TaskStateEntered", "MapStateEntered") and depth == 0:
            name = event["stateEnteredEventDetails"]["name"]
            found.append(Step(name=name, started_at=at.isoformat(), duration_ms=None, attempts=0))
            entered[name] = at
        elif kind in ("TaskStateExited", "MapStateExited") and depth == (1 if kind == "MapStateExited" else 0):
            name = event["stateExitedEventDetails"]["name"]
            step = next((step for step in reversed(found) if step.name == name), None)
            if step is not None and name in entered:
                step.duration_ms = round((at - entered.pop(name)).total_seconds() * 1000, 1)
        elif kind in ("LambdaFunctionScheduled", "TaskScheduled") and depth == 0 and found:
            found[-1].attempts += 1
        elif kind in _FAILURES and depth <= 1 and found:
            details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            found[-1].error = details.get("error") or kind
            found[-1].cause = (details.get("cause") or "")[:CAUSE_SHOWN] or None
        if kind == "MapStateEntered":
            depth += 1
        elif kind == "MapStateExited":
            depth -= 1
    for step in found:
        step.attempts = max(step.attempts, 1)
    return found


class WorkflowHistory:
    """The document workflow's executions, by the names docflow gives them."""

    def __init__(self, stepfunctions: Any, document_workflow_arn: str):
        self.stepfunctions = stepfunctions
        self.document_workflow_arn = document_workflow_arn

    def latest_events(self, document_id: str) -> list[dict[str, Any]] | None:
        """The history of the document's latest execution, or None when none is kept (AWS
        keeps none of an Express workflow's, and refuses to list them)."""
        pages = self.stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=self.document_workflow_arn)
        try:
            executions = [execution for page in pages for execution in page["executions"]]
        except self.stepfunctions.exceptions.StateMachineTypeNotSupported:
            return None
        mine = [
            execution
            for execution in executions
            if execution["name"].startswith(f"{document_id}-") or execution["name"].endswith(f"-{document_id}")
        ]
        if not mine:
            return None
        latest = max(mine, key=lambda execution: execution["startDate"])
        history = self.stepfunctions.get_paginator("get_execution_history").paginate(
            executionArn=latest["executionArn"]
        )
        return [event for page in history for event in page["events"]]
