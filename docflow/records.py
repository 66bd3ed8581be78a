"""Document and batch records: who owns what, and where each stands.

A document's record is written as `pending` when its upload is presigned, becomes
`processing` when its workflow starts, and ends `succeeded`, `failed` or `skipped` when the
record step writes its outcome. A batch's record counts its documents' outcomes as they
arrive, so progress is one read, whatever the batch's size.

The domain reads and writes them only through RecordStore; docflow.dynamodb_records keeps
them in one DynamoDB table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from docflow.statuses import BatchStatus, DocumentStatus, Priority


class InvalidCursor(ValueError):
    """A page cursor that this service did not hand out (or not to this caller)."""


@dataclass
class DocumentRecord:
    document_id: str
    owner: str
    filename: str
    key: str
    content_type: str
    status: DocumentStatus
    created_at: str
    updated_at: str
    # The outcome the record step wrote (docflow.outcome.DocumentResult), once there is one.
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    # The processing run last started: an upload's identity, or a re-run's name. A new
    # upload to the same key starts anew; the same upload's event delivered twice does not.
    run_id: str | None = None
    # True once that run's workflow was started. Express workflows do not refuse a repeated
    # name, so this, not the name, is what stops a redelivered event from starting it twice.
    run_started: bool | None = None
    # Epoch seconds after which the record and the document's files are deleted (DynamoDB's
    # TTL and the cleanup job; S3's lifecycle rules expire the files too).
    expires_at: int | None = None
    priority: Priority = "normal"
    # When processing is to start (ISO 8601, UTC), if the caller asked for a later time.
    process_at: str | None = None

    def workflow_input(self, batch_id: str | None = None) -> dict[str, str]:
        """What the document workflow starts from: references only; with the batch it runs
        in, if any, as a batch's manifest lists it."""
        start = {"document_id": self.document_id, "key": self.key, "filename": self.filename}
        return start if batch_id is None else {**start, "batch_id": batch_id}


@dataclass
class BatchRecord:
    batch_id: str
    owner: str
    total: int
    manifest_key: str
    status: BatchStatus
    created_at: str
    updated_at: str
    execution_arn: str | None = None
    done: int = 0
    failed: int = 0
    report_key: str | None = None
    summary: dict[str, Any] | None = field(default=None)
    expires_at: int | None = None
    priority: Priority = "normal"
    process_at: str | None = None


@dataclass
class WebhookRecord:
    """A URL a caller asked docflow to post their documents' and batches' events to."""

    webhook_id: str
    owner: str
    url: str
    events: list[str]  # docflow.notifications.WEBHOOK_TYPES
    secret: str  # whsec_ and base64: the key of the deliveries' signatures
    created_at: str


class RecordStore(Protocol):
    def create_document(self, record: DocumentRecord) -> None: ...

    def get_document(self, document_id: str) -> DocumentRecord | None: ...

    def get_documents(self, document_ids: list[str]) -> dict[str, DocumentRecord]:
        """The records that exist among `document_ids`, by id."""

    def list_documents(
        self, owner: str, *, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[DocumentRecord], str | None]:
        """The owner's documents, newest first, and the cursor of the next page (None at the end)."""

    def start_processing(self, document_id: str, run_id: str, now: str) -> bool:
        """Marks the document `processing` for this run; False when this run was already
        started (a duplicated event) or the document has no record."""

    def schedule(self, document_id: str, now: str) -> bool:
        """Marks an uploaded document `scheduled`; False when it is no longer pending (its
        start was scheduled already, or it has started)."""

    def mark_run_started(self, document_id: str, run_id: str) -> None:
        """Notes that this run's workflow was started (no-op when another run has begun since)."""

    def abandon_run(self, document_id: str, run_id: str, status: str, now: str) -> bool:
        """Puts back `status` when the run could not be started after all; False when the
        document has moved on since (another run, or an outcome)."""

    def record_result(self, document_id: str, result: dict[str, Any], now: str) -> str | None:
        """Stores a workflow's outcome on the document's record and returns its owner; None
        when there is no record (a document uploaded without the API)."""

    def documents(self) -> Iterator[DocumentRecord]:
        """Every document record, in no order (a scan: for the daily jobs, not for requests)."""

    def delete_document(self, document_id: str) -> None: ...

    def create_batch(self, record: BatchRecord) -> None: ...

    def get_batch(self, batch_id: str) -> BatchRecord | None: ...

    def set_batch_execution(self, batch_id: str, execution_arn: str) -> None: ...

    def activate_batch(self, batch_id: str, now: str) -> bool:
        """Moves a scheduled batch to `running`; False when it is not scheduled (any more)."""

    def count_in_batch(self, batch_id: str, document_id: str, failed: bool, now: str) -> bool:
        """Adds one document's outcome to the batch's progress, once per document; False
        when it was counted before or the batch has no record."""

    def finish_batch(
        self, batch_id: str, status: BatchStatus, now: str, was: BatchStatus = "running", **fields: Any
    ) -> bool:
        """Ends a batch that is `was` (running, or scheduled when cancelled before its start);
        False when it is not (any more): it had ended already, say."""

    def list_batches(self, owner: str, limit: int) -> list[BatchRecord]:
        """The owner's newest `limit` batches, newest first."""

    def create_webhook(self, record: WebhookRecord) -> None: ...

    def get_webhook(self, webhook_id: str) -> WebhookRecord | None: ...

    def list_webhooks(self, owner: str) -> list[WebhookRecord]:
        """The owner's webhooks, oldest first."""

    def delete_webhook(self, webhook_id: str) -> None: ...
