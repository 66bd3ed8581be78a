"""What the API does, as plain functions of an owner and a request: no HTTP, no boto3.

functions/api/ turns HTTP into calls of DocflowService and its errors into JSON answers;
tests call DocflowService directly. Every operation is scoped to its caller: a document or
batch of someone else's is answered exactly like one that does not exist."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from docflow import keys
from docflow.admission import Scheduler, batch_input
from docflow.notifications import WEBHOOK_TYPES, EventPublisher, end_batch
from docflow.outcome import findings_of
from docflow.records import (
    BatchRecord,
    DocumentRecord,
    InvalidCursor,
    RecordStore,
    WebhookRecord,
)
from docflow.settings import Settings
from docflow.statuses import TERMINAL_STATUSES, BatchEnded, Priority
from docflow.storage import ObjectStore, Presigner
from docflow.webhooks import TargetRefused, check_target, new_secret
from docflow.workflows import Workflows

# What docflow processes, by the content type a client declares; the bytes are checked
# again by detect, which goes by content, not by this.
ALLOWED_CONTENT_TYPES = frozenset(
    {"application/pdf", "image/png", "image/jpeg", "image/webp", "image/gif", "image/tiff"}
)
MAX_BATCH_DOCUMENTS = 10_000
MAX_WEBHOOKS = 10  # a caller's
MAX_SCHEDULE_AHEAD = timedelta(days=365)
# Execution states that end a batch, and the status the batch then has.
_ENDED_EXECUTIONS: dict[str, BatchEnded] = {"FAILED": "failed", "TIMED_OUT": "failed", "ABORTED": "cancelled"}


class ServiceError(Exception):
    """An answer for the caller: an HTTP status, a stable code and a human message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class TooLarge(ServiceError):
    status, code = 413, "file_too_large"


class UnsupportedMediaType(ServiceError):
    status, code = 415, "unsupported_type"


class InvalidRequest(ServiceError):
    status, code = 422, "invalid_request"


def _now() -> datetime:
    return datetime.now(UTC)


def _timestamp(moment: datetime) -> str:
    # Microseconds keep the owner index's order stable for uploads made in one second.
    return moment.isoformat(timespec="microseconds")


@dataclass
class DocflowService:
    records: RecordStore
    store: ObjectStore
    presigner: Presigner
    workflows: Workflows
    events: EventPublisher
    scheduler: Scheduler
    settings: Settings = field(default_factory=Settings)
    clock: Callable[[], datetime] = _now
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex

    # -- documents ----------------------------------------------------------------------

    def create_upload(
        self,
        owner: str,
        filename: str,
        content_type: str,
        size: int | None,
        process_at: datetime | None = None,
        priority: Priority = "normal",
    ) -> dict[str, Any]:
        content_type = content_type.split(";")[0].strip().lower()
        if content_type not in ALLOWED_CONTENT_TYPES:
            allowed = ", ".join(sorted(ALLOWED_CONTENT_TYPES))
            raise UnsupportedMediaType(f"{content_type or 'This content type'} is not accepted; send one of {allowed}.")
        limit = self.settings.max_upload_bytes
        if size is not None and size > limit:
            raise TooLarge(f"The file is {size:,} bytes; the limit is {limit:,} bytes.")
        later = self._later(process_at)
        document_id = self.new_id()
        key = keys.upload_key(document_id, filename)
        now = _timestamp(self.clock())
        self.records.create_document(
            DocumentRecord(
                document_id=document_id,
                owner=owner,
                filename=filename,
                key=key,
                content_type=content_type,
                status="pending",
                created_at=now,
                updated_at=now,
                expires_at=self._expiry(),
                priority=priority,
                process_at=later,
            )
        )
        expires_in = self.settings.upload_expiry_seconds
        upload = self.presigner.presign_upload(key, content_type, limit, expires_in)
        return {"document_id": document_id, "upload": upload, "expires_in": expires_in, "process_at": later}

    def get_document(self, owner: str, document_id: str) -> dict[str, Any]:
        return self._document_view(self._own_document(owner, document_id))

    def list_documents(self, owner: str, status: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
        try:
            records, next_cursor = self.records.list_documents(owner, status=status, limit=limit, cursor=cursor)
        except InvalidCursor as error:
            raise InvalidRequest(str(error)) from error
        return {
            "documents": [self._document_view(record, urls=False) for record in records],
            "next_cursor": next_cursor,
        }

    def process_document(self, owner: str, document_id: str) -> dict[str, Any]:
        """Runs the document workflow again on the stored upload."""
        record = self._own_document(owner, document_id)
        if record.status == "pending":
            raise Conflict("The document has not been uploaded yet.")
        if record.status == "processing":
            raise Conflict("The document is being processed; wait for it to finish.")
        run = f"{document_id}-run-{self.new_id()[:12]}"
        self.records.start_processing(document_id, run, _timestamp(self.clock()))
        try:
            self.workflows.start_document(run, record.workflow_input())
        except Exception:
            # Not started (throttled, say): the document is as it was, so the caller can retry.
            self.records.abandon_run(document_id, run, record.status, _timestamp(self.clock()))
            raise
        return {"document_id": document_id, "status": "processing"}

    # -- batches ----------------------------------------------------------------------------

    def create_batch(
        self, owner: str, document_ids: list[str], process_at: datetime | None = None, priority: Priority = "normal"
    ) -> dict[str, Any]:
        unique = list(dict.fromkeys(document_ids))
        if not 1 <= len(unique) <= MAX_BATCH_DOCUMENTS:
            raise InvalidRequest(f"A batch holds 1 to {MAX_BATCH_DOCUMENTS:,} documents.")
        found = self.records.get_documents(unique)
        unknown = [i for i in unique if i not in found or found[i].owner != owner]
        if unknown:
            raise NotFound(f"No such documents: {_some(unknown)}.")
        pending = [i for i in unique if found[i].status == "pending"]
        if pending:
            raise Conflict(f"Not uploaded yet: {_some(pending)}.")
        later = self._later(process_at)
        batch_id = self.new_id()
        manifest_key = keys.manifest_key(batch_id)
        self.store.put_json(manifest_key, [found[i].workflow_input(batch_id) for i in unique])
        now = _timestamp(self.clock())
        record = BatchRecord(
            batch_id=batch_id,
            owner=owner,
            total=len(unique),
            manifest_key=manifest_key,
            status="scheduled" if later else "running",
            created_at=now,
            updated_at=now,
            expires_at=self._expiry(),
            priority=priority,
            process_at=later,
        )
        self.records.create_batch(record)
        if later:
            job = {"job": "start", "batch_id": batch_id}
            self.scheduler.start_at(datetime.fromisoformat(later), f"batch-{batch_id}", job)
            return {"batch_id": batch_id, "status": "scheduled", "total": len(unique), "process_at": later}
        # The record comes first, so that no document's outcome can arrive before it.
        launch_batch(self.records, self.workflows, self.events, record, self.clock())
        return {"batch_id": batch_id, "status": "running", "total": len(unique), "process_at": None}

    def retry_batch(self, owner: str, batch_id: str) -> dict[str, Any]:
        """A new batch over the work that did not succeed: a completed batch's failed
        documents, or every document of a batch that failed or was cancelled."""
        record = self.get_batch(owner, batch_id)
        if record["status"] == "running":
            raise Conflict("The batch is still running; cancel it or wait for it to end.")
        if record["status"] == "completed":
            report = self.store.get_json(keys.report_key(batch_id))
            again = [entry["document_id"] for entry in report["documents"] if entry["status"] == "failed"]
            if not again:
                raise Conflict("No document of this batch failed: there is nothing to retry.")
        else:
            again = [entry["document_id"] for entry in self.store.get_json(keys.manifest_key(batch_id))]
        return self.create_batch(owner, again)

    def get_batch(self, owner: str, batch_id: str) -> dict[str, Any]:
        record = self._own_batch(owner, batch_id)
        if record.status == "running" and record.execution_arn:
            record = self._settle(record, record.execution_arn)
        return self._batch_view(record)

    def list_batches(self, owner: str, limit: int) -> dict[str, Any]:
        return {"batches": [self._batch_view(record) for record in self.records.list_batches(owner, limit)]}

    def cancel_batch(self, owner: str, batch_id: str) -> dict[str, Any]:
        """Stops a running batch, or one scheduled for later (its start job then finds it
        ended and starts nothing)."""
        record = self._own_batch(owner, batch_id)
        if record.status not in ("running", "scheduled"):
            raise Conflict(f"The batch has already ended: it is {record.status}.")
        if record.execution_arn:
            self.workflows.stop(record.execution_arn, cause=f"Cancelled by {owner}")
        if not end_batch(self.records, self.events, batch_id, "cancelled", _timestamp(self.clock()), record.status):
            # Between our read and the move, the report landed or the scheduled start came.
            raise Conflict("The batch started or finished while it was being cancelled; look at it again.")
        return self.get_batch(owner, batch_id)

    # -- webhooks ---------------------------------------------------------------------------

    def add_webhook(self, owner: str, url: str, events: list[str] | None) -> dict[str, Any]:
        """Registers a URL for the caller's events (all of them when `events` is None); the
        answer is the only one that shows the secret."""
        chosen = list(dict.fromkeys(events)) if events is not None else list(WEBHOOK_TYPES)
        unknown = [name for name in chosen if name not in WEBHOOK_TYPES]
        if unknown or not chosen:
            raise InvalidRequest(
                f"events must be some of {', '.join(WEBHOOK_TYPES)}; got {', '.join(unknown) or 'none'}."
            )
        try:
            check_target(url, allow_loopback=bool(self.settings.webhook_loopback))
        except TargetRefused as error:
            raise InvalidRequest(error.message) from error
        if len(self.records.list_webhooks(owner)) >= MAX_WEBHOOKS:
            raise Conflict(f"A caller may have {MAX_WEBHOOKS} webhooks; remove one first.")
        record = WebhookRecord(
            webhook_id=self.new_id(), owner=owner, url=url, events=chosen, secret=new_secret(),
            created_at=_timestamp(self.clock()),
        )  # fmt: skip
        self.records.create_webhook(record)
        return {**_webhook_view(record), "secret": record.secret}

    def list_webhooks(self, owner: str) -> dict[str, Any]:
        return {"webhooks": [_webhook_view(record) for record in self.records.list_webhooks(owner)]}

    def remove_webhook(self, owner: str, webhook_id: str) -> None:
        record = self.records.get_webhook(webhook_id)
        if record is None or record.owner != owner:
            raise NotFound(f"No webhook {webhook_id}.")
        self.records.delete_webhook(webhook_id)

    # -- views and helpers ------------------------------------------------------------------

    def _later(self, process_at: datetime | None) -> str | None:
        """process_at as stored (UTC, ISO 8601), or None when it is not in the future."""
        if process_at is None:
            return None
        if process_at.tzinfo is None:
            raise InvalidRequest("process_at needs a time zone, as in 2026-12-01T09:00:00Z.")
        now = self.clock()
        if process_at > now + MAX_SCHEDULE_AHEAD:
            raise InvalidRequest("process_at may be at most a year ahead.")
        return process_at.astimezone(UTC).isoformat(timespec="seconds") if process_at > now else None

    def _expiry(self) -> int:
        return int((self.clock() + timedelta(days=self.settings.retention_days)).timestamp())

    def _own_document(self, owner: str, document_id: str) -> DocumentRecord:
        record = self.records.get_document(document_id)
        if record is None or record.owner != owner:
            raise NotFound(f"No document {document_id}.")
        return record

    def _own_batch(self, owner: str, batch_id: str) -> BatchRecord:
        record = self.records.get_batch(batch_id)
        if record is None or record.owner != owner:
            raise NotFound(f"No batch {batch_id}.")
        return record

    def _settle(self, record: BatchRecord, execution_arn: str) -> BatchRecord:
        """A batch whose execution ended without its report (it failed, timed out or was
        stopped elsewhere) takes its status from the execution."""
        ended = _ENDED_EXECUTIONS.get(self.workflows.status(execution_arn))
        if ended and end_batch(self.records, self.events, record.batch_id, ended, _timestamp(self.clock())):
            return self.records.get_batch(record.batch_id) or record
        return record

    def _document_view(self, record: DocumentRecord, urls: bool = True) -> dict[str, Any]:
        return document_view(record, self.presigner, self.settings, urls)

    def _batch_view(self, record: BatchRecord) -> dict[str, Any]:
        return batch_view(record, self.presigner, self.settings)


def launch_batch(
    records: RecordStore, workflows: Workflows, events: EventPublisher, record: BatchRecord, now: datetime
) -> None:
    """Starts a recorded batch's workflow (a low-priority one in its lane: fewer children at
    once) and notes its execution; a start refused ends the batch `failed` (and announces it)
    before the error goes on."""
    batch_id = record.batch_id
    try:
        execution = workflows.start_batch(batch_id, batch_input(batch_id, record.manifest_key, record.priority))
    except Exception:
        end_batch(records, events, batch_id, "failed", _timestamp(now))
        raise
    records.set_batch_execution(batch_id, execution)


def document_view(
    record: DocumentRecord, presigner: Presigner, settings: Settings, urls: bool = True
) -> dict[str, Any]:
    """A document as GET /documents/{id} answers it (and a webhook's data carries it)."""
    result = record.result if record.status in TERMINAL_STATUSES else None
    view: dict[str, Any] = {
        "document_id": record.document_id,
        "filename": record.filename,
        "content_type": record.content_type,
        "status": record.status,
        "priority": record.priority,
        "process_at": record.process_at,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "results": findings_of(result) if result else None,
        "error": record.error if record.status in ("failed", "skipped") else None,
    }
    if urls:
        expires = settings.download_expiry_seconds
        for name, key in (("thumbnail_url", "thumbnail_key"), ("text_url", "text_key")):
            found = (result or {}).get(key)
            view[name] = presigner.presign_download(found, expires) if found else None
    return view


def batch_view(record: BatchRecord, presigner: Presigner, settings: Settings) -> dict[str, Any]:
    """A batch as GET /batches/{id} answers it (and a webhook's data carries it)."""
    report_key = record.report_key if record.status == "completed" else None
    return {
        "batch_id": record.batch_id,
        "status": record.status,
        "progress": {"total": record.total, "done": record.done, "failed": record.failed},
        "priority": record.priority,
        "process_at": record.process_at,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "summary": record.summary,
        "report_url": presigner.presign_download(report_key, settings.download_expiry_seconds) if report_key else None,
    }


def _webhook_view(record: WebhookRecord) -> dict[str, Any]:
    return {
        "webhook_id": record.webhook_id,
        "url": record.url,
        "events": record.events,
        "created_at": record.created_at,
    }


def _some(ids: list[str], shown: int = 5) -> str:
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more
