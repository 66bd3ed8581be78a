import sys
from pathlib import Path

# The benchmarks share the tests' fixtures and generated documents.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from corpus import corpus_images, corpus_pdfs  # noqa: E402,F401  (fixtures)
