"""The scheduled jobs against moto's S3 and DynamoDB."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from docflow import keys
from docflow.jobs import STUCK_AFTER, HealthCheckFailed, cleanup, health_check, usage_report
from docflow.outcome import DocumentResult
from docflow.records import DocumentRecord
from samples import make_pdf, recorded_result

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


def add_document(record_store, s3_store, document_id: str, status: str = "pending", *,
                 updated: datetime = NOW, expires: datetime = NOW + timedelta(days=30)) -> None:  # fmt: skip
    record_store.create_document(
        DocumentRecord(
            document_id=document_id, owner="alice", filename="a.pdf", key=keys.upload_key(document_id, "a.pdf"),
            content_type="application/pdf", status=status, created_at=updated.isoformat(),
            updated_at=updated.isoformat(), expires_at=int(expires.timestamp()),
        )
    )  # fmt: skip
    s3_store.put(keys.upload_key(document_id, "a.pdf"), b"%PDF", "application/pdf")
    s3_store.put(keys.text_key(document_id), b"text", "text/plain")


def test_cleanup_expires_documents_past_retention_with_their_files(record_store, s3_store, event_publisher):
    add_document(record_store, s3_store, "old", expires=NOW - timedelta(seconds=1))
    add_document(record_store, s3_store, "young")
    assert cleanup(record_store, s3_store, event_publisher, NOW) == {"expired": 1, "stuck_failed": 0}
    assert record_store.get_document("old") is None and record_store.get_document("young") is not None
    listed = s3_store.client.list_objects_v2(Bucket=s3_store.bucket)["Contents"]
    assert sorted(item["Key"] for item in listed) == [keys.text_key("young"), keys.upload_key("young", "a.pdf")]


def test_cleanup_fails_documents_stuck_in_processing_with_timeout(record_store, s3_store, event_publisher, published):
    add_document(record_store, s3_store, "stuck", "processing", updated=NOW - STUCK_AFTER - timedelta(minutes=1))
    add_document(record_store, s3_store, "busy", "processing", updated=NOW - timedelta(minutes=5))
    assert cleanup(record_store, s3_store, event_publisher, NOW) == {"expired": 0, "stuck_failed": 1}
    stuck = record_store.get_document("stuck")
    assert stuck.status == "failed" and stuck.error["code"] == "timeout"
    assert record_store.get_document("busy").status == "processing"
    # The same result model as the record step's: every field, null where nothing was found.
    assert set(stuck.result) == set(DocumentResult.__annotations__)
    assert stuck.result["filename"] == "a.pdf" and stuck.result["kind"] is None
    (event,) = published()  # announced as the record step announces an outcome
    assert event["detail-type"] == "Document Failed"
    assert (event["detail"]["document_id"], event["detail"]["error"]["code"]) == ("stuck", "timeout")


def test_usage_report_counts_by_status_kind_and_error(record_store, s3_store):
    for document_id in ("a", "b", "c"):
        add_document(record_store, s3_store, document_id)
    record_store.record_result("a", recorded_result("a"), NOW.isoformat())
    record_store.record_result("b", recorded_result("b", failed=True), NOW.isoformat())
    report = usage_report(record_store, s3_store, NOW)
    assert report["by_status"] == {"succeeded": 1, "failed": 1, "pending": 1}
    assert report["by_kind"] == {"pdf": 2, "unknown": 1}
    assert report["errors_by_code"] == {"pdf_corrupt": 1}
    assert s3_store.get_json("reports/usage/2026-06-01.json") == report


def test_the_health_check_passes_when_the_canary_succeeds(record_store, s3_store):
    def pipeline_runs(seconds: float) -> None:  # what ingestion and the workflow do meanwhile
        (canary,) = [r for r in record_store.documents() if r.owner == "docflow-health-check"]
        assert s3_store.read_head(canary.key, 4)[0] == b"%PDF"
        record_store.record_result(canary.document_id, recorded_result(canary.document_id), NOW.isoformat())

    result = health_check(record_store, s3_store, NOW, make_pdf(["canary"]), sleep=pipeline_runs)
    assert result["status"] == "succeeded"


def test_the_health_check_fails_when_the_canary_does_not_come_through(record_store, s3_store):
    clock = iter(range(0, 1000, 30))
    with pytest.raises(HealthCheckFailed, match="pending"):
        health_check(record_store, s3_store, NOW, make_pdf(["canary"]), timeout_seconds=90,
                      sleep=lambda seconds: None, monotonic=lambda: next(clock))  # fmt: skip


def test_the_canary_shipped_with_docflow_is_a_pdf_with_text(tmp_path):
    from importlib import resources

    from docflow.extraction import iter_page_texts

    canary = tmp_path / "canary.pdf"
    canary.write_bytes(resources.files("docflow.data").joinpath("canary.pdf").read_bytes())
    assert "health check" in " ".join(text or "" for text in iter_page_texts(canary))


def test_the_catalog_schedules_every_job_and_only_jobs():
    from docflow.jobs import JOBS
    from infra.catalog import load_catalog

    (jobs,) = [spec for spec in load_catalog() if spec.name == "jobs"]
    assert sorted(jobs.schedules) == sorted(JOBS)
