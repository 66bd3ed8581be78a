"""thumbnail: a picture of at most 300 px on its longest side, the right way up, and the
image's text, read by OCR (a photographed letter, a screenshot).

Decoding is bounded: the pixel count is checked from the header before any pixel is
decoded, and JPEGs are decoded in draft mode straight at a reduced scale."""

from __future__ import annotations

import io
import math
import re
import tempfile
import warnings
from dataclasses import asdict, dataclass
from typing import IO, cast

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from docflow import keys
from docflow.errors import ImageCorrupt, ImageTooLarge
from docflow.isolation import run_in_child
from docflow.ocr import MAX_OCR_PIXELS, page_reader
from docflow.settings import DEFAULTS, Settings
from docflow.storage import ObjectStore
from docflow.text import Extraction, normalize_text

MAX_SIDE = 300
JPEG_QUALITY = 85
TRUNCATED = "The image file ends early: its thumbnail and text show what it holds."
UNREADABLE = "OCR could not read the image: it stopped the reader, or ran out of time."
# OCR of an image runs in a child process for at most this long (the function has 120 s).
IMAGE_OCR_SECONDS = 90


@dataclass(frozen=True)
class Thumbnail:
    thumbnail_key: str
    format: str
    width: int
    height: int
    original_width: int
    original_height: int
    partial: bool  # the file ended early; the thumbnail shows what it holds
    # The image's text, an Extraction as extract's of a PDF: the document workflow hands it
    # to analyze and record as the document's.
    text: dict

    def to_dict(self) -> dict:
        return asdict(self)


def thumbnail_size(width: int, height: int, limit: int = MAX_SIDE) -> tuple[int, int]:
    """The longest side becomes min(limit, itself); the other keeps the ratio (at least 1)."""
    scale = min(1.0, limit / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _displayable(image: Image.Image) -> Image.Image:
    """Converts the modes JPEG and PNG encoders cannot take (CMYK, 16-bit, 32-bit, float)."""
    if _has_transparency(image):
        return image.convert("RGBA")
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Scale the wide range down to 8 bits rather than clip it.
        # point() takes 32-bit integers, not the 16-bit modes of either byte order.
        return (
            image.convert("I").point(lambda value: value / 256).convert("L")
            if image.mode.startswith("I;16")
            else _to_8bit(image)
        )
    return image.convert("RGB")


def _to_8bit(image: Image.Image) -> Image.Image:
    low, high = cast(tuple[float, float], image.getextrema())  # one band: "I" or "F"
    if high <= 255 and low >= 0:
        return image.convert("L")
    span = (high - low) or 1
    return image.point(lambda value: (value - low) * 255 / span).convert("L")


def _load(image: Image.Image) -> bool:
    """Decodes the pixels; returns True when the file ended early and only part was there.

    A truncated file is common (an interrupted upload, an old progressive JPEG) and what
    it holds is still worth a thumbnail, as browsers show it; data that is not an image at
    all still fails."""
    try:
        image.load()
        return False
    except OSError as error:
        if "truncated" not in str(error):
            raise
    ImageFile.LOAD_TRUNCATED_IMAGES = True  # read per decode; one invocation at a time
    try:
        image.load()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    return True


def render_thumbnail(
    source: IO[bytes], settings: Settings = DEFAULTS
) -> tuple[bytes, str, tuple[int, int], tuple[int, int], bool]:
    """Returns (encoded thumbnail, "jpeg" or "png", its size, the original's displayed size,
    whether the file was truncated)."""
    limit = settings.max_image_pixels
    # Pillow's own guard checks the header's size as the image is opened, before any pixel
    # is decoded; aligned with docflow's limit and made an error, it is the bound.
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(source)
            width, height = image.size
            # PNG and others decode the whole image to find their EXIF; a JPEG reads it from
            # a header segment, and must, to pick its draft scale before decoding.
            partial = False if image.format == "JPEG" else _load(image)
            orientation = image.getexif().get(0x0112, 1)
            turned = orientation in (5, 6, 7, 8)
            original = (height, width) if turned else (width, height)
            target = thumbnail_size(*original)
            if image.format == "JPEG":
                # Decode at the smallest scale (1/2, 1/4, 1/8) still at least the target size.
                image.draft("RGB", (target[1], target[0]) if turned else target)
                partial = _load(image)
            image = ImageOps.exif_transpose(image)
            image = _displayable(image)
            if image.size != target:
                image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    except (ImageTooLarge, ImageCorrupt):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        pixels = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(pixels.group(1)):,} pixels" if pixels else "more pixels than that"
        raise ImageTooLarge(f"The image has {size}; the limit is {limit:,} pixels") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
        raise ImageCorrupt(f"The image cannot be decoded: {error}") from error

    out = io.BytesIO()
    if image.mode == "RGBA":
        image.save(out, format="PNG", optimize=True)
        fmt = "png"
    else:
        image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        fmt = "jpeg"
    return out.getvalue(), fmt, image.size, original, partial


def make_thumbnail(store: ObjectStore, document_id: str, key: str, settings: Settings = DEFAULTS) -> Thumbnail:
    with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as source:
        store.download(key, source)
        source.seek(0)
        data, fmt, (width, height), (original_width, original_height), partial = render_thumbnail(source, settings)
        read = read_image_text(source, settings)
    extension = "png" if fmt == "png" else "jpg"
    thumbnail_key = keys.thumbnail_key(document_id, extension)
    store.put(thumbnail_key, data, f"image/{fmt}")
    text = read or ""
    text_key = keys.text_key(document_id)
    store.put(text_key, text.encode(), "text/plain; charset=utf-8")
    reasons = [reason for reason, why in ((TRUNCATED, partial), (UNREADABLE, read is None)) if why]
    return Thumbnail(
        thumbnail_key=thumbnail_key,
        format=fmt,
        width=width,
        height=height,
        original_width=original_width,
        original_height=original_height,
        partial=partial or read is None,
        text=Extraction(
            page_count=None, word_count=len(text.split()), char_count=len(text), pages_failed=0, text_key=text_key,
            ocr_pages=0 if settings.ocr == "off" or read is None else 1, partial_reason=" ".join(reasons) or None,
        ).to_dict(),
    )  # fmt: skip


def read_image_text(source: IO[bytes], settings: Settings = DEFAULTS) -> str | None:
    """The image's text, the right way up, read by OCR at MAX_OCR_PIXELS at most (a JPEG
    decoded straight at that scale); "" with DOCFLOW_OCR=off, or when the file ends early;
    None when OCR could not read it. Tesseract is native code that a crafted image can make
    abort (a 100,000 x 3 picture does), so it reads in a child process."""
    if settings.ocr == "off":
        return ""
    source.seek(0)
    try:
        with Image.open(source) as opened:
            if opened.format == "JPEG":
                opened.draft("L", _within(opened.size, MAX_OCR_PIXELS))
            image = ImageOps.exif_transpose(opened).convert("L")
        if image.width * image.height > MAX_OCR_PIXELS:
            image = image.resize(_within(image.size, MAX_OCR_PIXELS), Image.Resampling.LANCZOS)
    except (OSError, ValueError, SyntaxError, EOFError):
        return ""
    reader = page_reader(settings.ocr_languages)
    reader.load()  # before the fork: each child starts with the engine ready
    read = run_in_child(lambda: reader.read_image(image).encode(), IMAGE_OCR_SECONDS)
    return None if read is None else normalize_text(read.decode())


def _within(size: tuple[int, int], pixels: int) -> tuple[int, int]:
    """`size` scaled down, ratio kept, to hold at most `pixels`."""
    width, height = size
    scale = min(1.0, math.sqrt(pixels / max(width * height, 1)))
    return max(1, int(width * scale)), max(1, int(height * scale))
