"""The floor: docflow's per-document work and nothing else, on a process pool.

    python -m benchmarks.floor FOLDER [--processes 2]

Each file gets what docflow's document workflow gives it, through docflow's own plain
functions and with no S3, no Step Functions, no workers of the local cloud: its type from
its first 64 KiB (docflow.detection.detect, libmagic); a PDF's text page by page
(docflow.extraction: pdfium, and Tesseract for pages without a text layer) analysed by docflow.analysis.analyze_text; an image's thumbnail
(docflow.thumbnails.render_thumbnail). Files are found as `docflow run` finds them
(recursively, hidden ones left out) and handed to the pool largest first, so the figure is
close to the best 2 processes can do. The time runs from starting the pool (fresh
interpreters, "spawn") to the last result. Prints one JSON line:

    {"files": 61, "seconds": 3.1, "processes": 2, "succeeded": ..., ...}

Importable: `run(paths, processes=2)` returns that dict.
"""

from __future__ import annotations

import argparse
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


def _pdf_text(path: Path) -> tuple[int, int, str]:
    """(pages, words as extract counts them, the text as join stores it): every page's text
    layer, then the pages without one read by OCR."""
    from docflow.extraction import extract_text, read_pages_by_ocr
    from docflow.text import PAGE_SEPARATOR

    sink = io.StringIO()
    read = extract_text(path, sink)
    texts = sink.getvalue().split(PAGE_SEPARATOR)
    for number, page in zip(read.needs_ocr, read_pages_by_ocr(path, read.needs_ocr), strict=False):
        texts[number] = page.text or texts[number]
    words = sum(len(text.split()) for text in texts)
    return read.pages, words, PAGE_SEPARATOR.join(texts)


def process_file(item: tuple[str, str]) -> dict:
    """One document's work; returns its outcome and counts (runs in a pool process)."""
    path_text, name = item
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
            pages, words, text = _pdf_text(path)
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
    # Largest first: the long documents start at once and the short ones fill the gaps.
    items = [(str(path), name) for path, name in sorted(files, key=lambda f: -f[0].stat().st_size)]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        outcomes = list(pool.map(process_file, items, chunksize=1))
    seconds = time.perf_counter() - started
    statuses = Counter(outcome["status"] for outcome in outcomes)
    return {
        "files": len(outcomes),
        "seconds": round(seconds, 3),
        "processes": processes,
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
