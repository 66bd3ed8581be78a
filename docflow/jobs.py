"""The scheduled jobs (what Celery beat ran in the seed system), as plain functions.

- cleanup: documents past their retention lose their files and their record (S3's
  lifecycle rules and DynamoDB's TTL do the same, later and less precisely); documents
  stuck in `processing` longer than any workflow can run are failed with `timeout`, so
  every document still ends in a terminal state.
- usage_report: documents by status, kind and error code, written to S3.
- health_check: a canary PDF goes through the whole path a user's upload takes (S3 event,
  EventBridge, SQS, ingest, the document workflow) and must come out `succeeded` in time.

The schedules are in functions/catalog.toml, under the jobs function.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

from docflow import keys
from docflow.errors import DocflowError, Timeout
from docflow.ingestion import Admission, Upload, ingest
from docflow.notifications import EventPublisher, document_event
from docflow.outcome import DocumentResult, ErrorInfo, failed_outcome
from docflow.records import DocumentRecord, RecordStore
from docflow.service import launch_batch
from docflow.statuses import TERMINAL_STATUSES
from docflow.storage import ObjectStore
from docflow.workflows import Workflows

# The jobs, by the name their EventBridge schedules (functions/catalog.toml) send.
Job = Literal["cleanup", "usage-report", "health-check"]
JOBS: tuple[Job, ...] = get_args(Job)
# What a one-time schedule sends when a document or batch asked to be processed later is due.
START = "start"
# Longer than the document workflow can run (each step's timeout, times its retries).
STUCK_AFTER = timedelta(hours=2)
NEVER_FINISHED: ErrorInfo = {"code": Timeout.code, "message": "Processing did not finish; upload the document again."}
HEALTH_CHECK_OWNER = "docflow-health-check"
HEALTH_CHECK_SECONDS = 90


class HealthCheckFailed(DocflowError):
    code = "health_check_failed"
    advice = "The canary document did not come through the pipeline; see the alarm's dashboard."


def cleanup(records: RecordStore, store: ObjectStore, events: EventPublisher, now: datetime) -> dict[str, int]:
    expired = stuck = 0
    for record in records.documents():
        if record.expires_at is not None and record.expires_at <= now.timestamp():
            store.delete_prefix(f"uploads/{record.document_id}/")
            store.delete_prefix(f"documents/{record.document_id}/")
            records.delete_document(record.document_id)
            expired += 1
        elif record.status == "processing" and _age(record, now) > STUCK_AFTER:
            outcome = _timed_out(record, now)
            records.record_result(record.document_id, dict(outcome), _iso(now))
            events.publish(document_event(outcome, record.owner))
            stuck += 1
    return {"expired": expired, "stuck_failed": stuck}


def start(
    records: RecordStore,
    workflows: Workflows,
    admission: Admission,
    events: EventPublisher,
    now: datetime,
    upload: Upload | None = None,
    batch_id: str | None = None,
) -> dict[str, str]:
    """A start scheduled for now: an upload's goes through ingest as if it had just arrived
    (its lane included), a batch's starts its workflow. Run twice, it starts nothing twice."""
    if upload is not None:
        return {"document": ingest(records, workflows, admission, upload, _iso(now))}
    if batch_id and records.activate_batch(batch_id, _iso(now)):
        record = records.get_batch(batch_id)
        assert record is not None, "it was just activated"
        launch_batch(records, workflows, events, record, now)
        return {"batch": "started"}
    return {"batch": "not scheduled"}


def usage_report(records: RecordStore, store: ObjectStore, now: datetime) -> dict[str, Any]:
    by_status: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    by_error: Counter[str] = Counter()
    for record in records.documents():
        by_status[record.status] += 1
        by_kind[(record.result or {}).get("kind") or "unknown"] += 1
        if record.error:
            by_error[record.error.get("code", "unknown")] += 1
    report: dict[str, Any] = {
        "generated_at": _iso(now),
        "documents": sum(by_status.values()),
        "by_status": dict(by_status),
        "by_kind": dict(by_kind),
        "errors_by_code": dict(by_error),
    }
    report["report_key"] = f"reports/usage/{now:%Y-%m-%d}.json"
    store.put_json(report["report_key"], report)
    return report


def health_check(
    records: RecordStore,
    store: ObjectStore,
    now: datetime,
    canary: bytes,
    *,
    timeout_seconds: float = HEALTH_CHECK_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Uploads the canary as a client would (a record, then the object) and waits for its
    outcome. Raises HealthCheckFailed unless it succeeds within timeout_seconds."""
    document_id = f"health-{uuid.uuid4().hex[:20]}"
    key = keys.upload_key(document_id, "canary.pdf")
    records.create_document(
        DocumentRecord(
            document_id=document_id,
            owner=HEALTH_CHECK_OWNER,
            filename="canary.pdf",
            key=key,
            content_type="application/pdf",
            status="pending",
            created_at=_iso(now),
            updated_at=_iso(now),
            expires_at=int((now + timedelta(days=1)).timestamp()),
        )
    )
    started = monotonic()
    store.put(key, canary, "application/pdf")
    while True:
        record = records.get_document(document_id)
        status = record.status if record else "missing"
        if status in TERMINAL_STATUSES or monotonic() - started > timeout_seconds:
            break
        sleep(1)
    seconds = round(monotonic() - started, 1)
    if status != "succeeded":
        error = (record.error or {}).get("code") if record else None
        raise HealthCheckFailed(f"the canary ended {status} ({error or 'no error code'}) after {seconds} s")
    return {"document_id": document_id, "status": status, "seconds": seconds}


def _age(record: DocumentRecord, now: datetime) -> timedelta:
    return now - datetime.fromisoformat(record.updated_at)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _timed_out(record: DocumentRecord, now: datetime) -> DocumentResult:
    """The outcome of a document whose workflow never reported back."""
    return failed_outcome(record.document_id, record.filename, NEVER_FINISHED, _iso(now), known=record.result)
