"""OCR: a PDF page with no text layer is read by Tesseract, in parts, and joined into the
text in page order. The scans are made here: a generated letter rendered at 200 dpi, turned
a little, noised and wrapped as an image-only PDF; what OCR reads is measured as word
recall against the letter's own words."""

from __future__ import annotations

import io
import random
import re
from collections import Counter
from dataclasses import replace

import pytest
from PIL import Image, ImageDraw

from docflow import keys, ocr
from docflow.extraction import extract_document
from docflow.ocr import OcrPlan
from docflow.ocr_parts import join_ocr_parts, read_ocr_part
from docflow.settings import DEFAULTS
from docflow.text import PAGE_SEPARATOR, Extraction
from fakes import MemoryObjectStore
from samples import joined, make_pdf, scanned

LETTERS = {
    "en": """Dear Sir or Madam,
thank you for your letter of 14 March about the delivery of the new office chairs.
We are sorry that two of the chairs arrived with broken wheels and that the invoice
listed the wrong quantity. Our warehouse will send replacement wheels this week, and
the accounts department has prepared a corrected invoice, which you will find enclosed.
If anything else is missing from the order, please call our service desk between nine
and five, from Monday to Friday, and quote the order number printed above.
Yours faithfully, the customer service team""",
    "de": """Sehr geehrte Damen und Herren,
vielen Dank für Ihr Schreiben vom 14. März über die Lieferung der neuen Bürostühle.
Es tut uns leid, dass zwei Stühle mit beschädigten Rollen ankamen und die Rechnung
eine falsche Menge aufführte. Unser Lager schickt Ihnen noch diese Woche neue Rollen,
und die Buchhaltung hat eine berichtigte Rechnung erstellt, die Sie in der Anlage finden.
Falls sonst etwas fehlt, rufen Sie bitte unseren Kundendienst an, werktags von neun bis
fünf Uhr, und nennen Sie die oben gedruckte Bestellnummer. Mit freundlichen Grüßen""",
    "fr": """Madame, Monsieur,
nous avons bien reçu votre courrier du 14 mars concernant la livraison des chaises.
Nous regrettons que deux chaises soient arrivées avec des roues cassées et que la facture
indique une quantité erronée. Notre entrepôt vous enverra des roues de rechange cette
semaine, et le service comptable a préparé une facture corrigée, que vous trouverez jointe.
Si un autre article manque à la commande, veuillez appeler notre service client du lundi
au vendredi, et rappeler le numéro de commande imprimé ci-dessus. Veuillez agréer nos salutations.""",
}


def words(text: str) -> Counter[str]:
    return Counter(re.findall(r"[^\W_]+", text.lower()))


def recall(original: str, read: str) -> float:
    expected, found = words(original), words(read)
    return sum((expected & found).values()) / sum(expected.values())


def extracted(pdf: bytes, settings=DEFAULTS, remaining_seconds=None):
    """The document's extraction and text after extract, the ocr step on each part and
    join, as the document workflow runs them."""
    store = MemoryObjectStore({"uploads/d/x.pdf": pdf})
    extraction = extract_document(store, "d", "uploads/d/x.pdf", settings=settings)
    if extraction.ocr_parts:
        for part in range(extraction.ocr_parts):
            read_ocr_part(store, "d", "uploads/d/x.pdf", part, remaining_seconds, settings)
        extraction = join_ocr_parts(store, "d", extraction, settings)
    return extraction, store.objects[keys.text_key("d")].decode()


@pytest.mark.parametrize("language", sorted(LETTERS))
def test_a_scanned_letter_is_read_by_ocr_with_its_accents(language):
    extraction, text = extracted(scanned(make_pdf([LETTERS[language]])))
    assert (extraction.page_count, extraction.ocr_pages) == (1, 1)
    assert recall(LETTERS[language], text) >= 0.9, text
    accented = {word for word in words(LETTERS[language]) if not word.isascii()}
    assert len(accented & set(words(text))) >= 0.8 * len(accented), text


def test_a_pdf_mixing_text_and_scanned_pages_reads_only_the_scans_by_ocr():
    english, german = make_pdf([LETTERS["en"]]), make_pdf([LETTERS["de"]])
    extraction, text = extracted(joined(english, scanned(german), english))
    assert (extraction.page_count, extraction.ocr_pages) == (3, 1)
    first, second, third = text.split("\f")
    assert recall(LETTERS["en"], first) == recall(LETTERS["en"], third) == 1.0
    assert recall(LETTERS["de"], second) >= 0.9


def test_ocr_off_leaves_a_scan_without_words_and_force_reads_text_pages_too():
    off, _ = extracted(scanned(make_pdf([LETTERS["en"]])), replace(DEFAULTS, ocr="off"))
    assert (off.word_count, off.ocr_pages) == (0, 0)
    forced, text = extracted(make_pdf([LETTERS["fr"]]), replace(DEFAULTS, ocr="force"))
    assert forced.ocr_pages == 1 and recall(LETTERS["fr"], text) >= 0.95


def test_a_picture_without_text_gets_no_invented_words():
    rng = random.Random(3)
    picture = Image.new("L", (1654, 2339), 255)
    draw = ImageDraw.Draw(picture)
    for _ in range(40):  # shapes and lines, as on a photo of a room or a diagram
        x, y = rng.randrange(1500), rng.randrange(2200)
        box = (x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 300))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(
            box, outline=rng.randrange(120), width=rng.randrange(1, 8)
        )
    out = io.BytesIO()
    picture.save(out, format="PDF", resolution=200)
    extraction, text = extracted(out.getvalue())
    assert extraction.ocr_pages == 1
    assert extraction.word_count <= 2, text  # a stray mark read as "|" or "—" at most


def test_a_blank_page_is_not_sent_to_ocr():
    extraction, _ = extracted(make_pdf(["", ""]))
    assert (extraction.page_count, extraction.ocr_pages, extraction.word_count) == (2, 0, 0)


def test_a_line_end_hyphen_from_ocr_is_joined_by_the_rule_pdfium_text_follows():
    from docflow.text import normalize_text
    from docflow.ocr import _LINE_END_HYPHEN

    read = "the imple-\nmentation of NEN-\nnormen and sub-\n31"
    marked = _LINE_END_HYPHEN.sub("\u00ad\n", read)
    assert normalize_text(marked) == "the implementation of NEN-\nnormen and sub-\n31\n"


def test_a_long_scan_is_read_in_parts_and_joined_in_page_order(monkeypatch):
    monkeypatch.setattr(ocr, "PAGES_PER_PART", 1)
    english, german = make_pdf([LETTERS["en"]]), make_pdf([LETTERS["de"]])
    extraction, text = extracted(joined(scanned(german), english, scanned(english)))
    assert (extraction.page_count, extraction.ocr_parts, extraction.ocr_pages) == (3, 2, 2)
    assert (extraction.partial_reason, extraction.pages_unread, extraction.pages_failed) == (None, 0, 0)
    first, second, third = text.split(PAGE_SEPARATOR)
    assert recall(LETTERS["de"], first) >= 0.9 and recall(LETTERS["en"], third) >= 0.9
    assert recall(LETTERS["en"], second) == 1.0
    assert extraction.word_count == len(text.split())


def test_pages_past_the_ocr_limit_leave_the_document_partial_and_say_why():
    scan = scanned(make_pdf([LETTERS["en"]]))
    extraction, text = extracted(joined(scan, scan), replace(DEFAULTS, max_ocr_pages=1))
    assert (extraction.ocr_pages, extraction.ocr_pages_over_limit) == (1, 1)
    assert extraction.partial_reason == (
        "OCR left 1 page without a text layer unread: docflow reads at most 1 page of a document by OCR "
        "(DOCFLOW_MAX_OCR_PAGES)."
    )
    first, second = text.split(PAGE_SEPARATOR)
    assert recall(LETTERS["en"], first) >= 0.9 and second == ""


def test_a_part_that_runs_out_of_time_leaves_its_pages_unread():
    scan = scanned(make_pdf([LETTERS["en"]]))
    extraction, text = extracted(joined(scan, make_pdf([LETTERS["de"]])), remaining_seconds=lambda: 0.0)
    assert (extraction.ocr_pages, extraction.pages_unread) == (0, 1)
    assert extraction.partial_reason == "The time ran out with 1 page of 2 still to read."
    assert recall(LETTERS["de"], text.split(PAGE_SEPARATOR)[1]) == 1.0


def test_a_part_that_starts_after_the_documents_ocr_deadline_reads_nothing():
    from datetime import UTC, datetime, timedelta

    scan = scanned(make_pdf([LETTERS["en"]]))
    store = MemoryObjectStore({"uploads/d/x.pdf": joined(scan, scan)})
    extraction = extract_document(store, "d", "uploads/d/x.pdf")
    late = datetime.now(UTC) - timedelta(seconds=DEFAULTS.ocr_deadline_seconds + 1)
    assert read_ocr_part(store, "d", "uploads/d/x.pdf", 0, started_at=late).to_dict() == {"read": 0, "failed": 0, "unread": 2}
    joined_text = join_ocr_parts(store, "d", extraction)
    assert joined_text.pages_unread == 2 and joined_text.partial_reason == "The time ran out with 2 pages of 2 still to read."


def test_the_plan_cuts_pages_into_even_parts_and_at_most_max_parts():
    def sizes(plan: OcrPlan) -> list[int]:
        assert [page for number in range(plan.parts) for page in plan.part(number)] == list(plan.pages)
        return [len(plan.part(number)) for number in range(plan.parts)]

    per_part, most = ocr.PAGES_PER_PART, ocr.MAX_PARTS
    three = sizes(OcrPlan.of(list(range(per_part * 2 + 1))))
    assert len(three) == 3 and max(three) - min(three) <= 1  # even, not two full and one of a page
    assert sizes(OcrPlan.of(list(range(per_part * most)))) == [per_part] * most
    for count in (per_part * most + 1, 401, 1000, 20_000):  # past one part a part's size: bigger parts
        plan = OcrPlan.of(list(range(count)))
        assert plan.parts <= most and min(sizes(plan)) > 0, count
    assert OcrPlan.of([]).parts == 0


def test_join_keeps_the_text_layer_of_a_page_ocr_failed_on_and_gives_the_same_text_run_twice():
    store = MemoryObjectStore({keys.text_key("d"): "one\f\fthree\f".encode()})
    OcrPlan.of([1, 3]).save(store, "d")
    store.put_json(keys.ocr_part_key("d", 0), {"pages": {"1": "two by OCR\n", "3": None}})
    extract = Extraction(
        page_count=4, word_count=2, char_count=8, pages_failed=0, text_key=keys.text_key("d"), ocr_parts=1
    )
    first = join_ocr_parts(store, "d", extract)
    assert store.objects[keys.text_key("d")].decode() == "one\ftwo by OCR\n\fthree\f"
    assert (first.ocr_pages, first.pages_failed, first.word_count) == (1, 1, 5)
    assert first.partial_reason == "1 page of 4 could not be read."
    assert join_ocr_parts(store, "d", extract) == first
    assert store.objects[keys.text_key("d")].decode() == "one\ftwo by OCR\n\fthree\f"
