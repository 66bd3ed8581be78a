"""extract: the text of every page of a PDF, streamed from S3 and back to S3.

The PDF is downloaded to a temporary file (pypdf needs to seek), pages are read one at a
time and their text appended to another temporary file, which is uploaded beside the
document. Memory holds one page at a time, whatever the page count."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

from docflow import keys
from docflow.errors import PdfCorrupt, PdfEncrypted, PdfTooManyPages
from docflow.storage import ObjectStore

PAGE_SEPARATOR = "\f"  # as pdftotext separates pages
DEFAULT_MAX_PAGES = 20_000
# Time kept back from the function's limit to upload the text read so far and return.
DEFAULT_TIME_MARGIN_SECONDS = 15.0

# Three or more single letters, each followed by one space: "e x p a n d a f t e r".
_LETTER_SPACED = re.compile(r"(?<!\S)(?:[^\W\d_] ){2,}[^\W\d_](?!\S)")


@dataclass(frozen=True)
class Extraction:
    page_count: int
    word_count: int
    char_count: int
    pages_failed: int
    text_key: str
    # Pages not reached before the function's time ran out: the text holds the ones before.
    pages_unread: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def max_pages() -> int:
    return int(os.environ.get("DOCFLOW_MAX_PAGES", DEFAULT_MAX_PAGES))


def iter_page_texts(path: Path) -> Iterator[str | None]:
    """The text of each page in order; None for a page that could not be read.

    The one place that knows the text engine (pypdf, with fontTools for the fonts TeX
    embeds), so a faster engine can replace it here alone."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            # Owner-only encryption (an empty user password) restricts editing, not reading.
            try:
                opened = reader.decrypt("")
            except (FileNotDecryptedError, NotImplementedError, DependencyError) as error:
                raise PdfEncrypted(f"The PDF is encrypted in a way docflow cannot open ({error})") from error
            if not opened:
                raise PdfEncrypted("The PDF is protected by a password")
        declared = _declared_page_count(reader)
        if declared > max_pages():  # before pypdf walks a page tree that large
            raise PdfTooManyPages(f"The PDF has {declared:,} pages; the limit is {max_pages():,}")
        pages = reader.pages
        page_count = len(pages)
    except (PdfEncrypted, PdfTooManyPages):
        raise
    except FileNotDecryptedError as error:
        raise PdfEncrypted("The PDF is protected by a password") from error
    except DependencyError as error:  # AES, and no cryptography library to read it
        raise PdfEncrypted(f"The PDF is encrypted in a way docflow cannot open ({_describe(error)})") from error
    except NotImplementedError as error:
        # pypdf knows only the standard security handler: certificates, unknown versions.
        if "ncrypt" in str(error) or "handler" in str(error) or "SubFilter" in str(error):
            raise PdfEncrypted(f"The PDF is encrypted in a way docflow cannot open ({_describe(error)})") from error
        raise PdfCorrupt(f"The PDF uses a feature docflow cannot read: {_describe(error)}") from error
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError, OSError) as error:
        # PyPdfError covers PdfReadError and pypdf's own limits (page-tree depth and size).
        raise PdfCorrupt(f"The PDF cannot be read: {_describe(error)}") from error
    if page_count > max_pages():
        raise PdfTooManyPages(f"The PDF has {page_count:,} pages; the limit is {max_pages():,}")
    for number in range(page_count):
        try:
            yield join_letter_spacing(pages[number].extract_text() or "")
        except DependencyError as error:  # AES content and no cryptography library to read it
            raise PdfEncrypted(f"The PDF is encrypted in a way docflow cannot open ({error})") from error
        except RecursionError:
            yield None
        except Exception:  # one broken page must not sink the document; counted as failed
            yield None


def _declared_page_count(reader) -> int:
    """The page count the PDF's page tree declares (0 when it declares none readable)."""
    try:
        count = reader.root_object["/Pages"].get_object()["/Count"]
        return int(count) if isinstance(count, int) else 0
    except Exception:  # a broken tree is found, and named, when the pages are read
        return 0


def join_letter_spacing(text: str) -> str:
    """Rejoins words pypdf split letter by letter. TeX sets code listings one glyph at a
    time, and pypdf reads each glyph's offset as a space: on the corpus this tripled the
    word count of such pages. A run of three or more lone letters is one word."""
    return _LETTER_SPACED.sub(lambda match: match.group().replace(" ", ""), text)


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def time_margin() -> float:
    return float(os.environ.get("DOCFLOW_TIME_MARGIN_SECONDS", DEFAULT_TIME_MARGIN_SECONDS))


def page_count(pdf: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(pdf).pages)


def extract_text(pdf: Path, sink, out_of_time: Callable[[], bool] = lambda: False) -> tuple[int, int, int, int, bool]:
    """Writes the PDF's text to `sink` (a text stream); returns (pages read, words, chars,
    failed pages, whether it stopped early because `out_of_time()` said so)."""
    pages = words = chars = failed = 0
    for text in iter_page_texts(pdf):
        if pages and out_of_time():
            return pages, words, chars, failed, True
        if pages:
            sink.write(PAGE_SEPARATOR)
        pages += 1
        if text is None:
            failed += 1
            continue
        sink.write(text)
        words += len(text.split())
        chars += len(text)
    return pages, words, chars, failed, False


def extract_document(
    store: ObjectStore, document_id: str, key: str, remaining_seconds: Callable[[], float] | None = None
) -> Extraction:
    """Extracts every page it can before `remaining_seconds()` falls to the time margin;
    then it keeps what it has, so a huge PDF ends with a partial text, not a killed worker."""
    text_key = keys.text_key(document_id)
    margin = time_margin()
    out_of_time = (lambda: remaining_seconds() < margin) if remaining_seconds else (lambda: False)
    with tempfile.TemporaryDirectory(prefix="docflow-extract-") as workdir:
        pdf, text = Path(workdir) / "document.pdf", Path(workdir) / "text.txt"
        with pdf.open("wb") as sink:
            store.download(key, sink)
        with text.open("w", encoding="utf-8", errors="replace") as sink:
            pages, words, chars, failed, stopped = extract_text(pdf, sink, out_of_time)
        with text.open("rb") as source:
            store.upload(text_key, source, "text/plain; charset=utf-8")
        total = page_count(pdf) if stopped else pages
    return Extraction(
        page_count=total, word_count=words, char_count=chars, pages_failed=failed, text_key=text_key,
        pages_unread=total - pages,
    )  # fmt: skip
