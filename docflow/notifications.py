"""docflow's events: what it puts on its own EventBridge bus when a document or a batch
ends, for rules of the user's own and for webhooks (docflow.webhooks).

Each event's detail follows schemas/events.v1.json: ids, owner, status, error code and
message, counts and S3 keys, never a document's content. `version` is the schema's; a
change that could break a reader makes a new version and a new file."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from docflow import keys
from docflow.errors import TransientError
from docflow.records import BatchRecord, RecordStore
from docflow.statuses import BatchEnded, BatchStatus

SOURCE = "docflow"
SCHEMA_VERSION = "1"
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / f"events.v{SCHEMA_VERSION}.json"
# The rule on docflow's bus that feeds webhooks: every event docflow puts there.
EVENT_PATTERN = {"source": [SOURCE]}
# Each terminal status's detail-type. Webhook event types are the same names, dotted:
# "Document Succeeded" -> "document.succeeded".
DOCUMENT_TYPES = {"succeeded": "Document Succeeded", "failed": "Document Failed", "skipped": "Document Skipped"}
BATCH_TYPES = {"completed": "Batch Completed", "failed": "Batch Failed", "cancelled": "Batch Cancelled"}
DETAIL_TYPES = (*DOCUMENT_TYPES.values(), *BATCH_TYPES.values())


def webhook_type(detail_type: str) -> str:
    """The webhook event type of a detail-type: "Document Succeeded" -> "document.succeeded"."""
    return detail_type.lower().replace(" ", ".")


WEBHOOK_TYPES = tuple(webhook_type(name) for name in DETAIL_TYPES)


@dataclass(frozen=True)
class Event:
    detail_type: str
    detail: dict[str, Any]
    time: str  # ISO 8601, UTC

    def entry(self, bus: str) -> dict[str, Any]:
        """The event as PutEvents takes it."""
        return {
            "Source": SOURCE,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail, separators=(",", ":")),
            "EventBusName": bus,
            "Time": datetime.fromisoformat(self.time),
        }


def document_event(outcome: Mapping[str, Any], owner: str | None, batch_id: str | None = None) -> Event:
    """A document that ended: its recorded outcome (docflow.outcome.DocumentResult), the
    owner of its record (None for a document the API did not upload) and its batch."""
    document_id = str(outcome["document_id"])
    detail = {
        "version": SCHEMA_VERSION,
        "document_id": document_id,
        "owner": owner,
        "batch_id": batch_id,
        "status": outcome["status"],
        "error": outcome.get("error"),
        "kind": outcome.get("kind"),
        "page_count": outcome.get("page_count"),
        "word_count": outcome.get("word_count"),
        "partial": bool(outcome.get("partial")),
        "keys": {
            "result": keys.result_key(document_id),
            "text": outcome.get("text_key"),
            "thumbnail": outcome.get("thumbnail_key"),
        },
    }
    return Event(DOCUMENT_TYPES[outcome["status"]], detail, _time(outcome.get("recorded_at")))


def batch_event(record: BatchRecord) -> Event:
    """A batch that ended, as its record has it."""
    detail = {
        "version": SCHEMA_VERSION,
        "batch_id": record.batch_id,
        "owner": record.owner,
        "status": record.status,
        "counts": {"total": record.total, "done": record.done, "failed": record.failed},
        "keys": {"manifest": record.manifest_key, "report": record.report_key},
    }
    return Event(BATCH_TYPES[record.status], detail, _time(record.updated_at))


def _time(moment: str | None) -> str:
    if not moment:
        return datetime.now(UTC).isoformat(timespec="seconds")
    parsed = datetime.fromisoformat(moment)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="seconds")


class EventPublisher(Protocol):
    def publish(self, event: Event) -> None: ...


def end_batch(
    records: RecordStore,
    events: EventPublisher,
    batch_id: str,
    status: BatchEnded,
    now: str,
    was: BatchStatus = "running",
    **fields: Any,
) -> bool:
    """Ends a batch that is `was` and announces it, both once: False, and no event, when it
    had ended already (a report that lands after a cancel, say) or has no record."""
    if not records.finish_batch(batch_id, status, now, was, **fields):
        return False
    record = records.get_batch(batch_id)
    if record is not None:
        events.publish(batch_event(record))
    return True


class EventBridgePublisher:
    """Puts events on docflow's bus (DOCFLOW_EVENT_BUS)."""

    def __init__(self, bus: str, client: Any = None):
        import boto3

        self.bus = bus
        self.client = client or boto3.client("events")

    @classmethod
    def from_environment(cls) -> EventBridgePublisher:
        return cls(os.environ["DOCFLOW_EVENT_BUS"])

    def publish(self, event: Event) -> None:
        answer = self.client.put_events(Entries=[event.entry(self.bus)])
        if answer.get("FailedEntryCount"):
            failure = answer["Entries"][0]
            raise TransientError(
                f"EventBridge refused the event: {failure.get('ErrorCode')} {failure.get('ErrorMessage')}"
            )
