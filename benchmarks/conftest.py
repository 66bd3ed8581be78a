import sys
from pathlib import Path

# The benchmarks share the tests' fixtures (the corpus, generated documents).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import corpus_files, corpus_images, corpus_pdfs  # noqa: E402,F401
