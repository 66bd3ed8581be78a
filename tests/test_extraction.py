"""extract: every page's text, streamed to S3, with clear errors for PDFs it cannot read; the
text normalised; pdfium in a forked child whose crash or hang costs one document at most."""

from __future__ import annotations

import faulthandler
import io
import os
import signal
import time
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from PIL import Image

from docflow import extraction, keys
from docflow.errors import PdfCorrupt, PdfEncrypted, PdfTooManyPages, Timeout
from docflow.extraction import extract_document, iter_page_texts
from docflow.text import PAGE_SEPARATOR, join_letter_spacing, normalize_text
from docflow.settings import DEFAULTS, Settings
from fakes import MemoryObjectStore
from handlers import lambda_context, load_handler
from samples import LOREM, make_pdf, raw_pdf


def encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["secret agenda for the meeting"]))))
    writer.encrypt(user_password=user_password, owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def extract(data: bytes, settings: Settings = DEFAULTS):
    store = MemoryObjectStore({"uploads/d/x.pdf": data})
    return store, extract_document(store, "d", "uploads/d/x.pdf", settings=settings)


def test_every_page_is_extracted_in_order_into_s3_beside_the_document():
    store, extraction = extract(make_pdf(["first page words", "second (page)", LOREM]))
    text = store.objects[keys.text_key("d")].decode()
    assert text.split(PAGE_SEPARATOR)[:2] == ["first page words\n", "second (page)\n"]
    assert extraction.page_count == 3 and extraction.pages_failed == 0
    assert extraction.word_count == len(text.split()) == 3 + 2 + len(LOREM.split())
    assert extraction.char_count == len(text) - 2  # the separators are not the document's
    assert extraction.text_key == keys.text_key("d")
    assert store.content_types[extraction.text_key].startswith("text/plain")


def test_a_page_without_text_counts_no_words():
    _, extraction = extract(make_pdf(["", "words here"]))
    assert (extraction.page_count, extraction.word_count) == (2, 2)


def test_an_owner_only_encrypted_pdf_is_opened():
    store, extraction = extract(encrypted(user_password=""))
    assert "secret agenda" in store.objects[keys.text_key("d")].decode()


def test_a_pdf_that_needs_a_password_is_pdf_encrypted():
    with pytest.raises(PdfEncrypted, match="password"):
        extract(encrypted(user_password="hunter2"))


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\nnothing else",
        make_pdf(["truncated halfway"])[:300],
        b"%PDF-1.7\n" + bytes(range(256)) * 20,
    ],
    ids=["no-objects", "truncated", "garbage"],
)
def test_an_unreadable_pdf_is_pdf_corrupt(data):
    with pytest.raises(PdfCorrupt):
        extract(data)


def test_the_page_limit_is_enforced():
    with pytest.raises(PdfTooManyPages, match="4 pages"):
        extract(make_pdf(["p"] * 4), Settings(max_pages=3))


def test_letter_spaced_words_are_rejoined_and_others_left_alone():
    assert join_letter_spacing("\\ e x p a n d a f t e r \\ ifx") == "\\ expandafter \\ ifx"
    assert join_letter_spacing("x = a + b and a b") == "x = a + b and a b"


def test_the_handler_streams_the_text_to_s3(s3_store):
    s3_store.put("uploads/d9/a.pdf", make_pdf([LOREM] * 3), "application/pdf")
    result = load_handler("extract")({"document_id": "d9", "key": "uploads/d9/a.pdf", "filename": "a.pdf"}, lambda_context())
    assert result["page_count"] == 3 and result["text_key"] == "documents/d9/text.txt"
    assert s3_store.client.get_object(Bucket=s3_store.bucket, Key=result["text_key"])["Body"].read().count(b"Serverless") == 3


def test_extraction_stops_before_the_time_runs_out_and_keeps_what_it_read():
    budget = iter([60, 50, 40, 30, 20, 9, 8, 7])  # seconds left, as each page after the first is read
    store = MemoryObjectStore({"uploads/d/x.pdf": make_pdf([f"page {n} words" for n in range(30)])})
    extraction = extract_document(
        store, "d", "uploads/d/x.pdf", remaining_seconds=lambda: next(budget), settings=Settings(time_margin_seconds=10)
    )
    text = store.objects[keys.text_key("d")].decode()
    assert extraction.page_count == 30 and extraction.pages_unread == 24
    assert text.split(PAGE_SEPARATOR) == [f"page {n} words\n" for n in range(6)]
    assert extraction.word_count == 18


def test_the_handler_watches_its_remaining_time(s3_store, monkeypatch):
    monkeypatch.setenv("DOCFLOW_TIME_MARGIN_SECONDS", "100")  # more than the 60 s the context has
    s3_store.put("uploads/d/long.pdf", make_pdf(["one", "two", "three"]), "application/pdf")
    result = load_handler("extract")({"document_id": "d", "key": "uploads/d/long.pdf", "filename": "long.pdf"}, lambda_context())
    assert (result["page_count"], result["pages_unread"], result["word_count"]) == (3, 2, 1)


# -- text normalisation (docflow.text.normalize_text), on every page whichever engine read it --


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ﬁnd the ﬂow, oﬀ, eﬃcient, baﬄe, ﬅ, ﬆ", "find the flow, off, efficient, baffle, st, st"),
        # NFKC on the ligatures only: other compatibility characters keep their meaning.
        ("x² ½ Ｆ ™ ﬁ", "x² ½ Ｆ ™ fi"),
    ],
    ids=["all-seven", "nothing-else"],
)
def test_ligatures_are_expanded_and_nothing_else_is_folded(raw, expected):
    assert normalize_text(raw) == expected + "\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jos´e", "José"),  # TeX: the spacing accent before its letter
        ("Dr¨oge", "Dröge"),
        ("ge¨ınspireerd", "geïnspireerd"),  # on a dotless i, as TeX sets an accented i
        ("D´ıaz", "Díaz"),
        ("elk ´e´en", "elk één"),
        ("Bjørn ˚Adlandsvik, Buˇsa, Pletikosi´c", "Bjørn Ådlandsvik, Buša, Pletikosić"),
        ("H`an Thˆe´ Th`anh", "Hàn Thế Thành"),  # two accents on one letter, one on each side
        ("Fran¸cois", "François"),
        ("Franc¸ois", "François"),  # a cedilla after its letter: only "c" takes it
        ("Erd˝os, ˙Zagiel, Vi˜na, ¯a", "Erdős, Żagiel, Viña, ā"),
        ("Jos\u0301e", "Jośe"),  # a combining mark after a letter belongs to that letter
        ("\u0301e and \u0308o", "é and ö"),  # a combining mark with no letter before it
        ("α \u0338= a", "α ≠ a"),
        ("r¯ (1)", "r\u0304 (1)"),  # no precomposed form: the mark still lands on its letter
        # A circumflex or tilde with no precomposed form is groff's and TeX's ASCII ^ and ~.
        ("SPACE or ˆV or ˆF, [-X˜] and ˆ alone", "SPACE or ^V or ^F, [-X~] and ^ alone"),
        ("Thˆe´ and ˆo", "Thế and ô"),
        # Left alone: accents with no letter beside them, and backticks in code.
        ("the ´ accent and ¨ alone", "the ´ accent and ¨ alone"),
        ("\\catcode`\\:=12 {`A} `quoted'", "\\catcode`\\:=12 {`A} `quoted'"),
    ],
)
def test_accents_set_beside_their_letter_are_composed(raw, expected):
    assert normalize_text(raw) == expected + "\n"


def test_the_text_is_nfc():
    text = normalize_text("Cafe\u0301 A\u030angstro\u0308m")
    assert text == "Café Ångström\n"
    assert len(text) == len("Café Ångström\n")  # precomposed, not base + mark


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("the imple\ufffementation", "the implementation"),  # pdfium's mark, whole-page text
        ("de brief\x02stijl", "de briefstijl"),  # pdfium's mark, bounded text
        ("hyphen\u00ad\nated", "hyphenated"),  # a soft hyphen, and the line break after it
        ("NEN\ufffenormen", "NEN-normen"),  # not both halves lower case: a hyphen stays
        ("sub\ufffe31 sections", "sub-31 sections"),
    ],
)
def test_words_hyphenated_at_a_line_end_are_joined_where_safe(raw, expected):
    assert normalize_text(raw) == expected + "\n"


def test_line_breaks_and_control_characters_are_cleaned():
    assert normalize_text("one\r\ntwo\rthree\r\n\r\n") == "one\ntwo\nthree\n"
    assert normalize_text("a\x00b\x07c\x7fd\x1b") == "abcd\n"
    # A form feed inside a page would split it in two: pdftotext's page separator.
    assert PAGE_SEPARATOR not in normalize_text("left\x0cright\x0bbelow")
    assert normalize_text("left\x0cright") == "left\nright\n"
    assert normalize_text("") == normalize_text(" \r\n ") == ""


# -- the engines: pdfium for every page it can load, pypdf for the rest --


_LIGATURE_CMAP = (
    b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Lig def /CMapType 2 def\n"
    b"1 begincodespacerange <00> <FF> endcodespacerange\n"
    b"2 beginbfchar <01> <FB01> <02> <FB02> endbfchar\n"
    b"1 beginbfrange <20> <FF> <0020> endbfrange\n"
    b"endcmap CMapName currentdict /CMap defineresource pop end end"
)


def count_too_small_pdf() -> bytes:
    """Two pages in the page tree, whose /Count says one: pdfium (and poppler) trust the
    count and see one page; pypdf walks the tree and reads both. The second page's font
    maps two codes to the ligatures ﬁ and ﬂ, and it sets accents beside their letters."""
    first = b"BT /F1 11 Tf 56 780 Td (the first page, read by pdfium) Tj ET"
    second = b"BT /F1 11 Tf 56 780 Td (\x01nd the \x02ow of Jos\xb4e Dr\xa8oge) Tj ET"
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R 6 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /ToUnicode 8 0 R >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R /Resources << /Font << /F1 3 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(first) + first + b"\nendstream",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 7 0 R /Resources << /Font << /F1 3 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(second) + second + b"\nendstream",
            b"<< /Length %d >>\nstream\n" % len(_LIGATURE_CMAP) + _LIGATURE_CMAP + b"\nendstream",
        ]
    )


def test_a_page_pdfium_cannot_load_is_read_by_pypdf(tmp_path):
    import pypdfium2

    pdf = tmp_path / "count.pdf"
    pdf.write_bytes(count_too_small_pdf())
    assert len(pypdfium2.PdfDocument(str(pdf))) == 1  # the premise: pdfium has no second page
    assert list(iter_page_texts(pdf)) == [
        "the first page, read by pdfium\n",
        "find the flow of José Dröge\n",  # pypdf's "ﬁnd the ﬂow of Jos´e Dr¨oge", normalised
    ]
    store, extraction = extract(count_too_small_pdf())
    assert (extraction.page_count, extraction.pages_failed, extraction.pages_unread) == (2, 0, 0)


def test_pdfium_text_is_normalised_too(tmp_path):
    pdf = tmp_path / "tex.pdf"
    pdf.write_bytes(make_pdf(["docflow reads the imple-\nmentation of NEN-\nnormen"]))
    accents = tmp_path / "accents.pdf"
    content = b"BT /F1 11 Tf 56 780 Td (Jos\xb4e Dr\xa8oge and Fran\xb8cois) Tj ET"
    accents.write_bytes(
        raw_pdf(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
                b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R /Resources << /Font << /F1 3 0 R >> >> >>",
                b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            ]
        )
    )
    assert list(iter_page_texts(pdf)) == ["docflow reads the implementation of NEN-normen\n"]
    assert list(iter_page_texts(accents)) == ["José Dröge and François\n"]


# -- the forked reader: a crash or a hang of pdfium costs the document, never the worker --


def test_a_reader_killed_by_a_signal_is_pdf_corrupt(monkeypatch):
    def crash(*args):
        faulthandler.disable()  # pytest's would print the child's stack on the terminal
        os.kill(os.getpid(), signal.SIGSEGV)
        yield extraction.Page("never sent\n")

    monkeypatch.setattr(extraction, "_read_pages", crash)
    with pytest.raises(PdfCorrupt, match=r"crashed the reader \(SIGSEGV\)"):
        extract(make_pdf(["a page pdfium will not survive"]))


def test_a_crash_after_some_pages_is_still_pdf_corrupt(monkeypatch):
    def crash_on_page_two(*args):
        yield extraction.Page("page one\n")
        faulthandler.disable()
        os.kill(os.getpid(), signal.SIGABRT)

    monkeypatch.setattr(extraction, "_read_pages", crash_on_page_two)
    store = MemoryObjectStore({"uploads/d/x.pdf": make_pdf(["one", "two", "three"])})
    with pytest.raises(PdfCorrupt, match=r"crashed the reader \(SIGABRT\)"):
        extract_document(store, "d", "uploads/d/x.pdf")
    assert keys.text_key("d") not in store.objects  # no text that looks complete


def test_a_docflow_error_in_the_reader_reaches_the_caller_as_itself(monkeypatch):
    def encrypted_content(*args):
        yield extraction.Page("page one\n")
        raise PdfEncrypted("The PDF is encrypted in a way docflow cannot open (AES)")

    monkeypatch.setattr(extraction, "_read_pages", encrypted_content)
    with pytest.raises(PdfEncrypted, match=r"cannot open \(AES\)"):
        extract(make_pdf(["one", "two"]))


def _hanging_reader(pid_file: Path, pages_before: int):
    def hang(*args):
        pid_file.write_text(str(os.getpid()))
        for number in range(pages_before):
            yield extraction.Page(f"page {number} words\n")
        time.sleep(600)  # as pdfium stuck in a loop
        yield extraction.Page("never\n")

    return hang


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # a zombie (killed, not reaped) would still answer
    except ProcessLookupError:
        return True
    return False


def test_a_reader_that_hangs_is_stopped_when_the_time_runs_out_and_the_pages_read_are_kept(monkeypatch, tmp_path):
    monkeypatch.setattr(extraction, "_POLL_SECONDS", 0.02)
    monkeypatch.setattr(extraction, "_read_pages", _hanging_reader(tmp_path / "pid", pages_before=2))
    deadline = time.monotonic() + 0.5
    store = MemoryObjectStore({"uploads/d/x.pdf": make_pdf(["one", "two", "three", "four"])})
    started = time.monotonic()
    result = extract_document(store, "d", "uploads/d/x.pdf", remaining_seconds=lambda: 15 + deadline - time.monotonic())
    assert time.monotonic() - started < 5
    assert (result.page_count, result.pages_unread, result.word_count) == (4, 2, 6)
    assert store.objects[keys.text_key("d")].decode().split(PAGE_SEPARATOR) == ["page 0 words\n", "page 1 words\n"]
    assert _gone(int((tmp_path / "pid").read_text()))  # killed and reaped


def test_a_reader_that_hangs_before_the_first_page_is_a_timeout(monkeypatch, tmp_path):
    monkeypatch.setattr(extraction, "_POLL_SECONDS", 0.02)
    monkeypatch.setattr(extraction, "_read_pages", _hanging_reader(tmp_path / "pid", pages_before=0))
    store = MemoryObjectStore({"uploads/d/x.pdf": make_pdf(["one"])})
    deadline = time.monotonic() + 0.3
    with pytest.raises(Timeout, match="first page"):
        extract_document(store, "d", "uploads/d/x.pdf", remaining_seconds=lambda: 15 + deadline - time.monotonic())
    assert _gone(int((tmp_path / "pid").read_text()))


def test_a_reader_abandoned_midway_is_killed(monkeypatch, tmp_path):
    monkeypatch.setattr(extraction, "_read_pages", _hanging_reader(tmp_path / "pid", pages_before=1))
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(make_pdf(["one", "two"]))
    pages = iter_page_texts(pdf)
    assert next(pages) == "page 0 words\n"
    pages.close()  # as a caller that stops reading, or an exception, would
    assert _gone(int((tmp_path / "pid").read_text()))


# -- the first page's preview -----------------------------------------------------------------------


@pytest.mark.parametrize(("media_box", "size"), [((595, 842), (212, 300)), ((842, 595), (300, 212))])
def test_a_pdf_gets_a_preview_of_its_first_page_300_pixels_on_its_longest_side(media_box, size):
    pdf = make_pdf(["Preview me"], compress=False).replace(b"56 780 Td", b"56 500 Td")
    pdf = pdf.replace(b"/MediaBox [0 0 595 842]", b"/MediaBox [0 0 %d %d]" % media_box)
    store = MemoryObjectStore({"uploads/d/x.pdf": pdf})
    extraction = extract_document(store, "d", "uploads/d/x.pdf")
    assert extraction.preview == {"thumbnail_key": keys.thumbnail_key("d", "jpg"), "width": size[0], "height": size[1]}
    with Image.open(io.BytesIO(store.objects[keys.thumbnail_key("d", "jpg")])) as preview:
        assert (preview.format, preview.size) == ("JPEG", size)
        assert preview.convert("L").getextrema()[0] < 128  # the text is drawn: not a blank page


def test_a_preview_that_crashes_the_renderer_costs_only_the_preview(monkeypatch):
    def crash(*args):
        faulthandler.disable()
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(extraction, "_write_preview", crash)
    store = MemoryObjectStore({"uploads/d/x.pdf": make_pdf(["one", "two"])})
    found = extract_document(store, "d", "uploads/d/x.pdf")
    assert (found.page_count, found.word_count, found.preview) == (2, 2, None)
