"""OCR: the text of a scanned PDF page or an image, read by Tesseract (tesserocr).

Why Tesseract: measured here on 200 dpi scans and phone-style photos of letters in English,
German and French, it found 99 to 100% of the words at 0.6 to 1.4 s a page, and nothing
on pictures without text; its library (Apache-2.0) ships inside tesserocr's wheel (MIT) and
the seven languages' data (tessdata_fast, Apache-2.0, from Debian's tesseract-ocr-* packages)
add 20 MB, so the extract and thumbnail bundles stay far under Lambda's limit. RapidOCR read as well on
clean pages but ran words together, took 5 to 9 s a page and would need 294 MB.

Its data is found in the bundle (tessdata/ beside docflow/, put there by infra/bundles.py)
or where Debian installs it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from docflow import keys
from docflow.errors import OcrUnavailable
from docflow.storage import ObjectStore

# What Tesseract reads best at: a scan's usual resolution, and the one measured above.
OCR_DPI = 200
# A page rendered larger than this (a poster, a map) is rendered smaller instead: an A4 page
# at 200 dpi is 3.9 million pixels; 25 million, in gray, take 25 MB.
MAX_OCR_PIXELS = 25_000_000
# Words Tesseract is less sure of are mostly shapes, lines and noise read as letters.
MIN_WORD_CONFIDENCE = 60
TESSDATA_DIRS = (
    Path(__file__).resolve().parent.parent / "tessdata",  # in a Lambda bundle
    Path("/usr/share/tesseract-ocr/5/tessdata"),
    Path("/usr/share/tesseract-ocr/4.00/tessdata"),
)
# OCR takes a second or more a page, so a PDF's pages are read in parts, side by side: this
# many pages a part (10 s or so), and the parts as many as it takes, up to MAX_PARTS, which
# the document workflow's OCR Map runs all at once (its MaxConcurrency): one ocr step's
# time in all.
PAGES_PER_PART = 5
MAX_PARTS = 40
# A hyphen at a line's end between two letters: marked as pdfium marks one, a soft hyphen,
# so that extraction.normalize_text joins the word by its one rule ("imple-" "mentation").
_LINE_END_HYPHEN = re.compile(r"(?<=[^\W\d_])-\n(?=[^\W\d_])")


def tessdata_dir(languages: str) -> Path:
    """The first folder that holds every language's data."""
    names = [f"{language}.traineddata" for language in languages.split("+")]
    for folder in TESSDATA_DIRS:
        if all((folder / name).is_file() for name in names):
            return folder
    raise OcrUnavailable(f"No OCR data for {languages} in {', '.join(map(str, TESSDATA_DIRS))}")


@dataclass
class PageReader:
    """One Tesseract engine, made on first use (it takes about a second to load seven
    languages) and kept for every page after it."""

    languages: str

    @cached_property
    def _api(self) -> Any:
        import tesserocr

        api = tesserocr.PyTessBaseAPI(path=f"{tessdata_dir(self.languages)}/", lang=self.languages)
        # Sauvola's binarisation: uneven light (a photo, a yellowed scan) no longer drops
        # whole lines, as Otsu's, the default, did on the photos measured.
        api.SetVariable("thresholding_method", "2")
        return api

    def load(self) -> None:
        """Loads the engine now rather than at the first page."""
        self._api  # noqa: B018

    def read(self, pixels: bytes, width: int, height: int, bytes_per_pixel: int, stride: int) -> str:
        """The text of an image given as raw pixels (8-bit gray, RGB or RGBA rows), for
        extraction.normalize_text to normalise."""
        from tesserocr import RIL, iterate_level

        api = self._api
        api.SetImageBytes(pixels, width, height, bytes_per_pixel, stride)
        api.Recognize()
        lines: list[list[str]] = []
        iterator = api.GetIterator()
        for word in iterate_level(iterator, RIL.WORD) if iterator else ():
            if word.IsAtBeginningOf(RIL.TEXTLINE) or not lines:
                lines.append([])
            text = _text_of(word, RIL.WORD)
            if text and word.Confidence(RIL.WORD) >= MIN_WORD_CONFIDENCE:
                lines[-1].append(text)
        text = "\n".join(" ".join(line) for line in lines).strip()
        return _LINE_END_HYPHEN.sub("\u00ad\n", text)

    def read_image(self, image: Any) -> str:
        """The text of a Pillow image."""
        gray = image.convert("L")
        return self.read(gray.tobytes(), gray.width, gray.height, 1, gray.width)


@cache
def page_reader(languages: str) -> PageReader:
    """This process's engine for `languages`: a process that forks a reader per document
    loads it once, before the first fork, and every child starts with it ready."""
    return PageReader(languages)


def _text_of(word: Any, level: Any) -> str:
    try:
        return (word.GetUTF8Text(level) or "").strip()
    except RuntimeError:  # tesserocr's answer for an element with no text
        return ""


@dataclass(frozen=True)
class OcrPlan:
    """The pages of a PDF (0-based, ascending) that the ocr step reads, in `parts` parts of
    consecutive pages. Stored beside the document: the workflow's state carries only the
    number of parts, whatever the number of pages."""

    pages: tuple[int, ...]
    parts: int

    @classmethod
    def of(cls, pages: list[int] | tuple[int, ...]) -> OcrPlan:
        """PAGES_PER_PART pages a part, or as many more as keep the parts to MAX_PARTS."""
        parts = min(MAX_PARTS, math.ceil(len(pages) / PAGES_PER_PART))
        size = math.ceil(len(pages) / parts) if parts else 0
        return cls(tuple(pages), math.ceil(len(pages) / size) if size else 0)  # no part left empty

    def part(self, number: int) -> tuple[int, ...]:
        """The pages of part `number` (0-based); the parts are as even as they can be."""
        size = math.ceil(len(self.pages) / self.parts) if self.parts else 0
        return self.pages[number * size : (number + 1) * size]

    def save(self, store: ObjectStore, document_id: str) -> None:
        store.put_json(keys.ocr_plan_key(document_id), {"pages": list(self.pages), "parts": self.parts})

    @classmethod
    def load(cls, store: ObjectStore, document_id: str) -> OcrPlan:
        saved = store.get_json(keys.ocr_plan_key(document_id))
        return cls(tuple(saved["pages"]), int(saved["parts"]))
