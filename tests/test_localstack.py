"""docflow deployed into LocalStack with cdklocal, and a PDF and a batch run through it.

Needs a LocalStack endpoint (LOCALSTACK_ENDPOINT, default http://localhost:4566) and
Docker behind it; skipped cleanly when none answers. Run with `make localstack-test`."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from docflow.statuses import TERMINAL_BATCH_STATUSES, TERMINAL_STATUSES
from docflow_cli.client import ApiClient

pytestmark = pytest.mark.localstack

REPO = Path(__file__).resolve().parent.parent
ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://localhost:4566")


def _localstack_answers() -> bool:
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/_localstack/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def deployed() -> dict[str, str]:
    if not _localstack_answers():
        pytest.skip(f"no LocalStack answers at {ENDPOINT} (set LOCALSTACK_ENDPOINT, start LocalStack with Docker)")
    environment = {**os.environ, "AWS_ENDPOINT_URL": ENDPOINT, "AWS_ACCESS_KEY_ID": "test",
                   "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    subprocess.run(["make", "localstack-deploy"], cwd=REPO, env=environment, check=True, timeout=1800)
    outputs = json.loads((REPO / "cdk.out" / "localstack-outputs.json").read_text())
    os.environ.update({key: environment[key] for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
    return next(iter(outputs.values()))


def test_a_pdf_and_a_batch_go_through_the_deployed_stack(deployed):
    client = ApiClient(deployed["ApiUrl"].rstrip("/"), token=None, timeout=60)  # SigV4, as on AWS
    assert client.call("GET", "/health") == {"status": "ok"}
    document_id = client.upload(REPO / "examples" / "annual-report.pdf", "application/pdf")
    document = client.wait(lambda: client.document(document_id), TERMINAL_STATUSES, timeout=600)
    assert document["status"] == "succeeded" and document["results"]["page_count"] == 3
    image_id = client.upload(REPO / "examples" / "logo.png", "image/png")
    client.wait(lambda: client.document(image_id), TERMINAL_STATUSES, timeout=600)
    batch_id = client.start_batch([document_id, image_id])
    batch = client.wait(lambda: client.batch(batch_id), TERMINAL_BATCH_STATUSES, timeout=900)
    assert batch["status"] == "completed" and batch["progress"] == {"total": 2, "done": 2, "failed": 0}
    with urllib.request.urlopen(batch["report_url"], timeout=30) as response:
        assert json.loads(response.read())["summary"]["succeeded"] == 2
