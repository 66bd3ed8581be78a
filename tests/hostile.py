"""Hostile inputs, made in code: files a careless or malicious client could upload.

Every generator is a pure function returning bytes (cached, since some take a moment to
build); nothing is committed to the repository. HOSTILE_CASES pairs each input with the
outcome docflow should give it, as the document workflow would record it: the status
(succeeded / failed / skipped), the error code, and what detection, extraction or the
thumbnail should say. tests/test_hostile.py runs them; tests/test_fuzz.py mutates them.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import signal
import struct
import threading
import zipfile
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import cache
from typing import Iterator, NamedTuple

from PIL import Image

from docflow import keys
from docflow.analysis import analyze_document
from docflow.detection import detect_document
from docflow.errors import DocflowError
from docflow.extraction import extract_document
from docflow.outcome import decide_outcome
from docflow.settings import DEFAULTS, Settings
from docflow.thumbnails import make_thumbnail
from fakes import MemoryObjectStore
from samples import LOREM, make_exif_rotated_jpeg, make_image, make_pdf, raw_pdf

# ---------------------------------------------------------------------------------------
# Building blocks


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def reencrypt_pdf(data: bytes, *, user_password: str, owner_password: str, algorithm: str | None = None) -> bytes:
    """`data` encrypted by pypdf. pypdf draws the file identifier, salts and IVs from
    secrets.token_bytes; a seeded stand-in makes the bytes the same on every run, so the
    fuzzer's mutations of them are reproducible too."""
    from unittest import mock

    from pypdf import PdfReader, PdfWriter

    seeded = random.Random(f"{user_password}/{owner_password}/{algorithm}")
    with mock.patch("secrets.token_bytes", lambda n=32: seeded.randbytes(n)):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
        if algorithm is None:
            writer.encrypt(user_password=user_password, owner_password=owner_password)
        else:
            writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
        out = io.BytesIO()
        writer.write(out)
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# Not documents at all


def empty() -> bytes:
    return b""


@cache
def random_bytes(size: int = 4096, seed: int = 1234) -> bytes:
    return random.Random(seed).randbytes(size)


def plain_text() -> bytes:
    return LOREM.encode()


def html() -> bytes:
    return (
        b"<!DOCTYPE html>\n<html><head><title>Invoice</title></head>"
        b"<body><h1>Invoice</h1><p>Not a PDF, whatever the name says.</p>"
        b"<script>alert('hi')</script></body></html>\n"
    )


@cache
def zip_archive() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (("report.pdf", make_pdf(["a PDF inside a zip is still a zip"])),
                              ("notes.txt", b"an archive is not a document")):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), content)
    return out.getvalue()


# ---------------------------------------------------------------------------------------
# Disguised: the name promises one type, the bytes hold another


def pdf_named_png() -> tuple[bytes, str]:
    return make_pdf(["a PDF in disguise"]), "holiday.png"


def png_named_pdf() -> tuple[bytes, str]:
    return make_image("PNG", (400, 200)), "contract.pdf"


# ---------------------------------------------------------------------------------------
# PDFs


@cache
def user_password_pdf() -> bytes:
    """Needs the password "secret" to be read at all."""
    return reencrypt_pdf(make_pdf(["secret agenda for the meeting"]), user_password="secret", owner_password="owner")


@cache
def owner_only_pdf() -> bytes:
    """Encrypted, but the user password is empty: anyone may read it, only editing is restricted."""
    return reencrypt_pdf(make_pdf(["owner only restrictions apply"]), user_password="", owner_password="owner")


@cache
def owner_only_aes_pdf() -> bytes:
    """As owner_only_pdf, with AES-256 (needs the cryptography package to open)."""
    return reencrypt_pdf(make_pdf(["aes protected minutes"]), user_password="", owner_password="owner", algorithm="AES-256")


def certificate_encrypted_pdf() -> bytes:
    """Encrypted with the public-key security handler (/Adobe.PubSec), as Acrobat's
    "certificate security" does: only the holder of a recipient's private key can read it."""
    content = b"BT /F1 11 Tf 56 780 Td (for recipients only) Tj ET"
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Filter /Adobe.PubSec /SubFilter /adbe.pkcs7.s5 /V 4 /R 4 /Length 128 "
            b"/CF << /DefaultCryptFilter << /CFM /AESV2 /Recipients [<3082010a02820101>] >> >> "
            b"/StmF /DefaultCryptFilter /StrF /DefaultCryptFilter >>",
        ],
        version=b"1.6",
        trailer=b"/Encrypt 5 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] ",
    )


@cache
def truncated_pdf() -> bytes:
    """A five-page PDF cut in half: the xref table, the trailer and the later pages are gone."""
    whole = make_pdf([f"page {n} of the truncated document" for n in range(1, 6)])
    return whole[: len(whole) // 2]


def self_referencing_page_tree_pdf() -> bytes:
    """The /Pages node lists itself among its /Kids: a naive walk of the page tree never ends."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>",
            b"<< /Length 0 >>\nstream\n\nendstream",
        ]
    )


def page_tree_cycle_pdf() -> bytes:
    """Two /Pages nodes that are each other's kid: a cycle of two hops."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 4 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 612 792] /Resources << >> >>",
        ]
    )


_HELVETICA = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def _stream(content: bytes) -> bytes:
    return b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"


def _nested_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _one_text_page(page_extra: bytes = b"", catalog_extra: bytes = b"", content: bytes | None = None) -> bytes:
    """One page of Helvetica text: 1 catalog, 2 pages, 3 page, 4 font, 5 content."""
    if content is None:
        content = b"BT /F1 11 Tf 56 780 Td (deep nesting survived) Tj ET"
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R" + catalog_extra + b" >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R "
            b"/Resources << /Font << /F1 4 0 R >>" + page_extra + b" >> >>",
            _HELVETICA,
            _stream(content),
        ]
    )


@cache
def deeply_nested_resources_pdf(depth: int = 5000) -> bytes:
    """The page's /Resources hold, beside its font, an array nested `depth` deep: a recursive
    parser overflows the stack on the page's own dictionary."""
    return _one_text_page(page_extra=b" /Deep " + _nested_array(depth))


@cache
def deeply_nested_catalog_pdf(depth: int = 5000) -> bytes:
    """The document catalog holds an array nested `depth` deep."""
    return _one_text_page(catalog_extra=b" /Deep " + _nested_array(depth))


@cache
def deeply_nested_content_pdf(depth: int = 5000) -> bytes:
    """The page's content stream has an operand nested `depth` deep between two strings."""
    return _one_text_page(content=b"BT /F1 11 Tf 56 780 Td (before) Tj " + _nested_array(depth) + b" pop (after) Tj ET")


@cache
def deep_page_tree_pdf(depth: int = 150) -> bytes:
    """One page at the bottom of a chain of `depth` /Pages nodes, each the only kid of the last."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        number = level + 2
        parent = b"/Parent %d 0 R " % (number - 1) if level else b""
        objects.append(b"<< /Type /Pages %s/Kids [%d 0 R] /Count 1 >>" % (parent, number + 1))
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << >> >>" % (depth + 1))
    return raw_pdf(objects)


@cache
def blank_pages_pdf(pages: int = 3000) -> bytes:
    """`pages` blank pages, all sharing one empty content stream: a few hundred KB."""
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + n) for n in range(pages))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R /Resources << >> >>"
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
            b"<< /Length 0 >>\nstream\n\nendstream",
        ]
        + [page] * pages
    )


@cache
def shared_page_tree_pdf(nodes: int, pages_per_node: int) -> bytes:
    """`nodes` x `pages_per_node` pages in a two-level tree, every leaf the same blank page
    object: a small file that declares a huge page count."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the root /Pages, filled in below
        b"<< /Type /Page /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>",
        _stream(b""),
    ]
    leaves = b" ".join([b"3 0 R"] * pages_per_node)
    first = len(objects) + 1
    objects += [b"<< /Type /Pages /Parent 2 0 R /Kids [%s] /Count %d >>" % (leaves, pages_per_node)] * nodes
    kids = b" ".join(b"%d 0 R" % (first + n) for n in range(nodes))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, nodes * pages_per_node)
    return raw_pdf(objects)


# ---------------------------------------------------------------------------------------
# Images


@cache
def truncated_jpeg() -> bytes:
    whole = make_image("JPEG", (800, 600))
    return whole[: len(whole) // 2]


@cache
def truncated_png() -> bytes:
    whole = make_image("PNG", (800, 600))
    return whole[: len(whole) // 2]


@cache
def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid, complete 1-bit PNG of `width` x `height` black pixels that compresses to a few
    tens of KB: 400 million pixels, 50 MB of raw rows, made row by row so building it never
    holds them all."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


@cache
def cmyk_jpeg() -> bytes:
    return make_image("JPEG", (640, 480), mode="CMYK")


@cache
def gray16_png() -> bytes:
    """A 16-bit greyscale PNG (Pillow's mode I;16), with values across the whole 16-bit range."""
    image = Image.new("I;16", (500, 250))
    image.frombytes(bytes(x % 256 for y in range(250) for x in range(1000)), "raw", "I;16")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@cache
def gray16_big_endian_tiff() -> bytes:
    """A 16-bit greyscale TIFF in Motorola ("MM") byte order, as Macs and lab cameras write
    them: Pillow opens it as mode I;16B."""
    image = Image.new("I;16B", (500, 250))
    image.frombytes(bytes(x % 256 for y in range(250) for x in range(1000)), "raw", "I;16B")
    out = io.BytesIO()
    image.save(out, format="TIFF")
    assert out.getvalue()[:4] == b"MM\x00*"
    return out.getvalue()


@cache
def rgba_png() -> bytes:
    return make_image("PNG", (600, 400), mode="RGBA")


@cache
def animated_gif() -> bytes:
    frames = [Image.new("RGB", (640, 320), colour) for colour in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


@cache
def exif_rotated_jpeg() -> bytes:
    """Stored 400x200, tagged orientation 6: shown 200x400."""
    return make_exif_rotated_jpeg((400, 200), orientation=6)


@cache
def tiff() -> bytes:
    return make_image("TIFF", (320, 640), compression="tiff_lzw")


@cache
def one_pixel_png() -> bytes:
    return make_image("PNG", (1, 1))


# ---------------------------------------------------------------------------------------
# Names

UNICODE_NAME = 'résumé "final" 日本語.pdf'
QUOTED_NAME = "it's.png"
HOSTILE_NAMES = [
    UNICODE_NAME,
    QUOTED_NAME,
    "../../etc/passwd.pdf",
    "..\\..\\windows\\system32.png",
    "..",
    "...pdf",
    "a/../../b.pdf",
    "name\x00with\x07controls\n.pdf",
    "e\u0301t\u00e9 (copy) [2].jpg",  # a decomposed accent, NFC-normalised
    "\u202eevil\u202dfdp.exe",  # right-to-left override
    "'; DROP TABLE documents; --.pdf",
    "x" * 400 + ".pdf",
    "\udcff\udcfe.pdf",  # undecodable bytes, as os.fsdecode hands them over
    "CON.pdf",
    "..pdf",
    " ",
    "",
]


# ---------------------------------------------------------------------------------------
# The cases


@dataclass(frozen=True)
class Expected:
    """What the document workflow should record for an input (docflow.outcome's fields).
    None means "not checked"."""

    status: str  # succeeded | failed | skipped
    code: str | None = None  # the error code; None when it succeeded
    kind: str | None = None  # detection's kind; None when detection itself fails
    mime_type: str | None = None
    extension_mismatch: bool | None = None
    # PDFs
    page_count: int | None = None
    word_count: int | None = None
    pages_failed: int | None = None
    text_contains: str | None = None
    # Images
    thumbnail_size: tuple[int, int] | None = None
    original_size: tuple[int, int] | None = None  # as displayed, EXIF orientation applied
    thumbnail_format: str | None = None  # "jpeg" or "png"
    # The outcome's partial flag: a truncated image, failed PDF pages.
    partial: bool | None = None
    # A bound on the whole run, in seconds, for inputs built to make it slow.
    max_seconds: float | None = None
    # Other outcomes that are as good (either is what docflow documents).
    accept_also: tuple[Expected, ...] = ()


class HostileCase(NamedTuple):
    name: str  # the file name the client uploads it as; unique, so it also names the case
    data: bytes
    expected: Expected


def _image(size: tuple[int, int], thumbnail: tuple[int, int], mime: str, fmt: str = "jpeg", *,
           mismatch: bool = False, partial: bool = False) -> Expected:
    return Expected(
        status="succeeded", kind="image", mime_type=mime, extension_mismatch=mismatch, thumbnail_size=thumbnail,
        original_size=size, thumbnail_format=fmt, partial=partial, max_seconds=5,
    )


def _unsupported(mime: str) -> Expected:
    return Expected(status="skipped", code="unsupported_type", kind="unsupported", mime_type=mime)


def _pdf_failed(code: str) -> Expected:
    return Expected(status="failed", code=code, kind="pdf", mime_type="application/pdf", max_seconds=20)


def _pdf(**fields) -> Expected:
    return Expected(status="succeeded", kind="pdf", mime_type="application/pdf", **fields)


PDF_CORRUPT = _pdf_failed("pdf_corrupt")
IMAGE_TOO_LARGE = Expected(status="failed", code="image_too_large", kind="image", mime_type="image/png", max_seconds=2)


@cache
def hostile_cases() -> list[HostileCase]:
    disguised_pdf, disguised_pdf_name = pdf_named_png()
    disguised_png, disguised_png_name = png_named_pdf()
    return [
        # Not documents
        HostileCase("empty.pdf", empty(), Expected(status="failed", code="empty_file")),
        HostileCase("random.bin", random_bytes(), _unsupported("application/octet-stream")),
        HostileCase("notes.txt", plain_text(), _unsupported("text/plain")),
        HostileCase("invoice.html", html(), _unsupported("text/html")),
        HostileCase("archive.zip", zip_archive(), _unsupported("application/zip")),
        # Disguised: the bytes decide, the mismatch is reported
        HostileCase(disguised_pdf_name, disguised_pdf,
                    _pdf(extension_mismatch=True, page_count=1, pages_failed=0, text_contains="a PDF in disguise")),
        HostileCase(disguised_png_name, disguised_png, _image((400, 200), (300, 150), "image/png", mismatch=True)),
        # Encryption
        HostileCase("locked.pdf", user_password_pdf(), _pdf_failed("pdf_encrypted")),
        HostileCase("owner-only.pdf", owner_only_pdf(),
                    _pdf(page_count=1, pages_failed=0, partial=False, text_contains="owner only restrictions apply")),
        HostileCase("certificate-encrypted.pdf", certificate_encrypted_pdf(), _pdf_failed("pdf_encrypted")),
        HostileCase("owner-only-aes.pdf", owner_only_aes_pdf(),
                    _pdf(page_count=1, pages_failed=0, partial=False, text_contains="aes protected minutes")),
        # Broken and malicious structure: an error or a flagged partial result, never a
        # crash, never a hang
        HostileCase("truncated.pdf", truncated_pdf(),
                    replace(PDF_CORRUPT, accept_also=(_pdf(partial=True, max_seconds=20),))),
        HostileCase("self-referencing-page-tree.pdf", self_referencing_page_tree_pdf(), PDF_CORRUPT),
        HostileCase("page-tree-cycle.pdf", page_tree_cycle_pdf(), PDF_CORRUPT),
        HostileCase("deeply-nested-catalog.pdf", deeply_nested_catalog_pdf(), PDF_CORRUPT),
        # The page's own dictionary cannot be parsed: the page's text must come out, or the
        # loss be said (pdf_corrupt, or the page counted failed and the outcome partial).
        HostileCase("deeply-nested-resources.pdf", deeply_nested_resources_pdf(),
                    _pdf(page_count=1, pages_failed=0, partial=False, text_contains="deep nesting survived",
                         max_seconds=20,
                         accept_also=(PDF_CORRUPT, _pdf(page_count=1, pages_failed=1, partial=True)))),
        # One page's content nests 5,000 deep: pdfium skips the nested operand and reads the
        # text around it; a reader that cannot must count the page failed, not lose it.
        HostileCase("deeply-nested-content.pdf", deeply_nested_content_pdf(),
                    _pdf(page_count=1, pages_failed=0, partial=False, text_contains="beforeafter", max_seconds=20,
                         accept_also=(_pdf(page_count=1, pages_failed=1, partial=True),))),
        # A chain of 150 /Pages nodes, deeper than pypdf's page-tree limit (100).
        HostileCase("deep-page-tree.pdf", deep_page_tree_pdf(), PDF_CORRUPT),
        HostileCase("blank-3000-pages.pdf", blank_pages_pdf(),
                    _pdf(page_count=3000, word_count=0, pages_failed=0, partial=False, max_seconds=25)),
        # Over docflow's page limit (20,000): refused before any page is read.
        HostileCase("20100-pages.pdf", shared_page_tree_pdf(100, 201), _pdf_failed("pdf_too_many_pages")),
        # Over pypdf's page-tree entry limit (100,000) as well: still docflow's page limit.
        HostileCase("100500-pages.pdf", shared_page_tree_pdf(402, 250), _pdf_failed("pdf_too_many_pages")),
        # Images
        HostileCase("truncated.jpg", truncated_jpeg(), _image((800, 600), (300, 225), "image/jpeg", partial=True)),
        HostileCase("truncated.png", truncated_png(), _image((800, 600), (300, 225), "image/png", partial=True)),
        HostileCase("bomb.png", bomb_png(), IMAGE_TOO_LARGE),
        # Over docflow's limit but under twice Pillow's: the DecompressionBombWarning path.
        HostileCase("bomb-just-over.png", bomb_png(12_000, 12_000), IMAGE_TOO_LARGE),
        HostileCase("cmyk.jpg", cmyk_jpeg(), _image((640, 480), (300, 225), "image/jpeg")),
        HostileCase("gray16.png", gray16_png(), _image((500, 250), (300, 150), "image/png")),
        HostileCase("gray16-big-endian.tiff", gray16_big_endian_tiff(), _image((500, 250), (300, 150), "image/tiff")),
        HostileCase("rgba.png", rgba_png(), _image((600, 400), (300, 200), "image/png", fmt="png")),
        HostileCase("animated.gif", animated_gif(), _image((640, 320), (300, 150), "image/gif")),
        HostileCase("exif-rotated.jpg", exif_rotated_jpeg(), _image((200, 400), (150, 300), "image/jpeg")),
        HostileCase("scan.tiff", tiff(), _image((320, 640), (150, 300), "image/tiff")),
        HostileCase("pixel.png", one_pixel_png(), _image((1, 1), (1, 1), "image/png")),
        # Names
        HostileCase(UNICODE_NAME, make_pdf(["curriculum vitae"]),
                    _pdf(extension_mismatch=False, page_count=1, text_contains="curriculum vitae")),
        HostileCase(QUOTED_NAME, make_image("PNG", (200, 100)), _image((200, 100), (200, 100), "image/png")),
    ]


HOSTILE_CASES: list[HostileCase] = hostile_cases()

# The cases docflow gets wrong today, by case name: what goes wrong and where, and the
# exception the check fails with (an escaping error, or AssertionError for a wrong outcome).
# tests/test_hostile.py marks them xfail(strict=True); remove an entry once its bug is fixed.
KNOWN_BUGS: dict[str, tuple[str, type[BaseException]]] = {}


def matches(outcome: dict, state: dict, text: str | None, elapsed: float, expected: Expected) -> list[str]:
    """How the outcome differs from `expected` (or from every one it accepts); [] if it matches."""
    differences = _differences(outcome, state, text, elapsed, expected)
    for alternative in expected.accept_also:
        if not differences:
            break
        if not _differences(outcome, state, text, elapsed, alternative):
            return []
    return differences


def _differences(outcome: dict, state: dict, text: str | None, elapsed: float, expected: Expected) -> list[str]:
    error = outcome.get("error") or {}
    extraction = state.get("extraction") or {}
    thumbnail = state.get("thumbnail") or {}
    actual = {
        "status": outcome["status"],
        "code": error.get("code"),
        "kind": outcome["kind"],
        "mime_type": outcome["mime_type"],
        "extension_mismatch": outcome["extension_mismatch"],
        "page_count": outcome["page_count"],
        "word_count": outcome["word_count"],
        "pages_failed": extraction.get("pages_failed"),
        "thumbnail_size": (outcome["thumbnail_width"], outcome["thumbnail_height"]) if thumbnail else None,
        "original_size": (thumbnail["original_width"], thumbnail["original_height"]) if thumbnail else None,
        "thumbnail_format": thumbnail.get("format"),
        "partial": outcome["partial"],
    }
    differences = [f"{field}: expected {getattr(expected, field)!r}, got {value!r}" for field, value in actual.items()
                   if field in ("status", "code") or getattr(expected, field) is not None
                   if getattr(expected, field) != value]
    if expected.text_contains is not None and expected.text_contains not in (text or ""):
        differences.append(f"text: expected to contain {expected.text_contains!r}, got {(text or '')[:80]!r}")
    if expected.max_seconds is not None and elapsed > expected.max_seconds:
        differences.append(f"took {elapsed:.1f} s, more than {expected.max_seconds} s")
    if differences and outcome.get("error"):
        differences.append(f"(the error's message: {outcome['error']['message']!r})")
    return differences


# ---------------------------------------------------------------------------------------
# The document workflow, in process


def run_workflow(
    data: bytes, filename: str, document_id: str = "hostile-1", settings: Settings = DEFAULTS
) -> tuple[dict, dict, MemoryObjectStore]:
    """Runs a document as statemachine/document.asl.json does: upload under docflow's key,
    Detect, route by kind to ExtractText + AnalyzeText or MakeThumbnail, a docflow error
    caught into $.failure, and RecordOutcome's decision. Returns (outcome, state, store).

    Only DocflowError is caught, as the Catch would record it with its code; anything else
    propagates, since in the real workflow it would be an internal_error: a bug."""
    store = MemoryObjectStore()
    key = keys.upload_key(document_id, filename)
    store.put(key, data, "application/octet-stream")
    state: dict = {"document_id": document_id, "key": key, "filename": filename}
    try:
        detection = detect_document(store, key, filename, settings)
        state["detection"] = detection.to_dict()
        if detection.kind == "pdf":
            extraction = extract_document(store, document_id, key, settings=settings)
            state["extraction"] = extraction.to_dict()
            state["analysis"] = analyze_document(store, extraction.text_key).to_dict()
        elif detection.kind == "image":
            state["thumbnail"] = make_thumbnail(store, document_id, key, settings).to_dict()
    except DocflowError as error:
        # What Lambda reports and the Catch stores: the class name and a JSON cause.
        cause = {"errorMessage": error.message, "errorType": type(error).__name__, "stackTrace": []}
        state["failure"] = {"Error": type(error).__name__, "Cause": json.dumps(cause)}
    return dict(decide_outcome(state, datetime(2026, 1, 1, tzinfo=timezone.utc))), state, store


@cache
def seeds() -> tuple[tuple[str, bytes], ...]:
    """Small valid files of every kind docflow processes, for the fuzzer to mutate."""
    small_gif = io.BytesIO()
    frames = [Image.new("P", (24, 16), colour) for colour in (1, 2, 3)]
    frames[0].save(small_gif, format="GIF", save_all=True, append_images=frames[1:])
    return (
        ("pdf", make_pdf(["seed page one words", "seed page two"])),
        ("uncompressed.pdf", make_pdf(["plain stream seed"], compress=False)),
        ("owner-only.pdf", owner_only_pdf()),
        ("png", make_image("PNG", (48, 32))),
        ("rgba.png", make_image("PNG", (40, 30), mode="RGBA")),
        ("gray16.png", make_image("PNG", (40, 30), mode="I;16")),
        ("jpeg", make_image("JPEG", (64, 48))),
        ("progressive.jpg", make_image("JPEG", (64, 48), progressive=True)),
        ("cmyk.jpg", make_image("JPEG", (40, 30), mode="CMYK")),
        ("exif.jpg", make_exif_rotated_jpeg((40, 20))),
        ("gif", make_image("GIF", (40, 30))),
        ("animated.gif", small_gif.getvalue()),
        ("tiff", make_image("TIFF", (40, 30))),
        ("webp", make_image("WEBP", (40, 30))),
        ("bmp", make_image("BMP", (40, 30))),
    )


# ---------------------------------------------------------------------------------------
# A watchdog for inputs built to hang


class Hang(BaseException):
    """Raised into code that ran past its time. A BaseException, so that the `except
    Exception` docflow keeps around one page's extraction cannot swallow it."""


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raises Hang in the main thread if the block runs longer than `seconds` (SIGALRM:
    interrupts pure-Python loops such as pypdf's). Elsewhere it only times nothing."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
