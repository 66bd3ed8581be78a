"""Turns a batch report from S3 into a folder: report.json, thumbnails/ and text/."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

OWNED_FOLDERS = ("thumbnails", "text")


def _local_name(filename: str, suffix: str, taken: set[str]) -> str:
    """thumbnails/<name as given><suffix>, folders kept, made unique within the batch."""
    parts = [part for part in PurePosixPath(filename).parts if part not in ("", ".", "..", "/")]
    candidate = "/".join(parts or ["document"]) + suffix
    stem, number = candidate, 2
    while candidate in taken:
        candidate = f"{stem.removesuffix(suffix)}-{number}{suffix}"
        number += 1
    taken.add(candidate)
    return candidate


def write_outputs(s3: Any, bucket: str, report: dict, out_dir: Path) -> dict:
    """Downloads each document's thumbnail and text beside report.json, with the report's
    S3 keys replaced by paths relative to `out_dir`. Returns the report as written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for folder in OWNED_FOLDERS:  # a previous run's files would mix with this one's
        shutil.rmtree(out_dir / folder, ignore_errors=True)
    downloads: list[tuple[str, Path]] = []
    taken: set[str] = set()
    for document in report["documents"]:
        for field, folder in (("thumbnail", "thumbnails"), ("text", "text")):
            key = document.get(field)
            if not key:
                continue
            suffix = ".txt" if field == "text" else PurePosixPath(key).suffix
            relative = f"{folder}/{_local_name(document['filename'], suffix, taken)}"
            downloads.append((key, out_dir / relative))
            document[field] = relative

    def download(item: tuple[str, Path]) -> None:
        key, path = item
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(path))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(download, downloads))
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return report


def summary_table(report: dict) -> str:
    """One line per document, then the totals, sized to the content."""
    rows = [("FILE", "STATUS", "TYPE", "PAGES", "WORDS", "DETAIL")]
    for document in report["documents"]:
        error = document.get("error")
        if error:
            detail = f"{error['code']}: {error['message']}"
        elif document.get("keywords"):
            language = f"[{document['language']}] " if document.get("language") else ""
            detail = language + "keywords: " + ", ".join(item["word"] for item in document["keywords"][:5])
        elif document.get("thumbnail"):
            detail = f"thumbnail: {document['thumbnail']}"
        else:
            detail = ""
        if document.get("partial"):
            detail = f"(partial) {detail}"
        if document.get("extension_mismatch"):
            detail = f"(name says otherwise) {detail}"
        rows.append(
            (
                document["filename"],
                document["status"],
                document.get("mime_type") or "-",
                "-" if document.get("page_count") is None else str(document["page_count"]),
                "-" if document.get("word_count") is None else str(document["word_count"]),
                detail,
            )
        )
    widths = [min(40, max(len(row[column]) for row in rows)) for column in range(5)]
    lines = []
    for row in rows:
        cells = [_fit(row[column], widths[column]).ljust(widths[column]) for column in range(5)]
        lines.append("  ".join([*cells, _fit(row[5], 70)]).rstrip())
    summary = report["summary"]
    lines.append("")
    lines.append(
        f"{_count(summary['total_documents'], 'document')}: {summary['succeeded']} succeeded, "
        f"{summary['failed']} failed, {summary['skipped']} skipped; {_count(summary['total_pages'], 'page')}, "
        f"{_count(summary['total_words'], 'word')}"
    )
    return "\n".join(lines)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
