"""Mutation fuzzing of real files through the real domain functions.

Valid seeds (PDFs and images made by tests/samples.py and tests/hostile.py, plus a handful
of small real files from the shared corpus when it is present) are mutated: bytes flipped,
the file cut short, pieces of another file spliced in, junk inserted, ranges deleted or
repeated, "interesting" values written over headers. Each result runs through the document
workflow as tests/hostile.run_workflow plays it (detect, then extract + analyze or
thumbnail, on a MemoryObjectStore). The property: the outcome is recorded and only
docflow.errors.DocflowError subclasses escape a step; nothing runs past a watchdog.

Bounded and reproducible for CI: derandomize=True (the examples are a function of the
test alone), no example database, deadline off (the watchdog is the bound), and example
counts (4,000 in all) that keep the file near 40 s on a 2-core machine, within make
test's three minutes: each PDF is read by pdfium in a child forked for it, as in
production, about 25 ms an example.
FUZZ_SCALE=<n> multiplies the counts and FUZZ_RANDOM=1 draws new examples, for a longer
local hunt.
"""

from __future__ import annotations

import io
import os
from functools import cache

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from corpus import corpus_files
from docflow.settings import Settings
from docflow.thumbnails import MAX_SIDE
from hostile import Hang, run_workflow, seeds, watchdog
from samples import make_pdf

WATCHDOG_SECONDS = 20
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
# FUZZ_RANDOM=1: fresh random examples on every run, for hunting; CI keeps them fixed.
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
# Mutated headers can declare up to the pixel limit; decoding 100 million pixels from a few
# bytes is bounded but slow. A lower limit keeps examples fast and sends more of them
# down the image_too_large path.
FUZZ_SETTINGS = Settings(max_image_pixels=4_000_000)
CORPUS_MAX_BYTES = 64 * 1024
CORPUS_PER_KIND = 4

# Pillow warns about every odd TIFF/EXIF tag a mutation makes; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:PIL.*")


def fuzz_settings(examples: int):
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


# ---------------------------------------------------------------------------------------
# Seeds

@cache
def pdf_seeds() -> tuple[bytes, ...]:
    return tuple(data for name, data in seeds() if "pdf" in name)


@cache
def image_seeds() -> tuple[bytes, ...]:
    return tuple(data for name, data in seeds() if "pdf" not in name)


@cache
def corpus_seeds() -> tuple[bytes, ...]:
    """The smallest few corpus PDFs and images (so each example stays quick); () when the
    corpus is absent."""
    chosen = []
    for kind in ("pdf", "images"):
        files = sorted((path for path in corpus_files(kind) if path.exists()), key=lambda path: path.stat().st_size)
        chosen += [path.read_bytes() for path in files if path.stat().st_size <= CORPUS_MAX_BYTES][:CORPUS_PER_KIND]
    return tuple(chosen)


# ---------------------------------------------------------------------------------------
# Mutations

INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff",
               b"\x80\x00\x00\x00", b"\x00\x01\x00\x00", b"9999999999", b"-1", b"0", b" R", b"<<", b">>", b"[", b"]",
               b"obj", b"endobj", b"stream", b"endstream", b"/Length 99999999", b"/Count -1", b"/Kids [1 0 R]",
               b"xref", b"trailer", b"%%EOF", b"IDAT", b"IEND", b"\xff\xd8", b"\xff\xd9", b"\xff\xc0"]


def offsets(size: int):
    """Anywhere in the file, with a bias to its first 512 bytes, where headers are."""
    if size == 0:
        return st.just(0)
    return st.one_of(st.integers(0, min(size, 512)), st.integers(0, size))


@st.composite
def mutated(draw, pool: tuple[bytes, ...]):
    original = draw(st.sampled_from(pool))
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        operation = draw(st.sampled_from(["flip", "truncate", "splice", "junk", "delete", "duplicate", "interesting"]))
        if operation == "flip":
            for _ in range(draw(st.integers(1, 8))):
                if data:
                    at = draw(offsets(len(data) - 1))
                    data[at] ^= draw(st.integers(1, 255))
        elif operation == "truncate":
            data = data[: draw(offsets(len(data)))]
        elif operation == "splice":
            other = draw(st.sampled_from(pool))
            start = draw(st.integers(0, len(other)))
            piece = other[start : start + draw(st.integers(1, 4096))]
            at = draw(offsets(len(data)))
            if draw(st.booleans()):
                data[at:at] = piece  # insert
            else:
                data[at : at + len(piece)] = piece  # overwrite
        elif operation == "junk":
            at = draw(offsets(len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=256))
        elif operation == "delete":
            at = draw(offsets(len(data)))
            del data[at : at + draw(st.integers(1, 1024))]
        elif operation == "duplicate":
            at = draw(offsets(len(data)))
            piece = data[at : at + draw(st.integers(1, 2048))]
            data[at:at] = piece * draw(st.integers(1, 4))
        else:
            at = draw(offsets(len(data)))
            value = draw(st.sampled_from(INTERESTING))
            data[at : at + len(value)] = value
    return bytes(data)


SIGNATURES = [b"%PDF-1.4\n", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1",
              b"GIF89a", b"GIF87a", b"II*\x00", b"MM\x00*", b"BM", b"RIFF\x00\x00\x00\x00WEBPVP8 "]


# ---------------------------------------------------------------------------------------
# The property

@pytest.fixture(autouse=True, scope="module")
def pillows_own_guard():
    """render_thumbnail sets Pillow's bomb guard to the limit it is given; put Pillow's back."""
    saved = Image.MAX_IMAGE_PIXELS
    yield
    Image.MAX_IMAGE_PIXELS = saved


# Escapes that are known bugs, each pinned by a strict xfail in tests/test_hostile.py (named
# here): tolerated so that the fuzzer keeps looking for new ones instead of rediscovering
# these. Delete an entry when its bug is fixed (its xfail will say so by passing).
KNOWN_ESCAPES: list[tuple[str, str, str]] = [
    # (exception class name, text in its message, the test_hostile case pinning it)
]


def known_bug(error: Exception) -> bool:
    return any(type(error).__name__ == name and text in str(error) for name, text, _ in KNOWN_ESCAPES)


def check(data: bytes, filename: str) -> None:
    """Runs the workflow on `data`; fails on a hang, lets any non-docflow exception fail the
    example (run_workflow lets them through) unless it is a known bug, and checks the
    outcome is coherent."""
    try:
        with watchdog(WATCHDOG_SECONDS):
            outcome, state, store = run_workflow(data, filename, document_id="fuzz", settings=FUZZ_SETTINGS)
    except Hang:
        raise AssertionError(f"still running after {WATCHDOG_SECONDS} s: a hang ({len(data)} bytes)") from None
    except Exception as error:
        if known_bug(error):
            return
        raise
    assert outcome["status"] in ("succeeded", "failed", "skipped")
    assert (outcome["error"] is None) == (outcome["status"] == "succeeded")
    if outcome["error"] is not None:
        assert outcome["error"]["code"] != "internal_error"
    if outcome["status"] == "succeeded" and outcome["kind"] == "pdf":
        extraction = state["extraction"]
        assert 0 <= extraction["pages_failed"] <= extraction["page_count"]
        assert extraction["text_key"] in store.objects
    if outcome["status"] == "succeeded" and outcome["kind"] == "image":
        thumbnail = state["thumbnail"]
        width, height = thumbnail["width"], thumbnail["height"]
        assert 1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE
        with Image.open(io.BytesIO(store.objects[thumbnail["thumbnail_key"]])) as image:
            assert image.size == (width, height)


@fuzz_settings(examples=700)
@given(data=mutated(pdf_seeds()))
@example(data=make_pdf(["an unmutated seed"]))
def test_mutated_pdfs(data):
    check(data, "document.pdf")


@fuzz_settings(examples=1500)
@given(data=mutated(image_seeds()))
def test_mutated_images(data):
    check(data, "picture.png")


@fuzz_settings(examples=1400)
@given(data=st.builds(lambda signature, rest: signature + rest, st.sampled_from(SIGNATURES), st.binary(max_size=2048)))
def test_junk_behind_a_signature(data):
    check(data, "upload")


@pytest.mark.corpus
@pytest.mark.skipif(not corpus_seeds(), reason="the shared corpus is absent")
@fuzz_settings(examples=400)
@given(data=st.data())
def test_mutated_corpus_files(data):
    check(data.draw(mutated(corpus_seeds())), "corpus-file")
