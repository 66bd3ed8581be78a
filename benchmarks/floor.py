"""The floor: docflow's per-document work and nothing else, on a process pool.

    python -m benchmarks.floor FOLDER [--processes 2]

Each file gets what docflow's document workflow gives it, through docflow's own plain
functions and with no S3, no Step Functions, no workers of the local cloud: its type from
its first 64 KiB (docflow.detection.detect, libmagic); a PDF's text page by page
(docflow.extraction.iter_page_texts once that reads with pdfium, pypdfium2 directly until
then) analysed by docflow.analysis.analyze_text; an image's thumbnail
(docflow.thumbnails.render_thumbnail). Files are found as `docflow run` finds them
(recursively, hidden ones left out) and handed to the pool largest first, so the figure is
close to the best 2 processes can do. The time runs from starting the pool (fresh
interpreters, "spawn") to the last result. Prints one JSON line:

    {"files": 61, "seconds": 3.1, "processes": 2, "engine": "...", "succeeded": ..., ...}

Importable: `run(paths, processes=2)` returns that dict.
"""

from __future__ import annotations

import argparse
import inspect
import io
import json
import multiprocessing
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def collect_files(folder: Path) -> list[tuple[Path, str]]:
    """(path, name) of every file below `folder`, hidden ones left out, as `docflow run`
    names them; a file given alone is itself."""
    folder = Path(folder)
    if folder.is_file():
        return [(folder, folder.name)]
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        if not any(part.startswith(".") for part in relative.parts):
            found.append((path, relative.as_posix()))
    return found


def extraction_engine() -> str:
    """Which text engine the floor uses: docflow's own iter_page_texts once it reads with
    pdfium (the engine docflow is moving to), pypdfium2 called directly until then."""
    from docflow import extraction

    if "pypdfium2" in inspect.getsource(extraction):
        return "docflow.extraction.iter_page_texts (pdfium)"
    return "pypdfium2 (direct)"


def _page_texts_pdfium(path: Path):
    """The text of each page, as docflow would take it with pdfium: None for a page that
    cannot be read; docflow's errors for a protected, broken or too long document."""
    import pypdfium2 as pdfium

    from docflow.errors import PdfCorrupt, PdfEncrypted, PdfTooManyPages
    from docflow.extraction import max_pages

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise PdfEncrypted("The PDF is protected by a password") from error
        raise PdfCorrupt(f"The PDF cannot be read: {error}") from error
    try:
        count = len(document)
        if count > max_pages():
            raise PdfTooManyPages(f"The PDF has {count:,} pages; the limit is {max_pages():,}")
        for number in range(count):
            try:
                page = document[number]
                textpage = page.get_textpage()
                text = textpage.get_text_bounded()
                textpage.close()
                page.close()
            except Exception:  # one broken page does not sink the document
                text = None
            yield text
    finally:
        document.close()


def _pdf_text(path: Path, use_docflow: bool) -> tuple[int, int, str]:
    """(pages, words as extract counts them, the text as extract stores it)."""
    from docflow.extraction import PAGE_SEPARATOR, iter_page_texts

    texts = list(iter_page_texts(path) if use_docflow else _page_texts_pdfium(path))
    words = sum(len(text.split()) for text in texts if text)
    return len(texts), words, PAGE_SEPARATOR.join(text or "" for text in texts)


def process_file(item: tuple[str, str, bool]) -> dict:
    """One document's work; returns its outcome and counts (runs in a pool process)."""
    path_text, name, use_docflow = item
    path = Path(path_text)
    from docflow.analysis import analyze_text
    from docflow.detection import HEAD_BYTES, detect
    from docflow.errors import DocflowError
    from docflow.thumbnails import render_thumbnail

    started = time.perf_counter()
    outcome = {"file": name, "status": "succeeded", "kind": None, "pages": 0, "words": 0, "error": None}
    try:
        with path.open("rb") as source:
            head = source.read(HEAD_BYTES)
        detection = detect(head, path.stat().st_size, name)
        outcome["kind"] = detection.kind
        if detection.kind == "pdf":
            pages, words, text = _pdf_text(path, use_docflow)
            # analyze reads the stored text line by line; the same lines here.
            analyze_text(io.StringIO(text))
            outcome.update(pages=pages, words=words)
        elif detection.kind == "image":
            with path.open("rb") as source:
                render_thumbnail(source)
        else:
            outcome.update(status="skipped", error="unsupported_type")
    except DocflowError as error:
        outcome.update(status="failed", error=error.code)
    except Exception:  # docflow records anything else as internal_error
        outcome.update(status="failed", error="internal_error")
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def run(folder: Path, processes: int = 2) -> dict:
    """Processes every file below `folder` on `processes` fresh processes; the summary."""
    files = collect_files(Path(folder))
    engine = extraction_engine()
    use_docflow = engine.startswith("docflow")
    # Largest first: the long documents start at once and the short ones fill the gaps.
    items = [(str(path), name, use_docflow) for path, name in sorted(files, key=lambda f: -f[0].stat().st_size)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        outcomes = list(pool.map(process_file, items, chunksize=1))
    seconds = time.perf_counter() - started
    statuses = Counter(outcome["status"] for outcome in outcomes)
    return {
        "files": len(outcomes),
        "seconds": round(seconds, 3),
        "processes": processes,
        "engine": engine,
        "succeeded": statuses["succeeded"],
        "failed": statuses["failed"],
        "skipped": statuses["skipped"],
        "pages": sum(outcome["pages"] for outcome in outcomes),
        "words": sum(outcome["words"] for outcome in outcomes),
        "errors_by_code": dict(Counter(outcome["error"] for outcome in outcomes if outcome["error"])),
        # The work itself, summed over documents: seconds * processes minus this is idle time.
        "document_seconds": round(sum(outcome["seconds"] for outcome in outcomes), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.floor", description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--processes", type=int, default=2)
    arguments = parser.parse_args(argv)
    if not arguments.folder.exists():
        parser.error(f"{arguments.folder}: no such file or folder")
    print(json.dumps(run(arguments.folder, arguments.processes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
