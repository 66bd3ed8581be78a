"""ocr and join: a PDF's pages without a text layer, read by OCR in parts side by side, then
put into its text in page order.

OCR takes a second or more a page, so a long scan cannot be read within one function's
time. extract writes every page's text layer and the plan of the pages that need OCR
(docflow.ocr.OcrPlan); the document workflow's Map runs the ocr step on each part at once,
each writing its pages' text beside the document; join then streams the text layer and puts
each part's pages into it. The state carries the number of parts, never pages or text."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from docflow import keys
from docflow.extraction import read_pages_by_ocr
from docflow.ocr import OcrPlan
from docflow.settings import DEFAULTS, Settings
from docflow.storage import ObjectStore
from docflow.text import PAGE_SEPARATOR, Extraction, iter_pages, partial_reason


@dataclass(frozen=True)
class PartRead:
    """What the ocr step read of its part: pages read, pages that failed, pages not reached."""

    read: int
    failed: int
    unread: int

    def to_dict(self) -> dict:
        return {"read": self.read, "failed": self.failed, "unread": self.unread}


def read_ocr_part(
    store: ObjectStore,
    document_id: str,
    key: str,
    part: int,
    remaining_seconds: Callable[[], float] | None = None,
    settings: Settings = DEFAULTS,
    started_at: datetime | None = None,
) -> PartRead:
    """Reads the pages of part `part` of the document's plan by OCR until
    `remaining_seconds()` falls to the time margin or the document's OCR deadline passes
    (DOCFLOW_OCR_DEADLINE_SECONDS after its workflow `started_at`), and writes their text
    beside the document as {"pages": {page number: text, or null for a page that failed}}:
    a page not reached is not there. Where parts outnumber the functions that can run at
    once, the late ones read little or nothing, and the document ends `partial` in time
    rather than `timeout`."""
    numbers = OcrPlan.load(store, document_id).part(part)
    margin = settings.time_margin_seconds
    deadline = started_at.timestamp() + settings.ocr_deadline_seconds if started_at else float("inf")

    def out_of_time() -> bool:
        return time.time() > deadline or (remaining_seconds is not None and remaining_seconds() < margin)

    texts: dict[str, str | None] = {}
    with tempfile.TemporaryDirectory(prefix="docflow-ocr-") as workdir:
        pdf = Path(workdir) / "document.pdf"
        with pdf.open("wb") as sink:
            store.download(key, sink)
        pages = read_pages_by_ocr(pdf, numbers, out_of_time, settings)
        for number, page in zip(numbers, pages, strict=False):
            texts[str(number)] = page.text
    store.put_json(keys.ocr_part_key(document_id, part), {"pages": texts})
    failed = sum(text is None for text in texts.values())
    return PartRead(read=len(texts) - failed, failed=failed, unread=len(numbers) - len(texts))


def join_ocr_parts(
    store: ObjectStore, document_id: str, extraction: Extraction, settings: Settings = DEFAULTS
) -> Extraction:
    """Puts the text the ocr step read into the document's text, in page order, and counts
    it again. A page OCR could not read keeps its text layer and counts as failed; one it
    did not reach in time, as unread. Running it again gives the same text and counts."""
    plan = OcrPlan.load(store, document_id)
    read_by_ocr = _ocr_texts(store, document_id, plan)
    words = chars = ocr_pages = ocr_failed = ocr_unread = 0
    with tempfile.TemporaryDirectory(prefix="docflow-join-") as workdir:
        layer, joined = Path(workdir) / "layer.txt", Path(workdir) / "text.txt"
        with layer.open("wb") as sink:
            store.download(extraction.text_key, sink)
        with (
            layer.open(encoding="utf-8", errors="replace", newline="") as source,
            joined.open("w", encoding="utf-8", newline="") as sink,
        ):
            next_ocr = next(read_by_ocr, None)
            for number, text in enumerate(iter_pages(source)):
                if next_ocr is not None and next_ocr[0] == number:
                    found, ocr_text = next_ocr[1], next_ocr[2]
                    if not found:
                        ocr_unread += 1
                    elif ocr_text is None:
                        ocr_failed += 1
                    else:
                        ocr_pages += 1
                        text = ocr_text
                    next_ocr = next(read_by_ocr, None)
                if number:
                    sink.write(PAGE_SEPARATOR)
                sink.write(text)
                words += len(text.split())
                chars += len(text)
        with joined.open("rb") as source:
            store.upload(extraction.text_key, source, "text/plain; charset=utf-8")
    failed, unread = extraction.pages_failed + ocr_failed, extraction.pages_unread + ocr_unread
    return replace(
        extraction,
        word_count=words,
        char_count=chars,
        pages_failed=failed,
        pages_unread=unread,
        ocr_pages=ocr_pages,
        partial_reason=partial_reason(
            extraction.page_count, failed, unread, extraction.ocr_pages_over_limit, settings.max_ocr_pages
        ),
    )


def _ocr_texts(store: ObjectStore, document_id: str, plan: OcrPlan) -> Iterator[tuple[int, bool, str | None]]:
    """(page number, whether its part reached it, its text) for each page of the plan, in
    order, one part in memory at a time."""
    for part in range(plan.parts):
        texts = store.get_json(keys.ocr_part_key(document_id, part))["pages"]
        for number in plan.part(part):
            yield number, str(number) in texts, texts.get(str(number))
