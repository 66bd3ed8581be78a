"""detect: the type comes from the bytes, read with one ranged GET, never the whole object."""

from __future__ import annotations

import io
import shutil
import zipfile
import subprocess

import pytest

from docflow.detection import HEAD_BYTES, detect, detect_document, extension_disagrees
from docflow.errors import EmptyFile
from fakes import MemoryObjectStore
from handlers import lambda_context, load_handler
from samples import make_image, make_pdf


def make_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "an archive is not a document")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "mime_type", "kind"),
    [
        (make_pdf(["hello"]), "application/pdf", "pdf"),
        (make_image("PNG"), "image/png", "image"),
        (make_image("JPEG"), "image/jpeg", "image"),
        (make_image("GIF"), "image/gif", "image"),
        (make_image("WEBP"), "image/webp", "image"),
        (make_image("TIFF"), "image/tiff", "image"),
        (b"just some words\n", "text/plain", "unsupported"),
        (b"<!doctype html><html><body>hi</body></html>", "text/html", "unsupported"),
        (make_zip(), "application/zip", "unsupported"),
    ],
)
def test_the_type_comes_from_the_content(data, mime_type, kind):
    detection = detect(data[:HEAD_BYTES], len(data), "upload")
    assert (detection.mime_type, detection.kind, detection.size_bytes) == (mime_type, kind, len(data))


@pytest.mark.parametrize(
    ("filename", "mime_type", "disagrees"),
    [
        ("scan.pdf", "application/pdf", False),
        ("photo.JPG", "image/jpeg", False),
        ("photo.jpeg", "image/jpeg", False),
        ("picture.png", "application/pdf", True),
        ("report.pdf", "image/png", True),
        ("no-extension", "application/pdf", False),
        ("archive.tar.unknownext", "application/pdf", False),
        # Text formats are text/plain to libmagic: their names agree with it, but not with a PDF.
        ("table.csv", "text/plain", False),
        ("notes.md", "text/plain", False),
        ("data.json", "text/plain", False),
        ("table.csv", "application/pdf", True),
        ("report.pdf", "text/plain", True),
    ],
)
def test_extension_mismatch(filename, mime_type, disagrees):
    assert extension_disagrees(filename, mime_type) is disagrees


def test_an_empty_file_is_an_error():
    with pytest.raises(EmptyFile):
        detect(b"", 0, "empty.pdf")


def test_only_the_first_bytes_are_read():
    big = make_pdf(["page"] * 400)
    store = MemoryObjectStore({"uploads/d/big.pdf": big})
    detection = detect_document(store, "uploads/d/big.pdf", "big.pdf")
    assert detection.size_bytes == len(big) > HEAD_BYTES
    assert store.reads == [("uploads/d/big.pdf", HEAD_BYTES)]


def test_the_s3_adapter_uses_a_ranged_get(s3_store):
    data = make_image("PNG", (800, 800))
    s3_store.put("uploads/d/a.png", data, "image/png")
    head, size = s3_store.read_head("uploads/d/a.png", 1024)
    assert (len(head), size) == (1024, len(data))
    s3_store.put("uploads/d/empty", b"", "application/octet-stream")
    assert s3_store.read_head("uploads/d/empty", 1024) == (b"", 0)


def test_the_handler_returns_a_small_detection(s3_store):
    s3_store.put("uploads/d1/x.png", make_pdf(["a pdf in disguise"]), "image/png")
    result = load_handler("detect")({"document_id": "d1", "key": "uploads/d1/x.png", "filename": "x.png"}, lambda_context())
    assert result == {"mime_type": "application/pdf", "kind": "pdf", "size_bytes": result["size_bytes"], "extension_mismatch": True}


@pytest.mark.corpus
@pytest.mark.skipif(shutil.which("file") is None, reason="the file command is not installed")
def test_corpus_types_equal_file_mime_type(corpus_pdfs, corpus_images):
    for path in corpus_pdfs + corpus_images:
        expected = subprocess.run(["file", "-b", "--mime-type", str(path)], capture_output=True, text=True).stdout.strip()
        data = path.read_bytes()
        assert detect(data[:HEAD_BYTES], len(data), path.name).mime_type == expected, path.name


def test_a_file_over_the_size_limit_is_refused_before_it_is_read():
    from docflow.detection import detect
    from docflow.errors import FileTooLarge
    from docflow.settings import Settings

    small = Settings(max_file_bytes=1000)
    with pytest.raises(FileTooLarge, match="1,001 bytes; the limit is 1,000"):
        detect(b"%PDF-1.4", 1001, "big.pdf", small)
    assert detect(b"%PDF-1.4\n", 1000, "ok.pdf", small).kind == "pdf"
