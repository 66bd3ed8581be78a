from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DOCFLOW_CORPUS", REPO.parent / "shared" / "corpus"))

# Tests never reach AWS: fake credentials, one region, and Powertools kept quiet.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="docflow",
    POWERTOOLS_SERVICE_NAME="docflow-tests",
    DOCFLOW_BUCKET="docflow-test-documents",
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


def corpus_files(kind: str) -> list[Path]:
    """The shared corpus's files of one kind ("pdf" or "images"), or none when absent."""
    manifest = CORPUS / "MANIFEST.json"
    if not manifest.exists():
        return []
    entries = json.loads(manifest.read_text())
    return [CORPUS / entry["file"] for entry in entries if entry["file"].startswith(f"{kind}/")]


@pytest.fixture
def corpus_pdfs() -> list[Path]:
    files = corpus_files("pdf")
    if not files:
        pytest.skip("the shared corpus is absent")
    return files


@pytest.fixture
def corpus_images() -> list[Path]:
    files = corpus_files("images")
    if not files:
        pytest.skip("the shared corpus is absent")
    return files


@pytest.fixture
def s3_store():
    """A real S3ObjectStore on moto's in-process S3."""
    from moto import mock_aws

    from docflow.storage import S3ObjectStore

    with mock_aws():
        import boto3

        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=os.environ["DOCFLOW_BUCKET"])
        yield S3ObjectStore(os.environ["DOCFLOW_BUCKET"], client)
