"""Per-step speed on the shared corpus (skipped when it is absent).

The extraction benchmark also times pypdfium2 on the same files, with its word counts, so
the engine behind docflow.extraction.iter_page_texts can be chosen on figures."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from docflow.extraction import iter_page_texts
from docflow.thumbnails import render_thumbnail


def words_with_pypdf(paths: list[Path]) -> int:
    return sum(len((text or "").split()) for path in paths for text in iter_page_texts(path))


def words_with_pdfium(paths: list[Path]) -> int:
    pdfium = pytest.importorskip("pypdfium2")
    words = 0
    for path in paths:
        document = pdfium.PdfDocument(str(path))
        for page in document:
            words += len(page.get_textpage().get_text_bounded().split())
        document.close()
    return words


def test_extract_corpus_with_pypdf(benchmark, corpus_pdfs):
    words = benchmark.pedantic(words_with_pypdf, args=(corpus_pdfs,), rounds=1, iterations=1)
    benchmark.extra_info.update(documents=len(corpus_pdfs), words=words)
    assert words > 100_000


def test_extract_corpus_with_pdfium_for_comparison(benchmark, corpus_pdfs):
    words = benchmark.pedantic(words_with_pdfium, args=(corpus_pdfs,), rounds=3, iterations=1)
    benchmark.extra_info.update(documents=len(corpus_pdfs), words=words)
    assert words > 100_000


def test_thumbnail_corpus(benchmark, corpus_images):
    images = [path.read_bytes() for path in corpus_images]

    def thumbnail_all() -> int:
        return sum(len(render_thumbnail(io.BytesIO(data))[0]) for data in images)

    total = benchmark.pedantic(thumbnail_all, rounds=3, iterations=1)
    benchmark.extra_info.update(images=len(images), thumbnail_bytes=total)
    assert total > 0
