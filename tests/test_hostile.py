"""Hostile inputs through the real domain functions, as the document workflow runs them.

Every case of tests/hostile.py is uploaded to a MemoryObjectStore under docflow's own key,
detected, routed by kind to extract + analyze or to thumbnail, and its outcome decided as
the record step decides it. The outcome must be the documented one; only DocflowError
subclasses may escape a step (anything else would reach the report as internal_error);
nothing may hang (a watchdog interrupts any case after 20 s) or take long where the
input was built to make it slow.

Cases that expose a bug in docflow are marked xfail(strict=True) with the bug's
description, so they fail loudly the day the bug is fixed and the mark can go.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest
from PIL import Image

from docflow import keys
from docflow.detection import detect_document
from docflow.thumbnails import MAX_SIDE
from fakes import MemoryObjectStore
from hostile import (
    HOSTILE_CASES,
    HOSTILE_NAMES,
    KNOWN_BUGS,
    QUOTED_NAME,
    UNICODE_NAME,
    Hang,
    bomb_png,
    matches,
    owner_only_aes_pdf,
    reencrypt_pdf,
    run_workflow,
    watchdog,
)
from samples import make_image, make_pdf

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
WATCHDOG_SECONDS = 20


def case_params(cases=HOSTILE_CASES) -> list:
    params = []
    for case in cases:
        marks = []
        if case.name in KNOWN_BUGS:
            reason, raises = KNOWN_BUGS[case.name]
            marks.append(pytest.mark.xfail(strict=True, reason=reason, raises=raises))
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def run_guarded(data: bytes, filename: str):
    started = time.perf_counter()
    try:
        with watchdog(WATCHDOG_SECONDS):
            outcome, state, store = run_workflow(data, filename)
    except Hang:
        pytest.fail(f"{filename}: still running after {WATCHDOG_SECONDS} s (a hang)")
    return outcome, state, store, time.perf_counter() - started


@pytest.mark.parametrize("case", case_params())
def test_a_hostile_input_gets_its_documented_outcome(case):
    outcome, state, store, elapsed = run_guarded(case.data, case.name)
    extraction = state.get("extraction")
    text = store.objects[extraction["text_key"]].decode("utf-8") if extraction else None
    differences = matches(outcome, state, text, elapsed, case.expected)
    assert not differences, f"{case.name}: " + "; ".join(differences)


@pytest.mark.parametrize("case", case_params([case for case in HOSTILE_CASES if case.expected.thumbnail_size]))
def test_a_thumbnail_is_what_it_says_it_is(case):
    """A stored thumbnail decodes, has the size the outcome reports, at most 300 px on its
    longest side (never upscaled), and the original's ratio to a pixel."""
    outcome, state, store, _ = run_guarded(case.data, case.name)
    assert outcome["status"] == "succeeded", outcome["error"]
    thumbnail = state["thumbnail"]
    stored = store.objects[thumbnail["thumbnail_key"]]
    assert store.content_types[thumbnail["thumbnail_key"]] == f"image/{thumbnail['format']}"
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format.lower() == thumbnail["format"]
        width, height = image.size
    original_width, original_height = thumbnail["original_width"], thumbnail["original_height"]
    assert (width, height) == (thumbnail["width"], thumbnail["height"])
    assert max(width, height) == min(MAX_SIDE, max(original_width, original_height))
    # The ratio is kept up to the rounding of the shorter side.
    assert abs(width * original_height - height * original_width) <= max(original_width, original_height)


def test_the_bomb_is_refused_from_its_header_without_decoding(tmp_path):
    """In a fresh process (so its peak memory is its own): refusing a 400-million-pixel PNG
    takes milliseconds and no memory for pixels (decoding it would take 400 MB)."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(bomb_png())
    script = f"""
import io, json, resource, sys, time
sys.path.insert(0, {str(TESTS)!r})
from docflow.errors import ImageTooLarge
from docflow.thumbnails import render_thumbnail
data = open({str(bomb)!r}, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    render_thumbnail(io.BytesIO(data))
    result = "no error"
except ImageTooLarge as error:
    result = error.code
seconds = time.perf_counter() - started
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"result": result, "seconds": seconds, "grown_kb": after - before, "peak_kb": after}}))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["result"] == "image_too_large"
    assert report["seconds"] < 1.0
    assert report["grown_kb"] < 50 * 1024, report  # kilobytes, on Linux


# The extract function's bundle (functions/extract/requirements.txt, build/bundles/*/extract)
# ships pypdf without cryptography or pycryptodome, so in Lambda pypdf falls back to its
# pure-Python provider, which has RC4 but no AES. These run extraction in a process where
# neither package can be imported, as in that bundle.
_NO_CRYPTO_SCRIPT = """
import json, sys
sys.modules["cryptography"] = None
sys.modules["Crypto"] = None
sys.path.insert(0, {tests!r})
from docflow import keys
from docflow.errors import DocflowError
from docflow.extraction import extract_document
from fakes import MemoryObjectStore
store = MemoryObjectStore({{"uploads/d/x.pdf": open({pdf!r}, "rb").read()}})
try:
    extraction = extract_document(store, "d", "uploads/d/x.pdf")
    result = {{"extraction": extraction.to_dict(), "text": store.objects[keys.text_key("d")].decode()}}
except DocflowError as error:
    result = {{"code": error.code}}
except Exception as error:
    result = {{"escaped": type(error).__module__ + "." + type(error).__name__ + ": " + str(error)}}
print(json.dumps(result))
"""

@pytest.mark.parametrize(
    "algorithm",
    [
        pytest.param("RC4-128"),
        pytest.param("AES-128"),
        pytest.param("AES-256"),
    ],
)
def test_an_owner_only_pdf_without_a_crypto_library_is_read_or_pdf_encrypted(tmp_path, algorithm):
    pdf = tmp_path / "owner-only.pdf"
    data = owner_only_aes_pdf() if algorithm == "AES-256" else reencrypt_pdf(
        make_pdf(["aes protected minutes"]), user_password="", owner_password="owner", algorithm=algorithm)
    pdf.write_bytes(data)
    script = _NO_CRYPTO_SCRIPT.format(tests=str(TESTS), pdf=str(pdf))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert "escaped" not in result, result["escaped"]
    assert result.get("code") == "pdf_encrypted" or (
        "aes protected minutes" in result["text"] and result["extraction"]["pages_failed"] == 0
    ), result


@pytest.mark.parametrize("filename", HOSTILE_NAMES, ids=repr)
def test_a_hostile_name_makes_a_safe_upload_key(filename):
    key = keys.upload_key("doc-1", filename)
    prefix = "uploads/doc-1/"
    assert key.startswith(prefix)
    name = key[len(prefix):]
    assert name and len(name) <= keys.MAX_NAME_LENGTH
    assert "/" not in name and "\\" not in name
    assert ".." not in name and name not in (".", "..")
    assert not any(quote in name for quote in "'\"`")
    assert all(character.isprintable() and not character.isspace() for character in name), repr(name)
    assert not any(unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn") for character in name), repr(name)
    assert name == unicodedata.normalize("NFC", name)
    name.encode("utf-8")  # a valid S3 key: no lone surrogates
    assert keys.safe_filename(name) == name  # already safe: idempotent


@pytest.mark.parametrize(
    ("filename", "data", "kind", "mismatch"),
    [
        (UNICODE_NAME, make_pdf(["cv"]), "pdf", False),
        (UNICODE_NAME, make_image("PNG", (20, 10)), "image", True),
        (QUOTED_NAME, make_image("PNG", (20, 10)), "image", False),
        (QUOTED_NAME, make_pdf(["cv"]), "pdf", True),
        *[(name, make_pdf(["cv"]), "pdf", None) for name in HOSTILE_NAMES],
    ],
    ids=repr,
)
def test_detection_works_whatever_the_name(filename, data, kind, mismatch):
    store = MemoryObjectStore()
    key = keys.upload_key("doc-1", filename)
    store.put(key, data, "application/octet-stream")
    detection = detect_document(store, key, filename)
    assert detection.kind == kind and detection.size_bytes == len(data)
    if mismatch is not None:
        assert detection.extension_mismatch is mismatch


def test_the_hostile_inputs_are_made_in_code_and_small():
    """No case is read from a file, and none is big: the bomb and the 3,000-page PDF are the
    point of being small and declaring a lot."""
    sizes = {case.name: len(case.data) for case in HOSTILE_CASES}
    assert len(sizes) == len(HOSTILE_CASES), "case names must be unique"
    assert max(sizes.values()) < 1_000_000, sizes
    assert sizes["bomb.png"] < 100_000 and sizes["blank-3000-pages.pdf"] < 500_000


def test_the_watchdog_interrupts_a_hang():
    started = time.perf_counter()
    with pytest.raises(Hang):
        with watchdog(0.2):
            while True:
                try:
                    time.sleep(0.01)
                except Exception:  # as docflow's page loop does: Hang must get through
                    pass
    assert time.perf_counter() - started < 2
