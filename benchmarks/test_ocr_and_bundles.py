"""OCR's seconds per page, and each Lambda bundle's size against Lambda's limit.

OCR is timed on a three-page image-only PDF made here (letters in English, German and
French, scanned at 200 dpi: tests/test_ocr.py's scans), read by read_pages_by_ocr as the
ocr function reads a part: a child process per part, the engine loaded once before. The
bundles are built for the catalog's platform (arm64, Python 3.14), as `make synth` builds
them, and measured unzipped."""

from __future__ import annotations

from docflow.extraction import read_pages_by_ocr
from docflow.text import PAGE_SEPARATOR
from infra.bundles import build_bundle
from infra.catalog import load_catalog
from samples import make_pdf, scanned  # the tests' own, as benchmarks/conftest.py shares them
from test_ocr import LETTERS, recall

LAMBDA_UNZIPPED_LIMIT = 262_144_000


def test_ocr_seconds_per_page(benchmark, tmp_path):
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(scanned(make_pdf([LETTERS[language] for language in sorted(LETTERS)])))

    def read() -> str:
        pages = list(read_pages_by_ocr(pdf, range(len(LETTERS))))
        assert all(page.ocr and page.text for page in pages)
        return PAGE_SEPARATOR.join(page.text or "" for page in pages)

    read()  # the engine loads once per process, as in a warm function
    text = benchmark.pedantic(read, rounds=3, iterations=1)
    pages = text.split("\f")
    seconds = benchmark.stats.stats.median / len(pages)
    recalls = {language: recall(LETTERS[language], page) for language, page in zip(sorted(LETTERS), pages, strict=True)}
    benchmark.extra_info.update(seconds_per_page=round(seconds, 2), word_recall=recalls)
    print(f"\nOCR: {seconds:.2f} s a page (median of 3), word recall {recalls}")
    assert min(recalls.values()) >= 0.9


def test_bundle_sizes(benchmark):
    def measure() -> dict[str, int]:
        sizes = {}
        for spec in load_catalog():
            bundle = build_bundle(spec)  # kept when it was built from the same inputs
            sizes[spec.name] = sum(path.stat().st_size for path in bundle.rglob("*") if path.is_file())
        return sizes

    sizes = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(unzipped_mib={name: round(size / 2**20, 1) for name, size in sizes.items()})
    print("\nbundles, unzipped (Lambda's limit 250 MiB):")
    for name, size in sorted(sizes.items(), key=lambda item: -item[1]):
        print(f"  {name:<10} {size / 2**20:6.1f} MiB")
    assert max(sizes.values()) < LAMBDA_UNZIPPED_LIMIT
