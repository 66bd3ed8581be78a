"""The error taxonomy: every way a document can fail, with the code a user sees.

Handlers raise these; Lambda reports the exception's class name as the error type, the
state machines retry only the transient ones and catch the rest, and the record step
turns the class name back into the code and message written to the report. A class name
therefore never changes once released.
"""

from __future__ import annotations

from typing import ClassVar


class DocflowError(Exception):
    """A failure with a stable code and a message fit to show a user."""

    code: ClassVar[str] = "internal_error"
    retryable: ClassVar[bool] = False
    advice: ClassVar[str] = "Try again later; if it persists, report it with the document id."

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EmptyFile(DocflowError):
    code = "empty_file"
    advice = "Upload the file again; it arrived with no content."


class UnsupportedType(DocflowError):
    code = "unsupported_type"
    advice = "Send a PDF or an image (PNG, JPEG, GIF, WebP, TIFF, BMP)."


class FileTooLarge(DocflowError):
    code = "file_too_large"
    advice = "Split the document or reduce its size."


class DocumentNotFound(DocflowError):
    code = "not_found"
    advice = "The upload is gone; upload it again."


class PdfEncrypted(DocflowError):
    code = "pdf_encrypted"
    advice = "Remove the password and upload it again."


class PdfCorrupt(DocflowError):
    code = "pdf_corrupt"
    advice = "Re-export or repair the PDF and upload it again."


class PdfTooManyPages(DocflowError):
    code = "pdf_too_many_pages"
    advice = "Split the PDF into smaller parts."


class ImageCorrupt(DocflowError):
    code = "image_corrupt"
    advice = "Re-export the image and upload it again."


class ImageTooLarge(DocflowError):
    code = "image_too_large"
    advice = "Reduce the image's dimensions."


class OcrUnavailable(DocflowError):
    code = "ocr_unavailable"
    advice = "This deployment has no OCR data for its DOCFLOW_OCR_LANGUAGES; see the README's OCR section."


class TransientError(DocflowError):
    """A dependency failed in a way that may pass: throttling, a 5xx, a slow-down. The
    state machines retry it; its code is what a document gets if it never passes."""

    code = "service_unavailable"
    retryable = True


class Timeout(DocflowError):
    code = "timeout"
    advice = "The document took too long to process; split it or simplify it."


# Error names that do not come from docflow's own classes but from the platform.
# Lambda reports a function that ran out of time as Sandbox.Timedout; Step Functions
# reports a task that exceeded its own TimeoutSeconds as States.Timeout.
PLATFORM_TIMEOUTS = frozenset({"Sandbox.Timedout", "States.Timeout"})

ALL_ERRORS: tuple[type[DocflowError], ...] = (
    EmptyFile,
    UnsupportedType,
    FileTooLarge,
    DocumentNotFound,
    PdfEncrypted,
    PdfCorrupt,
    PdfTooManyPages,
    ImageCorrupt,
    ImageTooLarge,
    OcrUnavailable,
    TransientError,
    Timeout,
)

_BY_NAME = {cls.__name__: cls for cls in ALL_ERRORS}


def error_class(error_name: str) -> type[DocflowError] | None:
    """The docflow error class Lambda reported as `error_name`, if it is one of ours."""
    if error_name in PLATFORM_TIMEOUTS:
        return Timeout
    return _BY_NAME.get(error_name)
