"""Per-step speed on the shared corpus (skipped when it is absent).

The extraction benchmark times docflow.extraction.iter_page_texts as docflow runs it
(pypdf's checks, then pdfium in a forked child, every page normalised) and, for
comparison, the engine it replaced: pypdf's own extract_text on every page."""

from __future__ import annotations

import io
from pathlib import Path

from docflow.extraction import iter_page_texts
from docflow.text import join_letter_spacing
from docflow.thumbnails import render_thumbnail


def words_with_docflow(paths: list[Path]) -> int:
    return sum(len((text or "").split()) for path in paths for text in iter_page_texts(path))


def words_with_pypdf(paths: list[Path]) -> int:
    """The extraction docflow had before pdfium: pypdf reads every page."""
    from pypdf import PdfReader

    words = 0
    for path in paths:
        for page in PdfReader(path).pages:
            words += len(join_letter_spacing(page.extract_text() or "").split())
    return words


def test_extract_corpus(benchmark, corpus_pdfs):
    words = benchmark.pedantic(words_with_docflow, args=(corpus_pdfs,), rounds=3, iterations=1)
    benchmark.extra_info.update(documents=len(corpus_pdfs), words=words)
    assert words > 100_000


def test_extract_corpus_with_pypdf_for_comparison(benchmark, corpus_pdfs):
    words = benchmark.pedantic(words_with_pypdf, args=(corpus_pdfs,), rounds=1, iterations=1)
    benchmark.extra_info.update(documents=len(corpus_pdfs), words=words)
    assert words > 100_000


def test_thumbnail_corpus(benchmark, corpus_images):
    images = [path.read_bytes() for path in corpus_images]

    def thumbnail_all() -> int:
        return sum(len(render_thumbnail(io.BytesIO(data))[0]) for data in images)

    total = benchmark.pedantic(thumbnail_all, rounds=3, iterations=1)
    benchmark.extra_info.update(images=len(images), thumbnail_bytes=total)
    assert total > 0
