"""thumbnail: at most 300 px, ratio kept, the right way up, and bounded work on any image."""

from __future__ import annotations

import io
import struct
import zlib

import pypdfium2 as pdfium
import pytest
from PIL import Image, JpegImagePlugin

from docflow.errors import ImageCorrupt, ImageTooLarge
from docflow.settings import Settings
from docflow.thumbnails import make_thumbnail, render_thumbnail, thumbnail_size
from fakes import MemoryObjectStore
from handlers import lambda_context, load_handler
from samples import make_exif_rotated_jpeg, make_image, make_pdf, scanned


def render(data: bytes, partial: bool = False):
    encoded, fmt, size, original, was_partial = render_thumbnail(io.BytesIO(data))
    image = Image.open(io.BytesIO(encoded))
    assert image.size == size and was_partial is partial
    return image, fmt, original


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1200, 800), (300, 200)), ((800, 1200), (200, 300)), ((640, 480), (300, 225)), ((120, 90), (120, 90)),
     ((1, 1), (1, 1)), ((3000, 7), (300, 1)), ((301, 300), (300, 299))],
)
def test_size_keeps_the_ratio_and_never_upscales(size, expected):
    assert thumbnail_size(*size) == expected
    image, _, original = render(make_image("PNG", size))
    assert image.size == expected and original == size


def test_exif_orientation_is_applied():
    image, fmt, original = render(make_exif_rotated_jpeg((400, 200), orientation=6))
    assert (image.size, original, fmt) == ((150, 300), (200, 400), "jpeg")


def test_a_large_jpeg_is_decoded_in_draft_mode_and_still_exact(monkeypatch):
    requested = []
    original_draft = JpegImagePlugin.JpegImageFile.draft
    monkeypatch.setattr(
        JpegImagePlugin.JpegImageFile, "draft", lambda self, mode, size: requested.append(size) or original_draft(self, mode, size)
    )
    image, _, _ = render(make_image("JPEG", (2400, 1600)))
    assert requested == [(300, 200)] and image.size == (300, 200)


def test_transparency_is_kept_as_png():
    image, fmt, _ = render(make_image("PNG", (600, 600), mode="RGBA"))
    assert (fmt, image.mode) == ("png", "RGBA")


@pytest.mark.parametrize(
    ("fmt", "mode"),
    [("JPEG", "CMYK"), ("PNG", "I;16"), ("TIFF", "RGB"), ("WEBP", "RGB"), ("BMP", "RGB"), ("PNG", "L"), ("PNG", "1"), ("PNG", "P")],
)
def test_every_common_mode_and_format_becomes_a_thumbnail(fmt, mode):
    image, out_fmt, _ = render(make_image(fmt, (640, 320), mode=mode))
    assert image.size == (300, 150) and out_fmt == "jpeg"


def test_an_animated_gif_gives_its_first_frame():
    frames = [Image.new("RGB", (600, 300), colour) for colour in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:])
    image, _, _ = render(out.getvalue())
    red, green, blue = image.convert("RGB").getpixel((150, 75))
    assert image.size == (300, 150) and red > 200 and blue < 60


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header announcing `width` x `height` pixels, with almost no data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_image_too_large_before_decoding():
    with pytest.raises(ImageTooLarge, match="2,500,000,000 pixels; the limit is 100,000,000"):
        render_thumbnail(io.BytesIO(bomb_png(50_000, 50_000)))


def test_the_pixel_limit_is_configurable():
    with pytest.raises(ImageTooLarge):
        render_thumbnail(io.BytesIO(make_image("PNG", (200, 200))), Settings(max_image_pixels=10000))


def test_a_truncated_image_gives_a_partial_thumbnail():
    whole = make_image("JPEG", (800, 600))
    image, _, original = render(whole[: len(whole) // 2], partial=True)
    assert image.size == (300, 225) and original == (800, 600)


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b"GIF89a", b"\xff\xd8\xff\xe0" + b"\x13" * 64])
def test_a_broken_image_is_image_corrupt(data):
    with pytest.raises(ImageCorrupt):
        render_thumbnail(io.BytesIO(data))


def test_the_thumbnail_is_stored_beside_the_document():
    store = MemoryObjectStore({"uploads/d/a.png": make_image("PNG", (900, 450), mode="RGBA")})
    thumbnail = make_thumbnail(store, "d", "uploads/d/a.png")
    assert thumbnail.thumbnail_key == "documents/d/thumbnail.png"
    assert store.content_types[thumbnail.thumbnail_key] == "image/png"
    assert Image.open(io.BytesIO(store.objects[thumbnail.thumbnail_key])).size == (300, 150)


def test_the_handler(s3_store):
    s3_store.put("uploads/d2/p.jpg", make_image("JPEG", (1000, 500)), "image/jpeg")
    result = load_handler("thumbnail")({"document_id": "d2", "key": "uploads/d2/p.jpg", "filename": "p.jpg"}, lambda_context())
    assert result == {"thumbnail_key": "documents/d2/thumbnail.jpg", "format": "jpeg", "width": 300, "height": 150,
                      "original_width": 1000, "original_height": 500, "partial": False,
                      "text": {"text_key": "documents/d2/text.txt", "page_count": None, "word_count": 0,
                               "char_count": 0, "pages_failed": 0, "pages_unread": 0, "ocr_pages": 1,
                               "ocr_parts": 0, "ocr_pages_over_limit": 0, "preview": None,
                               "partial_reason": None}}  # a gradient: no words invented
    assert s3_store.client.get_object(Bucket=s3_store.bucket, Key="documents/d2/text.txt")["Body"].read() == b""


def test_a_photographed_letter_has_its_text_read_the_right_way_up(s3_store):
    from test_ocr import LETTERS, recall

    page = scanned(make_pdf([LETTERS["en"]]), angle=3)
    photo = pdfium.PdfDocument(page)[0].render(scale=150 / 72).to_pil().convert("RGB")
    photo = photo.transpose(Image.Transpose.ROTATE_90)  # held sideways (turned left); its EXIF tag says so
    exif = Image.Exif()
    exif[0x0112] = 6  # to be shown turned 90 degrees clockwise
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=70, exif=exif)
    s3_store.put("uploads/d3/letter.jpg", out.getvalue(), "image/jpeg")
    thumbnail = make_thumbnail(s3_store, "d3", "uploads/d3/letter.jpg")
    text = s3_store.client.get_object(Bucket=s3_store.bucket, Key=thumbnail.text["text_key"])["Body"].read().decode()
    assert thumbnail.text["ocr_pages"] == 1 and thumbnail.text["word_count"] == len(text.split())
    assert recall(LETTERS["en"], text) >= 0.8, text


def test_an_image_that_makes_tesseract_abort_still_gets_its_thumbnail_and_says_why_it_has_no_text():
    """Found by the fuzz test: Tesseract asserts, and aborts its process, on a picture of
    100,000 x 3 pixels. OCR runs in a child, so only the child dies."""
    from docflow.thumbnails import UNREADABLE

    store = MemoryObjectStore({"uploads/d/strip.png": make_image("PNG", (100_000, 3), mode="L")})
    thumbnail = make_thumbnail(store, "d", "uploads/d/strip.png")
    assert thumbnail.width == 300 and thumbnail.partial
    assert (thumbnail.text["word_count"], thumbnail.text["ocr_pages"], thumbnail.text["partial_reason"]) == (0, 0, UNREADABLE)
