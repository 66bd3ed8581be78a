"""record: every path through the workflow ends as succeeded, skipped or failed with a code,
and nothing internal (a stack trace, a platform's detail) reaches the outcome."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import get_type_hints

import pytest

from docflow import keys
from docflow.errors import ALL_ERRORS
from docflow.outcome import (
    INTERNAL_ERROR_MESSAGE,
    MAX_MESSAGE_LENGTH,
    TIMEOUT_MESSAGE,
    DocumentResult,
    decide_outcome,
    failed_outcome,
    record_outcome,
)
from fakes import MemoryObjectStore
from handlers import lambda_context, load_handler

NOW = datetime(2026, 3, 1, 12, 30, 5, tzinfo=timezone.utc)
BASE = {"document_id": "d1", "key": "uploads/d1/a.pdf", "filename": "a.pdf"}
PDF = {"mime_type": "application/pdf", "kind": "pdf", "size_bytes": 1000, "extension_mismatch": False}
PNG = {"mime_type": "image/png", "kind": "image", "size_bytes": 5000, "extension_mismatch": True}
EXTRACTION = {"page_count": 2, "word_count": 40, "char_count": 200, "pages_failed": 0, "ocr_pages": 1,
              "text_key": "documents/d1/text.txt"}
ANALYSIS = {
    "language": "en",
    "keywords": [{"word": "invoice", "count": 3}],
    "sentiment": {"label": "neutral", "score": 0.0},
    "word_count": 38,
    "unique_words": 20,
    "reading_time_minutes": 0.2,
}
THUMBNAIL = {"thumbnail_key": "documents/d1/thumbnail.png", "format": "png", "width": 300, "height": 150,
             "original_width": 1000, "original_height": 500}
STACK = 'Traceback (most recent call last):\n  File "/var/task/app.py", line 3, in handler\nKeyError: \'Body\''
TRACE_MARKS = ("Traceback", 'File "', "/var/task")


def lambda_cause(error_type: str, message: str) -> str:
    """A Cause as Lambda writes it for an exception a handler raised."""
    return json.dumps({"errorMessage": message, "errorType": error_type,
                       "stackTrace": ['  File "/var/task/app.py", line 3, in handler\n']})


def failed_with(error: str, cause: object = "", **state) -> DocumentResult:
    return decide_outcome({**BASE, **state, "failure": {"Error": error, "Cause": cause}}, NOW)


def assert_nothing_internal(outcome: DocumentResult) -> None:
    text = json.dumps(outcome)
    assert not any(mark in text for mark in TRACE_MARKS), text


def test_a_processed_pdf_succeeded_with_its_results():
    outcome = decide_outcome({**BASE, "detection": PDF, "extraction": EXTRACTION, "analysis": ANALYSIS}, NOW)
    assert outcome == {
        "document_id": "d1", "filename": "a.pdf", "status": "succeeded",
        "mime_type": "application/pdf", "kind": "pdf", "size_bytes": 1000, "extension_mismatch": False,
        "page_count": 2, "ocr_pages": 1, "word_count": 40, "char_count": 200,  # extraction's count, as in text.txt
        "language": "en", "keywords": ANALYSIS["keywords"], "sentiment": ANALYSIS["sentiment"],
        "reading_time_minutes": 0.2,
        "thumbnail_key": None, "thumbnail_width": None, "thumbnail_height": None,
        "text_key": "documents/d1/text.txt", "partial": False, "partial_reason": None, "error": None,
        "recorded_at": "2026-03-01T12:30:05+00:00",
    }


def test_every_field_is_present_whatever_ran():
    fields = set(get_type_hints(DocumentResult))
    for state in ({**BASE}, {**BASE, "detection": PNG, "thumbnail": THUMBNAIL}, {**BASE, "failure": {"Error": "X"}}):
        assert set(decide_outcome(state, NOW)) == fields


def test_a_thumbnailed_image_succeeded_with_its_thumbnail():
    outcome = decide_outcome({**BASE, "filename": "a.jpg", "detection": PNG, "thumbnail": THUMBNAIL}, NOW)
    assert (outcome["status"], outcome["error"], outcome["kind"], outcome["extension_mismatch"]) == (
        "succeeded", None, "image", True)
    assert (outcome["thumbnail_key"], outcome["thumbnail_width"], outcome["thumbnail_height"]) == (
        "documents/d1/thumbnail.png", 300, 150)
    assert outcome["page_count"] is None and outcome["word_count"] is None and outcome["text_key"] is None


def test_without_analysis_the_word_count_is_extractions():
    outcome = decide_outcome({**BASE, "detection": PDF, "extraction": EXTRACTION}, NOW)
    assert outcome["word_count"] == 40


def test_without_an_extraction_count_the_word_count_is_analysiss():
    extraction = {key: value for key, value in EXTRACTION.items() if key != "word_count"}
    outcome = decide_outcome({**BASE, "detection": PDF, "extraction": extraction, "analysis": ANALYSIS}, NOW)
    assert outcome["word_count"] == 38


def test_an_extraction_that_counted_no_words_is_not_overridden():
    outcome = decide_outcome({**BASE, "detection": PDF, "extraction": {**EXTRACTION, "word_count": 0},
                              "analysis": ANALYSIS}, NOW)
    assert outcome["word_count"] == 0


@pytest.mark.parametrize(("thumbnail", "extraction", "partial", "reason"), [
    ({**THUMBNAIL, "partial": True}, None, True, None),
    (None, {**EXTRACTION, "pages_failed": 1, "partial_reason": "1 page of 2 could not be read."}, True,
     "1 page of 2 could not be read."),
    (None, EXTRACTION, False, None),
])
def test_partly_read_documents_are_marked_partial_with_the_reason_their_text_gives(
    thumbnail, extraction, partial, reason
):
    state = {**BASE, "detection": PDF, **({"thumbnail": thumbnail} if thumbnail else {}),
             **({"extraction": extraction} if extraction else {})}
    outcome = decide_outcome(state, NOW)
    assert (outcome["partial"], outcome["partial_reason"]) == (partial, reason)


def test_an_unsupported_type_is_skipped_with_a_message_naming_it():
    outcome = decide_outcome({**BASE, "detection": {**PDF, "mime_type": "text/html", "kind": "unsupported"}}, NOW)
    assert outcome["status"] == "skipped"
    assert outcome["error"] == {"code": "unsupported_type",
                                "message": "text/html files are not processed; send a PDF or an image"}


@pytest.mark.parametrize("error", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_each_docflow_error_keeps_its_code_and_message(error):
    outcome = failed_with(error.__name__, lambda_cause(error.__name__, "what happened"), detection=PDF)
    assert outcome["error"] == {"code": error.code, "message": "what happened"}
    assert outcome["status"] == ("skipped" if error.code == "unsupported_type" else "failed")
    assert_nothing_internal(outcome)


@pytest.mark.parametrize(("name", "code"), [
    ("EmptyFile", "empty_file"), ("UnsupportedType", "unsupported_type"), ("FileTooLarge", "file_too_large"),
    ("DocumentNotFound", "not_found"), ("PdfEncrypted", "pdf_encrypted"), ("PdfCorrupt", "pdf_corrupt"),
    ("PdfTooManyPages", "pdf_too_many_pages"), ("ImageCorrupt", "image_corrupt"),
    ("ImageTooLarge", "image_too_large"), ("TransientError", "service_unavailable"), ("Timeout", "timeout"),
])
def test_the_codes_users_see_are_stable(name, code):
    # Spelled out rather than read from the classes, so a renamed code fails here.
    assert failed_with(name, lambda_cause(name, "m"))["error"]["code"] == code


@pytest.mark.parametrize("name", ["Sandbox.Timedout", "States.Timeout"])
def test_platform_timeouts_are_timeout_with_a_human_message(name):
    cause = lambda_cause(name, "2026-03-01T12:30:05.000Z 1a2b3c4d Task timed out after 30.00 seconds")
    outcome = failed_with(name, cause, detection=PDF)
    assert outcome["status"] == "failed"
    assert outcome["error"] == {"code": "timeout", "message": TIMEOUT_MESSAGE}
    assert "1a2b3c4d" not in json.dumps(outcome)


@pytest.mark.parametrize("name", ["States.TaskFailed", "Lambda.ServiceException", "Runtime.ExitError",
                                  "KeyError", "ValidationError", "", None])
@pytest.mark.parametrize("cause", [
    lambda_cause("KeyError", STACK),
    STACK,
    # No stack trace, but still internals: an unexpected error's own message is never shown.
    lambda_cause("KeyError", "'Body'"),
    lambda_cause("ClientError", "An error occurred (AccessDenied) when calling the GetObject operation"),
    "Task timed out",
    "",
    None,
])
def test_an_unexpected_error_is_internal_and_shows_no_internals(name, cause):
    outcome = decide_outcome({**BASE, "failure": {"Error": name, "Cause": cause}}, NOW)
    assert outcome["status"] == "failed"
    assert outcome["error"] == {"code": "internal_error", "message": INTERNAL_ERROR_MESSAGE}
    assert "Traceback" not in outcome["error"]["message"] and 'File "' not in outcome["error"]["message"]
    assert_nothing_internal(outcome)


@pytest.mark.parametrize("cause", [
    lambda_cause("PdfCorrupt", STACK),  # our error, yet its message is a stack trace
    STACK,  # plain text that is a stack trace
    lambda_cause("PdfCorrupt", "x" * 10)[:30],  # cut off by Step Functions' 32 KiB limit
    "{not json",
    json.dumps(["errorMessage", "m"]),
    json.dumps({"errorType": "PdfCorrupt"}),  # no errorMessage
    json.dumps({"errorMessage": 42}),
    json.dumps({"errorMessage": "   "}),
    "", "   ", None, 7,
])
def test_a_docflow_error_without_a_message_fit_to_show_gets_its_advice(cause):
    outcome = failed_with("PdfCorrupt", cause)
    assert outcome["error"] == {"code": "pdf_corrupt", "message": "Re-export or repair the PDF and upload it again."}
    assert_nothing_internal(outcome)


def test_a_failure_without_a_cause_still_has_its_code():
    outcome = decide_outcome({**BASE, "failure": {"Error": "PdfEncrypted"}}, NOW)
    assert outcome["error"] == {"code": "pdf_encrypted", "message": "Remove the password and upload it again."}


def test_a_plain_text_cause_is_the_message_on_one_line():
    assert failed_with("ImageCorrupt", "image file is\n truncated")["error"]["message"] == "image file is truncated"


def test_a_long_message_is_cut():
    message = failed_with("PdfCorrupt", lambda_cause("PdfCorrupt", "word " * 1000))["error"]["message"]
    assert len(message) == MAX_MESSAGE_LENGTH and message.endswith("…")


def test_a_failure_wins_over_what_detection_found():
    outcome = failed_with("Sandbox.Timedout", detection={**PDF, "kind": "unsupported"})
    assert (outcome["status"], outcome["error"]["code"]) == ("failed", "timeout")


@pytest.mark.parametrize("junk", [None, [], "text", 3])
def test_odd_step_results_do_not_stop_the_record(junk):
    # Record has no Catch: if it raised, the document would have no outcome at all.
    state = {**BASE, "detection": junk, "extraction": junk, "analysis": junk, "thumbnail": junk, "failure": junk}
    outcome = decide_outcome(state, NOW)
    assert outcome["status"] == "succeeded" and outcome["kind"] is None


def test_recorded_at_is_utc():
    local = datetime(2026, 3, 1, 14, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert decide_outcome(BASE, local)["recorded_at"] == "2026-03-01T12:30:05+00:00"
    assert decide_outcome(BASE, datetime(2026, 3, 1, 12, 30, 5))["recorded_at"] == "2026-03-01T12:30:05+00:00"


def test_recording_again_overwrites_the_same_object():
    store = MemoryObjectStore()
    first = record_outcome(store, {**BASE, "failure": {"Error": "TransientError", "Cause": ""}}, NOW)
    assert store.get_json(keys.result_key("d1")) == first
    second = record_outcome(store, {**BASE, "detection": PDF}, NOW + timedelta(minutes=1))
    assert list(store.objects) == [keys.result_key("d1")]
    assert store.get_json(keys.result_key("d1")) == second
    assert second["status"] == "succeeded" and second["recorded_at"] == "2026-03-01T12:31:05+00:00"
    assert store.content_types[keys.result_key("d1")] == "application/json"


def test_recording_the_same_state_twice_gives_the_same_outcome():
    store = MemoryObjectStore()
    state = {**BASE, "detection": PDF, "extraction": EXTRACTION, "analysis": ANALYSIS}
    record_outcome(store, state, NOW)
    written = dict(store.objects)
    record_outcome(store, state, NOW)
    assert store.objects == written


def test_the_handler_returns_only_a_summary(s3_store):
    state = {**BASE, "batch_id": "b1", "detection": PDF,
             "failure": {"Error": "PdfCorrupt", "Cause": lambda_cause("PdfCorrupt", "bad xref")}}
    result = load_handler("record")(state, lambda_context())
    assert result == {"document_id": "d1", "status": "failed", "error_code": "pdf_corrupt"}
    recorded = s3_store.get_json(keys.result_key("d1"))
    assert recorded["error"] == {"code": "pdf_corrupt", "message": "bad xref"}
    assert recorded["mime_type"] == "application/pdf"


def test_the_handler_records_success_and_skips(s3_store):
    handler = load_handler("record")
    succeeded = handler({**BASE, "detection": PDF, "extraction": EXTRACTION, "analysis": ANALYSIS}, lambda_context())
    assert succeeded == {"document_id": "d1", "status": "succeeded", "error_code": None}
    assert s3_store.get_json(keys.result_key("d1"))["keywords"] == ANALYSIS["keywords"]
    skipped = handler({**BASE, "document_id": "d2", "detection": {**PDF, "kind": "unsupported"}}, lambda_context())
    assert skipped == {"document_id": "d2", "status": "skipped", "error_code": "unsupported_type"}


def test_the_handler_counts_failures_by_code(s3_store, capsys):
    state = {**BASE, "failure": {"Error": "PdfEncrypted", "Cause": lambda_cause("PdfEncrypted", "locked")}}
    load_handler("record")(state, lambda_context())
    out = capsys.readouterr().out
    metrics = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    (failed,) = [m for m in metrics if "DocumentsFailed" in m]
    assert failed["DocumentsFailed"] in (1, [1]) and failed["error_code"] == "pdf_encrypted"
    (by_kind,) = [m for m in metrics if "DocumentsByKind" in m]
    assert by_kind["kind"] == "unknown" and "error_code" not in by_kind  # detect never ran
    assert "Traceback" not in out


def test_a_failure_outside_the_workflow_has_every_field_and_keeps_what_was_found():
    error = {"code": "timeout", "message": "Processing did not finish."}
    found = decide_outcome({**BASE, "detection": PDF, "extraction": EXTRACTION}, NOW)
    outcome = failed_outcome("d1", None, error, "2026-03-02T00:00:00+00:00", known=found)
    assert set(outcome) == set(get_type_hints(DocumentResult))
    assert outcome["status"] == "failed" and outcome["error"] == error
    assert outcome["page_count"] == 2 and outcome["filename"] == "a.pdf"
    assert outcome["recorded_at"] == "2026-03-02T00:00:00+00:00"
    bare = failed_outcome("d2", "b.png", error, "2026-03-02T00:00:00+00:00")
    assert bare["filename"] == "b.png" and bare["kind"] is None and bare["partial"] is False


def test_a_pdfs_thumbnail_is_the_preview_extract_made():
    preview = {"thumbnail_key": "documents/d1/thumbnail.jpg", "width": 212, "height": 300}
    outcome = decide_outcome({**BASE, "detection": PDF, "extraction": {**EXTRACTION, "preview": preview}}, NOW)
    assert (outcome["thumbnail_key"], outcome["thumbnail_width"], outcome["thumbnail_height"]) == (
        "documents/d1/thumbnail.jpg", 212, 300,
    )
