"""The local cloud's own machinery: warm workers, timeouts, crashes, and moto's gaps."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from infra.catalog import FunctionSpec, load_catalog, resource_values, substitute
from localcloud import workers
from localcloud.workers import FunctionPool, Zygote

pytestmark = pytest.mark.local_cloud

MISBEHAVING = Path(__file__).parent / "local_functions" / "misbehaving"


@pytest.fixture
def pool(tmp_path):
    yield from make_pool(tmp_path, {})


def make_pool(tmp_path, extra_environment):
    spec = FunctionSpec(
        name="misbehaving",
        description="",
        handler="app.handler",
        runtime="python3.12",
        architecture="arm64",
        memory_mb=128,
        timeout_seconds=3,
        code_dir=MISBEHAVING,
    )
    environment = {"PATH": os.environ["PATH"], "MY_SETTING": "from-catalog", "PYTHONPATH": str(Path(__file__).parent.parent)}
    environment.update(extra_environment)
    os.environ["PARENT_ONLY_SECRET"] = "must not leak"
    zygote = Zygote(environment, tmp_path / "zygote.log")
    pool = FunctionPool(spec, zygote, environment, tmp_path / "misbehaving.log", concurrency=2)
    yield pool
    pool.close()
    zygote.close()
    os.environ.pop("PARENT_ONLY_SECRET")


def answer(invocation) -> dict:
    return json.loads(invocation.payload)


def test_workers_stay_warm_and_get_only_their_own_environment(pool):
    first, second = answer(pool.invoke({})), answer(pool.invoke({}))
    assert first["pid"] == second["pid"]
    assert first["imported_at"] == second["imported_at"]  # imported once: a warm start
    assert first["mine"] == "from-catalog"
    assert first["secret"] is None
    assert 0 < first["remaining_ms"] <= 3000


def test_an_overrunning_invocation_is_killed_as_lambda_would(pool):
    started = time.monotonic()
    result = pool.invoke({"action": "sleep", "seconds": 30})
    assert time.monotonic() - started < 10
    assert result.error == "Unhandled"
    assert answer(result)["errorType"] == "Sandbox.Timedout"
    assert "timed out after 3.00 seconds" in answer(result)["errorMessage"]
    assert "pid" in answer(pool.invoke({}))  # the next invocation gets a fresh worker


def test_a_dying_worker_fails_its_invocation_and_is_replaced(pool):
    before = answer(pool.invoke({}))["pid"]
    result = pool.invoke({"action": "die"})
    assert answer(result)["errorType"] == "Runtime.ExitError"
    assert answer(pool.invoke({}))["pid"] != before


def test_an_initialisation_past_its_limit_is_retried_with_the_function_timeout(tmp_path, monkeypatch):
    """As Lambda's service does: a first init that overruns INIT_SECONDS (a busy machine, a
    slow import) is not the invocation's failure; a second worker gets the whole timeout."""
    monkeypatch.setattr(workers, "INIT_SECONDS", 0.5)
    slow = {"SLOW_INIT_MARKER": str(tmp_path / "slowed-once"), "SLOW_INIT_SECONDS": "1.5"}
    for pool in make_pool(tmp_path, slow):
        result = pool.invoke({})
        assert result.error is None, answer(result)
        assert (tmp_path / "slowed-once").exists()  # the first worker did overrun its init
        assert result.init_ms is not None and result.init_ms < 1500  # the retry's own, quick init


def test_the_timeout_counts_from_the_handler_not_from_a_slow_init(tmp_path):
    """A 2 s init (under Lambda's 10 s init limit) takes nothing from the 3 s timeout."""
    slow = {"SLOW_INIT_MARKER": str(tmp_path / "slowed-once"), "SLOW_INIT_SECONDS": "2"}
    for pool in make_pool(tmp_path, slow):
        result = pool.invoke({"action": "sleep", "seconds": 2.5})
        assert result.error is None, answer(result)
        assert answer(result)["remaining_ms"] <= 3000
        assert result.init_ms >= 2000


def test_each_invocation_is_logged_for_the_benchmarks(pool, tmp_path):
    pool.invoke({})
    pool.invoke({"action": "raise"})
    lines = [json.loads(line) for line in (tmp_path / workers.INVOCATIONS_LOG).read_text().splitlines()]
    assert [(line["function"], line["status"]) for line in lines] == [("misbehaving", "ok"), ("misbehaving", "Boom")]
    assert lines[0]["init_ms"] is not None and lines[1]["init_ms"] is None  # a cold start, then a warm one
    assert all(line["duration_ms"] > 0 and line["memory_mb"] == 128 for line in lines)


def test_a_handler_exception_is_reported_by_class_name(pool):
    result = pool.invoke({"action": "raise"})
    assert result.error == "Unhandled"
    assert answer(result)["errorType"] == "Boom"
    assert answer(result)["errorMessage"] == "it went wrong"


def test_every_catalog_function_has_a_handler_and_every_placeholder_a_value():
    specs = load_catalog()
    assert {spec.name for spec in specs} >= {"detect", "extract", "thumbnail", "analyze", "record", "report", "ingest", "api"}
    resources = resource_values(
        "x", "x", {"document": "x", "batch": "x"}, "x", {spec.name: "x" for spec in specs if spec.queue},
        {spec.name: "x" for spec in specs}, ("x", "x"),
    )  # fmt: skip
    for spec in specs:
        module, _, function = spec.handler.rpartition(".")
        assert (spec.code_dir / f"{module}.py").is_file(), spec.name
        assert f"def {function}(" in (spec.code_dir / f"{module}.py").read_text()
        assert substitute(json.dumps(dict(spec.environment)), resources)


def test_substitute_refuses_to_leave_a_placeholder_unfilled():
    assert substitute("${A}-${B}", {"A": "1", "B": "2"}) == "1-2"
    with pytest.raises(KeyError, match="B"):
        substitute("${A}-${B}", {"A": "1"})


def test_the_schedule_runner_runs_what_is_due_once_and_leaves_the_rest(aws):
    """moto keeps EventBridge Scheduler's schedules but never runs them; the local cloud does."""
    from datetime import UTC, datetime, timedelta

    import boto3

    from docflow.admission import EventBridgeScheduler
    from localcloud.scheduler import ScheduleRunner

    client = boto3.client("scheduler", region_name="us-east-1")
    client.create_schedule_group(Name="later")
    scheduler = EventBridgeScheduler("later", "arn:aws:lambda:us-east-1:123456789012:function:docflow-jobs", "arn:role", client)
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    scheduler.start_at(now - timedelta(seconds=1), "document-due", {"job": "start", "batch_id": "b1"})
    scheduler.start_at(now - timedelta(seconds=1), "document-due", {"job": "start", "batch_id": "b1"})  # made twice: one
    scheduler.start_at(now + timedelta(minutes=5), "batch-later", {"job": "start", "batch_id": "b2"})
    invoked = []
    runner = ScheduleRunner(client, "later", lambda arn, payload: invoked.append((arn, json.loads(payload))))
    assert runner.run_due(now) == 1 and runner.run_due(now) == 0
    assert invoked == [("arn:aws:lambda:us-east-1:123456789012:function:docflow-jobs", {"job": "start", "batch_id": "b1"})]
    assert [s["Name"] for s in client.list_schedules(GroupName="later")["Schedules"]] == ["batch-later"]
    assert runner.run_due(now + timedelta(minutes=5)) == 1
