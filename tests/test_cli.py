"""`docflow run` end to end: files in, the local cloud, report.json and files out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pypdfium2 as pdfium
from PIL import Image

from docflow_cli.main import main
from samples import displayed_size

pytestmark = pytest.mark.local_cloud

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
DOCFLOW = Path(sys.executable).parent / "docflow"  # the installed command
REPORT_FIELDS = {
    "filename", "status", "mime_type", "kind", "size_bytes", "page_count", "word_count",
    "keywords", "sentiment", "thumbnail", "text", "error",
}
SUMMARY_FIELDS = {
    "total_documents", "succeeded", "failed", "skipped", "total_pages", "total_words", "started_at", "finished_at",
}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """`docflow run examples/` once, as `make demo` does."""
    out = tmp_path_factory.mktemp("demo") / "out"
    exit_code = main(["run", str(EXAMPLES), "--out", str(out)])
    return exit_code, out, json.loads((out / "report.json").read_text())


def test_the_demo_completes_and_reports_every_file_once(demo_run):
    exit_code, out, report = demo_run
    assert exit_code == 0
    given = sorted(path.relative_to(EXAMPLES).as_posix() for path in EXAMPLES.rglob("*") if path.is_file())
    assert sorted(document["filename"] for document in report["documents"]) == given
    assert SUMMARY_FIELDS <= set(report["summary"])
    for document in report["documents"]:
        assert REPORT_FIELDS <= set(document), document["filename"]
    summary = report["summary"]
    assert summary["total_documents"] == len(given)
    assert summary["succeeded"] + summary["failed"] + summary["skipped"] == len(given)


def test_the_demo_starts_nothing_through_ingest(demo_run):
    """Its files go in under inputs/, not uploads/: ingest is never invoked for them."""
    _, out, _ = demo_run
    logs = out / ".local-cloud" / "logs"
    invoked = {json.loads(line)["function"] for line in (logs / "invocations.jsonl").read_text().splitlines()}
    assert "ingest" not in invoked and {"detect", "record", "report"} <= invoked


def test_the_demo_outcomes_are_the_right_ones(demo_run):
    _, out, report = demo_run
    by_name = {document["filename"]: document for document in report["documents"]}
    assert by_name["locked.pdf"]["status"] == "failed"
    assert by_name["locked.pdf"]["error"]["code"] == "pdf_encrypted"
    assert by_name["notes.txt"]["status"] == "skipped"
    assert by_name["notes.txt"]["error"]["code"] == "unsupported_type"
    misnamed = by_name["scan-misnamed.png"]
    assert (misnamed["status"], misnamed["kind"], misnamed["extension_mismatch"]) == ("succeeded", "pdf", True)
    assert by_name["annual-report.pdf"]["page_count"] == 3
    assert by_name["annual-report.pdf"]["sentiment"]["label"] == "positive"
    assert by_name["incident-review.pdf"]["sentiment"]["label"] == "negative"
    assert all(document["error"] is None for document in report["documents"] if document["status"] == "succeeded")


def test_thumbnails_and_texts_are_written_beside_the_report(demo_run):
    _, out, report = demo_run
    for document in report["documents"]:
        if document["kind"] == "image" and document["status"] == "succeeded":
            width, height = displayed_size(EXAMPLES / document["filename"])
            thumbnail = Image.open(out / document["thumbnail"])
            assert max(thumbnail.size) == min(300, max(width, height))
            assert thumbnail.size[0] / thumbnail.size[1] == pytest.approx(width / height, rel=0.01)
        elif document["kind"] == "pdf" and document["status"] == "succeeded":  # its first page's preview
            preview = Image.open(out / document["thumbnail"])
            width, height = pdfium.PdfDocument(EXAMPLES / document["filename"])[0].get_size()
            assert max(preview.size) == 300 and preview.format == "JPEG"
            assert preview.size[0] / preview.size[1] == pytest.approx(width / height, rel=0.01)
        else:
            assert document["thumbnail"] is None
        if document["status"] == "succeeded":  # a PDF's text, or an image's read by OCR
            text = (out / document["text"]).read_text()
            assert len(text.split()) == document["word_count"]
        else:
            assert document["text"] is None
    portrait = Image.open(out / report_entry(report, "photos/phone-portrait.jpg")["thumbnail"])
    assert portrait.size == (225, 300)  # stored 800x600, shown turned by its EXIF tag


def report_entry(report: dict, filename: str) -> dict:
    return next(document for document in report["documents"] if document["filename"] == filename)


def test_a_missing_path_is_a_usage_error(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_an_empty_folder_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["run", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "no files" in capsys.readouterr().err


def test_the_command_is_installed_and_explains_itself():
    docflow = shutil.which(DOCFLOW.name, path=str(DOCFLOW.parent))
    assert docflow, "the docflow command is not installed in the environment"
    help_text = subprocess.run([docflow, "run", "--help"], capture_output=True, text=True, check=True).stdout
    assert "--out DIR" in help_text and "default: ./docflow-out" in help_text


def test_the_docflow_command_ends_with_its_output_whole(tmp_path):
    """The installed command leaves without Python's teardown (docflow_cli.main.entry):
    piped output still arrives whole, and the exit code is the run's."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy2(EXAMPLES / "logo.png", folder / "logo.png")
    completed = subprocess.run(
        [str(DOCFLOW), "run", str(folder), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "logo.png  succeeded" in completed.stdout
    assert completed.stdout.rstrip().splitlines()[-1].startswith("report: ")
    assert json.loads((tmp_path / "out" / "report.json").read_text())["summary"]["succeeded"] == 1
    missing = subprocess.run(
        [str(DOCFLOW), "run", str(tmp_path / "nowhere")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
