"""extract: the text of every page of a PDF, streamed from S3 and back to S3.

The PDF is downloaded to a temporary file, pages are read one at a time and their text
appended to another temporary file, which is uploaded beside the document. Memory holds
one page at a time, whatever the page count.

Two engines share the work. pypdf checks the document before anything parses its pages
(encryption, the declared page count, the page tree: cycles, depth, size) and reads the
rare page pdfium cannot load. pdfium (pypdfium2) reads every other page's text, more
faithfully and over ten times faster. pdfium is native code: a crafted file can crash or
hang it, so it runs in a forked child process, one per document, which sends each page's
text back through a pipe. A child killed by a signal ends the document as PdfCorrupt; a
child still busy when the time runs out is killed and the pages read so far are kept."""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import os
import signal
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from docflow import keys
from docflow.errors import DocflowError, OcrUnavailable, PdfCorrupt, PdfEncrypted, PdfTooManyPages, Timeout, error_class
from docflow.isolation import die_with
from docflow.ocr import MAX_OCR_PIXELS, OCR_DPI, OcrPlan, PageReader, page_reader
from docflow.settings import DEFAULTS, Settings
from docflow.storage import ObjectStore
from docflow.text import PAGE_SEPARATOR, Extraction, join_letter_spacing, normalize_text, partial_reason

# How often a wait for the reader's next page looks at the clock and the child's health.
_POLL_SECONDS = 0.25


# ---------------------------------------------------------------------------------------
# Reading the pages


class Page(NamedTuple):
    """A page's text, normalised, or None when it could not be read; whether OCR read it;
    and whether it should be (its text layer is empty but it draws an image, or
    DOCFLOW_OCR=force), which the ocr step does in parts (docflow.ocr_parts)."""

    text: str | None
    ocr: bool = False
    needs_ocr: bool = False


class _OutOfTime(Exception):
    """The reader's child was still working when the time ran out; it has been stopped."""


def iter_page_texts(path: Path, settings: Settings = DEFAULTS) -> Iterator[str | None]:
    """The text layer of each page in order, normalised; None for a page that could not be read."""
    for page in _pages(path, None, settings):
        yield page.text


def read_pages_by_ocr(
    pdf: Path, numbers: Sequence[int], out_of_time: Callable[[], bool] = lambda: False, settings: Settings = DEFAULTS
) -> Iterator[Page]:
    """The pages `numbers` (0-based, ascending) read by OCR, in order, until `out_of_time()`
    turns true: the reader is stopped then, and the pages after it are not yielded."""
    pages = _pages(pdf, out_of_time, settings, numbers=numbers, by_ocr=True)
    try:
        for page in pages:
            yield page
            if out_of_time():
                return
    except _OutOfTime:
        return
    finally:
        pages.close()


def _pages(
    path: Path,
    out_of_time: Callable[[], bool] | None,
    settings: Settings,
    *,
    preview: Path | None = None,
    numbers: Sequence[int] | None = None,
    by_ocr: bool = False,
) -> Generator[Page]:
    """Pages `numbers` (every page when None), read in a child process: their text layers,
    or with `by_ocr` their pictures by OCR. The one place that knows the text engines
    (pdfium, then pypdf, and Tesseract), so another can replace them here alone."""
    reader, count, encrypted = _checked_reader(path, settings.max_pages)
    numbers = range(count) if numbers is None else numbers
    if numbers:
        _warm_pdfium()
        if by_ocr:
            _warm_ocr(settings.ocr_languages)
        options = _ReadOptions("" if encrypted else None, settings.ocr, settings.ocr_languages, by_ocr, preview)
        yield from _forked_pages(path, reader, numbers, options, out_of_time)


class _ReadOptions(NamedTuple):
    password: str | None
    ocr: str  # settings.OCR_MODES: which pages need OCR
    ocr_languages: str
    by_ocr: bool  # read each page by OCR, not by its text layer
    # Where the child writes the first page's preview, after every page's text; or None.
    preview: Path | None = None


@functools.cache
def _warm_pdfium() -> None:
    """Loads pdfium and reads one page of a PDF made here, once per process, before the
    first fork: each child then starts with pdfium and its built-in fonts ready instead of
    setting them up again (2 to 3 ms a document). Only this trusted file is read here."""
    import pypdfium2 as pdfium

    content = b"BT /F1 12 Tf 10 10 Td (warm) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf, offsets = b"%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(
        b"%010d 00000 n \n" % at for at in offsets
    )
    pdf += xref + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, len(pdf))
    document = pdfium.PdfDocument(pdf)
    page = document[0]
    page.get_textpage().get_text_range()
    page.close()
    document.close()


def _warm_ocr(languages: str) -> None:
    """Loads the OCR engine (about a second for seven languages) in this process, once,
    before the first fork. Without its data, a page that needs OCR fails in the child and
    says so; a PDF with text needs none."""
    with contextlib.suppress(OcrUnavailable):
        page_reader(languages).load()


def _checked_reader(path: Path, max_pages: int):
    """pypdf's checks before any page is parsed: (reader, page count, whether encrypted)."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    try:
        reader = PdfReader(path)
        encrypted = reader.is_encrypted
        if encrypted:
            # Owner-only encryption (an empty user password) restricts editing, not reading.
            try:
                opened = reader.decrypt("")
            except (FileNotDecryptedError, NotImplementedError, DependencyError) as error:
                raise PdfEncrypted(f"The PDF is encrypted in a way docflow cannot open ({error})") from error
            if not opened:
                raise PdfEncrypted("The PDF is protected by a password")
        declared = _declared_page_count(reader)
        if declared > max_pages:  # before pypdf walks a page tree that large
            raise PdfTooManyPages(f"The PDF has {declared:,} pages; the limit is {max_pages:,}")
        page_count = len(reader.pages)
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
    if page_count > max_pages:
        raise PdfTooManyPages(f"The PDF has {page_count:,} pages; the limit is {max_pages:,}")
    return reader, page_count, encrypted


def _read_pages(path: Path, reader, numbers: Sequence[int], options: _ReadOptions) -> Iterator[Page]:
    """The work of the child: each of the pages `numbers`, read by pdfium, or by pypdf when
    pdfium cannot load it (or the document), or by OCR (options.by_ocr); Page(None) when
    none can."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path), password=options.password)
        readable = len(document)
    except pdfium.PdfiumError:
        document, readable = None, 0
    ocr = page_reader(options.ocr_languages) if options.by_ocr else None
    for number in numbers:
        text, needs_ocr = None, False
        if number < readable:
            try:
                page = document[number]
            except Exception:  # pdfium could not load this page: pypdf may
                page = None
            if page is not None:
                try:
                    if ocr is not None:
                        text = _read_by_ocr(page, ocr)
                    else:
                        text = _text_layer(page)
                        needs_ocr = options.ocr == "force" or (
                            options.ocr == "auto" and not text.strip() and _has_image(page)
                        )
                except OcrUnavailable:
                    raise
                except Exception:  # a failed page: the text is partial
                    text = None
                finally:
                    page.close()
        if text is None and ocr is None:
            text = _read_page_with_pypdf(reader, number)
        yield Page(None if text is None else normalize_text(text), ocr is not None, needs_ocr)
    # No close: the child exits at once, and the OS frees what pdfium held.


def _text_layer(page) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_range()
    finally:
        textpage.close()


def _write_preview(path: Path, options: _ReadOptions) -> bool:
    """Renders the first page, longest side PREVIEW_SIDE pixels, as a JPEG at
    options.preview (written whole or not at all). False when it cannot be rendered."""
    import pypdfium2 as pdfium

    from docflow.thumbnails import JPEG_QUALITY
    from docflow.thumbnails import MAX_SIDE as PREVIEW_SIDE

    assert options.preview is not None
    try:
        document = pdfium.PdfDocument(str(path), password=options.password)
        page = document[0]
        width, height = page.get_size()
        image = page.render(scale=PREVIEW_SIDE / max(width, height, 1)).to_pil().convert("RGB")
        partial = options.preview.with_suffix(".partial")
        image.save(partial, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        partial.rename(options.preview)
        return True
    except Exception:
        return False


def _has_image(page) -> bool:
    """Whether the page draws an image (a scan, a photo): a page without one and without
    text is blank, or drawn in lines, and OCR would read nothing there but take seconds."""
    import pypdfium2.raw as pdfium_c

    return next(iter(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE])), None) is not None


def _read_by_ocr(page, reader: PageReader) -> str:
    """The page rendered in gray at OCR_DPI (less for a page so large that it would pass
    MAX_OCR_PIXELS) and read by OCR."""
    width, height = page.get_size()  # in points, 72 to the inch
    scale = min(OCR_DPI / 72, math.sqrt(MAX_OCR_PIXELS / max(width * height, 1)))
    bitmap = page.render(scale=scale, grayscale=True)
    return reader.read(bytes(bitmap.buffer), bitmap.width, bitmap.height, bitmap.n_channels, bitmap.stride)


def _read_page_with_pypdf(reader, number: int) -> str | None:
    from pypdf.errors import DependencyError

    try:
        return join_letter_spacing(reader.pages[number].extract_text() or "")
    except DependencyError as error:  # AES content and no cryptography library to read it
        raise PdfEncrypted(f"The PDF is encrypted in a way docflow cannot open ({error})") from error
    except RecursionError:
        return None
    except Exception:  # one broken page must not sink the document; counted as failed
        return None


def _forked_pages(
    path: Path, reader, numbers: Sequence[int], options: _ReadOptions, out_of_time: Callable[[], bool] | None
) -> Iterator[Page]:
    """Runs _read_pages in a forked child and yields what it sends. A pipe, not a queue: a
    queue needs /dev/shm, which Lambda lacks. While it waits for a page it checks, every
    _POLL_SECONDS, that the child lives and that `out_of_time()` is not yet true."""
    from multiprocessing import Pipe

    _reap_exited()
    receiver, sender = Pipe(duplex=False)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        gc.disable()  # short-lived: no collections writing to (and copying) the parent's pages
        die_with(parent)
        receiver.close()
        _child(sender, path, reader, numbers, options)
    sender.close()
    reaped, status = False, None  # whether the child has been waited for, and its status
    complete = False
    try:
        for _ in numbers:
            while not receiver.poll(_POLL_SECONDS):
                done, wait_status = _wait(pid, os.WNOHANG)
                if done:
                    reaped, status = True, wait_status
                    if not receiver.poll(0):
                        raise _ended(status)
                    break
                if out_of_time is not None and out_of_time():
                    raise _OutOfTime
            try:
                message = receiver.recv_bytes()
            except EOFError:
                if not reaped:
                    reaped, status = True, _wait(pid, 0)[1]
                raise _ended(status) from None
            kind, body = message[:1], message[1:]
            if kind in _PAGE_KINDS:
                yield Page(body.decode("utf-8"), *_PAGE_KINDS[kind])
            elif kind == b"N":
                yield Page(None)
            else:  # b"E": a docflow error, by class name, and its message
                name, _, text = body.decode("utf-8").partition("\n")
                raise (error_class(name) or PdfCorrupt)(text)
        if options.preview is not None and not reaped:
            # The preview's message (b"P" written, b"X" not); a child that dies or runs out
            # of time instead leaves the document without a preview, not failed.
            with contextlib.suppress(EOFError, OSError):
                while not receiver.poll(_POLL_SECONDS):
                    done, wait_status = _wait(pid, os.WNOHANG)
                    if done:
                        reaped, status = True, wait_status
                        break
                    if out_of_time is not None and out_of_time():
                        break
                else:
                    receiver.recv_bytes()
        complete = True
    finally:
        receiver.close()
        if not reaped and complete:
            # It sent every page and is exiting: reap it now if it is gone, else later,
            # rather than wait here for the system to tear it down.
            if _wait(pid, os.WNOHANG)[0] == 0:
                _EXITING.append(pid)
        elif not reaped:  # stopped early or interrupted: end it now
            _kill(pid)


# Children that sent every page and were still exiting when their document was done;
# the next document reaps them (and ends any that has not managed to exit by then).
_EXITING: list[int] = []


def _reap_exited() -> None:
    while _EXITING:
        pid = _EXITING.pop()
        if _wait(pid, os.WNOHANG)[0] == 0:
            _kill(pid)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait(pid, 0)


def _wait(pid: int, options: int) -> tuple[int, int | None]:
    """os.waitpid, for a child someone else may have reaped already (a process that
    ignores SIGCHLD has its children reaped by the kernel): then (pid, None)."""
    try:
        return os.waitpid(pid, options)
    except ChildProcessError:
        return pid, None


# The child's message for a page with text, by (read by OCR, needs OCR); b"N" is a page
# without, b"E" an error, b"P" and b"X" the preview written or not.
_PAGE_KINDS = {b"T": (False, False), b"O": (True, False), b"Q": (False, True)}
_KIND_OF_PAGE = {flags: kind for kind, flags in _PAGE_KINDS.items()}


def _child(sender, path: Path, reader, numbers: Sequence[int], options: _ReadOptions) -> None:
    code = 1
    try:
        try:
            for page in _read_pages(path, reader, numbers, options):
                if page.text is None:
                    sender.send_bytes(b"N")
                else:
                    sender.send_bytes(_KIND_OF_PAGE[page.ocr, page.needs_ocr] + page.text.encode("utf-8"))
            if options.preview is not None:
                # Last, so that a page that crashes pdfium's renderer costs the preview alone.
                sender.send_bytes(b"P" if _write_preview(path, options) else b"X")
            code = 0
        except DocflowError as error:
            sender.send_bytes(b"E" + f"{type(error).__name__}\n{error.message}".encode("utf-8", "replace"))
        except BaseException as error:
            message = f"PdfCorrupt\nThe PDF cannot be read: {_describe(error)}"
            sender.send_bytes(b"E" + message.encode("utf-8", "replace"))
    except BaseException:
        pass
    finally:
        os._exit(code)  # no cleanup of the parent's state: it is the parent's


def _ended(status: int | None) -> PdfCorrupt:
    """The error for a child that ended before sending every page."""
    if status is None:
        return PdfCorrupt("The PDF cannot be read: the reader stopped before its end")
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return PdfCorrupt(f"The PDF cannot be read: the PDF crashed the reader ({name})")
    return PdfCorrupt(f"The PDF cannot be read: the reader stopped (exit status {os.waitstatus_to_exitcode(status)})")


def _declared_page_count(reader) -> int:
    """The page count the PDF's page tree declares (0 when it declares none readable)."""
    try:
        count = reader.root_object["/Pages"].get_object()["/Count"]
        return int(count) if isinstance(count, int) else 0
    except Exception:  # a broken tree is found, and named, when the pages are read
        return 0


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def page_count(pdf: Path) -> int:
    """The page count pypdf's walk of the page tree finds, as extraction iterates it."""
    from pypdf import PdfReader

    return len(PdfReader(pdf).pages)


@dataclass
class TextRead:
    """What extract_text read: pages, words and characters, failed pages, the pages that
    need OCR (0-based), and whether it stopped early because `out_of_time()` said so."""

    pages: int = 0
    words: int = 0
    chars: int = 0
    failed: int = 0
    needs_ocr: list[int] = field(default_factory=list)
    stopped: bool = False


def extract_text(
    pdf: Path,
    sink,
    out_of_time: Callable[[], bool] = lambda: False,
    settings: Settings = DEFAULTS,
    preview: Path | None = None,
) -> TextRead:
    """Writes the text layer of the PDF's pages to `sink` (a text stream), and the first
    page's preview to `preview` when given. A reader still busy on a page when
    `out_of_time()` turns true is stopped; if it had not sent the first page yet, that is a
    Timeout."""
    read = TextRead()
    pages = _pages(pdf, out_of_time, settings, preview=preview)
    try:
        for page in pages:
            if read.pages and out_of_time():
                read.stopped = True
                return read
            if read.pages:
                sink.write(PAGE_SEPARATOR)
            if page.needs_ocr:
                read.needs_ocr.append(read.pages)
            read.pages += 1
            if page.text is None:
                read.failed += 1
                continue
            sink.write(page.text)
            read.words += len(page.text.split())
            read.chars += len(page.text)
    except _OutOfTime:
        if not read.pages:
            raise Timeout("The time ran out before the PDF's first page was read") from None
        read.stopped = True
    finally:
        pages.close()  # stops the reader's child if it is still running
    return read


def extract_document(
    store: ObjectStore,
    document_id: str,
    key: str,
    remaining_seconds: Callable[[], float] | None = None,
    settings: Settings = DEFAULTS,
) -> Extraction:
    """Writes the text layer of every page it can read before `remaining_seconds()` falls
    to the time margin (then it keeps what it has, so a huge PDF ends with a partial text,
    not a killed worker), the first page's preview, and the plan of the pages the ocr step
    is to read, at most DOCFLOW_MAX_OCR_PAGES of them."""
    text_key = keys.text_key(document_id)
    margin = settings.time_margin_seconds
    out_of_time = (lambda: remaining_seconds() < margin) if remaining_seconds else (lambda: False)
    with tempfile.TemporaryDirectory(prefix="docflow-extract-") as workdir:
        pdf, text, preview = (Path(workdir) / name for name in ("document.pdf", "text.txt", "preview.jpg"))
        with pdf.open("wb") as sink:
            store.download(key, sink)
        with text.open("w", encoding="utf-8", errors="replace") as sink:
            read = extract_text(pdf, sink, out_of_time, settings, preview)
        with text.open("rb") as source:
            store.upload(text_key, source, "text/plain; charset=utf-8")
        preview_found = _upload_preview(store, document_id, preview) if preview.exists() else None
        total = page_count(pdf) if read.stopped else read.pages
    plan = OcrPlan.of(read.needs_ocr[: settings.max_ocr_pages])
    if plan.parts:
        plan.save(store, document_id)
    over_limit = len(read.needs_ocr) - len(plan.pages)
    return Extraction(
        page_count=total, word_count=read.words, char_count=read.chars, pages_failed=read.failed, text_key=text_key,
        pages_unread=total - read.pages, ocr_parts=plan.parts, ocr_pages_over_limit=over_limit, preview=preview_found,
        partial_reason=partial_reason(total, read.failed, total - read.pages, over_limit, settings.max_ocr_pages),
    )  # fmt: skip


def _upload_preview(store: ObjectStore, document_id: str, preview: Path) -> dict:
    from PIL import Image

    with Image.open(preview) as image:
        width, height = image.size
    thumbnail_key = keys.thumbnail_key(document_id, "jpg")
    store.put(thumbnail_key, preview.read_bytes(), "image/jpeg")
    return {"thumbnail_key": thumbnail_key, "width": width, "height": height}
