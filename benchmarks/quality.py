"""What documents yield, on documents nobody here wrote: Debian's German, French and English
manual pages, typeset by groff as born-digital PDFs, then scanned at 200 dpi, photographed
with a phone's flaws, and mixed (born-digital pages with a scanned one between), with two
pictures that hold no text. All of them go through `docflow run`, and each result is
checked as a reader would:

- scans and mixed PDFs give at least 90% of the born-digital page's words, photos 80%;
- pictures without text get no words;
- every PDF has a first-page preview;
- born-digital documents have the right `language` and no stopword of it in their top five
  keywords;
- no text holds a ligature or an accent apart from its letter.

    python -m benchmarks.quality [--out DIR]

Needs groff and Debian's manpages-de and manpages-fr (`apt-get install groff manpages-de
manpages-fr`); `available()` says whether they are here. Prints one line per document and
a verdict; `run()` returns the rows.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# (language, manual page): prose-heavy pages, each in its own language's Debian package.
MANUALS = [("de", "man"), ("de", "less"), ("fr", "man"), ("fr", "tar"), ("en", "less"), ("en", "tar")]
PAGES = 3  # of each manual
SCAN_RECALL, PHOTO_RECALL = 0.90, 0.80
_LIGATURES = re.compile("[\ufb00-\ufb06]")
# A combining mark or a spacing accent beside a letter: an accent apart from its letter.
_LOOSE_ACCENT = re.compile(
    r"[\u0300-\u036f]|(?<=[^\W\d_])[\u00b4\u00a8\u02c6\u02dc\u00b8\u02c7]|[\u00b4\u00a8\u02c6\u02dc\u00b8\u02c7](?=[^\W\d_])"
)


def manual_path(language: str, name: str) -> Path:
    folder = Path("/usr/share/man") / ("" if language == "en" else language) / "man1"
    return folder / f"{name}.1.gz"


def available() -> bool:
    return shutil.which("groff") is not None and all(manual_path(*manual).exists() for manual in MANUALS)


def typeset(language: str, name: str) -> bytes:
    """The manual page as groff typesets it for print: a born-digital PDF, A4, with the
    hyphenation and kerning a real document has."""
    source = gzip.decompress(manual_path(language, name).read_bytes())
    preconv = subprocess.run(["preconv"], input=source, capture_output=True, check=True).stdout
    return subprocess.run(
        ["groff", "-man", "-Tpdf", "-dpaper=a4", "-P-pa4", f"-m{language}" if language != "en" else "-mandoc"],
        input=preconv, capture_output=True, check=True,
    ).stdout  # fmt: skip


def first_pages(pdf: bytes, count: int) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(pdf)).pages[:count]:
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def page_images(pdf: bytes, dpi: int):
    import pypdfium2 as pdfium

    return [page.render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for page in pdfium.PdfDocument(pdf)]


def scan(pdf: bytes, seed: int, dpi: int = 200) -> bytes:
    """An image-only PDF of the pages as a flatbed scanner makes one: turned up to 1.5
    degrees, softened, dust, a grey cast."""
    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    pages = []
    for image in page_images(pdf, dpi):
        image = image.rotate(rng.uniform(-1.5, 1.5), resample=Image.Resampling.BICUBIC, fillcolor=255)
        dust = Image.effect_noise(image.size, 24).point(lambda v: 255 if v > 200 else 0).convert("1")
        image = Image.composite(Image.new("L", image.size, 70), image, dust)
        pages.append(image.filter(ImageFilter.GaussianBlur(0.6)).point(lambda v: 30 + v * 205 // 255))
    out = io.BytesIO()
    pages[0].save(out, format="PDF", resolution=dpi, save_all=True, append_images=pages[1:])
    return out.getvalue()


def photograph(pdf: bytes, seed: int) -> bytes:
    """The first page as a phone photographs it: 150 dpi, seen a little from the side
    (a perspective), light falling off across the page, a warm cast, a soft focus, JPEG at
    quality 70, held sideways with the EXIF tag that says so."""
    from PIL import Image, ImageFilter

    rng = random.Random(seed)
    page = page_images(pdf, 150)[0]
    width, height = page.size
    inset = [rng.uniform(0.01, 0.04) * width for _ in range(4)]
    # The source's corners, in PIL's order: upper left, lower left, lower right, upper right.
    corners = (inset[0], inset[1], inset[2], height - inset[3], width - inset[0], height, width - inset[1], inset[3])
    page = page.transform((width, height), Image.Transform.QUAD, corners, Image.Resampling.BICUBIC, fillcolor=235)
    light = Image.linear_gradient("L").resize((width, height)).point(lambda v: 255 - v // 4)
    lit = Image.composite(page, Image.new("L", page.size, 0), light)
    lit = Image.blend(lit, page, 0.5)
    color = Image.merge("RGB", (lit, lit.point(lambda v: int(v * 0.96)), lit.point(lambda v: int(v * 0.88))))
    color = color.filter(ImageFilter.GaussianBlur(0.8)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to view
    out = io.BytesIO()
    color.save(out, format="JPEG", quality=70, exif=exif)
    return out.getvalue()


def pictures_without_text() -> dict[str, bytes]:
    """A drawing of shapes and lines, and a photo-like picture of soft blobs and noise."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(7)
    drawing = Image.new("L", (1654, 2339), 255)
    draw = ImageDraw.Draw(drawing)
    for _ in range(60):
        x, y = rng.randrange(1500), rng.randrange(2200)
        box = (x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 300))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(
            box, outline=rng.randrange(120), width=rng.randrange(1, 8)
        )
    scene = Image.new("RGB", (2000, 1500), (120, 150, 190))
    draw = ImageDraw.Draw(scene)
    for _ in range(40):
        x, y, r = rng.randrange(2000), rng.randrange(1500), rng.randrange(40, 300)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(rng.randrange(256) for _ in range(3)))
    scene = Image.blend(
        scene.filter(ImageFilter.GaussianBlur(12)), Image.effect_noise(scene.size, 40).convert("RGB"), 0.15
    )
    drawing_pdf, photo = io.BytesIO(), io.BytesIO()
    drawing.save(drawing_pdf, format="PDF", resolution=200)
    scene.save(photo, format="JPEG", quality=80)
    return {"picture-drawing.pdf": drawing_pdf.getvalue(), "picture-photo.jpg": photo.getvalue()}


def words(text: str) -> Counter[str]:
    return Counter(re.findall(r"[^\W_]+", unicodedata.normalize("NFC", text).lower()))


def recall(expected: str, found: str) -> float:
    want, got = words(expected), words(found)
    return sum((want & got).values()) / max(1, sum(want.values()))


@dataclass
class Row:
    file: str
    kind: str  # born, scan, photo, mixed, picture
    language: str | None  # expected
    found_language: str | None
    recall: float | None
    words: int
    ocr_pages: int
    preview: bool | None
    top_keywords: list[str]
    stopwords_in_top5: list[str]
    loose_marks: int  # ligatures and accents apart from their letter
    problems: list[str]


def make_documents(folder: Path) -> dict[str, tuple[str, str | None, str]]:
    """Writes every document into `folder`: {file: (kind, language, the born-digital source)}."""
    from docflow.extraction import iter_page_texts
    from docflow.text import PAGE_SEPARATOR

    made: dict[str, tuple[str, str | None, str]] = {}
    for seed, (language, name) in enumerate(MANUALS):
        born = first_pages(typeset(language, name), PAGES)
        stem = f"{language}-{name}"
        (folder / f"{stem}-born.pdf").write_bytes(born)
        (folder / f"{stem}-scan.pdf").write_bytes(scan(born, seed))
        (folder / f"{stem}-photo.jpg").write_bytes(photograph(born, seed))
        from pypdf import PdfReader, PdfWriter

        writer, pages, scanned = (
            PdfWriter(),
            PdfReader(io.BytesIO(born)).pages,
            PdfReader(io.BytesIO(scan(born, seed + 100))),
        )
        for page in (pages[0], scanned.pages[1], pages[2]):  # the middle page a scan
            writer.add_page(page)
        out = io.BytesIO()
        writer.write(out)
        (folder / f"{stem}-mixed.pdf").write_bytes(out.getvalue())
        made.update({f"{stem}-{kind}.{'jpg' if kind == 'photo' else 'pdf'}": (kind, language, stem)
                     for kind in ("born", "scan", "photo", "mixed")})  # fmt: skip
        source = folder / f"{stem}-born.pdf"
        pages = [text or "" for text in iter_page_texts(source)]
        (folder.parent / f"{stem}.reference").write_text(PAGE_SEPARATOR.join(pages))
    for file, data in pictures_without_text().items():
        (folder / file).write_bytes(data)
        made[file] = ("picture", None, "")
    return made


def check(report: dict, out: Path, made: dict, references: Path) -> list[Row]:
    import stopwordsiso

    from docflow.text import PAGE_SEPARATOR

    rows = []
    for document in report["documents"]:
        kind, language, stem = made[document["filename"]]
        text_file = out / document["text"] if document.get("text") else None
        text = text_file.read_text(encoding="utf-8") if text_file and text_file.exists() else ""
        problems = []
        score = None
        if kind != "picture":
            pages = (references / f"{stem}.reference").read_text(encoding="utf-8").split(PAGE_SEPARATOR)
            expected = pages[0] if kind == "photo" else PAGE_SEPARATOR.join(pages)
            score = recall(expected, text)
            floor = {"scan": SCAN_RECALL, "mixed": SCAN_RECALL, "photo": PHOTO_RECALL}.get(kind)
            if floor and score < floor:
                problems.append(f"recall {score:.2f} < {floor}")
        lettered = [word for word in text.split() if sum(c.isalpha() for c in word) >= 2]
        if kind == "picture" and lettered:
            problems.append(f"invented words: {lettered[:5]}")
        keywords = [item["word"] for item in document.get("keywords") or []][:5]
        stops = sorted(set(keywords) & stopwordsiso.stopwords(language)) if language else []
        if kind == "born":
            if document.get("language") != language:
                problems.append(f"language {document.get('language')} != {language}")
            if stops:
                problems.append(f"stopwords in top 5: {stops}")
        preview = bool(document.get("thumbnail")) if document.get("kind") == "pdf" else None
        if preview is False:
            problems.append("no preview")
        loose = len(_LIGATURES.findall(text)) + len(_LOOSE_ACCENT.findall(text))
        if loose:
            problems.append(f"{loose} ligatures or loose accents")
        if document["status"] != "succeeded":
            problems.append(f"status {document['status']}: {document.get('error')}")
        rows.append(Row(document["filename"], kind, language, document.get("language"), score,
                        document.get("word_count") or 0, document.get("ocr_pages") or 0, preview, keywords,
                        stops, loose, problems))  # fmt: skip
    return rows


def run(workdir: Path | None = None) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="docflow-quality-") as temporary:
        root = Path(workdir or temporary)
        inputs, out = root / "documents", root / "out"
        inputs.mkdir(parents=True, exist_ok=True)
        made = make_documents(inputs)
        completed = subprocess.run(
            [sys.executable, "-m", "docflow_cli.main", "run", str(inputs), "--out", str(out)],
            capture_output=True,
            text=True,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"docflow run failed: {completed.stderr[-2000:]}")
        report = json.loads((out / "report.json").read_text())
        return check(report, out, made, root)


def format_rows(rows: list[Row]) -> str:
    lines = [f"{'file':<22} {'kind':<7} {'lang':<9} {'recall':>6} {'words':>6} {'ocr':>3} {'prev':<4} top keywords"]
    for row in sorted(rows, key=lambda r: r.file):
        recall_text = "-" if row.recall is None else f"{row.recall:.3f}"
        language = f"{row.found_language or '-'}/{row.language or '-'}"
        preview = "-" if row.preview is None else ("yes" if row.preview else "NO")
        lines.append(
            f"{row.file:<22} {row.kind:<7} {language:<9} {recall_text:>6} {row.words:>6} {row.ocr_pages:>3} "
            f"{preview:<4} {', '.join(row.top_keywords)}"
        )
        lines += [f"    MISS {problem}" for problem in row.problems]
    by_kind: dict[str, list[float]] = {}
    for row in rows:
        if row.recall is not None:
            by_kind.setdefault(row.kind, []).append(row.recall)
    lines.append("recall by kind (min / mean): " + "; ".join(
        f"{kind} {min(values):.3f} / {sum(values) / len(values):.3f}" for kind, values in sorted(by_kind.items())
    ))  # fmt: skip
    missed = sum(bool(row.problems) for row in rows)
    lines.append(
        f"{len(rows)} documents, {missed} with a miss" if missed else f"{len(rows)} documents, every check met"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="keep the documents and docflow's output here")
    args = parser.parse_args(argv)
    if not available():
        print(
            "needs groff, manpages-de and manpages-fr: apt-get install groff manpages-de manpages-fr", file=sys.stderr
        )
        return 2
    rows = run(args.out)
    print(format_rows(rows))
    return 1 if any(row.problems for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
