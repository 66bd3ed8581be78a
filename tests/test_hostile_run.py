"""The issue's acceptance for hostile input: `docflow run` over a folder of them finishes in
bounded time and reports every file exactly once, succeeded or with its specific code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from hostile import HOSTILE_CASES, Expected

pytestmark = pytest.mark.local_cloud

REPO = Path(__file__).resolve().parent.parent
BOUND_SECONDS = 600


def acceptable(expected: Expected) -> list[Expected]:
    return [expected, *expected.accept_also]


def test_docflow_run_reports_every_hostile_file_once_with_its_outcome(tmp_path):
    folder, out = tmp_path / "hostile", tmp_path / "out"
    folder.mkdir()
    for case in HOSTILE_CASES:
        (folder / case.name).write_bytes(case.data)
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "docflow_cli.main", "run", str(folder), "--out", str(out)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=BOUND_SECONDS,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr
    report = json.loads((out / "report.json").read_text())
    by_name = {}
    for entry in report["documents"]:
        assert entry["filename"] not in by_name, f"{entry['filename']} reported twice"
        by_name[entry["filename"]] = entry
    assert sorted(by_name) == sorted(case.name for case in HOSTILE_CASES)
    wrong = []
    for case in HOSTILE_CASES:
        entry = by_name[case.name]
        code = entry["error"]["code"] if entry["error"] else None
        if not any(entry["status"] == e.status and code == e.code for e in acceptable(case.expected)):
            wrong.append(f"{case.name}: {entry['status']} {code}, expected {case.expected.status} {case.expected.code}")
            continue
        if entry["error"]:
            assert entry["error"]["message"] and "Traceback" not in entry["error"]["message"], case.name
        expected_size = case.expected.thumbnail_size
        if entry["status"] == "succeeded" and expected_size:
            with Image.open(out / entry["thumbnail"]) as thumbnail:
                if thumbnail.size != tuple(expected_size):
                    wrong.append(f"{case.name}: thumbnail {thumbnail.size}, expected {expected_size}")
    assert wrong == []
    print(f"{len(HOSTILE_CASES)} hostile files in {elapsed:.1f} s")
