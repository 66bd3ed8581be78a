"""localcloud.post_policy: forms and presigned URLs checked as S3 checks them, with no server and no moto."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import boto3
import pytest
from botocore.config import Config
from urllib3 import encode_multipart_formdata

from localcloud.post_policy import (
    BAD_SIGNATURE,
    MALFORMED,
    TOO_LARGE,
    TOO_SMALL,
    PostPolicyChecker,
    S3Error,
    check_not_expired,
    parse_form,
)

REGION = "us-east-1"
ACCESS_KEY, SECRET_KEY = "AKIALOCALTEST", "local-secret"
BUCKET = "uploads-bucket"
PDF = b"%PDF-1.4\n" + bytes(range(256)) + b"\r\n--not-a-boundary\r\n%%EOF\n"
CHECKER = PostPolicyChecker(ACCESS_KEY, SECRET_KEY, REGION)


def _client(*, access_key: str = ACCESS_KEY, secret: str = SECRET_KEY, region: str = REGION, sigv4: bool = True):
    """A client that only signs: presigning needs no endpoint, so nothing reaches the network."""
    return boto3.client(
        "s3",
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4" if sigv4 else None),
    )


def _presigned_post(client=None, key: str = "uploads/doc.pdf", *, fields=None, conditions=None, expires=60) -> dict:
    return (client or _client()).generate_presigned_post(
        BUCKET,
        key,
        Fields={"Content-Type": "application/pdf", **(fields or {})},
        Conditions=[{"Content-Type": "application/pdf"}, ["content-length-range", 1, 1000], *(conditions or [])],
        ExpiresIn=expires,
    )


def _check(post: dict, content: bytes = PDF, *, filename: str = "doc.pdf", bucket: str = BUCKET, **changes) -> str:
    """Encodes the form as a browser would (its fields in order, then the file), parses it and checks it."""
    fields = list({**post["fields"], **changes}.items())
    body, content_type = encode_multipart_formdata([*fields, ("file", (filename, content, "application/pdf"))])
    return CHECKER.check_upload(bucket, parse_form(content_type, body))


def _refusal(post: dict, content: bytes = PDF, **changes) -> tuple[int, str, str]:
    with pytest.raises(S3Error) as refused:
        _check(post, content, **changes)
    return refused.value.status, refused.value.code, refused.value.message


# -- the policy and its signature -----------------------------------------------------------


def test_a_valid_form_passes_and_names_its_key():
    assert _check(_presigned_post()) == "uploads/doc.pdf"


def test_the_filename_placeholder_takes_the_files_name():
    assert _check(_presigned_post(key="uploads/${filename}"), filename="report 2024.pdf") == "uploads/report 2024.pdf"


def test_too_large_a_file_is_refused():
    assert _refusal(_presigned_post(), b"x" * 1001) == (400, "EntityTooLarge", TOO_LARGE)
    assert _check(_presigned_post(), b"x" * 1000) == "uploads/doc.pdf"  # the range includes its bounds


def test_an_empty_file_is_too_small():
    assert _refusal(_presigned_post(), b"") == (400, "EntityTooSmall", TOO_SMALL)


def test_another_content_type_fails_its_condition():
    expected = 'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "application/pdf"]'
    assert _refusal(_presigned_post(), **{"Content-Type": "text/html"}) == (403, "AccessDenied", expected)


def test_a_tampered_key_fails_its_condition():
    status, code, message = _refusal(_presigned_post(), key="elsewhere/doc.pdf")
    assert (status, code) == (403, "AccessDenied")
    assert '"$key"' in message


def test_a_form_posted_to_another_bucket_fails_the_bucket_condition():
    with pytest.raises(S3Error) as refused:
        _check(_presigned_post(), bucket=f"{BUCKET}-other")
    assert (refused.value.status, refused.value.code) == (403, "AccessDenied")
    assert '"$bucket"' in refused.value.message


def test_fields_the_policy_does_not_cover_are_refused():
    extra = "Invalid according to Policy: Extra input fields: x-amz-meta-owner"
    assert _refusal(_presigned_post(), **{"x-amz-meta-owner": "mallory"}) == (403, "AccessDenied", extra)


def test_x_ignore_fields_and_covered_fields_pass():
    post = _presigned_post(fields={"x-amz-meta-owner": "alice"}, conditions=[{"x-amz-meta-owner": "alice"}])
    assert _check(post, **{"x-ignore-tracking": "1"}) == "uploads/doc.pdf"


def test_a_tampered_policy_does_not_match_its_signature():
    post = _presigned_post()
    document = json.loads(base64.b64decode(post["fields"]["policy"]))
    document["conditions"][1] = ["content-length-range", 1, 10**9]
    widened = base64.b64encode(json.dumps(document).encode()).decode()
    assert _refusal(post, b"x" * 2000, policy=widened) == (403, "SignatureDoesNotMatch", BAD_SIGNATURE)


def test_a_tampered_signature_does_not_match():
    assert _refusal(_presigned_post(), **{"x-amz-signature": "0" * 64})[:2] == (403, "SignatureDoesNotMatch")


def test_only_the_checkers_key_pair_and_region_are_accepted():
    assert _refusal(_presigned_post(_client(secret="guessed")))[:2] == (403, "SignatureDoesNotMatch")
    assert _refusal(_presigned_post(_client(access_key="AKIASOMEONEELSE")))[:2] == (403, "InvalidAccessKeyId")
    status, code, message = _refusal(_presigned_post(_client(region="eu-west-1")))
    assert (status, code) == (400, "AuthorizationHeaderMalformed")
    assert "'eu-west-1' is wrong; expecting 'us-east-1'" in message


def test_an_expired_policy_is_refused():
    expired = "Invalid according to Policy: Policy expired."
    assert _refusal(_presigned_post(expires=-5)) == (403, "AccessDenied", expired)


def test_a_sigv2_form_is_refused_as_aws_refuses_it():
    post = _presigned_post(_client(sigv4=False))
    assert "AWSAccessKeyId" in post["fields"]
    assert _refusal(post)[:2] == (400, "InvalidRequest")


def test_an_unsigned_form_is_denied():
    body, content_type = encode_multipart_formdata([("key", "doc.pdf"), ("file", ("doc.pdf", PDF))])
    with pytest.raises(S3Error) as refused:
        CHECKER.check_upload(BUCKET, parse_form(content_type, body))
    assert (refused.value.status, refused.value.code, refused.value.message) == (403, "AccessDenied", "Access Denied")


def test_a_form_without_a_file_is_refused():
    fields = list(_presigned_post()["fields"].items())
    body, content_type = encode_multipart_formdata(fields)
    with pytest.raises(S3Error) as refused:
        CHECKER.check_upload(BUCKET, parse_form(content_type, body))
    assert (refused.value.status, refused.value.code) == (400, "InvalidArgument")
    assert "exactly one file" in refused.value.message


def test_the_secret_key_is_not_in_the_checkers_repr():
    assert ACCESS_KEY in repr(CHECKER)
    assert SECRET_KEY not in repr(CHECKER)


# -- reading the form -----------------------------------------------------------------------


def test_the_form_is_read_up_to_the_file_and_keeps_the_names_as_sent():
    body, content_type = encode_multipart_formdata(
        [("Content-Type", "application/pdf"), ("file", ("café.pdf", PDF, "application/pdf")), ("after", "ignored")]
    )
    form = parse_form(content_type, body)
    assert form.fields == {"content-type": "application/pdf"}
    assert form.names == {"content-type": "Content-Type"}
    assert (form.file, form.filename, form.file_type) == (PDF, "café.pdf", "application/pdf")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--abc\r\n\r\nvalue\r\n--abc--\r\n"),  # no boundary
        ("multipart/form-data; boundary=abc", b"--abc\r\nno headers here"),  # a part with no blank line
        ("multipart/form-data; boundary=abc", b"--abc\r\nContent-Disposition: form-data\r\n\r\nv\r\n--abc--"),
        ("multipart/form-data; boundary=abc", b'--abc\r\nContent-Disposition: form-data; name="key"\r\n\r\nv'),
    ],
    ids=["no-boundary", "no-headers", "no-name", "truncated"],
)
def test_a_malformed_form_is_an_s3_error(content_type, body):
    with pytest.raises(S3Error) as refused:
        parse_form(content_type, body)
    assert (refused.value.status, refused.value.code, refused.value.message) == (400, "MalformedPOSTRequest", MALFORMED)


# -- presigned URLs -------------------------------------------------------------------------


def _presigned_url(expires: int, *, sigv4: bool = True) -> str:
    return _client(sigv4=sigv4).generate_presigned_url(
        "get_object", Params={"Bucket": BUCKET, "Key": "doc.pdf"}, ExpiresIn=expires
    )


@pytest.mark.parametrize("sigv4", [True, False], ids=["sigv4", "sigv2"])
def test_presigned_urls_pass_until_they_expire(sigv4):
    check_not_expired(_presigned_url(60, sigv4=sigv4).partition("?")[2])
    expired = _presigned_url(-5, sigv4=sigv4).partition("?")[2]
    assert ("X-Amz-Expires=" in expired) is sigv4
    with pytest.raises(S3Error) as refused:
        check_not_expired(expired)
    assert (refused.value.status, refused.value.code, refused.value.message) == (
        403,
        "AccessDenied",
        "Request has expired",
    )


def test_an_unreadable_presigned_date_is_an_s3_error():
    with pytest.raises(S3Error) as refused:
        check_not_expired("X-Amz-Date=yesterday&X-Amz-Expires=60")
    assert (refused.value.status, refused.value.code) == (400, "AuthorizationQueryParametersError")


def test_a_query_that_is_not_presigned_is_not_checked():
    check_not_expired("list-type=2&prefix=uploads%2F")
    check_not_expired("Expires=0")  # SigV2's expiry counts only with its access key id


def test_an_s3_error_is_s3s_xml_escaped():
    error = ET.fromstring(S3Error(400, "InvalidArgument", "a <b> & c").xml())
    assert (error.tag, error.findtext("Code"), error.findtext("Message")) == ("Error", "InvalidArgument", "a <b> & c")
