"""EventBridge Scheduler's one-time schedules, for the local cloud: moto keeps the schedules
docflow makes (docflow.admission.EventBridgeScheduler) but never runs them, so this does.
It looks every POLL_SECONDS for an `at(...)` schedule that is due, invokes its target
function with its input, as Scheduler would, and deletes it (ActionAfterCompletion DELETE)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from localcloud.loops import Loop

POLL_SECONDS = 0.5
_AT = re.compile(r"^at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)$")


def due_at(expression: str) -> datetime | None:
    """When a one-time expression is due, in UTC; None for any other kind (rate, cron)."""
    match = _AT.match(expression)
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC) if match else None


class ScheduleRunner:
    def __init__(self, scheduler: Any, group: str, invoke: Callable[[str, Any], Any]):
        self.scheduler, self.group, self.invoke = scheduler, group, invoke
        self.loop = Loop("schedules", lambda: self.run_due(datetime.now(UTC)), POLL_SECONDS)

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def run_due(self, now: datetime) -> int:
        """Runs every schedule due by `now`; returns how many."""
        ran = 0
        for summary in self.scheduler.list_schedules(GroupName=self.group).get("Schedules", []):
            schedule = self.scheduler.get_schedule(Name=summary["Name"], GroupName=self.group)
            when = due_at(schedule["ScheduleExpression"])
            if when is None or when > now:
                continue
            target = schedule["Target"]
            self.scheduler.delete_schedule(Name=summary["Name"], GroupName=self.group)
            self.invoke(target["Arn"], target.get("Input", "{}"))
            ran += 1
        return ran
