from __future__ import annotations

import os

import pytest

from corpus import CORPUS, corpus_files, corpus_images, corpus_pdfs  # noqa: F401  (fixtures)

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
