"""report: combines a batch's document outcomes into one report.

The manifest (the batch's document list) and each document's outcome are read from S3;
the report goes back to S3. Nothing but the summary returns to the state machine, so a
10,000-document batch returns as little as a one-document one."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from docflow import keys
from docflow.errors import DocflowError, DocumentNotFound
from docflow.outcome import DocumentResult, ErrorInfo, failed_outcome, findings_of
from docflow.statuses import TERMINAL_STATUSES
from docflow.storage import ObjectStore

# A listed document with no result.json: its workflow failed in a way no Catch recorded
# (the record step itself failed, the execution was aborted or never started).
MISSING_OUTCOME: ErrorInfo = {
    "code": DocflowError.code,
    "message": "Processing ended without a recorded outcome.",
}
TOP_KEYWORDS = 10
# Concurrent GETs of result.json: one GET takes ~20 ms, so 10,000 take minutes one after
# another and seconds 32 at a time. The S3 client's connection pool must be as large.
READERS = 32


@dataclass(frozen=True)
class ReportRef:
    """What the report step returns: where the report is and its summary, never the
    documents, which could outgrow Step Functions' 256 KiB state."""

    report_key: str
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_report(
    batch_id: str,
    manifest: Sequence[Mapping[str, Any]],
    results: Mapping[str, DocumentResult | Mapping[str, Any] | None],
    started_at: str | None,
    finished_at: str,
) -> dict[str, Any]:
    """The report: one entry per listed document, in manifest order, and the summary. Pure.

    A document with no usable result counts as failed, so every listed document is
    accounted for and the counts always add up to total_documents."""
    documents = [_entry(listed, results.get(listed["document_id"]), finished_at) for listed in unique_entries(manifest)]
    statuses = Counter(document["status"] for document in documents)
    summary = {
        "total_documents": len(documents),
        "succeeded": statuses["succeeded"],
        "failed": statuses["failed"],
        "skipped": statuses["skipped"],
        "total_pages": sum(_count(document["page_count"]) for document in documents),
        "total_words": sum(_count(document["word_count"]) for document in documents),
        "started_at": started_at,
        "finished_at": finished_at,
        # A document that failed before its type was known is counted as "unknown", so the
        # kinds, like the statuses, add up to total_documents.
        "by_kind": dict(Counter(document["kind"] or "unknown" for document in documents)),
        "errors_by_code": dict(Counter(document["error"]["code"] for document in documents if document["error"])),
        "top_keywords": _top_keywords(document["keywords"] for document in documents),
    }
    return {"batch_id": batch_id, "summary": summary, "documents": documents}


def unique_entries(manifest: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The manifest's entries with each document once, where it was first listed. A manifest
    should never list a document twice; if one does, the report still counts it once."""
    seen: set[str] = set()
    entries = []
    for listed in manifest:
        if listed["document_id"] not in seen:
            seen.add(listed["document_id"])
            entries.append(listed)
    return entries


def _entry(listed: Mapping[str, Any], found: Mapping[str, Any] | None, finished_at: str) -> dict[str, Any]:
    result: Mapping[str, Any] = (
        found if _usable(found) else failed_outcome(listed["document_id"], None, MISSING_OUTCOME, finished_at)
    )
    return {
        "document_id": listed["document_id"],
        "filename": listed.get("filename") or result.get("filename"),
        "status": result["status"],
        **findings_of(result),
        "thumbnail": result.get("thumbnail_key"),
        "text": result.get("text_key"),
        "error": _error(result.get("error")),
    }


def _error(error: Any) -> dict[str, Any] | None:
    # errors_by_code counts codes, so an error without one would break the whole summary.
    return dict(error) if isinstance(error, Mapping) and isinstance(error.get("code"), str) else None


def _usable(result: object) -> TypeGuard[Mapping[str, Any]]:
    """A result the report can trust: a mapping with one of the three statuses."""
    return isinstance(result, Mapping) and result.get("status") in TERMINAL_STATUSES


def _count(value: Any) -> int:
    # bool is an int; a count never is one.
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _top_keywords(keyword_lists: Iterable[list[dict[str, Any]] | None]) -> list[dict[str, Any]]:
    """The most frequent keywords of the batch: each document's counts summed, ties broken
    alphabetically so the same batch always reports the same list."""
    totals: Counter[str] = Counter()
    for keywords in keyword_lists:
        for keyword in keywords or []:
            if isinstance(keyword, Mapping) and isinstance(keyword.get("word"), str):
                totals[keyword["word"]] += _count(keyword.get("count"))
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:TOP_KEYWORDS]
    return [{"word": word, "count": count} for word, count in ranked]


def read_results(store: ObjectStore, document_ids: Sequence[str]) -> dict[str, Any]:
    """Each document's result.json, READERS at a time; None where there is none.

    A transient storage failure propagates, so the state machine retries the whole report
    rather than reporting a document as failed that was not."""

    def read(document_id: str) -> tuple[str, Any]:
        try:
            return document_id, store.get_json(keys.result_key(document_id))
        except DocumentNotFound:
            return document_id, None
        except ValueError:  # not JSON: no outcome to trust, the same as none
            return document_id, None

    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="report-read") as pool:
        return dict(pool.map(read, document_ids))


def read_manifest(store: ObjectStore, manifest_key: str) -> list[Mapping[str, Any]]:
    manifest = store.get_json(manifest_key)
    if not isinstance(manifest, list) or not all(
        isinstance(listed, Mapping) and isinstance(listed.get("document_id"), str) for listed in manifest
    ):
        raise ValueError(f"{manifest_key} is not a list of documents")
    return unique_entries(manifest)


def write_batch_report(
    store: ObjectStore,
    batch_id: str,
    manifest_key: str,
    started_at: str | None,
    now: datetime | None = None,
) -> ReportRef:
    """Builds the batch's report from S3 and writes it to batches/<id>/report.json,
    replacing any earlier one."""
    manifest = read_manifest(store, manifest_key)
    results = read_results(store, [listed["document_id"] for listed in manifest])
    finished_at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    report = build_report(batch_id, manifest, results, started_at, finished_at)
    report_key = keys.report_key(batch_id)
    store.put_json(report_key, report)
    return ReportRef(report_key=report_key, summary=report["summary"])
