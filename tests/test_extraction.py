"""extract: every page's text, streamed to S3, with clear errors for PDFs it cannot read."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from docflow import keys
from docflow.errors import PdfCorrupt, PdfEncrypted, PdfTooManyPages
from docflow.extraction import PAGE_SEPARATOR, extract_document, join_letter_spacing
from fakes import MemoryObjectStore
from handlers import FakeContext, load_handler
from samples import LOREM, make_pdf


def encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["secret agenda for the meeting"]))))
    writer.encrypt(user_password=user_password, owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def extract(data: bytes):
    store = MemoryObjectStore({"uploads/d/x.pdf": data})
    return store, extract_document(store, "d", "uploads/d/x.pdf")


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


def test_the_page_limit_is_enforced(monkeypatch):
    monkeypatch.setenv("DOCFLOW_MAX_PAGES", "3")
    with pytest.raises(PdfTooManyPages, match="4 pages"):
        extract(make_pdf(["p"] * 4))


def test_letter_spaced_words_are_rejoined_and_others_left_alone():
    assert join_letter_spacing("\\ e x p a n d a f t e r \\ ifx") == "\\ expandafter \\ ifx"
    assert join_letter_spacing("x = a + b and a b") == "x = a + b and a b"


def test_the_handler_streams_the_text_to_s3(s3_store):
    s3_store.put("uploads/d9/a.pdf", make_pdf([LOREM] * 3), "application/pdf")
    result = load_handler("extract")({"document_id": "d9", "key": "uploads/d9/a.pdf", "filename": "a.pdf"}, FakeContext())
    assert result["page_count"] == 3 and result["text_key"] == "documents/d9/text.txt"
    assert s3_store.client.get_object(Bucket=s3_store.bucket, Key=result["text_key"])["Body"].read().count(b"Serverless") == 3


def test_extraction_stops_before_the_time_runs_out_and_keeps_what_it_read(monkeypatch):
    monkeypatch.setenv("DOCFLOW_TIME_MARGIN_SECONDS", "10")
    budget = iter([60, 50, 40, 30, 20, 9, 8, 7])  # seconds left, as each page after the first is read
    store = MemoryObjectStore({"uploads/d/x.pdf": make_pdf([f"page {n} words" for n in range(30)])})
    extraction = extract_document(store, "d", "uploads/d/x.pdf", remaining_seconds=lambda: next(budget))
    text = store.objects[keys.text_key("d")].decode()
    assert extraction.page_count == 30 and extraction.pages_unread == 24
    assert text.split(PAGE_SEPARATOR) == [f"page {n} words\n" for n in range(6)]
    assert extraction.word_count == 18


def test_the_handler_watches_its_remaining_time(s3_store, monkeypatch):
    monkeypatch.setenv("DOCFLOW_TIME_MARGIN_SECONDS", "100")  # more than the 60 s the context has
    s3_store.put("uploads/d/long.pdf", make_pdf(["one", "two", "three"]), "application/pdf")
    result = load_handler("extract")({"document_id": "d", "key": "uploads/d/long.pdf", "filename": "long.pdf"}, FakeContext())
    assert (result["page_count"], result["pages_unread"], result["word_count"]) == (3, 2, 1)
