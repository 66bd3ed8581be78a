"""What a document is, judged by its bytes and never by its name."""

from __future__ import annotations

import contextlib
import mimetypes
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Literal

from docflow.errors import EmptyFile, FileTooLarge
from docflow.settings import DEFAULTS, Settings
from docflow.storage import ObjectStore

Kind = Literal["pdf", "image", "unsupported"]

# libmagic needs far less than this for PDFs and images; the margin covers formats whose
# signature sits behind a long header. A ranged GET of 64 KiB costs the same as 1 KiB.
HEAD_BYTES = 64 * 1024

IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/bmp", "image/x-ms-bmp"}
)
PDF_TYPES = frozenset({"application/pdf"})

# Extensions whose usual type differs from what libmagic names the same content.
_EXTENSION_ALIASES = {"image/x-ms-bmp": "image/bmp"}
# Formats written as plain text: content sniffed as text/plain can be any of them (a .csv,
# .md or .json file is text to libmagic), so their names do not disagree with it.
_TEXT_FORMATS = frozenset({"application/json", "application/xml", "application/x-yaml", "application/yaml",
                           "application/javascript", "application/x-sh", "application/sql"})  # fmt: skip


@dataclass(frozen=True)
class Detection:
    mime_type: str
    kind: Kind
    size_bytes: int
    extension_mismatch: bool

    def to_dict(self) -> dict:
        return asdict(self)


def kind_of(mime_type: str) -> Kind:
    if mime_type in PDF_TYPES:
        return "pdf"
    if mime_type in IMAGE_TYPES:
        return "image"
    return "unsupported"


def sniff_mime_type(head: bytes) -> str:
    _use_bundled_libmagic()
    import magic  # libmagic is loaded on first use, not at import

    return magic.from_buffer(head, mime=True)


def extension_disagrees(filename: str, mime_type: str) -> bool:
    """True when the name's extension promises another type than the content has. A name
    with no extension, or one nobody knows, promises nothing."""
    suffix = PurePosixPath(filename).suffix.lower()
    if not suffix:
        return False
    expected, _ = mimetypes.guess_type(f"x{suffix}", strict=False)
    if expected is None:
        return False
    if mime_type == "text/plain" and (expected.startswith("text/") or expected in _TEXT_FORMATS):
        return False
    normalise = lambda mime: _EXTENSION_ALIASES.get(mime, mime)  # noqa: E731
    return normalise(expected) != normalise(mime_type)


def detect(head: bytes, size_bytes: int, filename: str, settings: Settings = DEFAULTS) -> Detection:
    if size_bytes == 0:
        raise EmptyFile(f"{filename} is empty")
    if size_bytes > settings.max_file_bytes:
        raise FileTooLarge(f"The file is {size_bytes:,} bytes; the limit is {settings.max_file_bytes:,}")
    mime_type = sniff_mime_type(head)
    return Detection(
        mime_type=mime_type,
        kind=kind_of(mime_type),
        size_bytes=size_bytes,
        extension_mismatch=extension_disagrees(filename, mime_type),
    )


def detect_document(store: ObjectStore, key: str, filename: str, settings: Settings = DEFAULTS) -> Detection:
    """Detects the stored document at `key` from its first bytes, never the whole object."""
    head, size = store.read_head(key, HEAD_BYTES)
    return detect(head, size, filename, settings)


def _use_bundled_libmagic() -> None:
    """Lambda's runtime has no libmagic; the detect bundle ships pylibmagic's build of it and
    its database, which importing pylibmagic points python-magic at. Elsewhere the system's
    libmagic serves."""
    with contextlib.suppress(ImportError):
        import pylibmagic  # noqa: F401
