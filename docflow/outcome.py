"""record: turns the document workflow's final state into the document's outcome.

Every path through the workflow ends here: succeeded, skipped (not a type docflow
processes) or failed with a code from docflow.errors. The outcome is written to
documents/<id>/result.json, overwriting any earlier one, so re-running a document is safe.

The record step has no Catch of its own: if it raised, the document would have no outcome
at all. So everything here reads the state defensively and never raises on odd content.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# typing_extensions' TypedDict, which pydantic (the API's models) reads on Python 3.11 too.
from typing_extensions import TypedDict

from docflow import keys
from docflow.errors import DocflowError, Timeout, UnsupportedType, error_class
from docflow.notifications import EventPublisher, document_event
from docflow.records import RecordStore
from docflow.statuses import Ended
from docflow.storage import ObjectStore

# What a user reads when the failure was not one of docflow's own: the Cause of such an
# error is a stack trace or a platform's internals, which belong in the logs, not a report.
INTERNAL_ERROR_MESSAGE = "Processing failed unexpectedly; the details are in the service's logs."
# The Cause of a platform timeout names a request id and a time, nothing a user can act on.
TIMEOUT_MESSAGE = Timeout.advice
MAX_MESSAGE_LENGTH = 500
# Marks of a Python stack trace: a message holding one is not shown, whatever its source.
_TRACE_MARKS = ("Traceback (most recent call last)", 'File "')


class ErrorInfo(TypedDict):
    code: str
    message: str


class Findings(TypedDict):
    """What an outcome found out about the document itself: the API's view of a document
    and a batch's report show these fields as they are."""

    mime_type: str | None
    kind: str | None
    size_bytes: int | None
    extension_mismatch: bool | None
    page_count: int | None
    # PDF pages read by OCR (pages without a text layer, or every page with DOCFLOW_OCR=force).
    ocr_pages: int | None
    word_count: int | None
    language: str | None
    keywords: list[dict[str, Any]] | None
    sentiment: dict[str, Any] | None
    reading_time_minutes: float | None
    # Only part of the document could be read: a truncated image, PDF pages that failed, ran
    # out of time or were past DOCFLOW_MAX_OCR_PAGES; and why, for people (null when whole).
    partial: bool
    partial_reason: str | None


class DocumentResult(Findings):
    """documents/<id>/result.json: the findings, the keys of the files made from the
    document, and how it ended. Every field is present; null when the step that knows it
    did not run."""

    document_id: str
    filename: str | None
    status: Ended
    char_count: int | None
    thumbnail_key: str | None
    thumbnail_width: int | None
    thumbnail_height: int | None
    text_key: str | None
    error: ErrorInfo | None
    recorded_at: str


FINDINGS = tuple(Findings.__annotations__)


def findings_of(result: Mapping[str, Any]) -> Findings:
    """A recorded outcome's findings, as the API and the reports show them: null where the
    outcome does not say (it was recorded before the field existed, or is missing), and
    `partial` false rather than null."""
    found = {name: result.get(name) for name in FINDINGS}
    found["partial"] = bool(found["partial"])
    return found  # type: ignore[return-value]  # every key of Findings, set above


def failed_outcome(
    document_id: str,
    filename: str | None,
    error: ErrorInfo,
    recorded_at: str,
    known: Mapping[str, Any] | None = None,
) -> DocumentResult:
    """The outcome of a document that failed outside the workflow's own record step (its
    workflow never reported back, or its outcome was lost): every field, each as `known`
    has it (what earlier steps found) or null."""
    known = known or {}
    outcome = {name: known.get(name) for name in DocumentResult.__annotations__}
    outcome.update(
        document_id=document_id,
        filename=filename or known.get("filename"),
        status="failed",
        partial=bool(known.get("partial")),
        error=error,
        recorded_at=recorded_at,
    )
    return outcome  # type: ignore[return-value]  # every key of DocumentResult, set above


def error_from_failure(failure: Mapping[str, Any]) -> ErrorInfo:
    """{code, message} from what a Catch recorded: {"Error": name, "Cause": text}.

    Our own errors keep the message they were raised with; platform timeouts get a fixed
    human one; anything else gets a generic one."""
    name = str(failure.get("Error") or "")
    cls = error_class(name)
    if cls is None:
        return {"code": DocflowError.code, "message": INTERNAL_ERROR_MESSAGE}
    if cls is Timeout and name != Timeout.__name__:  # Sandbox.Timedout, States.Timeout
        return {"code": Timeout.code, "message": TIMEOUT_MESSAGE}
    return {"code": cls.code, "message": _raised_message(failure.get("Cause")) or cls.advice}


def _raised_message(cause: Any) -> str | None:
    """The errorMessage in a Lambda error's Cause, or None when there is none fit to show.

    Lambda's Cause is JSON {"errorMessage", "errorType", "stackTrace"}; plain text is taken
    as the message itself. Step Functions cuts a Cause at 32 KiB, so JSON that does not
    parse is distrusted rather than shown half-cut."""
    if not isinstance(cause, str) or not cause.strip():
        return None
    text = cause.strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        if text.startswith(("{", "[")):
            return None
        message: Any = text
    else:
        message = parsed.get("errorMessage") if isinstance(parsed, dict) else None
    if not isinstance(message, str) or any(mark in message for mark in _TRACE_MARKS):
        return None
    message = " ".join(message.split())  # one line, whatever the raiser put in it
    if len(message) > MAX_MESSAGE_LENGTH:
        message = message[: MAX_MESSAGE_LENGTH - 1].rstrip() + "…"
    return message or None


def _section(state: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """One step's result in the state; {} when the step did not run (or left no dict)."""
    value = state.get(name)
    return value if isinstance(value, Mapping) else {}


def decide_outcome(state: Mapping[str, Any], now: datetime) -> DocumentResult:
    """The outcome of the workflow that ended in `state`, recorded at `now`. Pure."""
    detection = _section(state, "detection")
    extraction = _section(state, "extraction")
    analysis = _section(state, "analysis")
    # An image's thumbnail, or the preview extract made of a PDF's first page.
    thumbnail = _section(state, "thumbnail") or _section(extraction, "preview")
    failure = _section(state, "failure")

    status: Ended
    error: ErrorInfo | None
    if failure:
        error = error_from_failure(failure)
        # Detect does not raise UnsupportedType today, but a type refused anywhere is a
        # document docflow does not process, not one it failed on.
        status = "skipped" if error["code"] == UnsupportedType.code else "failed"
    elif detection.get("kind") == "unsupported":
        mime_type = detection.get("mime_type")
        what = f"{mime_type} files" if mime_type else "Files of this type"
        error = {"code": UnsupportedType.code, "message": f"{what} are not processed; send a PDF or an image"}
        status = "skipped"
    else:
        error, status = None, "succeeded"

    # extract counts every whitespace-separated word of the text it writes (numbers too), so
    # the report's count matches text.txt and pdftotext; analyze counts only the words it
    # ranks and is the fallback when extract did not say.
    word_count = extraction.get("word_count")
    if word_count is None:
        word_count = analysis.get("word_count")

    return {
        "document_id": str(state["document_id"]),
        "filename": state.get("filename"),
        "status": status,
        "mime_type": detection.get("mime_type"),
        "kind": detection.get("kind"),
        "size_bytes": detection.get("size_bytes"),
        "extension_mismatch": detection.get("extension_mismatch"),
        "page_count": extraction.get("page_count"),
        "ocr_pages": extraction.get("ocr_pages"),
        "word_count": word_count,
        "char_count": extraction.get("char_count"),
        "language": analysis.get("language"),
        "keywords": analysis.get("keywords"),
        "sentiment": analysis.get("sentiment"),
        "reading_time_minutes": analysis.get("reading_time_minutes"),
        "thumbnail_key": thumbnail.get("thumbnail_key"),
        "thumbnail_width": thumbnail.get("width"),
        "thumbnail_height": thumbnail.get("height"),
        "text_key": extraction.get("text_key"),
        "partial": bool(extraction.get("partial_reason") or thumbnail.get("partial")),
        "partial_reason": extraction.get("partial_reason"),
        "error": error,
        "recorded_at": _utc(now).isoformat(timespec="seconds"),
    }


def _utc(moment: datetime) -> datetime:
    # A naive time is taken to be UTC already, which is what datetime.utcnow() callers mean.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def record_outcome(store: ObjectStore, state: Mapping[str, Any], now: datetime | None = None) -> DocumentResult:
    """Decides the outcome and writes it to documents/<id>/result.json. Writing again
    replaces the earlier outcome, so a retried or re-run document leaves exactly one."""
    outcome = decide_outcome(state, now or datetime.now(UTC))
    store.put_json(keys.result_key(outcome["document_id"]), outcome)
    return outcome


def track_outcome(
    records: RecordStore, events: EventPublisher, state: Mapping[str, Any], outcome: DocumentResult
) -> None:
    """Brings the document's record, and its batch's progress when it ran in one, up to
    date with the outcome (no-ops for work the API did not start), and announces it."""
    owner = records.record_result(outcome["document_id"], dict(outcome), outcome["recorded_at"])
    batch_id = state.get("batch_id")
    if not (isinstance(batch_id, str) and batch_id):
        batch_id = None
    if batch_id:
        records.count_in_batch(batch_id, outcome["document_id"], outcome["status"] == "failed", outcome["recorded_at"])
    events.publish(document_event(outcome, owner, batch_id))
