"""record: turns the document workflow's final state into the document's outcome.

Every path through the workflow ends here: succeeded, skipped (not a type docflow
processes) or failed with a code from docflow.errors. The outcome is written to
documents/<id>/result.json, overwriting any earlier one, so re-running a document is safe.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from docflow import keys
from docflow.errors import DocflowError, Timeout, UnsupportedType, error_class
from docflow.storage import ObjectStore

INTERNAL_ERROR_MESSAGE = "Processing failed unexpectedly; the details are in the service's logs."


def error_from_failure(failure: dict[str, Any]) -> dict[str, str]:
    """{code, message} from what a Catch recorded: {"Error": name, "Cause": text}.

    Our own errors keep their message; anything else gets a generic one, since its text may
    be a stack trace or an internal detail that is no answer for a user."""
    name = str(failure.get("Error") or "")
    cls = error_class(name)
    if cls is None:
        return {"code": DocflowError.code, "message": INTERNAL_ERROR_MESSAGE}
    if cls is Timeout and name != "Timeout":
        return {"code": Timeout.code, "message": "Processing took longer than the step's time limit."}
    return {"code": cls.code, "message": _error_message(failure.get("Cause")) or cls.advice}


def _error_message(cause: Any) -> str | None:
    if not isinstance(cause, str) or not cause.strip():
        return None
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause.strip()[:500]
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return parsed["errorMessage"][:500]
    return None


def decide_outcome(state: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    detection = state.get("detection") or {}
    extraction = state.get("extraction") or {}
    analysis = state.get("analysis") or {}
    thumbnail = state.get("thumbnail") or {}
    if state.get("failure"):
        error = error_from_failure(state["failure"])
        status = "skipped" if error["code"] == UnsupportedType.code else "failed"
    elif detection.get("kind") == "unsupported":
        mime_type = detection.get("mime_type", "unknown")
        error = {"code": UnsupportedType.code, "message": f"{mime_type} files are not processed; send a PDF or an image."}
        status = "skipped"
    else:
        error, status = None, "succeeded"
    return {
        "document_id": state["document_id"],
        "filename": state.get("filename"),
        "status": status,
        "mime_type": detection.get("mime_type"),
        "kind": detection.get("kind"),
        "size_bytes": detection.get("size_bytes"),
        "extension_mismatch": detection.get("extension_mismatch"),
        "page_count": extraction.get("page_count"),
        "word_count": extraction.get("word_count", analysis.get("word_count")),
        "char_count": extraction.get("char_count"),
        "keywords": analysis.get("keywords"),
        "sentiment": analysis.get("sentiment"),
        "reading_time_minutes": analysis.get("reading_time_minutes"),
        "text_key": extraction.get("text_key"),
        "thumbnail_key": thumbnail.get("thumbnail_key"),
        "thumbnail_width": thumbnail.get("width"),
        "thumbnail_height": thumbnail.get("height"),
        # Some of the document could not be read: a truncated image, unreadable pages.
        "partial": bool(thumbnail.get("partial") or extraction.get("pages_failed")),
        "error": error,
        "recorded_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
    }


def record_outcome(store: ObjectStore, state: dict[str, Any]) -> dict[str, Any]:
    outcome = decide_outcome(state)
    store.put_json(keys.result_key(outcome["document_id"]), outcome)
    return outcome
