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
import re
import signal
import tempfile
import unicodedata
from collections.abc import Callable, Generator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from docflow import keys
from docflow.errors import DocflowError, OcrUnavailable, PdfCorrupt, PdfEncrypted, PdfTooManyPages, Timeout, error_class
from docflow.ocr import MAX_OCR_PIXELS, OCR_DPI, PageReader, page_reader
from docflow.settings import DEFAULTS, Settings
from docflow.storage import ObjectStore
from docflow.thumbnails import JPEG_QUALITY
from docflow.thumbnails import MAX_SIDE as PREVIEW_SIDE

PAGE_SEPARATOR = "\f"  # as pdftotext separates pages
# How often a wait for the reader's next page looks at the clock and the child's health.
_POLL_SECONDS = 0.25

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
    # Pages read by OCR: no text layer (DOCFLOW_OCR=auto), or every page (force).
    ocr_pages: int = 0
    # The first page as a picture, as the thumbnail step makes one of an image:
    # {thumbnail_key, width, height}; None when it could not be rendered.
    preview: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------
# Text normalisation: one pure function, applied to every page whichever engine read it

# pdfium's marks for a hyphen it judged a line-end hyphenation (U+FFFE from the whole-page
# text, U+0002 from bounded text), and the soft hyphen proper.
_SOFT_HYPHEN = "[\ufffe\x02\u00ad]"
# A marked hyphen between two letters, with the line break pdfium may leave after it.
_HYPHEN_BETWEEN_LETTERS = re.compile(rf"(?<=([^\W\d_])){_SOFT_HYPHEN}([ \t]*(?:\n[ \t]*)?)(?=([^\W\d_]))")
_SOFT_HYPHEN_LEFT = re.compile(_SOFT_HYPHEN)
# Whitespace controls become line breaks (a form feed must not reach the text: it is the
# page separator); every other control, noncharacter or lone surrogate is dropped.
_BREAKING_CONTROLS = re.compile("[\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")
_OTHER_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\ufffe\uffff\ud800-\udfff]")
_LIGATURES = re.compile("[\ufb00-\ufb06]")  # ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ

# Spacing diacritics TeX sets beside a letter (the \accent primitive), with the combining
# mark each stands for. The ASCII grave is code as often as an accent ("`A", "\catcode`"),
# so it counts only between two letters ("H`an" -> "Hàn").
_SPACING_ACCENTS = {
    "\u00b4": "\u0301",  # ´ acute
    "`": "\u0300",  # ` grave
    "\u02cb": "\u0300",  # ˋ modifier grave
    "\u00a8": "\u0308",  # ¨ diaeresis
    "\u02c6": "\u0302",  # ˆ circumflex
    "\u02dc": "\u0303",  # ˜ tilde
    "\u00b8": "\u0327",  # ¸ cedilla
    "\u02c7": "\u030c",  # ˇ caron
    "\u02d8": "\u0306",  # ˘ breve
    "\u02da": "\u030a",  # ˚ ring
    "\u02dd": "\u030b",  # ˝ double acute
    "\u00af": "\u0304",  # ¯ macron
    "\u02c9": "\u0304",  # ˉ modifier macron
    "\u02d9": "\u0307",  # ˙ dot above
    "\u02db": "\u0328",  # ˛ ogonek
}
# Combining marks: those of the accents above and every other (" ̸=" is how pdfium may
# give "≠": the slash of a negated relation drawn over its symbol).
_COMBINING = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_ACCENT = re.compile("[" + re.escape("".join(_SPACING_ACCENTS)) + _COMBINING + "]")
_BELOW = frozenset({"\u0327", "\u0328"})
_DOTLESS = {"\u0131": "i", "\u0237": "j"}  # ı ȷ: TeX's base for an accented i or j


def normalize_text(text: str) -> str:
    """A page's text as docflow stores it: line breaks as "\\n"; words hyphenated at a line
    end joined ("imple\\ufffementation" -> "implementation"; other marked hyphens stay
    hyphens); control characters dropped; ligatures expanded ("ﬁ" -> "fi", and only those
    code points: NFKC on the whole text would also rewrite superscripts, fractions and
    full-width forms); accents TeX placed beside their letter composed ("Jos´e" -> "José",
    "Dr¨oge" -> "Dröge", "Lo¨ıc" -> "Loïc", " ̸=" -> "≠"); then Unicode NFC. A page with
    text ends with one line break."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _HYPHEN_BETWEEN_LETTERS.sub(_join_hyphenated, text)
    text = _SOFT_HYPHEN_LEFT.sub("-", text)
    text = _BREAKING_CONTROLS.sub("\n", text)
    text = _OTHER_CONTROLS.sub("", text)
    text = _LIGATURES.sub(lambda match: unicodedata.normalize("NFKC", match.group()), text)
    if _ACCENT.search(text):
        text = _compose_accents(text)
    text = unicodedata.normalize("NFC", text).rstrip()
    return text + "\n" if text else ""


def _join_hyphenated(match: re.Match) -> str:
    """A word cut at a line end is joined when both halves are in lower case ("imple" +
    "mentation"); otherwise the hyphen stays a hyphen ("NEN-normen", "sub-31")."""
    if match.group(1).islower() and match.group(3).islower():
        return ""
    return "-" + match.group(2)


def _compose_accents(text: str) -> str:
    """Moves each accent onto the letter it belongs to, as a combining mark.

    A spacing accent goes to the letter after it when the two make one precomposed
    character, else to the letter before it when those do (TeX draws an accent before its
    letter, but a cedilla, say, may come out after it), else to whichever neighbour is a
    letter, the next first; an accent with no letter beside it is left as it is. A
    combining mark already follows its base; one with no base before it (at the start, after
    a space) goes onto the character after it."""
    cells = list(text)  # one cell per character; a letter's cell gathers its marks
    for match in _ACCENT.finditer(text):
        index, character = match.start(), match.group()
        if cells[index] != character:
            continue  # an earlier accent's mark went onto this one: leave the pair alone
        if character not in _SPACING_ACCENTS:  # a combining mark
            if index and not cells[index - 1][:1].isspace():
                continue  # after its base already, as Unicode writes it
            if index + 1 < len(cells) and cells[index + 1][:1] and not cells[index + 1][:1].isspace():
                cells[index + 1] = _with_mark(cells[index + 1], character)
                cells[index] = ""
            continue
        before = index - 1 if index and cells[index - 1][:1].isalpha() else None
        after = index + 1 if index + 1 < len(cells) and cells[index + 1][:1].isalpha() else None
        if character == "`" and (before is None or after is None):
            continue
        mark = _SPACING_ACCENTS[character]
        candidates = [position for position in (after, before) if position is not None]
        if not candidates:
            continue
        target = next((position for position in candidates if _composes(cells[position], mark)), candidates[0])
        cells[target] = _with_mark(cells[target], mark)
        cells[index] = ""
    return "".join(cells)


def _with_mark(cell: str, mark: str) -> str:
    base = cell[:1]
    if base in _DOTLESS and mark not in _BELOW:
        base = _DOTLESS[base]
    return base + cell[1:] + mark


def _composes(cell: str, mark: str) -> bool:
    return len(unicodedata.normalize("NFC", _with_mark(cell, mark))) == 1


def join_letter_spacing(text: str) -> str:
    """Rejoins words pypdf split letter by letter. TeX sets code listings one glyph at a
    time, and pypdf reads each glyph's offset as a space: on the corpus this tripled the
    word count of such pages. A run of three or more lone letters is one word. Applied to
    the pages pypdf reads (the fallback); pdfium does not split them."""
    return _LETTER_SPACED.sub(lambda match: match.group().replace(" ", ""), text)


# ---------------------------------------------------------------------------------------
# Reading the pages


class Page(NamedTuple):
    """A page's text, normalised, or None when it could not be read; and whether OCR read it."""

    text: str | None
    ocr: bool = False


class _OutOfTime(Exception):
    """The reader's child was still working when the time ran out; it has been stopped."""


def iter_page_texts(path: Path, settings: Settings = DEFAULTS) -> Iterator[str | None]:
    """The text of each page in order, normalised; None for a page that could not be read."""
    for page in _pages(path, None, settings):
        yield page.text


def _pages(
    path: Path, out_of_time: Callable[[], bool] | None, settings: Settings, preview: Path | None = None
) -> Generator[Page]:
    """Each page, read in a child process. The one place that knows the text engines
    (pdfium, then pypdf, and Tesseract where a page has no text), so another can replace
    them here alone."""
    reader, count, encrypted = _checked_reader(path, settings.max_pages)
    if count:
        _warm_pdfium()
        if settings.ocr != "off":
            _warm_ocr(settings.ocr_languages)
        options = _ReadOptions("" if encrypted else None, settings.ocr, settings.ocr_languages, preview)
        yield from _forked_pages(path, reader, count, options, out_of_time)


class _ReadOptions(NamedTuple):
    password: str | None
    ocr: str  # settings.OCR_MODES
    ocr_languages: str
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


def _read_pages(path: Path, reader, count: int, options: _ReadOptions) -> Iterator[Page]:
    """The work of the child: each of the `count` pages pypdf found, read by pdfium, or by
    pypdf when pdfium cannot load it (or the document), or by OCR when it has no text
    layer; Page(None) when none can."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(str(path), password=options.password)
        readable = len(document)
    except pdfium.PdfiumError:
        document, readable = None, 0
    ocr = page_reader(options.ocr_languages) if options.ocr != "off" else None
    for number in range(count):
        text, by_ocr = None, False
        if number < readable:
            try:
                page = document[number]
            except Exception:  # pdfium could not load this page: pypdf may
                page = None
            if page is not None:
                try:
                    text = _text_layer(page)
                    if ocr is not None and (options.ocr == "force" or (not text.strip() and _has_image(page))):
                        by_ocr = True
                        text = _read_by_ocr(page, ocr)
                except OcrUnavailable:
                    raise
                except Exception:  # a failed page: the text is partial
                    text = None
                finally:
                    page.close()
        if text is None and not by_ocr:
            text = _read_page_with_pypdf(reader, number)
        yield Page(None if text is None else normalize_text(text), by_ocr)
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
    path: Path, reader, count: int, options: _ReadOptions, out_of_time: Callable[[], bool] | None
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
        _die_with(parent)
        receiver.close()
        _child(sender, path, reader, count, options)
    sender.close()
    reaped, status = False, None  # whether the child has been waited for, and its status
    complete = False
    try:
        for _ in range(count):
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
            if kind in (b"T", b"O"):  # text, or text read by OCR
                yield Page(body.decode("utf-8"), ocr=kind == b"O")
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


def _die_with(parent: int) -> None:
    """Has the kernel kill this child if its parent dies (Linux's PR_SET_PDEATHSIG): a
    worker killed for overrunning its time must not leave pdfium spinning behind it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except Exception:  # not Linux: the parent's own kill on its way out has to do
        return
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)


def _child(sender, path: Path, reader, count: int, options: _ReadOptions) -> None:
    code = 1
    try:
        try:
            for page in _read_pages(path, reader, count, options):
                if page.text is None:
                    sender.send_bytes(b"N")
                else:
                    sender.send_bytes((b"O" if page.ocr else b"T") + page.text.encode("utf-8"))
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
    """What extract_text read: pages, words and characters, failed pages, pages read by
    OCR, and whether it stopped early because `out_of_time()` said so."""

    pages: int = 0
    words: int = 0
    chars: int = 0
    failed: int = 0
    ocr: int = 0
    stopped: bool = False


def extract_text(
    pdf: Path,
    sink,
    out_of_time: Callable[[], bool] = lambda: False,
    settings: Settings = DEFAULTS,
    preview: Path | None = None,
) -> TextRead:
    """Writes the PDF's text to `sink` (a text stream), and the first page's preview to
    `preview` when given. A reader still busy on a page when `out_of_time()` turns true is
    stopped; if it had not sent the first page yet, that is a Timeout."""
    read = TextRead()
    pages = _pages(pdf, out_of_time, settings, preview)
    try:
        for page in pages:
            if read.pages and out_of_time():
                read.stopped = True
                return read
            if read.pages:
                sink.write(PAGE_SEPARATOR)
            read.pages += 1
            read.ocr += page.ocr
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
    """Extracts every page it can before `remaining_seconds()` falls to the time margin;
    then it keeps what it has, so a huge PDF ends with a partial text, not a killed worker."""
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
    return Extraction(
        page_count=total, word_count=read.words, char_count=read.chars, pages_failed=read.failed, text_key=text_key,
        pages_unread=total - read.pages, ocr_pages=read.ocr, preview=preview_found,
    )  # fmt: skip


def _upload_preview(store: ObjectStore, document_id: str, preview: Path) -> dict:
    from PIL import Image

    with Image.open(preview) as image:
        width, height = image.size
    thumbnail_key = keys.thumbnail_key(document_id, "jpg")
    store.put(thumbnail_key, preview.read_bytes(), "image/jpeg")
    return {"thumbnail_key": thumbnail_key, "width": width, "height": height}
