"""DocflowService on moto's S3 and DynamoDB and an in-test fake of the state machines:
what each API operation answers, what it writes and what it starts, always scoped to its
caller."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timedelta, timezone
from itertools import count
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from docflow import keys
from docflow.admission import EventBridgeScheduler
from docflow.notifications import EventBridgePublisher
from docflow.service import (
    MAX_BATCH_DOCUMENTS,
    Conflict,
    DocflowService,
    InvalidRequest,
    NotFound,
    TooLarge,
    UnsupportedMediaType,
)
from docflow.settings import Settings
from docflow.workflows import Throttled
from fakes import EXECUTION_PREFIX, FakeWorkflows
from samples import recorded_result

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
MAX_PRESIGN = timedelta(minutes=15)


class Clock:
    """Starts at START and moves on a second each time it is read."""

    def __init__(self) -> None:
        self.ticks = count()

    def __call__(self) -> datetime:
        return START + timedelta(seconds=next(self.ticks))


def id_sequence():
    numbers = count(1)
    return lambda: f"id{next(numbers):06d}"


@pytest.fixture
def workflows() -> FakeWorkflows:
    return FakeWorkflows()


@pytest.fixture
def service(record_store, s3_store, workflows) -> DocflowService:
    return make_service(record_store, s3_store, workflows)


def make_service(record_store, s3_store, workflows, settings: Settings | None = None) -> DocflowService:
    return DocflowService(
        records=record_store,
        store=s3_store,
        presigner=s3_store,
        workflows=workflows,
        events=EventBridgePublisher(os.environ["DOCFLOW_EVENT_BUS"], boto3.client("events", region_name="us-east-1")),
        scheduler=EventBridgeScheduler.from_environment(),
        settings=settings or Settings(),
        clock=Clock(),
        new_id=id_sequence(),
    )


# -- helpers ---------------------------------------------------------------------------------


def policy_of(upload: dict[str, Any]) -> dict[str, Any]:
    """The decoded policy document of a presigned POST."""
    return json.loads(base64.b64decode(upload["fields"]["policy"]))


def assert_presigned_for_at_most_fifteen_minutes(url: str) -> None:
    """A signed GET URL (SigV4's X-Amz-Expires or SigV2's absolute Expires) that lives at most 15 minutes."""
    query = parse_qs(urlparse(url).query)
    assert "Signature" in query or "X-Amz-Signature" in query, url
    if "X-Amz-Expires" in query:
        lifetime = int(query["X-Amz-Expires"][0])
    else:
        lifetime = int(query["Expires"][0]) - datetime.now(timezone.utc).timestamp()
    assert 0 < lifetime <= MAX_PRESIGN.total_seconds(), url


def upload(service: DocflowService, owner: str = "alice", filename: str = "invoice.pdf") -> str:
    return service.create_upload(owner, filename, "application/pdf", 1234)["document_id"]


def processed(service: DocflowService, record_store, owner: str = "alice", *, failed: bool = False) -> str:
    """A document uploaded and processed to its end, as the upload event and record step would."""
    document_id = upload(service, owner)
    record_store.start_processing(document_id, f"upload-of-{document_id}", "2026-03-01T12:00:30+00:00")
    record_store.record_result(document_id, recorded_result(document_id, failed=failed), "2026-03-01T12:01:00+00:00")
    return document_id


def processing(service: DocflowService, record_store, owner: str = "alice") -> str:
    document_id = upload(service, owner)
    record_store.start_processing(document_id, f"upload-of-{document_id}", "2026-03-01T12:00:30+00:00")
    return document_id


def running_batch(service: DocflowService, record_store, size: int = 2, owner: str = "alice") -> str:
    document_ids = [processed(service, record_store, owner) for _ in range(size)]
    return service.create_batch(owner, document_ids)["batch_id"]


# -- create_upload ------------------------------------------------------------------------------


def test_create_upload_presigns_a_post_for_exactly_the_upload_key(service, record_store):
    answer = service.create_upload("alice", "Q1 invoice.pdf", "application/pdf", 1234)

    document_id = answer["document_id"]
    key = f"uploads/{document_id}/Q1_invoice.pdf"
    assert document_id == "id000001"
    assert answer["expires_in"] == 900
    assert answer["upload"]["url"].startswith("https://")
    fields = answer["upload"]["fields"]
    assert fields["key"] == key
    assert fields["Content-Type"] == "application/pdf"

    conditions = policy_of(answer["upload"])["conditions"]
    assert {"key": key} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", 1, service.settings.max_upload_bytes] in conditions
    assert {"bucket": "docflow-test-documents"} in conditions
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]


def test_create_upload_writes_a_pending_record(service, record_store):
    document_id = service.create_upload("alice", "invoice.pdf", "application/pdf", 1234)["document_id"]
    record = record_store.get_document(document_id)
    assert record.owner == "alice"
    assert record.status == "pending"
    assert record.filename == "invoice.pdf"
    assert record.key == f"uploads/{document_id}/invoice.pdf"
    assert record.content_type == "application/pdf"
    assert record.created_at == record.updated_at == START.isoformat(timespec="microseconds")


def test_the_upload_policy_expires_within_fifteen_minutes(service):
    before = datetime.now(timezone.utc)
    answer = service.create_upload("alice", "invoice.pdf", "application/pdf", None)
    expiration = datetime.fromisoformat(policy_of(answer["upload"])["expiration"].replace("Z", "+00:00"))
    assert before < expiration <= datetime.now(timezone.utc) + MAX_PRESIGN


def test_a_path_in_the_filename_is_dropped_from_the_key(service, record_store):
    answer = service.create_upload("alice", "../../etc/passwd.pdf", "application/pdf", 10)
    key = f"uploads/{answer['document_id']}/passwd.pdf"
    assert answer["upload"]["fields"]["key"] == key
    assert {"key": key} in policy_of(answer["upload"])["conditions"]
    assert record_store.get_document(answer["document_id"]).key == key


@pytest.mark.parametrize("content_type", ["text/html", "", "application/x-msdownload", "image/svg+xml"])
def test_a_content_type_docflow_does_not_process_is_refused(service, record_store, content_type):
    with pytest.raises(UnsupportedMediaType) as raised:
        service.create_upload("alice", "page.html", content_type, 10)
    assert raised.value.status == 415
    assert record_store.list_documents("alice", status=None, limit=10, cursor=None) == ([], None)


@pytest.mark.parametrize("declared", ["application/pdf; charset=x", "Application/PDF", " application/pdf "])
def test_a_content_types_parameters_and_case_do_not_matter(service, record_store, declared):
    answer = service.create_upload("alice", "invoice.pdf", declared, 10)
    assert answer["upload"]["fields"]["Content-Type"] == "application/pdf"
    assert {"Content-Type": "application/pdf"} in policy_of(answer["upload"])["conditions"]
    assert record_store.get_document(answer["document_id"]).content_type == "application/pdf"


def test_a_declared_size_over_the_limit_is_refused(record_store, s3_store, workflows):
    service = make_service(record_store, s3_store, workflows, Settings(max_upload_bytes=1000))
    with pytest.raises(TooLarge) as raised:
        service.create_upload("alice", "big.pdf", "application/pdf", 1001)
    assert raised.value.status == 413
    assert record_store.list_documents("alice", status=None, limit=10, cursor=None) == ([], None)

    at_the_limit = service.create_upload("alice", "ok.pdf", "application/pdf", 1000)
    assert ["content-length-range", 1, 1000] in policy_of(at_the_limit["upload"])["conditions"]
    undeclared = service.create_upload("alice", "unknown.pdf", "application/pdf", None)
    assert ["content-length-range", 1, 1000] in policy_of(undeclared["upload"])["conditions"]


def test_settings_from_the_environment_cap_presigned_expiry_at_fifteen_minutes(monkeypatch):
    monkeypatch.setenv("DOCFLOW_UPLOAD_EXPIRY_SECONDS", "3600")
    monkeypatch.setenv("DOCFLOW_DOWNLOAD_EXPIRY_SECONDS", "3600")
    monkeypatch.setenv("DOCFLOW_MAX_UPLOAD_BYTES", "2048")
    settings = Settings.from_environment()
    assert settings.upload_expiry_seconds == 900
    assert settings.download_expiry_seconds == 900
    assert settings.max_upload_bytes == 2048


def test_settings_from_the_environment_keep_a_shorter_expiry(monkeypatch):
    monkeypatch.setenv("DOCFLOW_UPLOAD_EXPIRY_SECONDS", "300")
    monkeypatch.delenv("DOCFLOW_DOWNLOAD_EXPIRY_SECONDS", raising=False)
    settings = Settings.from_environment()
    assert (settings.upload_expiry_seconds, settings.download_expiry_seconds) == (300, 900)


def test_an_environment_asking_for_an_hour_still_presigns_for_fifteen_minutes(monkeypatch, record_store, s3_store, workflows):
    monkeypatch.setenv("DOCFLOW_UPLOAD_EXPIRY_SECONDS", "3600")
    service = make_service(record_store, s3_store, workflows, Settings.from_environment())
    answer = service.create_upload("alice", "invoice.pdf", "application/pdf", 10)
    expiration = datetime.fromisoformat(policy_of(answer["upload"])["expiration"].replace("Z", "+00:00"))
    assert answer["expires_in"] == 900
    assert expiration <= datetime.now(timezone.utc) + MAX_PRESIGN


# -- get_document ---------------------------------------------------------------------------------


def test_another_owners_document_is_not_found(service):
    document_id = upload(service, "bob")
    with pytest.raises(NotFound) as raised:
        service.get_document("alice", document_id)
    assert raised.value.status == 404


def test_a_missing_document_is_not_found(service):
    with pytest.raises(NotFound):
        service.get_document("alice", "no-such-id")


def test_a_pending_document_has_no_results_yet(service):
    view = service.get_document("alice", upload(service))
    assert view["status"] == "pending"
    assert (view["results"], view["error"], view["thumbnail_url"], view["text_url"]) == (None, None, None, None)


def test_a_succeeded_document_shows_its_results_and_download_urls(service, record_store):
    document_id = processed(service, record_store)
    view = service.get_document("alice", document_id)

    assert view["document_id"] == document_id
    assert view["filename"] == "invoice.pdf"
    assert view["status"] == "succeeded"
    assert view["error"] is None
    assert view["results"] == {
        "mime_type": "application/pdf",
        "kind": "pdf",
        "size_bytes": 1234,
        "extension_mismatch": False,
        "page_count": 2,
        "ocr_pages": 0,
        "word_count": 40,
        "language": "en",
        "keywords": [{"word": "invoice", "count": 3}],
        "sentiment": {"label": "neutral", "score": 0.0},
        "reading_time_minutes": 0.2,
        "partial": False,
        "partial_reason": None,
    }
    for url, key in ((view["thumbnail_url"], keys.thumbnail_key(document_id, "png")),
                     (view["text_url"], keys.text_key(document_id))):
        assert key in url
        assert_presigned_for_at_most_fifteen_minutes(url)


def test_a_failed_document_shows_its_error(service, record_store):
    document_id = processed(service, record_store, failed=True)
    view = service.get_document("alice", document_id)
    assert view["status"] == "failed"
    assert view["error"] == {"code": "pdf_corrupt", "message": "The PDF could not be read."}
    assert (view["thumbnail_url"], view["text_url"]) == (None, None)


# -- process_document -------------------------------------------------------------------------------


def test_a_document_not_uploaded_yet_cannot_be_processed(service, workflows):
    document_id = upload(service)
    with pytest.raises(Conflict) as raised:
        service.process_document("alice", document_id)
    assert raised.value.status == 409
    assert workflows.documents == []


def test_a_document_being_processed_cannot_be_processed_again(service, record_store, workflows):
    document_id = processing(service, record_store)
    with pytest.raises(Conflict):
        service.process_document("alice", document_id)
    assert workflows.documents == []


def test_another_owners_document_cannot_be_processed(service, record_store, workflows):
    document_id = processed(service, record_store, "bob")
    with pytest.raises(NotFound):
        service.process_document("alice", document_id)
    assert workflows.documents == []
    assert record_store.get_document(document_id).status == "succeeded"


@pytest.mark.parametrize("failed", [False, True], ids=["succeeded", "failed"])
def test_processing_a_finished_document_starts_its_workflow_again(service, record_store, workflows, failed):
    document_id = processed(service, record_store, failed=failed)

    answer = service.process_document("alice", document_id)

    assert answer == {"document_id": document_id, "status": "processing"}
    [(name, execution_input)] = workflows.documents
    assert name.startswith(f"{document_id}-run-")
    assert execution_input == {"document_id": document_id, "key": f"uploads/{document_id}/invoice.pdf",
                               "filename": "invoice.pdf"}
    record = record_store.get_document(document_id)
    assert (record.status, record.run_id, record.error) == ("processing", name, None)


def test_each_reprocessing_is_a_new_run(service, record_store, workflows):
    document_id = processed(service, record_store)
    service.process_document("alice", document_id)
    record_store.record_result(document_id, recorded_result(document_id), "2026-03-01T13:00:00+00:00")
    service.process_document("alice", document_id)
    first, second = (name for name, _ in workflows.documents)
    assert first != second


def test_a_reprocessing_refused_by_throttling_can_be_retried(service, record_store, workflows):
    document_id = processed(service, record_store)
    workflows.throttled_starts = 1
    with pytest.raises(Throttled):
        service.process_document("alice", document_id)

    assert service.process_document("alice", document_id)["status"] == "processing"
    assert len(workflows.documents) == 1


# -- list_documents ---------------------------------------------------------------------------------


def test_list_documents_pages_the_callers_documents_without_urls(service, record_store):
    mine = [upload(service, "alice", f"file{n}.pdf") for n in range(3)]
    upload(service, "bob")

    first = service.list_documents("alice", None, 2, None)
    second = service.list_documents("alice", None, 2, first["next_cursor"])

    assert [d["document_id"] for d in first["documents"] + second["documents"]] == mine[::-1]
    assert second["next_cursor"] is None
    assert "thumbnail_url" not in first["documents"][0]


def test_list_documents_with_a_garbage_cursor_is_an_invalid_request(service):
    upload(service)
    with pytest.raises(InvalidRequest) as raised:
        service.list_documents("alice", None, 10, "not-a-cursor")
    assert raised.value.status == 422


# -- create_batch -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document_ids",
    [[], [f"d{n}" for n in range(MAX_BATCH_DOCUMENTS + 1)]],
    ids=["empty", "over-10000"],
)
def test_a_batch_of_no_or_too_many_documents_is_invalid(service, workflows, document_ids):
    with pytest.raises(InvalidRequest) as raised:
        service.create_batch("alice", document_ids)
    assert raised.value.status == 422
    assert workflows.batches == []


def test_a_batch_with_another_owners_document_is_not_found(service, record_store, s3_store, workflows):
    mine = processed(service, record_store, "alice")
    theirs = processed(service, record_store, "bob")
    with pytest.raises(NotFound) as raised:
        service.create_batch("alice", [mine, theirs])
    assert theirs in raised.value.message
    assert workflows.batches == []


def test_a_batch_with_an_unknown_document_is_not_found(service, record_store, workflows):
    with pytest.raises(NotFound):
        service.create_batch("alice", [processed(service, record_store), "no-such-id"])
    assert workflows.batches == []


def test_a_batch_with_a_document_not_uploaded_yet_is_a_conflict(service, record_store, workflows):
    ready = processed(service, record_store)
    waiting = upload(service)
    with pytest.raises(Conflict) as raised:
        service.create_batch("alice", [ready, waiting])
    assert waiting in raised.value.message
    assert workflows.batches == []


def test_create_batch_writes_the_manifest_records_the_batch_and_starts_its_workflow(
    service, record_store, s3_store, workflows
):
    first = processed(service, record_store)
    second = processed(service, record_store, failed=True)  # a failed document may be retried in a batch

    answer = service.create_batch("alice", [first, second, first, second])

    batch_id = answer["batch_id"]
    assert answer == {"batch_id": batch_id, "status": "running", "total": 2, "process_at": None}
    manifest_key = f"batches/{batch_id}/manifest.json"
    assert s3_store.get_json(manifest_key) == [
        {"document_id": first, "key": f"uploads/{first}/invoice.pdf", "filename": "invoice.pdf", "batch_id": batch_id},
        {"document_id": second, "key": f"uploads/{second}/invoice.pdf", "filename": "invoice.pdf", "batch_id": batch_id},
    ]
    assert workflows.batches == [(batch_id, {"batch_id": batch_id, "manifest_key": manifest_key, "max_children": 10})]

    record = record_store.get_batch(batch_id)
    assert (record.owner, record.status, record.total, record.done, record.failed) == ("alice", "running", 2, 0, 0)
    assert record.manifest_key == manifest_key
    assert record.execution_arn == f"{EXECUTION_PREFIX}docflow-batch:{batch_id}"


# -- get_batch -------------------------------------------------------------------------------------------


def test_a_running_batch_shows_its_progress(service, record_store):
    batch_id = running_batch(service, record_store, size=3)
    record_store.count_in_batch(batch_id, "one", False, "2026-03-01T12:10:00+00:00")
    record_store.count_in_batch(batch_id, "two", True, "2026-03-01T12:10:01+00:00")
    record_store.count_in_batch(batch_id, "two", True, "2026-03-01T12:10:02+00:00")  # counted once

    view = service.get_batch("alice", batch_id)

    assert view["status"] == "running"
    assert view["progress"] == {"total": 3, "done": 2, "failed": 1}
    assert (view["summary"], view["report_url"]) == (None, None)


@pytest.mark.parametrize(
    ("execution_status", "batch_status"),
    [("FAILED", "failed"), ("TIMED_OUT", "failed"), ("ABORTED", "cancelled")],
)
def test_a_batch_whose_execution_ended_without_a_report_takes_its_status(
    service, record_store, workflows, execution_status, batch_status
):
    batch_id = running_batch(service, record_store)
    workflows.statuses[record_store.get_batch(batch_id).execution_arn] = execution_status

    assert service.get_batch("alice", batch_id)["status"] == batch_status
    assert record_store.get_batch(batch_id).status == batch_status


def test_a_batch_whose_execution_succeeded_waits_for_its_report(service, record_store, workflows):
    batch_id = running_batch(service, record_store)
    workflows.statuses[record_store.get_batch(batch_id).execution_arn] = "SUCCEEDED"
    assert service.get_batch("alice", batch_id)["status"] == "running"


def test_a_completed_batch_shows_its_summary_and_report_url(service, record_store, workflows):
    batch_id = running_batch(service, record_store)
    summary = {"total": 2, "succeeded": 2, "failed": 0, "skipped": 0}
    report_key = keys.report_key(batch_id)
    record_store.finish_batch(batch_id, "completed", "2026-03-01T12:20:00+00:00", summary=summary, report_key=report_key)
    workflows.statuses[record_store.get_batch(batch_id).execution_arn] = "SUCCEEDED"

    view = service.get_batch("alice", batch_id)

    assert view["status"] == "completed"
    assert view["summary"] == summary
    assert report_key in view["report_url"]
    assert_presigned_for_at_most_fifteen_minutes(view["report_url"])


def test_another_owners_batch_is_not_found(service, record_store):
    batch_id = running_batch(service, record_store, owner="bob")
    with pytest.raises(NotFound):
        service.get_batch("alice", batch_id)


# -- cancel_batch -------------------------------------------------------------------------------------------


def test_cancelling_a_running_batch_stops_its_execution(service, record_store, workflows):
    batch_id = running_batch(service, record_store)
    arn = record_store.get_batch(batch_id).execution_arn

    view = service.cancel_batch("alice", batch_id)

    assert [stopped for stopped, _ in workflows.stopped] == [arn]
    assert view["status"] == "cancelled"
    assert record_store.get_batch(batch_id).status == "cancelled"


def test_cancelling_a_cancelled_batch_is_a_conflict(service, record_store, workflows):
    batch_id = running_batch(service, record_store)
    service.cancel_batch("alice", batch_id)
    with pytest.raises(Conflict) as raised:
        service.cancel_batch("alice", batch_id)
    assert raised.value.status == 409
    assert len(workflows.stopped) == 1


def test_cancelling_a_completed_batch_is_a_conflict(service, record_store, workflows):
    batch_id = running_batch(service, record_store)
    record_store.finish_batch(batch_id, "completed", "2026-03-01T12:20:00+00:00", report_key=keys.report_key(batch_id))
    with pytest.raises(Conflict):
        service.cancel_batch("alice", batch_id)
    assert workflows.stopped == []
    assert record_store.get_batch(batch_id).status == "completed"


def test_a_scheduled_batch_can_be_cancelled_before_it_starts(service, record_store, workflows):
    document_ids = [processed(service, record_store) for _ in range(2)]
    batch_id = service.create_batch("alice", document_ids, process_at=START + timedelta(hours=1))["batch_id"]

    assert service.cancel_batch("alice", batch_id)["status"] == "cancelled"

    assert workflows.stopped == []  # nothing had started
    # Its start, when the schedule comes, finds it ended and starts nothing.
    assert record_store.activate_batch(batch_id, "2026-03-01T13:00:00+00:00") is False


def test_batches_are_listed_newest_first_and_only_the_owners(service, record_store):
    first, second = running_batch(service, record_store), running_batch(service, record_store)
    running_batch(service, record_store, owner="bob")

    listed = service.list_batches("alice", limit=10)["batches"]

    assert [batch["batch_id"] for batch in listed] == [second, first]
    assert [batch["batch_id"] for batch in service.list_batches("alice", limit=1)["batches"]] == [second]


def test_another_owners_batch_cannot_be_cancelled(service, record_store, workflows):
    batch_id = running_batch(service, record_store, owner="bob")
    with pytest.raises(NotFound):
        service.cancel_batch("alice", batch_id)
    assert workflows.stopped == []
    assert record_store.get_batch(batch_id).status == "running"


def test_a_batch_whose_start_is_refused_is_failed_not_left_running(service, record_store, workflows):
    ids = [processed(service, record_store) for _ in range(2)]
    workflows.throttled_starts = 1
    with pytest.raises(Throttled):
        service.create_batch("alice", ids)
    (batch,) = [record_store.get_batch(name) for name in _batch_ids(record_store)]
    assert batch.status == "failed" and batch.execution_arn is None


def _batch_ids(record_store) -> list[str]:
    items = record_store.client.scan(TableName=record_store.table)["Items"]
    return [item["pk"]["S"].removeprefix("BATCH#") for item in items if item["sk"]["S"] == "BATCH"]


# -- retry_batch ------------------------------------------------------------------------------------


def test_retrying_a_completed_batch_reruns_only_its_failed_documents(service, record_store, s3_store, workflows):
    ok, bad = processed(service, record_store), processed(service, record_store, failed=True)
    batch_id = service.create_batch("alice", [ok, bad])["batch_id"]
    report = {"documents": [{"document_id": ok, "status": "succeeded"}, {"document_id": bad, "status": "failed"}]}
    s3_store.put_json(keys.report_key(batch_id), report)
    record_store.finish_batch(batch_id, "completed", "2026-03-01T13:00:00+00:00", summary={}, report_key=keys.report_key(batch_id))
    again = service.retry_batch("alice", batch_id)
    assert again["total"] == 1 and again["batch_id"] != batch_id
    name, started = workflows.batches[-1]
    assert [entry["document_id"] for entry in s3_store.get_json(started["manifest_key"])] == [bad]


def test_retrying_a_cancelled_batch_reruns_all_of_it(service, record_store, s3_store, workflows):
    batch_id = running_batch(service, record_store, size=3)
    service.cancel_batch("alice", batch_id)
    assert service.retry_batch("alice", batch_id)["total"] == 3


def test_a_running_batch_or_one_without_failures_is_not_retried(service, record_store, s3_store):
    batch_id = running_batch(service, record_store)
    with pytest.raises(Conflict, match="still running"):
        service.retry_batch("alice", batch_id)
    s3_store.put_json(keys.report_key(batch_id), {"documents": []})
    record_store.finish_batch(batch_id, "completed", "2026-03-01T13:00:00+00:00", report_key=keys.report_key(batch_id))
    with pytest.raises(Conflict, match="nothing to retry"):
        service.retry_batch("alice", batch_id)
    with pytest.raises(NotFound):
        service.retry_batch("bob", batch_id)


# -- events and webhooks ------------------------------------------------------------------------


def test_a_cancelled_batch_is_announced_once_as_the_schema_says(service, record_store, workflows, published):
    import jsonschema

    from docflow.notifications import SCHEMA_PATH

    batch_id = running_batch(service, record_store)
    service.cancel_batch("alice", batch_id)
    with pytest.raises(Conflict):
        service.cancel_batch("alice", batch_id)  # ended already: nothing more is announced
    (event,) = published()
    assert event["detail-type"] == "Batch Cancelled"
    assert event["detail"] == {
        "version": "1", "batch_id": batch_id, "owner": "alice", "status": "cancelled",
        "counts": {"total": 2, "done": 0, "failed": 0},
        "keys": {"manifest": keys.manifest_key(batch_id), "report": None},
    }  # fmt: skip
    jsonschema.validate(event, json.loads(SCHEMA_PATH.read_text()))


def test_a_batch_whose_execution_failed_is_announced_failed_when_seen(service, record_store, workflows, published):
    batch_id = running_batch(service, record_store)
    workflows.statuses[record_store.get_batch(batch_id).execution_arn] = "FAILED"
    assert service.get_batch("alice", batch_id)["status"] == "failed"
    assert [event["detail-type"] for event in published()] == ["Batch Failed"]


@pytest.fixture
def local_service(record_store, s3_store, workflows) -> DocflowService:
    """The service as docflow serve runs it: webhooks may target loopback."""
    return make_service(record_store, s3_store, workflows, Settings(webhook_loopback=1))


def test_a_webhook_is_added_for_all_events_or_some_and_listed_without_its_secret(local_service):
    from docflow.notifications import WEBHOOK_TYPES

    service = local_service
    every = service.add_webhook("alice", "http://127.0.0.1:9/all", None)
    some = service.add_webhook("alice", "http://localhost:9/some", ["document.failed", "document.failed"])
    assert every["events"] == list(WEBHOOK_TYPES) and some["events"] == ["document.failed"]
    assert every["secret"].startswith("whsec_") and every["secret"] != some["secret"]
    listed = service.list_webhooks("alice")["webhooks"]
    assert [item["webhook_id"] for item in listed] == [every["webhook_id"], some["webhook_id"]]
    assert all("secret" not in item for item in listed)
    assert service.list_webhooks("bob") == {"webhooks": []}
    with pytest.raises(NotFound):
        service.remove_webhook("bob", every["webhook_id"])
    service.remove_webhook("alice", every["webhook_id"])
    assert [item["webhook_id"] for item in service.list_webhooks("alice")["webhooks"]] == [some["webhook_id"]]


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "https://10.0.0.1/x", "http://127.0.0.1/x"])
def test_a_deployments_service_refuses_metadata_private_and_loopback_targets(record_store, s3_store, workflows, url):
    deployed = make_service(record_store, s3_store, workflows, Settings(webhook_loopback=0))
    with pytest.raises(InvalidRequest):
        deployed.add_webhook("alice", url, None)


def test_unknown_event_types_and_too_many_webhooks_are_refused(local_service):
    service = local_service
    with pytest.raises(InvalidRequest, match="events must be some of"):
        service.add_webhook("alice", "http://127.0.0.1:9/x", ["document.exploded"])
    for number in range(10):
        service.add_webhook("alice", f"http://127.0.0.1:9/{number}", None)
    with pytest.raises(Conflict, match="10 webhooks"):
        service.add_webhook("alice", "http://127.0.0.1:9/eleventh", None)


def test_a_low_priority_batch_runs_one_child_of_documents_at_a_time(service, record_store, workflows):
    document_ids = [processed(service, record_store) for _ in range(2)]
    started = service.create_batch("alice", document_ids, priority="low")
    (name, start), = workflows.batches
    assert (name, start["max_children"]) == (started["batch_id"], 1)
    assert service.get_batch("alice", started["batch_id"])["priority"] == "low"
