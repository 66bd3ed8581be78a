"""The console's parts without a server: signing in, the timeline read from a workflow's
history, and its routes (docflow_console/)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from docflow_console.sessions import ONE_TIME_SECONDS, SESSION_SECONDS, Sessions
from docflow_console.timeline import steps
from docflow_console.web import Console

PORT = 8123
HERE = {"host": f"127.0.0.1:{PORT}"}
SAME_SITE = {**HERE, "origin": f"http://127.0.0.1:{PORT}"}
OTHER_PORT = {**HERE, "origin": "http://127.0.0.1:9999"}  # same site, to a browser: another origin


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sessions(clock) -> Sessions:
    return Sessions(PORT, {"lasting-token": "alice"}, clock=clock)


def cookie_of(sessions: Sessions, value: str) -> dict[str, str]:
    return {"cookie": f"{sessions.cookie_name}={value}"}


# -- signing in ------------------------------------------------------------------------------------


def test_a_one_time_token_signs_in_once(sessions):
    token = sessions.one_time_token("bob")
    value = sessions.sign_in(token)
    assert value is not None and value != token
    assert sessions.caller("GET", cookie_of(sessions, value)) == "bob"
    assert sessions.sign_in(token) is None


def test_a_lasting_token_signs_in_each_time_and_others_not_at_all(sessions):
    assert sessions.caller("GET", cookie_of(sessions, sessions.sign_in("lasting-token"))) == "alice"
    assert sessions.caller("GET", cookie_of(sessions, sessions.sign_in(" lasting-token "))) == "alice"
    assert sessions.sign_in("lasting-token-but-longer") is None
    assert sessions.sign_in("") is None


def test_one_time_tokens_and_sessions_expire(sessions, clock):
    token = sessions.one_time_token("bob")
    clock.now += ONE_TIME_SECONDS + 1
    assert sessions.sign_in(token) is None
    value = sessions.sign_in("lasting-token")
    clock.now += SESSION_SECONDS + 1
    assert sessions.caller("GET", cookie_of(sessions, value)) is None


def test_a_change_needs_the_consoles_own_origin(sessions):
    value = sessions.sign_in("lasting-token")
    assert sessions.caller("POST", {**cookie_of(sessions, value), **SAME_SITE}) == "alice"
    assert sessions.caller("DELETE", {**cookie_of(sessions, value), **OTHER_PORT}) is None
    assert sessions.caller("POST", {**cookie_of(sessions, value), **HERE}) is None  # no Origin, no Referer
    assert sessions.caller("POST", {**cookie_of(sessions, value), **HERE, "origin": "null"}) is None
    referer = {**HERE, "referer": f"http://127.0.0.1:{PORT}/console"}
    assert sessions.caller("POST", {**cookie_of(sessions, value), **referer}) == "alice"


def test_the_cookie_is_http_only_strict_and_named_for_its_port(sessions):
    cookie = sessions.set_cookie("v")
    assert cookie.startswith(f"docflow_session_{PORT}=v;") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    other = Sessions(PORT + 1, {"lasting-token": "alice"})
    assert other.caller("GET", cookie_of(sessions, sessions.sign_in("lasting-token"))) is None


def test_a_session_ends_when_signed_out(sessions):
    value = sessions.sign_in("lasting-token")
    sessions.sign_out(cookie_of(sessions, value))
    assert sessions.caller("GET", cookie_of(sessions, value)) is None


# -- the timeline ------------------------------------------------------------------------------------

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def event(kind: str, seconds: float, **details: Any) -> dict[str, Any]:
    found = {"type": kind, "timestamp": T0 + timedelta(seconds=seconds)}
    if "name" in details and kind.endswith("Entered"):
        found["stateEnteredEventDetails"] = {"name": details["name"]}
    elif "name" in details and kind.endswith("Exited"):
        found["stateExitedEventDetails"] = {"name": details["name"]}
    elif details:
        found["lambdaFunctionFailedEventDetails"] = details
    return found


def test_steps_have_durations_attempts_and_errors_and_a_map_is_one_step():
    history = [
        event("ExecutionStarted", 0),
        event("TaskStateEntered", 0.0, name="Detect"),
        event("LambdaFunctionScheduled", 0.0),
        event("LambdaFunctionFailed", 0.2, error="Lambda.ServiceException", cause="cold"),
        event("LambdaFunctionScheduled", 1.2),
        event("LambdaFunctionSucceeded", 1.5),
        event("TaskStateExited", 1.5, name="Detect"),
        event("ChoiceStateEntered", 1.5, name="NeedsOcr"),
        event("MapStateEntered", 1.6, name="ReadByOcr"),
        event("TaskStateEntered", 1.7, name="ReadPart"),
        event("LambdaFunctionScheduled", 1.7),
        event("TaskStateExited", 3.0, name="ReadPart"),
        event("TaskStateEntered", 1.7, name="ReadPart"),
        event("TaskStateExited", 3.6, name="ReadPart"),
        event("MapStateExited", 3.6, name="ReadByOcr"),
        event("TaskStateEntered", 3.6, name="RecordOutcome"),
        event("LambdaFunctionScheduled", 3.6),
    ]

    found = [(step.name, step.duration_ms, step.attempts, step.error) for step in steps(history)]

    assert found == [
        ("Detect", 1500.0, 2, "Lambda.ServiceException"),
        ("ReadByOcr", 2000.0, 1, None),
        ("RecordOutcome", None, 1, None),  # still running
    ]


# -- the routes ------------------------------------------------------------------------------------


class FakeOperations:
    def __init__(self) -> None:
        self.redriven: list[str] = []

    def snapshot(self) -> dict[str, Any]:
        return {"functions": [], "queues": [], "throughput": {"start": T0.isoformat(), "per_minute": []}}

    def redrive(self, queue: str) -> int:
        if queue != "docflow-ingest-dlq":
            raise KeyError(queue)
        self.redriven.append(queue)
        return 3


class FakeHistory:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def latest_events(self, document_id: str) -> list[dict[str, Any]] | None:
        self.asked.append(document_id)
        return [event("TaskStateEntered", 0, name="Detect"), event("TaskStateExited", 0.5, name="Detect")]


@pytest.fixture
def console(sessions) -> Console:
    def call_api(caller: str, method: str, path: str) -> tuple[int, Any]:
        if path == "/documents/alices" and caller == "alice":
            return 200, {"document_id": "alices"}
        return 404, {"error": {"code": "not_found", "message": "No document."}}

    return Console(sessions, FakeOperations(), FakeHistory(), call_api)  # type: ignore[arg-type]


def signed_in(console: Console) -> dict[str, str]:
    reply = console.handle("GET", f"/console?token={console.sessions.one_time_token('alice')}", HERE, b"")
    assert reply.status == 303 and reply.headers["Location"] == "/console"
    return {"cookie": reply.headers["Set-Cookie"].split(";")[0], **SAME_SITE}


def test_without_a_session_the_console_shows_only_its_sign_in_form(console):
    page = console.handle("GET", "/console", HERE, b"")
    assert page.status == 200 and b'<form method="post" action="/console/sign-in">' in page.body
    assert console.handle("GET", "/console/api/operations", HERE, b"").status == 401
    used = console.handle("GET", "/console?token=not-a-token", HERE, b"")
    assert used.status == 401 and b"used already or has expired" in used.body and "Set-Cookie" not in used.headers


def test_the_sign_in_form_signs_in_from_the_console_only(console):
    assert console.handle("POST", "/console/sign-in", SAME_SITE, b"token=lasting-token").status == 303
    assert console.handle("POST", "/console/sign-in", OTHER_PORT, b"token=lasting-token").status == 403
    wrong = console.handle("POST", "/console/sign-in", SAME_SITE, b"token=guess")
    assert wrong.status == 401 and "Set-Cookie" not in wrong.headers


def test_a_signed_in_browser_gets_the_page_the_operations_and_its_own_timelines(console):
    headers = signed_in(console)
    page = console.handle("GET", "/console", headers, b"")
    assert page.status == 200 and b"console.js" in page.body
    assert (
        "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
        and page.headers["X-Frame-Options"] == "DENY"
    )
    assert console.handle("GET", "/console/api/operations", headers, b"").status == 200
    timeline = console.handle("GET", "/console/api/documents/alices/timeline", headers, b"")
    assert timeline.status == 200 and b'"Detect"' in timeline.body
    assert json.loads(timeline.body)["document"] == {"document_id": "alices"}  # the API's answer, asked once


def test_a_timeline_of_anothers_document_is_the_apis_404_and_reads_no_history(console):
    headers = signed_in(console)
    reply = console.handle("GET", "/console/api/documents/bobs/timeline", headers, b"")
    assert reply.status == 404 and console.history.asked == []  # type: ignore[attr-defined]


def test_a_redrive_names_a_dead_letter_queue_and_comes_from_the_console_itself(console):
    headers = signed_in(console)
    assert console.handle("POST", "/console/api/queues/docflow-ingest-dlq/redrive", headers, b"").status == 200
    assert console.handle("POST", "/console/api/queues/docflow-ingest/redrive", headers, b"").status == 404
    cross_site = {**headers, **OTHER_PORT}
    assert console.handle("POST", "/console/api/queues/docflow-ingest-dlq/redrive", cross_site, b"").status == 401
    assert console.operations.redriven == ["docflow-ingest-dlq"]  # type: ignore[attr-defined]


def test_only_the_consoles_own_files_are_served(console):
    assert console.handle("GET", "/console/static/console.js", HERE, b"").status == 200
    assert console.handle("GET", "/console/static/../web.py", HERE, b"").status == 404
    assert console.handle("GET", "/console/static/%2e%2e%2fweb.py", HERE, b"").status == 404


# -- a deployed stack's console ----------------------------------------------------------------------


class FakeCloudFormation:
    def get_paginator(self, operation: str):
        assert operation == "list_stack_resources"
        arn = "arn:aws:states:eu-west-1:111122223333:stateMachine"
        summaries = [
            {"ResourceType": "AWS::Lambda::Function", "PhysicalResourceId": "Docflow-extract", "LogicalResourceId": "E"},
            {"ResourceType": "AWS::Lambda::Function", "PhysicalResourceId": "Docflow-record", "LogicalResourceId": "R"},
            {"ResourceType": "AWS::Lambda::Function", "PhysicalResourceId": "Docflow-CustomResource1A2B", "LogicalResourceId": "C"},
            {"ResourceType": "AWS::SQS::Queue", "PhysicalResourceId": "https://sqs/1/Docflow-Uploads", "LogicalResourceId": "U"},
            {"ResourceType": "AWS::StepFunctions::StateMachine", "PhysicalResourceId": f"{arn}:Docflow-batch", "LogicalResourceId": "B"},
            {"ResourceType": "AWS::StepFunctions::StateMachine", "PhysicalResourceId": f"{arn}:Docflow-document", "LogicalResourceId": "D"},
        ]  # fmt: skip

        class Pages:
            def paginate(self, StackName: str):
                assert StackName == "Docflow"
                yield {"StackResourceSummaries": summaries[:3]}
                yield {"StackResourceSummaries": summaries[3:]}

        return Pages()


def test_a_stacks_resources_are_found_by_the_names_the_stack_gives_them():
    from docflow_console.operations import Resources

    found = Resources.of_stack(FakeCloudFormation(), "Docflow", {"extract", "record", "report"})
    assert found.functions == {"extract": "Docflow-extract", "record": "Docflow-record"}
    assert found.queue_urls == ["https://sqs/1/Docflow-Uploads"]
    assert found.document_workflow_arn.endswith(":stateMachine:Docflow-document")


def test_the_stacks_console_forwards_the_api_signed_and_only_for_a_signed_in_browser(monkeypatch, sessions):
    """A local HTTP server stands in for API Gateway: it records what arrives."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from docflow_console.deployed import ConsoleServer, StackApi

    arrived: list[tuple[str, str, dict[str, str]]] = []

    class Gateway(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrived.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
            body = b'{"documents": [], "next_cursor": null}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    gateway = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    try:
        api = StackApi(f"http://127.0.0.1:{gateway.server_address[1]}/prod")
        console = Console(sessions, FakeOperations(), FakeHistory(), api.call)  # type: ignore[arg-type]
        with ConsoleServer(console, api, 0) as server:
            assert server.answer("GET", "/documents?limit=5", HERE, b"").status == 401
            assert arrived == []
            cookie = {"cookie": f"{sessions.cookie_name}={sessions.sign_in('lasting-token')}", **HERE}
            reply = server.answer("GET", "/documents?limit=5", cookie, b"")
        assert reply.status == 200 and b'"documents"' in reply.body
        ((method, path, headers),) = arrived
        assert (method, path) == ("GET", "/prod/documents?limit=5")
        assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
        assert "/eu-west-1/execute-api/aws4_request" in headers["authorization"]
        assert "cookie" not in headers  # the browser's session stays on this machine
    finally:
        gateway.shutdown()
