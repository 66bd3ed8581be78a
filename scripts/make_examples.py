"""Writes examples/, the documents `make demo` processes: one of each outcome docflow has.

Run from the repository root: .venv/bin/python scripts/make_examples.py"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image
from pypdf import PdfReader, PdfWriter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from samples import make_exif_rotated_jpeg, make_image, make_pdf  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

ANNUAL_REPORT = [
    """Annual Report 2025
Our customers processed more documents than ever this year, and their feedback
was excellent. Revenue grew strongly in every region, and the new document
pipeline delivered reliable, fast results. Customer satisfaction improved again.""",
    """Document processing
The pipeline detects each document, extracts its text, and creates thumbnails for
images. Batches of thousands of documents now finish in minutes. Customers praise
the clear reports, and support requests about documents fell by half.""",
    """Outlook
We expect growth to continue. The team will improve the document pipeline further,
bring reports to more customers, and keep processing fast, secure and affordable.""",
]

INCIDENT_REVIEW = [
    """Incident review: delayed uploads
On Tuesday, uploads failed for two hours. The storage queue was blocked by a broken
deployment, and many customers saw errors and slow, incomplete reports. The failure
was serious and the outage was painful for the customers affected.""",
    """What went wrong
The alarm was missed, the rollback was slow, and the runbook was wrong. We regret
the disruption. Every failed upload was retried, and no document was lost.""",
]


def locked_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["Confidential salary review"]))))
    writer.encrypt(user_password="secret", owner_password="owner-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def animation() -> bytes:
    frames = [Image.new("RGB", (240, 160), color) for color in ("#1f77b4", "#ff7f0e", "#2ca02c")]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=300, loop=0)
    return out.getvalue()


def main() -> None:
    EXAMPLES.mkdir(exist_ok=True)
    files = {
        "annual-report.pdf": make_pdf(ANNUAL_REPORT),
        "incident-review.pdf": make_pdf(INCIDENT_REVIEW),
        "photos/landscape.jpg": make_image("JPEG", (1200, 800), quality=85),
        "photos/phone-portrait.jpg": make_exif_rotated_jpeg((800, 600), orientation=6),
        "logo.png": make_image("PNG", (512, 512), mode="RGBA"),
        "banner.gif": animation(),
        "scan-misnamed.png": make_pdf(["This PDF was saved with a .png name by mistake."]),
        "locked.pdf": locked_pdf(),
        "notes.txt": b"Remember: docflow processes PDFs and images; text files are skipped.\n",
    }
    for name, data in files.items():
        path = EXAMPLES / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{path.relative_to(EXAMPLES.parent)}  {len(data):,} bytes")


if __name__ == "__main__":
    main()
