"""`docflow serve` end to end, as a user meets it: a real server process, a plain HTTP
client (requests), real files, and the README's walk-through run as written."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from corpus import corpus_files
from docflow.statuses import TERMINAL_BATCH_STATUSES, TERMINAL_STATUSES
from serving import Server, call, presign, send, serving, upload, wait_until_ended

pytestmark = pytest.mark.local_cloud

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
ALICE, BOB = "alice-token-0123456789", "bob-token-0123456789"
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # functions/catalog.toml's DOCFLOW_MAX_UPLOAD_BYTES
TERMINAL = TERMINAL_STATUSES | TERMINAL_BATCH_STATUSES


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("serve"), [ALICE, BOB]) as running:
        yield running


def error_code(response: requests.Response) -> str:
    assert "Traceback" not in response.text
    return response.json()["error"]["code"]


# -- auth ------------------------------------------------------------------------------------


def test_requests_without_a_valid_token_are_refused_but_health_answers(server):
    assert call(server, "GET", "/health", token=None).json() == {"status": "ok"}
    missing = call(server, "GET", "/documents", token=None)
    assert (missing.status_code, error_code(missing)) == (401, "unauthorized")
    wrong = call(server, "GET", "/documents", token="not-a-token")
    assert (wrong.status_code, error_code(wrong)) == (403, "forbidden")
    assert call(server, "POST", "/uploads", token=None, json={"filename": "a.pdf", "content_type": "application/pdf"}).status_code == 401


def test_callers_see_only_their_own_documents(server):
    mine = upload(server, EXAMPLES / "incident-review.pdf", "application/pdf", token=BOB)
    assert call(server, "GET", f"/documents/{mine}", BOB).status_code == 200
    theirs = call(server, "GET", f"/documents/{mine}", ALICE)
    assert (theirs.status_code, error_code(theirs)) == (404, "not_found")
    assert mine not in [d["document_id"] for d in call(server, "GET", "/documents?limit=100", ALICE).json()["documents"]]
    assert mine in [d["document_id"] for d in call(server, "GET", "/documents?limit=100", BOB).json()["documents"]]


# -- uploads are processed by themselves -------------------------------------------------------


def _real_files() -> list[tuple[Path, str]]:
    """The examples, and a few of the shared corpus's documents when it is present."""
    files = [
        (EXAMPLES / "annual-report.pdf", "application/pdf"),
        (EXAMPLES / "logo.png", "image/png"),
        (EXAMPLES / "banner.gif", "image/gif"),
        (EXAMPLES / "photos" / "phone-portrait.jpg", "image/jpeg"),
    ]
    files += [(path, "application/pdf") for path in corpus_files("pdf")[:2]]
    files += [(path, "image/png" if path.suffix == ".png" else "image/jpeg") for path in corpus_files("images")[:2]]
    return [(path, kind) for path, kind in files if path.exists()]


def test_uploaded_pdfs_and_images_are_processed_with_no_further_call(server):
    uploaded = {upload(server, path, content_type): path for path, content_type in _real_files()}
    assert len(uploaded) >= 4
    for document_id, path in uploaded.items():
        document = wait_until_ended(server, f"/documents/{document_id}")
        assert document["status"] == "succeeded", (path.name, document["error"])
        results = document["results"]
        if path.suffix == ".pdf":
            assert results["kind"] == "pdf" and results["page_count"] >= 1
            text = requests.get(document["text_url"], timeout=30)
            assert text.status_code == 200 and len(text.text.split()) == results["word_count"]
        else:
            assert results["kind"] == "image"
            thumbnail = requests.get(document["thumbnail_url"], timeout=30)
            assert thumbnail.status_code == 200
            with Image.open(io.BytesIO(thumbnail.content)) as small, Image.open(path) as original:
                longest = max(original.size)
                assert max(small.size) == min(300, longest)


def test_a_name_like_a_path_lands_under_its_own_documents_key(server):
    created = presign(server, "../../etc/passwd.pdf", "application/pdf")
    key = created["upload"]["fields"]["key"]
    assert key == f"uploads/{created['document_id']}/passwd.pdf"
    assert send(created, "passwd.pdf", (EXAMPLES / "annual-report.pdf").read_bytes(), "application/pdf").status_code == 204
    document = wait_until_ended(server, f"/documents/{created['document_id']}")
    assert (document["status"], document["filename"]) == ("succeeded", "../../etc/passwd.pdf")


def test_three_deliveries_of_one_s3_event_start_one_execution(server):
    document_id = upload(server, EXAMPLES / "annual-report.pdf", "application/pdf")
    wait_until_ended(server, f"/documents/{document_id}")
    key = f"uploads/{document_id}/annual-report.pdf"
    head = server.client("s3").head_object(Bucket="docflow-local-documents", Key=key)
    event = {
        "version": "0", "id": "redelivered", "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"version": "0", "bucket": {"name": "docflow-local-documents"},
                   "object": {"key": key, "size": head["ContentLength"], "etag": head["ETag"].strip('"'),
                              "version-id": "null"},
                   "request-id": "x", "requester": "123456789012", "reason": "PostObject"},
    }  # fmt: skip
    sqs = server.client("sqs")
    queue = sqs.get_queue_url(QueueName="docflow-ingest")["QueueUrl"]
    for _ in range(3):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event))
    wait_until_ingested(server)
    assert len(executions_of(server, document_id)) == 1
    assert wait_until_ended(server, f"/documents/{document_id}")["status"] == "succeeded"


def wait_until_ingested(server: Server, timeout: float = 30) -> None:
    """Until the ingest function has taken every message of its queue."""
    sqs = server.client("sqs")
    queue = sqs.get_queue_url(QueueName="docflow-ingest")["QueueUrl"]
    deadline = time.monotonic() + timeout
    time.sleep(1)  # the poller's next receive
    while True:
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        if attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0":
            return
        assert time.monotonic() < deadline, attributes
        time.sleep(0.3)


def executions_of(server: Server, document_id: str) -> list[dict]:
    sfn = server.client("stepfunctions")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == "docflow-document")
    return [e for e in sfn.list_executions(stateMachineArn=machine)["executions"] if e["name"].startswith(document_id)]


# -- batches -------------------------------------------------------------------------------------


def test_a_batch_runs_to_completed_with_its_report(server):
    ids = [upload(server, path, content_type) for path, content_type in _real_files()[:3]]
    locked = upload(server, EXAMPLES / "locked.pdf", "application/pdf")
    for document_id in ids + [locked]:
        wait_until_ended(server, f"/documents/{document_id}")
    started = call(server, "POST", "/batches", json={"document_ids": ids + [locked]})
    assert started.status_code == 202, started.text
    batch = wait_until_ended(server, f"/batches/{started.json()['batch_id']}")
    assert batch["status"] == "completed"
    assert batch["progress"] == {"total": 4, "done": 4, "failed": 1}
    report = requests.get(batch["report_url"], timeout=30).json()
    assert report["summary"] == batch["summary"]
    assert (report["summary"]["succeeded"], report["summary"]["failed"]) == (3, 1)
    assert sorted(d["document_id"] for d in report["documents"]) == sorted(ids + [locked])
    assert report["summary"]["errors_by_code"] == {"pdf_encrypted": 1}


def test_a_running_batch_can_be_cancelled(server):
    ids = [upload(server, EXAMPLES / "annual-report.pdf", "application/pdf") for _ in range(6)]
    for document_id in ids:
        wait_until_ended(server, f"/documents/{document_id}")
    batch_id = call(server, "POST", "/batches", json={"document_ids": ids}).json()["batch_id"]
    cancelled = call(server, "DELETE", f"/batches/{batch_id}")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["report_url"] is None
    time.sleep(2)  # whatever was in flight finishes; the batch stays cancelled
    assert call(server, "GET", f"/batches/{batch_id}").json()["status"] == "cancelled"
    again = call(server, "DELETE", f"/batches/{batch_id}")
    assert (again.status_code, error_code(again)) == (409, "conflict")


# -- refusals --------------------------------------------------------------------------------------


def test_unknown_ids_are_404(server):
    for path in ("/documents/0123456789abcdef0123456789abcdef", "/batches/0123456789abcdef0123456789abcdef"):
        response = call(server, "GET", path)
        assert (response.status_code, error_code(response)) == (404, "not_found")


def test_a_disallowed_type_malformed_json_and_a_declared_size_over_the_limit_are_refused(server):
    html = call(server, "POST", "/uploads", json={"filename": "page.html", "content_type": "text/html"})
    assert (html.status_code, error_code(html)) == (415, "unsupported_type")
    malformed = call(server, "POST", "/uploads", data="{not json", headers={"Content-Type": "application/json"})
    assert (malformed.status_code, error_code(malformed)) == (400, "malformed_json")
    too_big = call(
        server, "POST", "/uploads", json={"filename": "a.pdf", "content_type": "application/pdf", "size": MAX_UPLOAD_BYTES + 1}
    )
    assert (too_big.status_code, error_code(too_big)) == (413, "file_too_large")
    missing = call(server, "POST", "/uploads", json={"filename": "a.pdf"})
    assert (missing.status_code, error_code(missing)) == (422, "invalid_request")
    assert "content_type" in missing.json()["error"]["message"]


def test_s3_refuses_an_upload_over_the_limit_or_of_another_type(server):
    created = presign(server, "big.pdf", "application/pdf")  # no size declared
    over = send(created, "big.pdf", b"%PDF-1.4\n" + b"0" * MAX_UPLOAD_BYTES, "application/pdf")
    assert over.status_code == 400 and "<Code>EntityTooLarge</Code>" in over.text
    fields = dict(created["upload"]["fields"], **{"Content-Type": "text/html"})
    other_type = requests.post(created["upload"]["url"], data=fields, files={"file": ("x.html", b"<html>", "text/html")}, timeout=30)
    assert other_type.status_code == 403 and "<Code>AccessDenied</Code>" in other_type.text
    # Nothing arrived, so nothing was processed: the document is still waiting for its upload.
    assert call(server, "GET", f"/documents/{created['document_id']}").json()["status"] == "pending"


# -- the README -------------------------------------------------------------------------------------


def readme_walkthrough() -> str:
    """The README's walk-through: the ```bash block under "### Walk-through"."""
    text = (REPO / "README.md").read_text()
    section = text.split("### Walk-through", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_the_readme_walkthrough_runs_as_written(server, tmp_path):
    (tmp_path / "examples").symlink_to(EXAMPLES)
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_walkthrough()],
        cwd=tmp_path,
        env={**os.environ, "DOCFLOW_API_URL": server.api, "DOCFLOW_API_TOKEN": ALICE},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr + completed.stdout
    output = completed.stdout
    assert '"code":"unauthorized"' in output
    assert '"status": "succeeded"' in output and '"pages": 3' in output
    assert "thumbnail.png: PNG image data, 300 x 300" in output
    assert '"status": "completed"' in output and '"total_documents": 2' in output
    assert '"status": "cancelled"' in output
    assert [path.name for path in tmp_path.iterdir()] == ["examples"]  # its files went to a folder of their own


# -- the CLI's client commands ---------------------------------------------------------------------


def docflow(server: Server, *arguments: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "DOCFLOW_API_URL": server.api, "DOCFLOW_API_TOKEN": ALICE}
    return subprocess.run(
        [sys.executable, "-m", "docflow_cli.main", *arguments], cwd=REPO, env=environment,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_cli_uploads_follows_and_batches(server):
    uploaded = docflow(server, "upload", "examples/annual-report.pdf", "examples/locked.pdf", "examples/notes.txt", "--wait")
    assert uploaded.returncode == 1  # notes.txt was refused: text/plain is not accepted
    assert "notes.txt" in uploaded.stderr and "415 unsupported_type" in uploaded.stderr
    assert "Traceback" not in uploaded.stderr
    lines = uploaded.stdout.splitlines()
    ids = [line.split()[0] for line in lines[:2]]
    assert re.search(r"succeeded\s+annual-report\.pdf$", lines[2])
    assert re.search(r"failed\s+locked\.pdf\s+pdf_encrypted: ", lines[3])

    status = docflow(server, "status", ids[0])
    assert status.returncode == 0 and json.loads(status.stdout)["results"]["page_count"] == 3

    batch = docflow(server, "batch", *ids, "--wait")
    assert batch.returncode == 0, batch.stderr
    batch_id = batch.stdout.splitlines()[0]
    ended = json.loads(batch.stdout.split("\n", 1)[1])
    assert ended["status"] == "completed" and ended["progress"] == {"total": 2, "done": 2, "failed": 1}
    assert "batch: 2/2 documents" in batch.stderr  # the progress bar, as a log line off a terminal
    assert json.loads(docflow(server, "status", batch_id).stdout)["status"] == "completed"


def test_the_cli_says_in_one_line_when_it_is_refused(server):
    refused = subprocess.run(
        [sys.executable, "-m", "docflow_cli.main", "status", "x", "--api", server.api, "--token", "wrong"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip() == "docflow: The token is not valid for this API. (403 forbidden)"


def test_scheduled_jobs_run_in_the_served_cloud(server):
    upload(server, EXAMPLES / "annual-report.pdf", "application/pdf")
    health = docflow(server, "jobs", "run", "health-check", "--endpoint", server.aws)
    assert health.returncode == 0, health.stderr
    assert json.loads(health.stdout)["status"] == "succeeded"
    usage = docflow(server, "jobs", "run", "usage-report", "--endpoint", server.aws)
    assert usage.returncode == 0, usage.stderr
    assert json.loads(usage.stdout)["by_status"].get("succeeded", 0) >= 2  # the upload and the canary


def test_dead_letters_are_redriven_to_ingest_without_starting_anything_twice(server):
    document_id = upload(server, EXAMPLES / "annual-report.pdf", "application/pdf")
    wait_until_ended(server, f"/documents/{document_id}")
    event = server.upload_event(f"uploads/{document_id}/annual-report.pdf")
    sqs = server.client("sqs")
    dead_letters = sqs.get_queue_url(QueueName="docflow-ingest-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dead_letters, MessageBody=json.dumps(event))
    assert docflow(server, "dlq", "count", "--endpoint", server.aws).stdout.strip() == "1"
    redriven = docflow(server, "dlq", "redrive", "--endpoint", server.aws)
    assert redriven.returncode == 0 and redriven.stdout.startswith("1 message(s) moved")
    wait_until_ingested(server)
    assert docflow(server, "dlq", "count", "--endpoint", server.aws).stdout.strip() == "0"
    assert len(executions_of(server, document_id)) == 1


def test_retry_reruns_a_failed_document_and_a_batchs_failures(server):
    locked = upload(server, EXAMPLES / "locked.pdf", "application/pdf")
    fine = upload(server, EXAMPLES / "annual-report.pdf", "application/pdf")
    for document_id in (locked, fine):
        wait_until_ended(server, f"/documents/{document_id}")
    again = docflow(server, "retry", locked)
    assert again.returncode == 0 and "processing again" in again.stdout
    assert wait_until_ended(server, f"/documents/{locked}")["error"]["code"] == "pdf_encrypted"  # still locked
    batch_id = call(server, "POST", "/batches", json={"document_ids": [locked, fine]}).json()["batch_id"]
    wait_until_ended(server, f"/batches/{batch_id}")
    retried = docflow(server, "retry", batch_id)
    assert retried.returncode == 0, retried.stderr
    new_batch = retried.stdout.split()[0]
    ended = wait_until_ended(server, f"/batches/{new_batch}")
    assert ended["progress"]["total"] == 1  # only the failed document


# -- webhooks -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def receiver():
    from receiver import Receiver

    running = Receiver()
    yield running
    running.close()


def add_webhook(server: Server, url: str, token: str = BOB, **extra) -> dict:
    response = call(server, "POST", "/webhooks", token, json={"url": url, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def _about(key: str, value: str):
    return lambda delivery: delivery.payload["data"].get(key) == value


def _epoch(timestamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(timestamp).timestamp()


def test_a_webhook_gets_each_document_and_batch_that_ends_signed_within_seconds(server, receiver, tmp_path):
    from docflow.notifications import WEBHOOK_TYPES

    hook = add_webhook(server, receiver.url + "/all")
    assert hook["secret"].startswith("whsec_") and hook["events"] == list(WEBHOOK_TYPES)
    listed = call(server, "GET", "/webhooks", BOB).json()["webhooks"]
    assert [item["webhook_id"] for item in listed] == [hook["webhook_id"]] and "secret" not in listed[0]
    assert call(server, "GET", "/webhooks", ALICE).json()["webhooks"] == []  # each caller sees their own
    broken = tmp_path / "broken.pdf"
    broken.write_bytes((EXAMPLES / "annual-report.pdf").read_bytes()[:400])
    good, bad = upload(server, EXAMPLES / "annual-report.pdf", "application/pdf", BOB), upload(server, broken, "application/pdf", BOB)

    for document_id, kind, status in ((good, "document.succeeded", "succeeded"), (bad, "document.failed", "failed")):
        ended = wait_until_ended(server, f"/documents/{document_id}", BOB)
        (delivery,) = receiver.wait_for(_about("document_id", document_id), timeout=10)
        assert delivery.payload["type"] == kind and delivery.signed_with(hook["secret"])
        assert delivery.headers["webhook-id"].startswith("msg_") and delivery.headers["content-type"] == "application/json"
        assert delivery.payload["data"]["status"] == status == ended["status"]
        assert delivery.at - _epoch(ended["updated_at"]) <= 5, "delivered more than 5 s after the document ended"
    failed = receiver.wait_for(_about("document_id", bad))[0].payload["data"]
    assert failed["error"]["code"] == "pdf_corrupt" and failed["error"]["message"]

    started = call(server, "POST", "/batches", BOB, json={"document_ids": [good, bad]}).json()
    batch = wait_until_ended(server, f"/batches/{started['batch_id']}", BOB)
    (delivery,) = receiver.wait_for(_about("batch_id", started["batch_id"]), timeout=10)
    assert delivery.payload["type"] == "batch.completed" and delivery.signed_with(hook["secret"])
    assert delivery.payload["data"]["progress"] == batch["progress"] == {"total": 2, "done": 2, "failed": 1}
    assert call(server, "DELETE", f"/webhooks/{hook['webhook_id']}", ALICE).status_code == 404  # not Alice's
    assert call(server, "DELETE", f"/webhooks/{hook['webhook_id']}", BOB).status_code == 204
    assert call(server, "GET", "/webhooks", BOB).json()["webhooks"] == []


def test_a_delivery_answered_500_twice_comes_a_third_time_with_the_same_webhook_id(server, receiver):
    receiver.answers["/flaky"] = [500, 500]
    hook = add_webhook(server, receiver.url + "/flaky", events=["document.succeeded"])
    document_id = upload(server, EXAMPLES / "incident-review.pdf", "application/pdf", BOB)
    wait_until_ended(server, f"/documents/{document_id}", BOB)
    attempts = receiver.wait_for(
        lambda d: d.headers.get("webhook-id") and _about("document_id", document_id)(d), timeout=30, count=3
    )
    call(server, "DELETE", f"/webhooks/{hook['webhook_id']}", BOB)
    assert len(attempts) == 3
    assert len({attempt.headers["webhook-id"] for attempt in attempts}) == 1
    assert all(attempt.signed_with(hook["secret"]) for attempt in attempts)
    assert attempts[1].at - attempts[0].at >= 1.5 and attempts[2].at - attempts[1].at >= 3  # backing off: 2 s, 4 s


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "https://169.254.169.254/", "https://10.1.2.3/hooks",
    "https://192.168.0.10/hooks", "ftp://127.0.0.1/hooks", "https://user:pass@127.0.0.1/hooks",
])  # fmt: skip
def test_metadata_private_and_odd_targets_are_refused(server, url):
    response = call(server, "POST", "/webhooks", BOB, json={"url": url})
    assert (response.status_code, error_code(response)) == (422, "invalid_request"), response.text


# -- later, and by priority -------------------------------------------------------------------------


def test_a_document_and_a_batch_to_process_later_wait_until_then(server):
    from datetime import UTC, datetime, timedelta

    process_at = (datetime.now(UTC) + timedelta(seconds=20)).replace(microsecond=0)
    document_id = upload(server, EXAMPLES / "annual-report.pdf", "application/pdf", BOB, process_at=process_at.isoformat())
    seen = set()
    while datetime.now(UTC) < process_at - timedelta(seconds=1):
        view = call(server, "GET", f"/documents/{document_id}", BOB).json()
        seen.add(view["status"])
        time.sleep(0.5)
    assert seen <= {"pending", "scheduled"} and "scheduled" in seen, seen  # not processed before then
    assert view["process_at"] == process_at.isoformat()
    ended = wait_until_ended(server, f"/documents/{document_id}", BOB, timeout=60)
    assert ended["status"] == "succeeded" and datetime.fromisoformat(ended["updated_at"]) >= process_at

    batch_at = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
    started = call(server, "POST", "/batches", BOB, json={"document_ids": [document_id], "process_at": batch_at.isoformat()})
    assert (started.status_code, started.json()["status"]) == (202, "scheduled"), started.text
    batch_id = started.json()["batch_id"]
    assert call(server, "GET", f"/batches/{batch_id}", BOB).json()["status"] == "scheduled"
    batch = wait_until_ended(server, f"/batches/{batch_id}", BOB, timeout=60)
    assert batch["status"] == "completed" and datetime.fromisoformat(batch["updated_at"]) >= batch_at
    too_late = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    refused = call(server, "POST", "/uploads", BOB, json={"filename": "a.pdf", "content_type": "application/pdf",
                                                           "process_at": too_late})  # fmt: skip
    assert (refused.status_code, error_code(refused)) == (422, "invalid_request")


def test_a_high_priority_document_overtakes_a_flood_of_low_priority_ones(server, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from samples import make_pdf

    small = tmp_path / "small.pdf"
    small.write_bytes(make_pdf(["A short note about the quarterly figures, filed for later reading."]))
    with ThreadPoolExecutor(8) as pool:
        lows = list(pool.map(lambda _: upload(server, small, "application/pdf", BOB, priority="low"), range(200)))
    high = upload(server, small, "application/pdf", BOB, priority="high")
    assert wait_until_ended(server, f"/documents/{high}", BOB, timeout=120)["status"] == "succeeded"
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda i: call(server, "GET", f"/documents/{i}", BOB).json()["status"], lows))
    finished = sum(status in TERMINAL for status in statuses)
    assert finished < len(lows) / 2, f"{finished} of {len(lows)} low-priority documents finished first"
    assert call(server, "GET", f"/documents/{lows[0]}", BOB).json()["priority"] == "low"


def test_the_cli_names_an_unknown_id_and_manages_webhooks(server):
    unknown = docflow(server, "status", "no-such-id")
    assert unknown.returncode == 1 and "No document or batch no-such-id of yours." in unknown.stderr
    added = docflow(server, "webhooks", "add", "http://127.0.0.1:9/hook", "--events", "document.failed")
    assert added.returncode == 0, added.stderr
    created = json.loads(added.stdout)
    assert created["events"] == ["document.failed"] and created["secret"].startswith("whsec_")
    listed = docflow(server, "webhooks", "list")
    assert f"{created['webhook_id']}  http://127.0.0.1:9/hook  document.failed" in listed.stdout
    assert docflow(server, "webhooks", "remove", created["webhook_id"]).returncode == 0
    assert created["webhook_id"] not in docflow(server, "webhooks", "list").stdout
    refused = docflow(server, "webhooks", "add", "http://169.254.169.254/")
    assert refused.returncode == 1 and "metadata" in refused.stderr



def test_the_docs_open_in_a_browser_and_say_how_to_sign_in_and_what_each_route_answers(server):
    page = requests.get(server.api + "/docs", timeout=30)  # no token: a browser has none yet
    assert page.status_code == 200 and "swagger" in page.text.lower()
    document = requests.get(server.api + "/docs?format=json", timeout=30).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"} and "sigv4" in schemes
    assert document["security"] == [{"bearer": []}, {"sigv4": []}]
    answers = {(method.upper(), path): set(operation["responses"]) for path, operations in document["paths"].items()
               for method, operation in operations.items()}  # fmt: skip
    assert answers[("POST", "/uploads")] >= {"201", "400", "401", "403", "413", "415", "422", "429"}
    assert answers[("POST", "/batches")] >= {"202", "404", "409"} and answers[("DELETE", "/webhooks/{webhook_id}")] >= {"204", "404"}
    assert all({"401", "403", "429"} <= statuses for (method, path), statuses in answers.items() if path != "/health")
    upload = document["paths"]["/uploads"]["post"]
    assert upload["summary"] and upload["tags"] == ["documents"]
    error = upload["responses"]["404" if "404" in upload["responses"] else "413"]["content"]["application/json"]["schema"]
    assert error["$ref"].endswith("/ErrorBody")
    # Signed in as Swagger UI's Authorize button signs: the bearer header.
    tried = requests.get(server.api + "/webhooks", headers={"Authorization": f"Bearer {ALICE}"}, timeout=30)
    assert tried.status_code == 200
