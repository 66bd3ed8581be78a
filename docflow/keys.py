"""The layout of the documents bucket. Every key docflow reads or writes is made here."""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath, PureWindowsPath

_UNSAFE = re.compile(r"[^\w.\-]+")
MAX_NAME_LENGTH = 120


def safe_filename(filename: str) -> str:
    """The file name part of a client's file name, made safe to use in a key: no folders,
    no `..`, no control characters; letters of any script are kept."""
    name = PureWindowsPath(PurePosixPath(filename).name).name  # strips both / and \ folders
    name = unicodedata.normalize("NFC", name)
    name = _UNSAFE.sub("_", name).strip("._") or "document"
    if len(name) > MAX_NAME_LENGTH:
        _, dot, suffix = name.rpartition(".")
        keep = suffix if dot and len(suffix) <= 10 else ""
        name = name[: MAX_NAME_LENGTH - len(keep) - 1].rstrip("._") + (f".{keep}" if keep else "")
    return name


def upload_key(document_id: str, filename: str) -> str:
    """A file a client uploads through the API: its arrival starts the document's processing."""
    return f"uploads/{document_id}/{safe_filename(filename)}"


def input_key(document_id: str, filename: str) -> str:
    """A file of a batch submitted straight to S3 and Step Functions (`docflow run`), which
    starts its own processing. Not under uploads/: the upload rule would send each file
    through SQS and ingest only to be looked up and ignored, having no record."""
    return f"inputs/{document_id}/{safe_filename(filename)}"


def text_key(document_id: str) -> str:
    return f"documents/{document_id}/text.txt"


def thumbnail_key(document_id: str, extension: str) -> str:
    return f"documents/{document_id}/thumbnail.{extension}"


def ocr_plan_key(document_id: str) -> str:
    """The pages of a PDF the ocr step reads, and in how many parts (docflow.ocr.OcrPlan)."""
    return f"documents/{document_id}/ocr/plan.json"


def ocr_part_key(document_id: str, part: int) -> str:
    """The text of one part's pages, read by OCR, until join puts it in text.txt."""
    return f"documents/{document_id}/ocr/part-{part:04d}.json"


def result_key(document_id: str) -> str:
    return f"documents/{document_id}/result.json"


def manifest_key(batch_id: str) -> str:
    return f"batches/{batch_id}/manifest.json"


def report_key(batch_id: str) -> str:
    return f"batches/{batch_id}/report.json"
