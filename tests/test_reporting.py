"""report: one entry per listed document, in manifest order, with totals; built from S3."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timezone

import pytest

from docflow import keys
from docflow.errors import TransientError
from docflow.reporting import MISSING_OUTCOME, READERS, TOP_KEYWORDS, build_report, write_batch_report
from fakes import MemoryObjectStore
from handlers import lambda_context, load_handler

STARTED, FINISHED = "2026-03-01T12:00:00+00:00", "2026-03-01T12:05:00+00:00"
ENTRY_FIELDS = {"document_id", "filename", "status", "mime_type", "kind", "size_bytes", "extension_mismatch",
                "page_count", "ocr_pages", "word_count", "language", "keywords", "sentiment", "reading_time_minutes", "thumbnail", "text",
                "partial", "partial_reason", "error"}


def listed(number: int) -> dict:
    return {"document_id": f"d{number}", "key": f"uploads/d{number}/f{number}.pdf", "filename": f"f{number}.pdf"}


def result(number: int, status: str = "succeeded", **fields) -> dict:
    """A result.json as the record step writes it."""
    return {
        "document_id": f"d{number}", "filename": f"f{number}.pdf", "status": status,
        "mime_type": "application/pdf", "kind": "pdf", "size_bytes": 100 * number, "extension_mismatch": False,
        "page_count": 2, "word_count": 10, "char_count": 60,
        "keywords": [{"word": "alpha", "count": number}], "sentiment": {"label": "neutral", "score": 0.0},
        "reading_time_minutes": 0.1, "thumbnail_key": None, "thumbnail_width": None, "thumbnail_height": None,
        "text_key": f"documents/d{number}/text.txt", "partial": False, "error": None,
        "recorded_at": "2026-03-01T12:01:00+00:00", **fields,
    }


def failed(number: int, code: str, status: str = "failed", **fields) -> dict:
    return result(number, status, page_count=None, word_count=None, keywords=None, sentiment=None,
                  reading_time_minutes=None, text_key=None, error={"code": code, "message": "m"}, **fields)


def skipped(number: int) -> dict:
    return failed(number, "unsupported_type", status="skipped", kind="unsupported", mime_type="text/plain")


def test_the_report_lists_every_document_in_manifest_order_with_totals():
    manifest = [listed(3), listed(1), listed(2), listed(4)]
    results = {
        "d1": result(1, page_count=3, word_count=100),
        "d2": failed(2, "pdf_encrypted"),
        "d3": skipped(3),
        "d4": result(4, kind="image", mime_type="image/png", page_count=None, word_count=None, keywords=None,
                     text_key=None, thumbnail_key="documents/d4/thumbnail.png"),
    }
    report = build_report("b1", manifest, results, STARTED, FINISHED)
    assert report["batch_id"] == "b1"
    assert [d["document_id"] for d in report["documents"]] == ["d3", "d1", "d2", "d4"]
    assert [d["filename"] for d in report["documents"]] == ["f3.pdf", "f1.pdf", "f2.pdf", "f4.pdf"]
    assert all(set(d) == ENTRY_FIELDS for d in report["documents"])
    assert report["summary"] == {
        "total_documents": 4, "succeeded": 2, "failed": 1, "skipped": 1,
        "total_pages": 3, "total_words": 100,
        "started_at": STARTED, "finished_at": FINISHED,
        "by_kind": {"unsupported": 1, "pdf": 2, "image": 1},
        "errors_by_code": {"unsupported_type": 1, "pdf_encrypted": 1},
        "top_keywords": [{"word": "alpha", "count": 1}],
    }
    d1, d4 = report["documents"][1], report["documents"][3]
    assert (d1["text"], d1["thumbnail"], d1["size_bytes"], d1["sentiment"]) == (
        "documents/d1/text.txt", None, 100, {"label": "neutral", "score": 0.0})
    assert (d4["text"], d4["thumbnail"]) == (None, "documents/d4/thumbnail.png")
    assert report["documents"][2]["error"] == {"code": "pdf_encrypted", "message": "m"}


def test_the_entries_carry_nothing_the_report_does_not_promise():
    entry = build_report("b", [listed(1)], {"d1": result(1)}, None, FINISHED)["documents"][0]
    assert "recorded_at" not in entry and "thumbnail_key" not in entry and "char_count" not in entry


@pytest.mark.parametrize("results", [{"d1": None}, {}], ids=["none", "absent"])
def test_a_document_without_an_outcome_is_reported_failed(results):
    report = build_report("b1", [listed(1)], results, None, FINISHED)
    document = report["documents"][0]
    assert (document["document_id"], document["filename"], document["status"]) == ("d1", "f1.pdf", "failed")
    assert document["error"] == {"code": "internal_error", "message": "Processing ended without a recorded outcome."}
    assert document["error"] == MISSING_OUTCOME
    assert report["summary"]["failed"] == 1 and report["summary"]["errors_by_code"] == {"internal_error": 1}
    assert report["summary"]["by_kind"] == {"unknown": 1}


def test_an_error_without_a_code_is_left_out_rather_than_breaking_the_summary():
    results = {"d1": result(1, "failed", error={"message": "m"}), "d2": result(2, "failed", error="pdf_corrupt")}
    report = build_report("b", [listed(1), listed(2)], results, None, FINISHED)
    assert [d["error"] for d in report["documents"]] == [None, None]
    assert report["summary"]["errors_by_code"] == {} and report["summary"]["failed"] == 2


@pytest.mark.parametrize("junk", [{"status": "done"}, {}, [], "succeeded"])
def test_an_unusable_outcome_counts_as_missing(junk):
    report = build_report("b1", [listed(1)], {"d1": junk}, None, FINISHED)
    assert report["documents"][0]["error"] == MISSING_OUTCOME
    assert report["summary"]["total_documents"] == report["summary"]["failed"] == 1


def test_the_counts_always_add_up():
    manifest = [listed(n) for n in range(30)]
    kinds = [result, lambda n: failed(n, "pdf_corrupt"), skipped, lambda n: None]
    results = {f"d{n}": kinds[n % 4](n) for n in range(30)}
    summary = build_report("b", manifest, results, None, FINISHED)["summary"]
    assert (summary["succeeded"], summary["failed"], summary["skipped"]) == (8, 15, 7)
    assert summary["succeeded"] + summary["failed"] + summary["skipped"] == summary["total_documents"] == 30
    assert sum(summary["by_kind"].values()) == 30
    assert summary["errors_by_code"] == {"pdf_corrupt": 8, "unsupported_type": 7, "internal_error": 7}


def test_the_top_keywords_are_summed_across_documents_and_cut_at_ten():
    words = [f"w{index:02}" for index in range(TOP_KEYWORDS + 3)]
    results = {
        # w10-w12 lead the batch though d2 alone ranks every word alike; w00 leads no single
        # document's list by much but comes fourth once summed.
        "d1": result(1, keywords=[{"word": word, "count": 1 + (index >= 10) * 5} for index, word in enumerate(words)]),
        "d2": result(2, keywords=[{"word": word, "count": 2} for word in words]),
        "d3": result(3, keywords=[{"word": "w00", "count": 4}]),
    }
    top = build_report("b", [listed(1), listed(2), listed(3)], results, None, FINISHED)["summary"]["top_keywords"]
    assert len(top) == TOP_KEYWORDS
    assert top[:4] == [{"word": "w10", "count": 8}, {"word": "w11", "count": 8}, {"word": "w12", "count": 8},
                       {"word": "w00", "count": 7}]
    # Ties are broken alphabetically, so the same batch always reports the same list.
    assert top[4:] == [{"word": f"w{index:02}", "count": 3} for index in range(1, 7)]


def test_totals_ignore_missing_and_odd_counts():
    results = {"d1": result(1, page_count=5, word_count=50), "d2": result(2, page_count=None, word_count=True),
               "d3": result(3, keywords=[{"word": "alpha"}, {"count": 4}, "beta", {"word": "gamma", "count": 2}])}
    summary = build_report("b", [listed(1), listed(2), listed(3)], results, None, FINISHED)["summary"]
    assert (summary["total_pages"], summary["total_words"]) == (7, 60)
    assert summary["top_keywords"] == [{"word": "alpha", "count": 3}, {"word": "gamma", "count": 2}]


def test_a_document_listed_twice_is_reported_once_where_first_listed():
    manifest = [listed(2), listed(1), {**listed(2), "filename": "again.pdf"}]
    report = build_report("b", manifest, {"d1": result(1), "d2": result(2)}, None, FINISHED)
    assert [(d["document_id"], d["filename"]) for d in report["documents"]] == [("d2", "f2.pdf"), ("d1", "f1.pdf")]
    assert report["summary"]["total_documents"] == 2


def test_the_report_is_written_and_only_the_summary_returned():
    store = MemoryObjectStore()
    store.put_json(keys.manifest_key("b"), [listed(1), listed(2), listed(1)])
    store.put_json(keys.result_key("d1"), result(1))
    store.put(keys.result_key("d2"), b'{"document_id": "d2", "sta', "application/json")  # a cut-off write
    now = datetime(2026, 3, 1, 12, 5, tzinfo=timezone.utc)
    reference = write_batch_report(store, "b", keys.manifest_key("b"), STARTED, now=now)
    assert reference.report_key == keys.report_key("b") == "batches/b/report.json"
    report = store.get_json(reference.report_key)
    assert reference.summary == report["summary"]
    assert set(reference.to_dict()) == {"report_key", "summary"}
    assert (report["summary"]["started_at"], report["summary"]["finished_at"]) == (STARTED, FINISHED)
    assert [(d["document_id"], d["status"]) for d in report["documents"]] == [("d1", "succeeded"), ("d2", "failed")]
    assert report["documents"][1]["error"] == MISSING_OUTCOME


def test_writing_again_replaces_the_report():
    store = MemoryObjectStore()
    store.put_json(keys.manifest_key("b"), [listed(1)])
    write_batch_report(store, "b", keys.manifest_key("b"), None)
    store.put_json(keys.result_key("d1"), result(1))
    write_batch_report(store, "b", keys.manifest_key("b"), None)
    assert store.get_json(keys.report_key("b"))["summary"]["succeeded"] == 1


def test_a_storage_failure_fails_the_report_rather_than_the_document():
    # Reporting d1 as failed because S3 was slow would be wrong; the state machine retries.
    class Flaky(MemoryObjectStore):
        def get_json(self, key):
            if key == keys.result_key("d1"):
                raise TransientError("Storage did not answer (SlowDown)")
            return super().get_json(key)

    store = Flaky()
    store.put_json(keys.manifest_key("b"), [listed(1)])
    with pytest.raises(TransientError):
        write_batch_report(store, "b", keys.manifest_key("b"), None)
    assert keys.report_key("b") not in store.objects


@pytest.mark.parametrize("manifest", [{"documents": []}, [{"key": "uploads/x"}], ["d1"]])
def test_a_manifest_that_is_no_list_of_documents_is_refused(manifest):
    store = MemoryObjectStore()
    store.put_json(keys.manifest_key("b"), manifest)
    with pytest.raises(ValueError):
        write_batch_report(store, "b", keys.manifest_key("b"), None)


class SlowStore(MemoryObjectStore):
    """S3 answers a GET in tens of milliseconds; this one takes 2 ms and counts how many
    reads are in flight at once."""

    def __init__(self):
        super().__init__()
        self._lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0

    def get_json(self, key):
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(0.002)
            return super().get_json(key)
        finally:
            with self._lock:
                self.in_flight -= 1


def test_ten_thousand_documents_are_reported_from_the_store():
    count = 10_000
    store = SlowStore()
    store.put_json(keys.manifest_key("big"), [listed(n) for n in range(count)])
    for number in range(count - 1):  # the last one never recorded an outcome
        store.put_json(keys.result_key(f"d{number}"), result(number))
    started = time.monotonic()
    reference = write_batch_report(store, "big", keys.manifest_key("big"), STARTED)
    elapsed = time.monotonic() - started
    # One read after another would take at least 20 s (10,000 x 2 ms).
    assert elapsed < 10, f"{elapsed:.1f} s"
    assert store.most_in_flight > READERS // 2
    report = store.get_json(reference.report_key)
    assert len(report["documents"]) == count
    assert [d["document_id"] for d in report["documents"][:3]] == ["d0", "d1", "d2"]
    assert report["documents"][-1]["error"] == MISSING_OUTCOME
    summary = reference.summary
    assert (summary["total_documents"], summary["succeeded"], summary["failed"]) == (count, count - 1, 1)
    assert summary["total_pages"] == 2 * (count - 1)
    assert summary["top_keywords"] == [{"word": "alpha", "count": sum(range(count - 1))}]
    assert len(json.dumps(reference.to_dict())) < 2000  # what returns to the state machine stays small


def test_the_handler(s3_store):
    s3_store.put_json(keys.manifest_key("b7"), [listed(1), listed(2), listed(3)])
    s3_store.put_json(keys.result_key("d1"), result(1))
    s3_store.put_json(keys.result_key("d3"), failed(3, "image_corrupt"))
    event = {"batch_id": "b7", "manifest_key": keys.manifest_key("b7"), "started_at": STARTED}
    returned = load_handler("report")(event, lambda_context())
    assert set(returned) == {"report_key", "summary"} and returned["report_key"] == keys.report_key("b7")
    summary = returned["summary"]
    assert (summary["total_documents"], summary["succeeded"], summary["failed"]) == (3, 1, 2)
    assert summary["errors_by_code"] == {"internal_error": 1, "image_corrupt": 1}
    assert summary["started_at"] == STARTED
    datetime.fromisoformat(summary["finished_at"])
    report = s3_store.get_json(keys.report_key("b7"))
    assert [d["document_id"] for d in report["documents"]] == ["d1", "d2", "d3"]
    assert report["summary"] == summary


def test_the_handler_refuses_a_bad_batch_id(s3_store):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        load_handler("report")({"batch_id": "../x", "manifest_key": "batches/x/manifest.json"}, lambda_context())
    assert not s3_store.client.list_objects_v2(Bucket=s3_store.bucket).get("Contents")
