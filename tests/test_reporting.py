"""report: one entry per listed document, in order, with totals; built from S3."""

from __future__ import annotations

import time

from docflow import keys
from docflow.reporting import MISSING_OUTCOME, build_report, write_batch_report
from fakes import MemoryObjectStore
from handlers import FakeContext, load_handler


def listed(number: int) -> dict:
    return {"document_id": f"d{number}", "key": f"uploads/d{number}/f{number}.pdf", "filename": f"f{number}.pdf"}


def outcome(number: int, status: str = "succeeded", **fields) -> dict:
    return {"document_id": f"d{number}", "status": status, "kind": "pdf", "page_count": 2, "word_count": 10,
            "keywords": [{"word": "alpha", "count": number}], "error": None, "text_key": f"documents/d{number}/text.txt",
            **fields}


def test_the_report_lists_every_document_in_manifest_order_with_totals():
    manifest = [listed(3), listed(1), listed(2)]
    outcomes = {
        "d1": outcome(1),
        "d2": outcome(2, "failed", page_count=None, word_count=None, error={"code": "pdf_encrypted", "message": "m"}),
        "d3": outcome(3, "skipped", kind="unsupported", page_count=None, word_count=None, keywords=None,
                      error={"code": "unsupported_type", "message": "m"}),
    }
    report = build_report("b1", manifest, outcomes, "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z")
    assert [d["document_id"] for d in report["documents"]] == ["d3", "d1", "d2"]
    summary = report["summary"]
    assert (summary["total_documents"], summary["succeeded"], summary["failed"], summary["skipped"]) == (3, 1, 1, 1)
    assert (summary["total_pages"], summary["total_words"]) == (2, 10)
    assert summary["errors_by_code"] == {"pdf_encrypted": 1, "unsupported_type": 1}
    assert summary["by_kind"] == {"unsupported": 1, "pdf": 2}
    assert summary["top_keywords"] == [{"word": "alpha", "count": 3}]
    assert report["documents"][1]["text"] == "documents/d1/text.txt"


def test_a_document_without_an_outcome_is_reported_failed():
    report = build_report("b1", [listed(1)], {"d1": None}, None, "now")
    assert report["documents"][0]["status"] == "failed"
    assert report["documents"][0]["error"] == MISSING_OUTCOME


def test_ten_thousand_documents_are_reported_from_the_store():
    count = 10_000
    store = MemoryObjectStore()
    store.put_json(keys.manifest_key("big"), [listed(n) for n in range(count)])
    for number in range(count - 1):  # the last one never recorded an outcome
        store.put_json(keys.result_key(f"d{number}"), outcome(number))
    started = time.monotonic()
    reference = write_batch_report(store, "big", keys.manifest_key("big"), "2026-01-01T00:00:00Z")
    assert time.monotonic() - started < 60
    report = store.get_json(reference.report_key)
    assert len(report["documents"]) == count
    assert (reference.summary["succeeded"], reference.summary["failed"]) == (count - 1, 1)
    assert len(str(reference.summary)) < 2000  # what returns to the state machine stays small


def test_a_document_listed_twice_is_reported_once():
    store = MemoryObjectStore()
    store.put_json(keys.manifest_key("b"), [listed(1), listed(1), listed(2)])
    store.put_json(keys.result_key("d1"), outcome(1))
    store.put_json(keys.result_key("d2"), outcome(2))
    reference = write_batch_report(store, "b", keys.manifest_key("b"), None)
    assert reference.summary["total_documents"] == 2


def test_the_handler(s3_store):
    s3_store.put_json(keys.manifest_key("b7"), [listed(1)])
    s3_store.put_json(keys.result_key("d1"), outcome(1))
    result = load_handler("report")({"batch_id": "b7", "manifest_key": keys.manifest_key("b7"), "started_at": "t0"}, FakeContext())
    assert result["report_key"] == keys.report_key("b7")
    assert result["summary"]["succeeded"] == 1 and "documents" not in result
