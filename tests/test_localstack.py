"""docflow deployed into LocalStack with cdklocal, and a PDF and a batch run through it.

Needs a LocalStack that runs in Docker (LOCALSTACK_ENDPOINT, default http://localhost:4566),
whose Lambda executor starts the functions' containers: skipped, saying why, when none
answers or when it runs in host mode, as `make localstack-test` starts it on a machine
without Docker (the other tests marked localstack run there). Run with `make localstack-test`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import pytest

from docflow.statuses import TERMINAL_BATCH_STATUSES, TERMINAL_STATUSES
from docflow_cli.client import ApiClient

pytestmark = pytest.mark.localstack

REPO = Path(__file__).resolve().parent.parent
ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://localhost:4566")


def _localstack_info() -> dict | None:
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/_localstack/info", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def path_style(api_url: str) -> str:
    """The API's URL on LocalStack's own endpoint: the stack's output names
    https://<id>.execute-api.localhost.localstack.cloud:4566/<stage>/, a name that resolves
    only where public DNS is reachable; LocalStack serves the same API at
    <endpoint>/restapis/<id>/<stage>/_user_request_/."""
    match = re.match(r"https?://([^.]+)\.execute-api\.[^/]+/([^/]+)", api_url)
    assert match, f"not an API Gateway URL: {api_url}"
    return f"{ENDPOINT}/restapis/{match.group(1)}/{match.group(2)}/_user_request_"


def test_the_api_url_is_made_path_style():
    assert path_style("https://a1b2c3.execute-api.localhost.localstack.cloud:4566/prod/") == (
        f"{ENDPOINT}/restapis/a1b2c3/prod/_user_request_"
    )


@pytest.fixture(scope="module")
def deployed() -> dict[str, str]:
    info = _localstack_info()
    if info is None:
        pytest.skip(f"no LocalStack answers at {ENDPOINT} (set LOCALSTACK_ENDPOINT, start LocalStack with Docker)")
    if not info.get("is_docker"):
        pytest.skip(f"the LocalStack at {ENDPOINT} runs in host mode: it has no Lambda executor without Docker")
    environment = {**os.environ, "LOCALSTACK_ENDPOINT": ENDPOINT}
    subprocess.run(["make", "localstack-deploy"], cwd=REPO, env=environment, check=True, timeout=1800)
    outputs = json.loads((REPO / "cdk.out" / "localstack-outputs.json").read_text())
    os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    return next(iter(outputs.values()))


def test_a_pdf_and_a_batch_go_through_the_deployed_stack(deployed):
    client = ApiClient(path_style(deployed["ApiUrl"]), token=None, timeout=60)  # SigV4, as on AWS
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
