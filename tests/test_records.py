"""DynamoRecordStore on moto's DynamoDB: documents and batches round-trip, the owner index
pages newest first without losing or repeating anything, and the conditional writes keep
duplicated events and late reports from changing what has already happened."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError

from docflow import keys
from docflow.dynamodb_records import encode_cursor
from docflow.outcome import decide_outcome, track_outcome
from docflow.records import BatchRecord, DocumentRecord, InvalidCursor

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
RESULT = {
    "document_id": "d1",
    "filename": "invoice.pdf",
    "status": "succeeded",
    "mime_type": "application/pdf",
    "kind": "pdf",
    "size_bytes": 52345,
    "page_count": 2,
    "word_count": 40,
    "keywords": [{"word": "invoice", "count": 3}],
    "sentiment": {"label": "neutral", "score": 0.25},
    "reading_time_minutes": 0.2,
    "thumbnail_key": "documents/d1/thumbnail.png",
    "text_key": "documents/d1/text.txt",
    "partial": False,
    "error": None,
    "recorded_at": "2026-03-01T12:05:00+00:00",
}
FAILED_RESULT = {
    **RESULT,
    "status": "failed",
    "thumbnail_key": None,
    "text_key": None,
    "error": {"code": "corrupt_file", "message": "The PDF could not be read."},
}


def at(seconds: int) -> str:
    """A timestamp `seconds` after START, as the service writes them."""
    return (START + timedelta(seconds=seconds)).isoformat(timespec="microseconds")


def document(document_id: str, owner: str = "alice", *, status: str = "pending", created: int = 0, **fields):
    return DocumentRecord(
        document_id=document_id,
        owner=owner,
        filename=f"{document_id}.pdf",
        key=keys.upload_key(document_id, f"{document_id}.pdf"),
        content_type="application/pdf",
        status=status,
        created_at=at(created),
        updated_at=at(created),
        **fields,
    )


def batch(batch_id: str = "b1", owner: str = "alice", *, total: int = 3, status: str = "running") -> BatchRecord:
    return BatchRecord(
        batch_id=batch_id,
        owner=owner,
        total=total,
        manifest_key=keys.manifest_key(batch_id),
        status=status,
        created_at=at(0),
        updated_at=at(0),
    )


def all_pages(record_store, owner: str, *, limit: int, status: str | None = None) -> list[list[str]]:
    """Every page of the owner's documents, as lists of ids, following the cursors."""
    pages, cursor = [], None
    while True:
        records, cursor = record_store.list_documents(owner, status=status, limit=limit, cursor=cursor)
        pages.append([r.document_id for r in records])
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursors never end"


def table_items() -> list[dict]:
    client = boto3.client("dynamodb", region_name="us-east-1")
    return client.scan(TableName=os.environ["DOCFLOW_TABLE"])["Items"]


def outcome_of(document_id: str, *, failed: bool = False) -> dict:
    """A real outcome (docflow.outcome.decide_outcome) of a document's workflow."""
    state = {"document_id": document_id, "key": f"uploads/{document_id}/a.pdf", "filename": "a.pdf",
             "detection": {"mime_type": "application/pdf", "kind": "pdf", "size_bytes": 10}}
    if failed:
        state["failure"] = {"Error": "CorruptFile", "Cause": "The PDF could not be read."}
    return decide_outcome(state, START)


# -- documents ------------------------------------------------------------------------------


def test_a_document_round_trips_with_every_field(record_store):
    record = document("d1", status="failed", result=FAILED_RESULT, error=FAILED_RESULT["error"], run_id="d1-run-1")
    record_store.create_document(record)
    assert record_store.get_document("d1") == record


def test_a_fresh_document_round_trips_with_its_empty_fields(record_store):
    record = document("d1")
    record_store.create_document(record)
    found = record_store.get_document("d1")
    assert found == record
    assert (found.result, found.error, found.run_id) == (None, None, None)


def test_a_nested_result_round_trips_unchanged_and_is_stored_as_json(record_store):
    result = {
        **RESULT,
        "filename": "Übersicht – 報告書 🚀.pdf",
        "keywords": [{"word": "naïve", "count": 3}, {"word": "café", "count": 1}],
        "sentiment": {"label": "positive", "score": 0.1 + 0.2, "scores": [1e-12, -2.5, 3.0, 1e300]},
        "nested": {"empty": {}, "none": None, "flags": [True, False], "deep": [[{"x": 1.5}], []]},
    }
    record = document("d1", status="succeeded", result=result, run_id="d1-run-1", run_started=True,
                      expires_at=1775001600)  # fmt: skip
    record_store.create_document(record)
    found = record_store.get_document("d1")
    assert found == record
    assert found.result["sentiment"]["score"] == 0.1 + 0.2 and type(found.expires_at) is int
    # Stored as one JSON string, as the deployed table's items are: floats never become Decimals.
    (item,) = table_items()
    assert set(item["result"]) == {"S"}
    assert (item["expires_at"], item["run_started"]) == ({"N": "1775001600"}, {"BOOL": True})


def test_a_document_stored_before_the_adapter_moved_reads_back(record_store):
    """An item as the deployed table holds it: written before boto3's serializer was used."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.put_item(TableName=os.environ["DOCFLOW_TABLE"], Item={
        "pk": {"S": "DOC#d1"}, "sk": {"S": "DOC"}, "owner_key": {"S": "alice#document"},
        "document_id": {"S": "d1"}, "owner": {"S": "alice"}, "filename": {"S": "d1.pdf"},
        "key": {"S": keys.upload_key("d1", "d1.pdf")}, "content_type": {"S": "application/pdf"},
        "status": {"S": "failed"}, "created_at": {"S": at(0)}, "updated_at": {"S": at(0)},
        "result": {"S": '{"status":"failed","score":0.25,"words":["é"]}'},
        "error": {"S": '{"code": "corrupt_file", "message": "The PDF could not be read."}'},
        "run_id": {"S": "d1-run-1"}, "run_started": {"BOOL": True}, "expires_at": {"N": "1775001600"},
    })  # fmt: skip
    found = record_store.get_document("d1")
    assert found == document(
        "d1", status="failed", result={"status": "failed", "score": 0.25, "words": ["é"]},
        error=FAILED_RESULT["error"], run_id="d1-run-1", run_started=True, expires_at=1775001600,
    )  # fmt: skip


def test_a_missing_document_is_none(record_store):
    assert record_store.get_document("nope") is None


def test_creating_a_document_twice_is_refused_and_keeps_the_first(record_store):
    record_store.create_document(document("d1", owner="alice"))
    with pytest.raises(ClientError) as raised:
        record_store.create_document(document("d1", owner="mallory"))
    assert raised.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert record_store.get_document("d1").owner == "alice"


def test_get_documents_reads_over_a_hundred_ids_and_returns_only_existing_ones(record_store):
    existing = [f"d{n:03d}" for n in range(0, 250, 2)]  # 125 records
    for document_id in existing:
        record_store.create_document(document(document_id))
    asked = [f"d{n:03d}" for n in range(250)] + existing[:10]  # 260 ids, duplicates among them
    found = record_store.get_documents(asked)
    assert sorted(found) == existing
    assert all(found[i].document_id == i for i in existing)


def test_get_documents_of_nothing_is_empty(record_store):
    assert record_store.get_documents([]) == {}


# -- listing by owner -----------------------------------------------------------------------


def test_listing_shows_only_the_owners_documents_newest_first(record_store):
    for n, owner in enumerate(["alice", "bob", "alice", "alice", "bob"]):
        record_store.create_document(document(f"d{n}", owner, created=n))
    record_store.create_batch(batch("b1", "alice"))  # batches share the index, not the listing

    records, cursor = record_store.list_documents("alice", status=None, limit=50, cursor=None)
    assert [r.document_id for r in records] == ["d3", "d2", "d0"]
    assert cursor is None


def test_listing_filters_by_status(record_store):
    statuses = ["pending", "succeeded", "failed", "succeeded", "processing"]
    for n, status in enumerate(statuses):
        record_store.create_document(document(f"d{n}", status=status, created=n))
    records, _ = record_store.list_documents("alice", status="succeeded", limit=50, cursor=None)
    assert [r.document_id for r in records] == ["d3", "d1"]


def test_pages_cover_every_document_once_newest_first(record_store):
    for n in range(7):
        record_store.create_document(document(f"d{n}", created=n))
    pages = all_pages(record_store, "alice", limit=3)
    assert pages == [["d6", "d5", "d4"], ["d3", "d2", "d1"], ["d0"]]


def test_filtered_pages_are_full_and_cover_every_match_once(record_store):
    # Matches are spread thin, so DynamoDB's pages (limited before the filter) come back
    # short and the store has to read on to fill each page.
    matching = set()
    for n in range(15):
        status = "succeeded" if n % 3 == 0 or n == 14 else "failed"
        if status == "succeeded":
            matching.add(f"d{n:02d}")
        record_store.create_document(document(f"d{n:02d}", status=status, created=n))
    pages = all_pages(record_store, "alice", limit=2, status="succeeded")
    listed = [i for page in pages for i in page]
    assert listed == sorted(matching, reverse=True)  # d14, d12, d09, d06, d03, d00
    assert [len(page) for page in pages if page] == [2, 2, 2]


def test_another_owners_cursor_is_refused(record_store):
    for n in range(3):
        record_store.create_document(document(f"b{n}", "bob", created=n))
    _, bobs_cursor = record_store.list_documents("bob", status=None, limit=1, cursor=None)
    assert bobs_cursor is not None
    with pytest.raises(InvalidCursor):
        record_store.list_documents("alice", status=None, limit=1, cursor=bobs_cursor)


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),  # not UTF-8
        base64.urlsafe_b64encode(b'["a", "list"]').decode(),
        encode_cursor({}),
    ],
    ids=["words", "no-base64-at-all", "binary", "json-list", "empty-object"],
)
def test_a_garbage_cursor_is_refused(record_store, cursor):
    record_store.create_document(document("d1"))
    with pytest.raises(InvalidCursor):
        record_store.list_documents("alice", status=None, limit=1, cursor=cursor)


@pytest.mark.parametrize(
    "start_key",
    [
        {"owner_key": {"S": "alice#document"}},  # the table's and index's other keys missing
        {"owner_key": {"S": "alice#document"}, "created_at": "not an attribute value"},
    ],
    ids=["keys-missing", "malformed-value"],
)
def test_a_tampered_cursor_with_the_right_owner_is_refused(record_store, start_key):
    for n in range(3):
        record_store.create_document(document(f"d{n}", created=n))
    with pytest.raises(InvalidCursor):
        record_store.list_documents("alice", status=None, limit=1, cursor=encode_cursor(start_key))


# -- processing runs and results ---------------------------------------------------------------


def test_start_processing_starts_each_run_once(record_store):
    record_store.create_document(document("d1"))

    assert record_store.start_processing("d1", "upload-etag-1", at(10)) is True
    started = record_store.get_document("d1")
    assert (started.status, started.run_id, started.updated_at) == ("processing", "upload-etag-1", at(10))

    record_store.record_result("d1", RESULT, at(20))
    # The same upload's event, delivered again, does not put a finished document back.
    assert record_store.start_processing("d1", "upload-etag-1", at(30)) is False
    assert record_store.get_document("d1").status == "succeeded"

    assert record_store.start_processing("d1", "d1-run-abc", at(40)) is True
    rerun = record_store.get_document("d1")
    assert (rerun.status, rerun.run_id, rerun.updated_at) == ("processing", "d1-run-abc", at(40))


def test_start_processing_a_missing_document_is_false_and_writes_nothing(record_store):
    assert record_store.start_processing("ghost", "run-1", at(0)) is False
    assert record_store.get_document("ghost") is None


def test_start_processing_clears_the_previous_runs_error(record_store):
    record_store.create_document(document("d1", status="processing"))
    record_store.record_result("d1", FAILED_RESULT, at(5))
    record_store.start_processing("d1", "d1-run-2", at(10))
    assert record_store.get_document("d1").error is None


def test_record_result_stores_a_failure_with_its_error(record_store):
    record_store.create_document(document("d1", status="processing"))
    assert record_store.record_result("d1", FAILED_RESULT, at(5)) == "alice"
    found = record_store.get_document("d1")
    assert found.status == "failed"
    assert found.result == FAILED_RESULT
    assert found.error == {"code": "corrupt_file", "message": "The PDF could not be read."}
    assert found.updated_at == at(5)


def test_record_result_of_a_success_removes_an_earlier_error(record_store):
    record_store.create_document(document("d1", status="processing"))
    record_store.record_result("d1", FAILED_RESULT, at(5))
    assert record_store.record_result("d1", RESULT, at(9)) == "alice"
    found = record_store.get_document("d1")
    assert (found.status, found.result, found.error, found.updated_at) == ("succeeded", RESULT, None, at(9))


def test_record_result_for_a_missing_document_is_false_and_writes_nothing(record_store):
    assert record_store.record_result("ghost", RESULT, at(0)) is None
    assert record_store.get_document("ghost") is None


# -- batch progress through track_outcome ---------------------------------------------------------


def test_track_outcome_counts_a_document_once_even_when_recorded_twice(record_store, event_publisher):
    record_store.create_batch(batch("b1", total=3))
    record_store.create_document(document("d1", status="processing"))
    outcome = outcome_of("d1")

    track_outcome(record_store, event_publisher, {"document_id": "d1", "batch_id": "b1"}, outcome)
    track_outcome(record_store, event_publisher, {"document_id": "d1", "batch_id": "b1"}, outcome)  # a retried step

    progress = record_store.get_batch("b1")
    assert (progress.done, progress.failed) == (1, 0)
    assert record_store.get_document("d1").status == "succeeded"


def test_track_outcome_counts_failures_separately(record_store, event_publisher):
    record_store.create_batch(batch("b1", total=3))
    for document_id, failed in (("d1", False), ("d2", True), ("d3", True)):
        record_store.create_document(document(document_id, status="processing"))
        track_outcome(record_store, event_publisher, {"document_id": document_id, "batch_id": "b1"}, outcome_of(document_id, failed=failed))
    progress = record_store.get_batch("b1")
    assert (progress.total, progress.done, progress.failed) == (3, 3, 2)
    assert record_store.get_document("d2").status == "failed"


def test_track_outcome_without_a_batch_record_is_a_no_op(record_store, event_publisher):
    record_store.create_document(document("d1", status="processing"))
    track_outcome(record_store, event_publisher, {"document_id": "d1", "batch_id": "unknown"}, outcome_of("d1"))
    assert record_store.get_batch("unknown") is None
    # The transaction left no once-per-document mark behind.
    assert not [item for item in table_items() if item["pk"]["S"].startswith("BATCH#")]
    assert record_store.get_document("d1").status == "succeeded"


def test_track_outcome_without_any_records_does_not_raise(record_store, event_publisher):
    track_outcome(record_store, event_publisher, {"document_id": "ghost", "batch_id": "unknown"}, outcome_of("ghost"))
    assert table_items() == []


def test_count_in_batch_answers_whether_it_counted(record_store):
    record_store.create_batch(batch("b1"))
    assert record_store.count_in_batch("b1", "d1", False, at(1)) is True
    assert record_store.count_in_batch("b1", "d1", True, at(2)) is False
    assert record_store.count_in_batch("missing", "d1", False, at(3)) is False
    progress = record_store.get_batch("b1")
    assert (progress.done, progress.failed, progress.updated_at) == (1, 0, at(1))


# -- batches ---------------------------------------------------------------------------------


def test_a_batch_round_trips(record_store):
    record = batch("b1", total=42)
    record_store.create_batch(record)
    assert record_store.get_batch("b1") == record
    record_store.set_batch_execution("b1", "arn:aws:states:us-east-1:123456789012:execution:docflow-batch:b1")
    assert record_store.get_batch("b1").execution_arn.endswith(":docflow-batch:b1")


def test_a_missing_batch_is_none(record_store):
    assert record_store.get_batch("nope") is None


def test_finishing_a_running_batch_stores_its_summary_and_report(record_store):
    record_store.create_batch(batch("b1"))
    summary = {"total": 3, "succeeded": 2, "failed": 1, "skipped": 0, "average_words": 12.5}
    assert record_store.finish_batch("b1", "completed", at(60), summary=summary, report_key=keys.report_key("b1")) is True
    finished = record_store.get_batch("b1")
    assert finished.status == "completed"
    assert finished.summary == summary
    assert finished.report_key == "batches/b1/report.json"
    assert finished.updated_at == at(60)


def test_a_cancelled_batch_stays_cancelled_when_its_report_arrives_late(record_store):
    record_store.create_batch(batch("b1"))
    assert record_store.finish_batch("b1", "cancelled", at(10)) is True
    assert record_store.finish_batch("b1", "completed", at(20), summary={"total": 3}, report_key="batches/b1/report.json") is False
    found = record_store.get_batch("b1")
    assert (found.status, found.summary, found.report_key, found.updated_at) == ("cancelled", None, None, at(10))


def test_finishing_a_missing_batch_is_false_and_creates_nothing(record_store):
    assert record_store.finish_batch("ghost", "failed", at(0)) is False
    assert record_store.get_batch("ghost") is None


def test_track_outcome_announces_the_outcome_with_its_owner_and_batch(record_store, event_publisher, published):
    import json

    import jsonschema

    from docflow.notifications import SCHEMA_PATH

    record_store.create_batch(batch("b1", total=2))
    record_store.create_document(document("d1", status="processing"))
    track_outcome(record_store, event_publisher, {"document_id": "d1", "batch_id": "b1"}, outcome_of("d1", failed=True))
    track_outcome(record_store, event_publisher, {"document_id": "ghost"}, outcome_of("ghost"))  # uploaded without the API
    failed, unowned = published()
    assert failed["source"] == "docflow" and failed["detail-type"] == "Document Failed"
    assert {key: failed["detail"][key] for key in ("document_id", "owner", "batch_id", "status")} == {
        "document_id": "d1", "owner": "alice", "batch_id": "b1", "status": "failed"
    }  # fmt: skip
    assert failed["detail"]["error"]["code"] and failed["detail"]["keys"]["result"] == "documents/d1/result.json"
    assert (unowned["detail-type"], unowned["detail"]["owner"]) == ("Document Succeeded", None)
    schema = json.loads(SCHEMA_PATH.read_text())
    for event in (failed, unowned):
        jsonschema.validate(event, schema)
