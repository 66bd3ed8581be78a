"""Real documents made in code: PDFs written byte by byte and images drawn with Pillow."""

from __future__ import annotations

import io
import zlib
from datetime import datetime, timezone
from typing import Any

import pypdfium2 as pdfium
from pypdf import PdfReader, PdfWriter
from PIL import Image, ImageFilter

from docflow import keys
from docflow.outcome import decide_outcome


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def raw_pdf(objects: list[bytes], *, root: int = 1, version: bytes = b"1.4", trailer: bytes = b"") -> bytes:
    """A PDF of the given object bodies (numbered from 1), with a correct xref table;
    `trailer` adds entries to the trailer dictionary."""
    out = io.BytesIO()
    out.write(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, trailer, xref))
    return out.getvalue()


def make_pdf(pages: list[str], *, compress: bool = True) -> bytes:
    """A valid PDF with one page per string, set in Helvetica, one line per text line."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in once the page tree exists
    pages_id = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    page_ids = []
    for text in pages:
        lines = [f"({_pdf_escape(line)}) Tj T*" for line in text.splitlines() or [""]]
        content = ("BT /F1 11 Tf 14 TL 56 780 Td " + " ".join(lines) + " ET").encode("cp1252", "replace")
        if compress:
            data = zlib.compress(content)
            stream = add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream")
        else:
            stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 %d 0 R >> >> "
                b"/Contents %d 0 R >>" % (pages_id, font, stream)
            )
        )
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id

    return raw_pdf(objects, root=catalog)


def make_image(fmt: str = "PNG", size: tuple[int, int] = (640, 480), mode: str = "RGB", **save_options) -> bytes:
    """An image with a gradient and a diagonal, so resizing and rotation are visible."""
    width, height = size
    across = bytes(x * 255 // max(width - 1, 1) for x in range(width)) * height
    down = b"".join(bytes([y * 255 // max(height - 1, 1)]) * width for y in range(height))
    bands = [Image.frombytes("L", size, across), Image.frombytes("L", size, down), Image.new("L", size, 128)]
    image = Image.merge("RGB", bands)
    pixels = image.load()
    for i in range(min(width, height)):
        pixels[i, i] = (255, 255, 255)
    if mode != "RGB":
        image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, format=fmt, **save_options)
    return out.getvalue()


def make_exif_rotated_jpeg(size: tuple[int, int] = (400, 200), orientation: int = 6) -> bytes:
    """A JPEG stored `size` wide but tagged to be shown turned (6: 90 degrees clockwise)."""
    image = Image.open(io.BytesIO(make_image("JPEG", size)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


LOREM = (
    "Serverless document processing turns uploads into searchable text and thumbnails.\n"
    "Every document is detected, extracted and analysed; the report gathers the results.\n"
    "Processing documents in parallel keeps large batches fast and reliable.\n"
)


def displayed_size(path) -> tuple[int, int]:
    """An image file's size as shown, its EXIF orientation applied, read from the header
    alone (so a truncated file is measured too)."""
    with Image.open(path) as image:
        width, height = image.size
        turned = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    return (height, width) if turned else (width, height)


def recorded_result(document_id: str, *, failed: bool = False) -> dict[str, Any]:
    """An outcome as the record step writes it (docflow.outcome.decide_outcome)."""
    state: dict[str, Any] = {
        "document_id": document_id,
        "key": f"uploads/{document_id}/invoice.pdf",
        "filename": "invoice.pdf",
        "detection": {"mime_type": "application/pdf", "kind": "pdf", "size_bytes": 1234, "extension_mismatch": False},
    }
    if failed:
        state["failure"] = {"Error": "PdfCorrupt", "Cause": "The PDF could not be read."}
    else:
        state["extraction"] = {"page_count": 2, "ocr_pages": 0, "word_count": 40, "char_count": 200, "pages_failed": 0,
                               "text_key": keys.text_key(document_id)}
        state["analysis"] = {"language": "en", "keywords": [{"word": "invoice", "count": 3}], "word_count": 38,
                             "sentiment": {"label": "neutral", "score": 0.0}, "reading_time_minutes": 0.2}
        state["thumbnail"] = {"thumbnail_key": keys.thumbnail_key(document_id, "png"), "width": 300, "height": 150}
    return dict(decide_outcome(state, datetime(2026, 3, 1, 12, 1, tzinfo=timezone.utc)))


def scanned(pdf: bytes, *, angle: float = 1.5, dpi: int = 200) -> bytes:
    """An image-only PDF of `pdf`'s pages, as a scanner at `dpi` would make it: turned a
    little, softened, with dust (about one pixel in 700 dark) and a grey cast."""
    pages = []
    for page in pdfium.PdfDocument(pdf):
        image = page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L")
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
        dust = Image.effect_noise(image.size, 24).point(lambda v: 255 if v > 200 else 0).convert("1")
        image = Image.composite(Image.new("L", image.size, 70), image, dust)
        image = image.filter(ImageFilter.GaussianBlur(0.6)).point(lambda v: 30 + v * 205 // 255)
        pages.append(image)
    out = io.BytesIO()
    pages[0].save(out, format="PDF", resolution=dpi, save_all=True, append_images=pages[1:])
    return out.getvalue()


def joined(*pdfs: bytes) -> bytes:
    writer = PdfWriter()
    for pdf in pdfs:
        for page in PdfReader(io.BytesIO(pdf)).pages:
            writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
