"""localcloud.s3_gateway: presigned POST uploads checked as AWS checks them, the rest proxied to moto."""

from __future__ import annotations

import base64
import io
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import unquote_plus

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.s3_gateway import S3Gateway

pytestmark = pytest.mark.local_cloud

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\r\n--not-a-boundary\r\n%%EOF\n"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _client(endpoint: str, *, secret: str = "local", access_key: str = "local", sigv4: bool = True):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        # boto3 presigns with SigV2 in us-east-1 unless told otherwise; AWS buckets made since 2020 refuse it.
        config=Config(signature_version="s3v4" if sigv4 else None),
    )


@pytest.fixture(scope="module")
def moto_url():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    yield url
    server.stop()


@pytest.fixture(scope="module")
def gateway(moto_url):
    with S3Gateway(moto_url, credentials=CREDENTIALS, region=REGION) as gateway:
        yield gateway


@pytest.fixture
def moto(moto_url):
    """A client straight to moto, to see what was really stored."""
    return _client(moto_url)


@pytest.fixture
def s3(gateway):
    return _client(gateway.url)


@pytest.fixture
def bucket(moto) -> str:
    name = f"gateway-{uuid.uuid4().hex[:12]}"
    moto.create_bucket(Bucket=name)
    return name


def _presigned_post(s3, bucket: str, key: str = "uploads/doc.pdf", *, fields=None, conditions=None, expires=60):
    return s3.generate_presigned_post(
        bucket,
        key,
        Fields={"Content-Type": "application/pdf", **(fields or {})},
        Conditions=[{"Content-Type": "application/pdf"}, ["content-length-range", 1, 1000], *(conditions or [])],
        ExpiresIn=expires,
    )


def _post(post: dict, content: bytes = PDF, *, filename: str = "doc.pdf", **changes):
    """Posts the form as a browser would: its fields in order, then the file."""
    fields = {**post["fields"], **changes}
    return requests.post(post["url"], data=fields, files={"file": (filename, content, "application/pdf")}, timeout=10)


def _error(response) -> tuple[int, str, str]:
    assert response.headers["Content-Type"] == "application/xml"
    error = ET.fromstring(response.content)
    return response.status_code, error.findtext("Code"), error.findtext("Message")


def _absent(moto, bucket: str, key: str = "uploads/doc.pdf") -> bool:
    return moto.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0


# -- presigned POST -------------------------------------------------------------------------


def test_a_valid_upload_is_stored_in_moto_with_its_content_type(s3, moto, bucket, gateway):
    post = _presigned_post(s3, bucket)
    assert post["url"] == f"{gateway.url}/{bucket}"
    response = _post(post)
    assert response.status_code == 204, response.text
    assert response.content == b""
    stored = moto.get_object(Bucket=bucket, Key="uploads/doc.pdf")
    assert stored["Body"].read() == PDF
    assert stored["ContentType"] == "application/pdf"
    assert response.headers["ETag"] == stored["ETag"]


def test_too_big_a_file_is_refused_and_not_stored(s3, moto, bucket):
    response = _post(_presigned_post(s3, bucket), b"x" * 1001)
    assert _error(response) == (400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    assert _absent(moto, bucket)


def test_an_empty_file_is_too_small(s3, moto, bucket):
    response = _post(_presigned_post(s3, bucket), b"")
    assert _error(response)[:2] == (400, "EntityTooSmall")
    assert _absent(moto, bucket)


def test_a_body_over_the_gateways_cap_is_refused_before_parsing(moto_url, bucket, moto):
    with S3Gateway(moto_url, credentials=CREDENTIALS, max_body_bytes=2000) as small:
        response = _post(_presigned_post(_client(small.url), bucket), b"x" * 5000)
    assert _error(response)[:2] == (400, "EntityTooLarge")
    assert _absent(moto, bucket)


def test_another_content_type_breaks_the_policy(s3, moto, bucket):
    response = _post(_presigned_post(s3, bucket), **{"Content-Type": "text/html"})
    status, code, message = _error(response)
    assert (status, code) == (403, "AccessDenied")
    assert message == 'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "application/pdf"]'
    assert _absent(moto, bucket)


def test_a_tampered_key_breaks_the_policy(s3, moto, bucket):
    response = _post(_presigned_post(s3, bucket), key="elsewhere/doc.pdf")
    assert _error(response)[:2] == (403, "AccessDenied")
    assert _absent(moto, bucket, "elsewhere/")


def test_a_form_for_another_bucket_is_refused(s3, moto, bucket):
    other = f"{bucket}-other"
    moto.create_bucket(Bucket=other)
    post = _presigned_post(s3, bucket)
    post["url"] = post["url"].removesuffix(bucket) + other
    status, code, message = _error(_post(post))
    assert (status, code) == (403, "AccessDenied")
    assert '"$bucket"' in message
    assert _absent(moto, other)


def test_a_tampered_policy_or_signature_does_not_match(s3, moto, bucket):
    post = _presigned_post(s3, bucket)
    document = json.loads(base64.b64decode(post["fields"]["policy"]))
    document["conditions"][1] = ["content-length-range", 1, 10**9]
    widened = base64.b64encode(json.dumps(document).encode()).decode()
    assert _error(_post(post, b"x" * 2000, policy=widened))[:2] == (403, "SignatureDoesNotMatch")
    assert _error(_post(post, **{"x-amz-signature": "0" * 64}))[:2] == (403, "SignatureDoesNotMatch")
    assert _absent(moto, bucket)


def test_only_the_local_key_pair_is_accepted(gateway, moto, bucket):
    wrong_secret = _presigned_post(_client(gateway.url, secret="guessed"), bucket)
    assert _error(_post(wrong_secret))[:2] == (403, "SignatureDoesNotMatch")
    unknown_key = _presigned_post(_client(gateway.url, access_key="AKIASOMEONEELSE"), bucket)
    assert _error(_post(unknown_key))[:2] == (403, "InvalidAccessKeyId")
    assert _absent(moto, bucket)


def test_an_expired_form_is_refused(s3, moto, bucket):
    response = _post(_presigned_post(s3, bucket, expires=-5))
    assert _error(response) == (403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    assert _absent(moto, bucket)


def test_fields_the_policy_does_not_cover_are_refused(s3, moto, bucket):
    response = _post(_presigned_post(s3, bucket), **{"x-amz-meta-owner": "mallory"})
    extra = "Invalid according to Policy: Extra input fields: x-amz-meta-owner"
    assert _error(response) == (403, "AccessDenied", extra)
    assert _absent(moto, bucket)


def test_x_ignore_fields_need_no_condition_and_covered_metadata_is_kept(s3, moto, bucket):
    post = _presigned_post(s3, bucket, fields={"x-amz-meta-owner": "alice"}, conditions=[{"x-amz-meta-owner": "alice"}])
    assert _post(post, **{"x-ignore-tracking": "1"}).status_code == 204
    assert moto.head_object(Bucket=bucket, Key="uploads/doc.pdf")["Metadata"] == {"owner": "alice"}


def test_the_filename_placeholder_takes_the_files_name(s3, moto, bucket):
    post = _presigned_post(s3, bucket, "uploads/${filename}")
    assert post["fields"]["key"] == "uploads/${filename}"
    assert _post(post, filename="report 2024.pdf").status_code == 204
    assert moto.get_object(Bucket=bucket, Key="uploads/report 2024.pdf")["Body"].read() == PDF


def test_success_action_status_201_answers_a_post_response(s3, bucket, gateway):
    status = {"success_action_status": "201"}
    post = _presigned_post(s3, bucket, fields=status, conditions=[status])
    response = _post(post)
    assert response.status_code == 201
    answer = ET.fromstring(response.content)
    assert answer.tag == "PostResponse"
    assert answer.findtext("Bucket") == bucket
    assert answer.findtext("Key") == "uploads/doc.pdf"
    assert answer.findtext("Location") == f"{gateway.url}/{bucket}/uploads/doc.pdf"


def test_a_sigv2_form_is_refused_as_aws_refuses_it(gateway, moto, bucket):
    post = _presigned_post(_client(gateway.url, sigv4=False), bucket)
    assert "AWSAccessKeyId" in post["fields"]
    assert _error(_post(post))[:2] == (400, "InvalidRequest")
    assert _absent(moto, bucket)


def test_a_malformed_form_gets_an_s3_error_not_a_traceback(gateway, bucket):
    response = requests.post(
        f"{gateway.url}/{bucket}",
        data=b"--abc\r\nno headers here",
        headers={"Content-Type": "multipart/form-data; boundary=abc"},
        timeout=10,
    )
    assert _error(response)[:2] == (400, "MalformedPOSTRequest")


def test_an_upload_fires_moto_bucket_notifications(s3, moto_url, bucket):
    sqs = boto3.client(
        "sqs", endpoint_url=moto_url, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )
    queue = sqs.create_queue(QueueName=bucket)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    _client(moto_url).put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    assert _post(_presigned_post(s3, bucket)).status_code == 204
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    # Event keys are URL-encoded, in AWS as in moto.
    keys = [unquote_plus(record["s3"]["object"]["key"]) for body in bodies for record in body.get("Records", [])]
    assert "uploads/doc.pdf" in keys


# -- everything else is proxied -------------------------------------------------------------


def test_boto3_calls_go_through_to_moto(s3, moto, bucket):
    s3.put_object(Bucket=bucket, Key="a/one.txt", Body=b"one", ContentType="text/plain")
    assert moto.get_object(Bucket=bucket, Key="a/one.txt")["Body"].read() == b"one"
    got = s3.get_object(Bucket=bucket, Key="a/one.txt")
    assert (got["Body"].read(), got["ContentType"]) == (b"one", "text/plain")
    assert s3.head_object(Bucket=bucket, Key="a/one.txt")["ContentLength"] == 3
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="a/")["Contents"]] == ["a/one.txt"]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a/one.txt"}]})
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket=bucket, Key="a/one.txt")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"


def test_large_objects_stream_both_ways(s3, bucket):
    big = bytes(range(256)) * 8192  # 2 MiB
    s3.upload_fileobj(io.BytesIO(big), bucket, "big.bin")
    assert s3.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == big


def test_presigned_get_urls_work_until_they_expire(s3, bucket):
    s3.put_object(Bucket=bucket, Key="doc.pdf", Body=PDF)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.pdf"}, ExpiresIn=60)
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == PDF
    short = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.pdf"}, ExpiresIn=1)
    time.sleep(2.1)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(short)
    assert refused.value.code == 403
    error = ET.fromstring(refused.value.read())
    assert (error.findtext("Code"), error.findtext("Message")) == ("AccessDenied", "Request has expired")


def test_expired_sigv2_presigned_urls_are_refused_too(gateway, bucket, s3):
    s3.put_object(Bucket=bucket, Key="doc.pdf", Body=PDF)
    sigv2 = _client(gateway.url, sigv4=False)
    url = sigv2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.pdf"}, ExpiresIn=60)
    assert "Expires=" in url
    with urllib.request.urlopen(url) as answer:
        assert answer.read() == PDF
    expired = sigv2.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.pdf"}, ExpiresIn=-5)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(expired)
    assert refused.value.code == 403
