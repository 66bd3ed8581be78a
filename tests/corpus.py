"""The shared corpus of real documents (PDFs and images from Debian packages), found
beside the repository as ../shared/corpus or at $DOCFLOW_CORPUS; tests and benchmarks that
need it skip cleanly when it is absent."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DOCFLOW_CORPUS", REPO.parent / "shared" / "corpus"))


def corpus_files(kind: str) -> list[Path]:
    """The shared corpus's files of one kind ("pdf" or "images"), or none when absent."""
    manifest = CORPUS / "MANIFEST.json"
    if not manifest.exists():
        return []
    entries = json.loads(manifest.read_text())
    return [CORPUS / entry["file"] for entry in entries if entry["file"].startswith(f"{kind}/")]


@pytest.fixture
def corpus_pdfs() -> list[Path]:
    files = corpus_files("pdf")
    if not files:
        pytest.skip("the shared corpus is absent")
    return files


@pytest.fixture
def corpus_images() -> list[Path]:
    files = corpus_files("images")
    if not files:
        pytest.skip("the shared corpus is absent")
    return files
