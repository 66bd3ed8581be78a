"""`docflow run` end to end: files in, the local cloud, report.json and files out."""

from __future__ import annotations

import json
import os
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


# -- rough edges a new user met -------------------------------------------------------------------


def test_version_is_an_answer_and_a_mistyped_command_gets_a_suggestion(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("docflow ")
    with pytest.raises(SystemExit) as done:
        main(["rnu", "examples"])
    assert done.value.code == 2 and "did you mean 'run'?" in capsys.readouterr().err


def test_out_naming_a_file_or_a_folder_of_someone_elses_files_is_refused_and_nothing_is_deleted(tmp_path, capsys):
    file = tmp_path / "results.txt"
    file.write_text("mine")
    assert main(["run", str(EXAMPLES), "--out", str(file)]) == 2
    assert "is a file" in capsys.readouterr().err and file.read_text() == "mine"
    folder = tmp_path / "work"
    (folder / "text").mkdir(parents=True)
    (folder / "text" / "notes.txt").write_text("mine too")
    assert main(["run", str(EXAMPLES), "--out", str(folder)]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (folder / "text" / "notes.txt").read_text() == "mine too"


def test_a_previous_runs_output_may_be_written_over(demo_run, capsys):
    from docflow_cli.main import check_out_dir

    _, out, _ = demo_run
    check_out_dir(out)  # report.json beside its thumbnails/ and text/: docflow's own


def test_counts_are_singular_when_there_is_one():
    from docflow_cli.output import summary_table

    summary = {"total_documents": 1, "succeeded": 1, "failed": 0, "skipped": 0, "total_pages": 1, "total_words": 1}
    document = {"filename": "a.pdf", "status": "succeeded", "mime_type": "application/pdf", "page_count": 1,
                "word_count": 1}  # fmt: skip
    assert summary_table({"documents": [document], "summary": summary}).endswith(
        "1 document: 1 succeeded, 0 failed, 0 skipped; 1 page, 1 word"
    )


def test_a_server_that_does_not_answer_is_named_with_what_to_check(capsys):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert main(["status", "abc", "--api", f"http://127.0.0.1:{port}", "--token", "t"]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach http://127.0.0.1:{port}" in err and "docflow serve" in err and "(0 unreachable)" not in err


def test_serve_names_a_taken_port_and_a_bad_setting_at_once():
    import socket
    import time

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        completed = subprocess.run([sys.executable, "-m", "docflow_cli.main", "serve", "--port", str(port)],
                                   capture_output=True, text=True, timeout=60, cwd=REPO)  # fmt: skip
    assert completed.returncode == 2 and time.monotonic() - started < 5
    assert f"port {port} on 127.0.0.1 is in use" in completed.stderr and "--port" in completed.stderr
    assert "Traceback" not in completed.stderr
    wrong = subprocess.run([sys.executable, "-m", "docflow_cli.main", "serve", "--port", "0"], cwd=REPO,
                           env={**os.environ, "DOCFLOW_OCR": "sometimes"}, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert wrong.returncode == 2 and "DOCFLOW_OCR='sometimes' is not one of auto, off, force" in wrong.stderr


def test_the_users_settings_win_over_the_catalogs_in_the_local_cloud(tmp_path, monkeypatch):
    from infra.catalog import load_catalog, state_machine_files
    from localcloud.cloud import LocalCloud

    monkeypatch.setenv("DOCFLOW_MAX_UPLOAD_BYTES", "1000")
    cloud = LocalCloud(tmp_path)  # not started: only its view of the functions' environments is read
    specs = {spec.name: spec for spec in load_catalog()}
    cloud.function_arns = {name: f"arn:local:{name}" for name in specs}
    cloud.state_machines = {name: f"arn:local:{name}" for name in state_machine_files()}
    cloud.queues = {name: f"https://local/{name}" for name, spec in specs.items() if spec.queue}
    assert cloud._function_environment(specs["api"])["DOCFLOW_MAX_UPLOAD_BYTES"] == "1000"
    assert "DOCFLOW_MAX_UPLOAD_BYTES" not in cloud._function_environment(specs["detect"])  # only where it is read


def test_the_first_make_says_what_it_is_setting_up():
    planned = subprocess.run(["make", "-n", "-W", "pyproject.toml", "setup"], cwd=REPO, capture_output=True, text=True)
    assert "setting up .venv" in planned.stdout and "a minute or two" in planned.stdout


def test_console_without_aws_credentials_says_so_and_is_a_usage_error(monkeypatch, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance to ask here
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    assert main(["console", "--stack", "Docflow", "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert "cannot read stack Docflow with your AWS credentials" in error and "Traceback" not in error
