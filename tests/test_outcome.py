"""record: every path through the workflow ends as succeeded, skipped or failed with a code."""

from __future__ import annotations

import json

import pytest

from docflow import keys
from docflow.errors import ALL_ERRORS
from docflow.outcome import INTERNAL_ERROR_MESSAGE, decide_outcome, record_outcome
from fakes import MemoryObjectStore
from handlers import FakeContext, load_handler

BASE = {"document_id": "d1", "key": "uploads/d1/a.pdf", "filename": "a.pdf"}
PDF = {"mime_type": "application/pdf", "kind": "pdf", "size_bytes": 1000, "extension_mismatch": False}


def lambda_cause(error_type: str, message: str) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": ['  File "/var/task/app.py", line 3']})


def test_a_processed_pdf_succeeded_with_its_results():
    state = {
        **BASE,
        "detection": PDF,
        "extraction": {"page_count": 2, "word_count": 40, "char_count": 200, "pages_failed": 0, "text_key": "documents/d1/text.txt"},
        "analysis": {"keywords": [{"word": "x", "count": 2}], "sentiment": {"label": "neutral"}, "word_count": 38,
                     "unique_words": 20, "reading_time_minutes": 0.2},
    }
    outcome = decide_outcome(state)
    assert (outcome["status"], outcome["error"], outcome["page_count"], outcome["word_count"]) == ("succeeded", None, 2, 40)
    assert outcome["text_key"] == "documents/d1/text.txt" and outcome["thumbnail_key"] is None


def test_an_unsupported_type_is_skipped():
    outcome = decide_outcome({**BASE, "detection": {**PDF, "mime_type": "text/html", "kind": "unsupported"}})
    assert outcome["status"] == "skipped"
    assert outcome["error"]["code"] == "unsupported_type" and "text/html" in outcome["error"]["message"]


@pytest.mark.parametrize("error", ALL_ERRORS, ids=lambda cls: cls.__name__)
def test_each_docflow_error_keeps_its_code_and_message(error):
    outcome = decide_outcome({**BASE, "failure": {"Error": error.__name__, "Cause": lambda_cause(error.__name__, "what happened")}})
    assert outcome["error"] == {"code": error.code, "message": "what happened"}
    assert outcome["status"] == ("skipped" if error.code == "unsupported_type" else "failed")


@pytest.mark.parametrize("name", ["Sandbox.Timedout", "States.Timeout"])
def test_platform_timeouts_are_timeout(name):
    outcome = decide_outcome({**BASE, "failure": {"Error": name, "Cause": "Task timed out after 30.00 seconds"}})
    assert outcome["error"]["code"] == "timeout" and outcome["status"] == "failed"


@pytest.mark.parametrize("cause", [lambda_cause("KeyError", "'Body'"), "Traceback (most recent call last):\n  File", "", None])
def test_an_unexpected_error_is_internal_and_shows_no_internals(cause):
    outcome = decide_outcome({**BASE, "failure": {"Error": "KeyError", "Cause": cause}})
    assert outcome["error"] == {"code": "internal_error", "message": INTERNAL_ERROR_MESSAGE}


def test_a_docflow_error_without_a_readable_cause_gets_its_advice():
    outcome = decide_outcome({**BASE, "failure": {"Error": "PdfEncrypted", "Cause": "{not json"}})
    assert outcome["error"]["code"] == "pdf_encrypted" and outcome["error"]["message"] == "{not json"
    outcome = decide_outcome({**BASE, "failure": {"Error": "PdfEncrypted"}})
    assert outcome["error"]["message"] == "Remove the password and upload it again."


def test_recording_again_overwrites_the_same_object():
    store = MemoryObjectStore()
    record_outcome(store, {**BASE, "failure": {"Error": "TransientError", "Cause": ""}})
    record_outcome(store, {**BASE, "detection": PDF})
    assert list(store.objects) == [keys.result_key("d1")]
    assert store.get_json(keys.result_key("d1"))["status"] == "succeeded"


def test_the_handler_returns_only_a_summary(s3_store):
    state = {**BASE, "detection": PDF, "failure": {"Error": "PdfCorrupt", "Cause": lambda_cause("PdfCorrupt", "bad xref")}}
    assert load_handler("record")(state, FakeContext()) == {"document_id": "d1", "status": "failed", "error_code": "pdf_corrupt"}
    assert s3_store.get_json(keys.result_key("d1"))["error"] == {"code": "pdf_corrupt", "message": "bad xref"}
