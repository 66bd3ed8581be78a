"""What the tests marked localstack share: the LocalStack endpoint (localstack/run.sh starts
one in host mode when none answers), its clients, and the synthesised template they read the
stack's own definitions from (make synth writes it; make localstack-test runs that first)."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

REPO = Path(__file__).resolve().parent.parent
ENDPOINT = os.environ.get("LOCALSTACK_ENDPOINT", "http://localhost:4566")
REGION = "us-east-1"
ACCOUNT = "000000000000"  # LocalStack's account for the credentials "test"
# Where LocalStack reads its Step Functions mocks from (its SFN_MOCK_CONFIG): localstack/run.sh
# starts it with this path; a LocalStack of your own needs the same (README, LocalStack).
SFN_MOCK_CONFIG = Path(os.environ.get("DOCFLOW_SFN_MOCK_CONFIG", REPO / ".localstack" / "sfn-mock-config.json"))


def info() -> dict[str, Any] | None:
    """LocalStack's /_localstack/info (its version, whether it runs in Docker), or None when
    nothing answers."""
    try:
        with urllib.request.urlopen(f"{ENDPOINT}/_localstack/info", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def require_endpoint() -> dict[str, Any]:
    """The tier runs against LocalStack or fails: it never skips (make localstack-test starts one)."""
    found = info()
    if found is None:
        pytest.fail(f"no LocalStack answers at {ENDPOINT}: run `make localstack-test`, which starts one")
    return found


def client(service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        # Path-style S3 and no host prefixes: every request goes to the one endpoint, by its
        # address; and SigV4, as docflow signs (docflow/storage.py).
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, inject_host_prefix=False),
    )


def synthesised_template() -> dict[str, Any]:
    """The template `make synth` wrote (cdk.out/<stack>.template.json)."""
    templates = sorted((REPO / "cdk.out").glob("*.template.json"))
    if len(templates) != 1:
        pytest.fail(f"expected one synthesised template in cdk.out/, found {templates}: run `make synth`")
    return json.loads(templates[0].read_text())


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}
