"""report: combines a batch's document outcomes into one report.

The manifest (the batch's document list) and each document's outcome are read from S3;
the report goes back to S3. Nothing but the summary returns to the state machine."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from docflow import keys
from docflow.errors import DocflowError, DocumentNotFound
from docflow.storage import ObjectStore

MISSING_OUTCOME = {
    "code": DocflowError.code,
    "message": "Processing ended without a recorded outcome.",
}
TOP_KEYWORDS = 10
READERS = 32  # concurrent GETs: a 10,000-document batch is read in seconds, not minutes


@dataclass(frozen=True)
class ReportRef:
    report_key: str
    summary: dict

    def to_dict(self) -> dict:
        return asdict(self)


def _entry(listed: Mapping[str, str], outcome: Mapping[str, Any] | None) -> dict[str, Any]:
    outcome = outcome or {}
    return {
        "document_id": listed["document_id"],
        "filename": listed["filename"],
        "status": outcome.get("status", "failed"),
        "mime_type": outcome.get("mime_type"),
        "kind": outcome.get("kind"),
        "size_bytes": outcome.get("size_bytes"),
        "extension_mismatch": outcome.get("extension_mismatch"),
        "page_count": outcome.get("page_count"),
        "word_count": outcome.get("word_count"),
        "keywords": outcome.get("keywords"),
        "sentiment": outcome.get("sentiment"),
        "reading_time_minutes": outcome.get("reading_time_minutes"),
        "thumbnail": outcome.get("thumbnail_key"),
        "text": outcome.get("text_key"),
        "partial": outcome.get("partial", False),
        "error": outcome.get("error") if outcome else dict(MISSING_OUTCOME),
    }


def build_report(
    batch_id: str,
    manifest: list[Mapping[str, str]],
    outcomes: Mapping[str, Mapping[str, Any] | None],
    started_at: str | None,
    finished_at: str,
) -> dict[str, Any]:
    documents = [_entry(listed, outcomes.get(listed["document_id"])) for listed in manifest]
    statuses = Counter(document["status"] for document in documents)
    keywords: Counter[str] = Counter()
    for document in documents:
        for keyword in document["keywords"] or []:
            keywords[keyword["word"]] += keyword["count"]
    summary = {
        "total_documents": len(documents),
        "succeeded": statuses["succeeded"],
        "failed": statuses["failed"],
        "skipped": statuses["skipped"],
        "total_pages": sum(document["page_count"] or 0 for document in documents),
        "total_words": sum(document["word_count"] or 0 for document in documents),
        "started_at": started_at,
        "finished_at": finished_at,
        "by_kind": dict(Counter(document["kind"] or "unknown" for document in documents)),
        "errors_by_code": dict(Counter(document["error"]["code"] for document in documents if document["error"])),
        "top_keywords": [
            {"word": word, "count": count}
            for word, count in sorted(keywords.items(), key=lambda item: (-item[1], item[0]))[:TOP_KEYWORDS]
        ],
    }
    return {"batch_id": batch_id, "summary": summary, "documents": documents}


def read_outcomes(store: ObjectStore, document_ids: list[str]) -> dict[str, dict | None]:
    def read(document_id: str) -> tuple[str, dict | None]:
        try:
            return document_id, store.get_json(keys.result_key(document_id))
        except DocumentNotFound:
            return document_id, None

    with ThreadPoolExecutor(max_workers=READERS) as pool:
        return dict(pool.map(read, document_ids))


def write_batch_report(store: ObjectStore, batch_id: str, manifest_key: str, started_at: str | None) -> ReportRef:
    manifest = _unique(store.get_json(manifest_key))
    outcomes = read_outcomes(store, [listed["document_id"] for listed in manifest])
    finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report = build_report(batch_id, manifest, outcomes, started_at, finished_at)
    report_key = keys.report_key(batch_id)
    store.put_json(report_key, report)
    return ReportRef(report_key=report_key, summary=report["summary"])


def _unique(manifest: list[Mapping[str, str]]) -> list[Mapping[str, str]]:
    """A document listed twice is reported once, where it was first listed."""
    seen: set[str] = set()
    return [listed for listed in manifest if not (listed["document_id"] in seen or seen.add(listed["document_id"]))]
