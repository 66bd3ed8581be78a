"""The folder `docflow run` writes: report.json with local paths, thumbnails/ and text/."""

from __future__ import annotations

import json
from pathlib import Path

from docflow_cli.output import summary_table, write_outputs
from fakes import FakeS3


def entry(name: str, document_id: str, **fields) -> dict:
    return {"document_id": document_id, "filename": name, "status": "succeeded", "mime_type": "application/pdf",
            "kind": "pdf", "page_count": 1, "word_count": 2, "keywords": [{"word": "alpha", "count": 2}],
            "thumbnail": None, "text": f"documents/{document_id}/text.txt", "error": None, **fields}


def test_same_names_get_distinct_files_and_paths_are_relative(tmp_path):
    s3 = FakeS3({"documents/d1/text.txt": b"one", "documents/d2/text.txt": b"two",
                 "documents/d3/thumbnail.png": b"png"})
    report = {"summary": {}, "documents": [
        entry("a.pdf", "d1"), entry("sub/a.pdf", "d2"),
        entry("../pic.png", "d3", kind="image", text=None, thumbnail="documents/d3/thumbnail.png"),
        entry("a.pdf", "d4", status="failed", text=None, error={"code": "pdf_corrupt", "message": "m"}),
    ]}
    (tmp_path / "thumbnails").mkdir()
    (tmp_path / "thumbnails" / "stale.jpg").write_bytes(b"from an earlier run")
    written = write_outputs(s3, "bucket", report, tmp_path)
    paths = [(document["text"], document["thumbnail"]) for document in written["documents"]]
    assert paths == [("text/a.pdf.txt", None), ("text/sub/a.pdf.txt", None), (None, "thumbnails/pic.png.png"), (None, None)]
    assert (tmp_path / "text/sub/a.pdf.txt").read_bytes() == b"two"
    assert not (tmp_path / "thumbnails" / "stale.jpg").exists()
    assert json.loads((tmp_path / "report.json").read_text()) == written


def test_duplicate_names_are_numbered(tmp_path):
    s3 = FakeS3({"documents/d1/text.txt": b"1", "documents/d2/text.txt": b"2"})
    report = {"summary": {}, "documents": [entry("a.pdf", "d1"), entry("a.pdf", "d2")]}
    written = write_outputs(s3, "bucket", report, tmp_path)
    assert [document["text"] for document in written["documents"]] == ["text/a.pdf.txt", "text/a.pdf-2.txt"]
    assert (tmp_path / "text/a.pdf-2.txt").read_bytes() == b"2"


def test_the_summary_table_shows_each_document_and_the_totals():
    report = {
        "summary": {"total_documents": 2, "succeeded": 1, "failed": 1, "skipped": 0, "total_pages": 1, "total_words": 2},
        "documents": [entry("a.pdf", "d1"), entry("b.pdf", "d2", status="failed", page_count=None, word_count=None,
                                                  error={"code": "pdf_encrypted", "message": "needs a password"})],
    }
    table = summary_table(report)
    assert "keywords: alpha" in table
    assert "pdf_encrypted: needs a password" in table
    assert table.splitlines()[-1] == "2 documents: 1 succeeded, 1 failed, 0 skipped; 1 page, 2 words"
