"""The console of `docflow serve` over plain HTTP: signing in, what a session may see and
do, and the service's operations (tests/test_console_browser.py drives it in a browser)."""

from __future__ import annotations

import time

import pytest
import requests

from serving import REPO, Server, call, scheduled_batch, serving, upload, wait_until_ended

pytestmark = pytest.mark.local_cloud

ALICE, BOB = "alice-console-token-0123", "bob-console-token-0123"
REPORT = REPO / "examples" / "annual-report.pdf"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("console"), [ALICE, BOB]) as running:
        yield running


def processed(server: Server, token: str = ALICE) -> str:
    document_id = upload(server, REPORT, "application/pdf", token)
    assert wait_until_ended(server, f"/documents/{document_id}", token)["status"] == "succeeded"
    return document_id


def signed_in_session(server: Server, token: str) -> requests.Session:
    """A client signed in through the sign-in form, as a browser would post it."""
    session = requests.Session()
    origin = server.api
    answer = session.post(
        f"{origin}/console/sign-in", data={"token": token}, headers={"Origin": origin}, allow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return session


# -- signing in, over HTTP -------------------------------------------------------------------------


def test_the_printed_url_signs_in_once_with_a_cookie_no_script_can_read(server):
    browser = requests.Session()
    first = browser.get(server.console, allow_redirects=False)
    assert first.status_code == 303 and first.headers["Location"] == "/console"
    cookie = first.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert browser.get(server.api + "/documents").status_code == 200  # the API takes the cookie
    again = requests.get(server.console)
    assert again.status_code == 401 and 'name="token"' in again.text  # used up: the form asks for the token


def test_without_signing_in_a_browser_sees_nothing(server):
    document_id = processed(server)
    page = requests.get(server.api + "/console")
    assert page.status_code == 200 and 'name="token"' in page.text and "annual-report" not in page.text
    for path in ("/documents", f"/documents/{document_id}", "/batches", "/console/api/operations",
                 f"/console/api/documents/{document_id}/timeline"):  # fmt: skip
        assert requests.get(server.api + path).status_code == 401, path


def test_a_session_sees_only_its_owners_documents(server):
    alices = processed(server)
    bob = signed_in_session(server, BOB)
    assert bob.get(f"{server.api}/documents/{alices}").status_code == 404
    assert bob.get(f"{server.api}/console/api/documents/{alices}/timeline").status_code == 404
    assert alices not in {
        document["document_id"] for document in bob.get(f"{server.api}/documents").json()["documents"]
    }
    alice = signed_in_session(server, ALICE)
    timeline = alice.get(f"{server.api}/console/api/documents/{alices}/timeline").json()
    assert [step["name"] for step in timeline["steps"]][:2] == ["Detect", "ExtractText"]
    assert all(step["duration_ms"] > 0 and step["attempts"] == 1 for step in timeline["steps"])


def test_another_sites_page_cannot_use_the_session_to_change_anything(server):
    batch_id = scheduled_batch(server, [processed(server)])
    alice = signed_in_session(server, ALICE)
    elsewhere = {"Origin": "http://127.0.0.1:1"}  # another origin on the same host: the same site
    assert alice.delete(f"{server.api}/batches/{batch_id}", headers=elsewhere).status_code == 401
    assert (
        alice.post(f"{server.api}/console/api/queues/docflow-ingest-dlq/redrive", headers=elsewhere).status_code == 401
    )
    assert call(server, "GET", f"/batches/{batch_id}").json()["status"] == "scheduled"
    assert (
        alice.delete(f"{server.api}/batches/{batch_id}", headers={"Origin": server.api}).json()["status"] == "cancelled"
    )


def test_the_operations_count_what_the_functions_did(server):
    processed(server)
    alice = signed_in_session(server, ALICE)
    deadline = time.monotonic() + 10
    while True:  # the metrics are put once a second, and a snapshot lives two
        operations = alice.get(f"{server.api}/console/api/operations").json()
        functions = {function["name"]: function for function in operations["functions"]}
        if functions["record"]["invocations"] >= 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert functions["extract"]["invocations"] >= 1 and functions["extract"]["p95_ms"] > 0
    assert functions["extract"]["p50_ms"] <= functions["extract"]["p95_ms"]
    assert sum(operations["throughput"]["per_minute"]) >= 1 and len(operations["throughput"]["per_minute"]) == 60
    ingest = next(queue for queue in operations["queues"] if queue["name"] == "docflow-ingest")
    assert ingest["dead_letter_queue"] == "docflow-ingest-dlq"
