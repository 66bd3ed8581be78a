"""The local API Gateway: what it does before the api function runs (auth, body limit,
throttling) and the proxy events it builds, without the rest of the local cloud."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from infra.catalog import ThrottleSpec
from localcloud.api_gateway import MAX_BODY_BYTES, LocalApiGateway, Throttle, caller_for
from localcloud.workers import Invocation

pytestmark = pytest.mark.local_cloud

TOKEN = "t0ken-for-tests"


@pytest.fixture
def gateway():
    seen: list[dict] = []

    def echo(event: dict) -> Invocation:
        seen.append(event)
        body = {"path": event["path"], "caller": event["requestContext"]["identity"]["userArn"]}
        return Invocation(json.dumps({"statusCode": 200, "headers": {"Content-Type": "application/json"},
                                      "body": json.dumps(body)}).encode())  # fmt: skip

    with LocalApiGateway(echo, [TOKEN, "other"], throttling=ThrottleSpec(rate_per_second=0.001, burst=3)) as api:
        api.seen = seen
        yield api


def auth(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_it_listens_on_loopback_only(gateway):
    assert gateway.host == "127.0.0.1"


def test_the_caller_goes_where_api_gateway_puts_an_iam_caller(gateway):
    answer = requests.get(f"{gateway.url}/documents?status=failed&limit=2", headers=auth(), timeout=10)
    assert answer.json() == {"path": "/documents", "caller": caller_for(TOKEN)}
    event = gateway.seen[-1]
    assert event["httpMethod"] == "GET" and event["queryStringParameters"] == {"status": "failed", "limit": "2"}
    assert TOKEN not in json.dumps(event)  # the token itself never reaches the function
    assert caller_for(TOKEN) != caller_for("other")


def test_a_console_session_signs_requests_in_and_its_cookie_never_reaches_the_function(gateway):
    from docflow_console.sessions import Sessions
    from docflow_console.web import Console

    sessions = Sessions(gateway.port, {TOKEN: caller_for(TOKEN)})
    gateway.console = Console(sessions, None, None, gateway.call_as)  # type: ignore[arg-type]
    cookie = {"Cookie": f"{sessions.cookie_name}={sessions.sign_in(TOKEN)}"}
    answer = requests.get(f"{gateway.url}/documents", headers=cookie, timeout=10)
    assert answer.json() == {"path": "/documents", "caller": caller_for(TOKEN)}
    assert sessions.cookie_name not in json.dumps(gateway.seen[-1])
    # A change needs the console's own origin; GETs, as above, do not.
    assert requests.post(f"{gateway.url}/batches", headers=cookie, json={}, timeout=10).status_code == 401
    own = {**cookie, "Origin": gateway.url}
    assert requests.post(f"{gateway.url}/batches", headers=own, json={}, timeout=10).json()["caller"] == caller_for(TOKEN)


def test_missing_and_wrong_tokens_are_refused_before_the_function(gateway):
    assert requests.get(f"{gateway.url}/documents", timeout=10).status_code == 401
    assert requests.get(f"{gateway.url}/documents", headers=auth("nope"), timeout=10).status_code == 403
    assert requests.get(f"{gateway.url}/documents", headers={"Authorization": TOKEN}, timeout=10).status_code == 401
    assert gateway.seen == []
    assert requests.get(f"{gateway.url}/health", timeout=10).json()["caller"] is None


def test_bodies_over_api_gateways_limit_are_413(gateway):
    answer = requests.post(f"{gateway.url}/uploads", data=b"x" * (MAX_BODY_BYTES + 1), headers=auth(), timeout=30)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "request_too_large"


def test_binary_bodies_arrive_base64_encoded(gateway):
    requests.post(f"{gateway.url}/x", data=b"\x00\xff", headers={**auth(), "Content-Type": "application/octet-stream"}, timeout=10)
    event = gateway.seen[-1]
    assert event["isBase64Encoded"] and base64.b64decode(event["body"]) == b"\x00\xff"


def test_each_caller_has_its_own_bucket_of_requests(gateway):
    answers = [requests.get(f"{gateway.url}/documents", headers=auth(), timeout=10) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["error"]["code"] == "throttled" and answers[-1].headers["Retry-After"] == "1"
    assert requests.get(f"{gateway.url}/documents", headers=auth("other"), timeout=10).status_code == 200


def test_the_bucket_refills_at_its_rate():
    now = [0.0]
    throttle = Throttle(ThrottleSpec(rate_per_second=2, burst=2), clock=lambda: now[0])
    assert [throttle.allow("a") for _ in range(3)] == [True, True, False]
    now[0] += 0.5  # one request's worth
    assert [throttle.allow("a") for _ in range(2)] == [True, False]


def test_a_failing_function_is_a_502_without_its_trace():
    def crash(event: dict) -> Invocation:
        return Invocation.failed("RuntimeError", "Traceback (most recent call last): secret detail")

    with LocalApiGateway(crash, [TOKEN]) as api:
        answer = requests.get(f"{api.url}/documents", headers=auth(), timeout=10)
    assert answer.status_code == 502 and "secret" not in answer.text
    assert answer.json()["error"]["code"] == "internal_error"
