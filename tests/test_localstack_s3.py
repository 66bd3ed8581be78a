"""S3 on LocalStack: presigned POST uploads as LocalStack's S3 and docflow's own S3 endpoint
(`docflow serve`'s, localcloud/s3_gateway.py) answer them, request for request; and the
upload path, S3 -> EventBridge -> SQS, under the stack's own rule pattern."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import uuid

import boto3
import pytest
import requests
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.config import Config
from on_localstack import ENDPOINT, REPO, client, require_endpoint, resources_of_type, synthesised_template
from samples import make_pdf

from docflow.storage import S3ObjectStore
from localcloud import LocalCloud
from localcloud.cloud import CREDENTIALS

pytestmark = pytest.mark.localstack

PDF = make_pdf(["a presigned upload"])
MAX_BYTES = len(PDF) + 100


@pytest.fixture(scope="module")
def endpoints(tmp_path_factory):
    """{name: S3ObjectStore} of a bucket on LocalStack and one behind docflow's S3 endpoint."""
    require_endpoint()
    bucket = f"docflow-post-{uuid.uuid4().hex[:12]}"
    localstack = client("s3")
    localstack.create_bucket(Bucket=bucket)
    with LocalCloud(tmp_path_factory.mktemp("cloud")) as cloud:
        assert cloud.s3_gateway is not None
        gateway = boto3.client(
            "s3",
            endpoint_url=cloud.s3_gateway.url,
            region_name="us-east-1",
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )
        gateway.create_bucket(Bucket=bucket)
        yield {"localstack": S3ObjectStore(bucket, localstack), "docflow": S3ObjectStore(bucket, gateway)}


def post(form: dict, content: bytes, *, content_type: str = "application/pdf", **changes: str) -> tuple[int, str]:
    """Posts the file with the presigned form's fields (some changed, as a client might):
    S3's status and error code ("" when it stored the file)."""
    fields = {**form["fields"], **changes}
    response = requests.post(
        form["url"], data=fields, files={"file": ("upload.pdf", content, content_type)}, timeout=30
    )
    code = ""
    if response.status_code >= 300:
        text = response.text
        code = text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text[:200]
    return response.status_code, code


# name -> (what is sent, as a function of the form; S3's answer)
CASES = {
    "a valid form is stored": (lambda form: post(form, PDF), (204, "")),
    "a file over the size range is refused": (lambda form: post(form, PDF + b"x" * 200), (400, "EntityTooLarge")),
    "an empty file is under the size range": (lambda form: post(form, b""), (400, "EntityTooSmall")),
    "another content type fails its condition": (
        lambda form: post(form, PDF, **{"Content-Type": "text/html"}),
        (403, "AccessDenied"),
    ),
    "another key fails its condition": (
        lambda form: post(form, PDF, key="uploads/elsewhere.pdf"),
        (403, "AccessDenied"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_presigned_post_gets_the_same_answer_from_localstack_and_docflow(case, endpoints):
    send, expected = CASES[case]
    key = f"uploads/{uuid.uuid4().hex}/upload.pdf"
    answers = {
        name: send(store.presign_upload(key, "application/pdf", MAX_BYTES, expires_in=60))
        for name, store in endpoints.items()
    }
    assert answers == {"localstack": expected, "docflow": expected}
    stored = {
        name: store.client.list_objects_v2(Bucket=store.bucket, Prefix=key).get("KeyCount", 0)
        for name, store in endpoints.items()
    }
    assert stored == {name: int(expected[0] < 300) for name in endpoints}


def test_an_expired_form_is_refused_by_both(endpoints):
    key = f"uploads/{uuid.uuid4().hex}/upload.pdf"
    forms = {
        name: store.presign_upload(key, "application/pdf", MAX_BYTES, expires_in=1) for name, store in endpoints.items()
    }
    time.sleep(2.5)
    answers = {name: post(form, PDF) for name, form in forms.items()}
    assert answers == {"localstack": (403, "AccessDenied"), "docflow": (403, "AccessDenied")}


def test_an_upload_reaches_the_ingest_queue_through_eventbridge_by_the_stacks_rule():
    require_endpoint()
    template = synthesised_template()
    (rule,) = [
        resource for resource in resources_of_type(template, "AWS::Events::Rule").values()
        if resource["Properties"].get("EventPattern", {}).get("source") == ["aws.s3"]
    ]  # fmt: skip
    bucket = f"docflow-uploads-{uuid.uuid4().hex[:12]}"
    s3, sqs, events = client("s3"), client("sqs"), client("events")
    s3.create_bucket(Bucket=bucket)
    # The stack's Custom::S3BucketNotifications, which the community edition ignores: the
    # command `make localstack-deploy` runs for it.
    subprocess.run(
        [sys.executable, "scripts/localstack_notifications.py", "--endpoint", ENDPOINT, bucket], cwd=REPO, check=True
    )
    # The rule's pattern as synthesised, its bucket (a Ref to the stack's) the one made here.
    pattern = copy.deepcopy(rule["Properties"]["EventPattern"])
    (documents,) = pattern["detail"]["bucket"]["name"]
    assert template["Resources"][documents["Ref"]]["Type"] == "AWS::S3::Bucket"
    pattern["detail"]["bucket"]["name"] = [bucket]
    queue = sqs.create_queue(QueueName=f"docflow-ingest-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = f"docflow-uploads-{uuid.uuid4().hex[:8]}"
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "ingest", "Arn": queue_arn}])

    upload_key = f"uploads/{uuid.uuid4().hex}/report.pdf"
    s3.put_object(Bucket=bucket, Key="results/not-an-upload.json", Body=b"{}")  # outside the prefix: no event
    etag = s3.put_object(Bucket=bucket, Key=upload_key, Body=PDF)["ETag"].strip('"')
    received = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not received:
        received += sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    time.sleep(2)  # and nothing else follows
    received += sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert len(received) == 1, received
    # The event as ingest reads it (its model is Powertools' S3 EventBridge notification).
    event = S3EventNotificationEventBridgeModel.model_validate_json(received[0]["Body"])
    assert (event.detail_type, event.detail.bucket.name, event.detail.object.key, event.detail.object.etag) == (
        "Object Created", bucket, upload_key, etag
    )  # fmt: skip
