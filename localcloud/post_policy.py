"""S3's checks of browser-form (presigned POST) uploads and presigned URLs, as AWS makes them.

moto's S3 server accepts any form POST: it never checks the policy's signature, expiry or
conditions, so an upload that AWS would refuse (too big, wrong content type, tampered key,
expired form) would succeed locally. This module reads a form as S3 does and checks it as S3
does (SigV4 policy signature, expiration, every condition, no uncovered fields), answering
with S3's own error codes and wording. It does no I/O: localcloud.s3_gateway serves it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.parser import HeaderParser
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

# Form fields S3 does not require the policy to mention (besides any x-ignore-* field).
_UNSIGNED_FIELDS = frozenset({"policy", "x-amz-signature", "file"})
# S3's own wording, which clients and people search for.
MALFORMED = "The body of your POST request is not well-formed multipart/form-data."
SIGV2 = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."
UNKNOWN_KEY = "The AWS Access Key Id you provided does not exist in our records."
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your key and signing method."
)
TOO_LARGE = "Your proposed upload exceeds the maximum allowed size"
TOO_SMALL = "Your proposed upload is smaller than the minimum allowed size"


class S3Error(Exception):
    """An answer in S3's error format: status, code and message as AWS would send them."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message

    def xml(self) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{escape(self.code)}</Code><Message>{escape(self.message)}</Message></Error>"
        ).encode()


def _denied(message: str) -> S3Error:
    return S3Error(403, "AccessDenied", message)


def _invalid_policy(message: str) -> S3Error:
    return S3Error(400, "InvalidPolicyDocument", f"Invalid Policy: {message}")


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)  # lower-cased name -> value
    names: dict[str, str] = field(default_factory=dict)  # lower-cased name -> name as sent
    file: bytes | None = None
    filename: str = ""
    file_type: str | None = None


def parse_form(content_type: str, body: bytes) -> Form:
    """multipart/form-data, as S3 reads it: fields up to `file`; anything after it is ignored."""
    malformed = S3Error(400, "MalformedPOSTRequest", MALFORMED)
    parser = HeaderParser(policy=email_policy.HTTP)
    boundary = parser.parsestr(f"Content-Type: {content_type}\r\n\r\n").get_boundary()
    if not boundary:
        raise malformed
    form = Form()
    # Prefixing CRLF makes the first delimiter look like the others.
    for part in (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):  # the closing delimiter
            return form
        head, separator, content = part.partition(b"\r\n\r\n")
        if not separator:
            raise malformed
        # Browsers send non-ASCII file names as raw UTF-8 inside the header.
        headers = parser.parsestr(head.lstrip(b" \t\r\n").decode("utf-8", "replace") + "\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise malformed
        if name.lower() == "file":
            form.file, form.filename = content, headers.get_filename() or ""
            form.file_type = headers.get_content_type() if "content-type" in headers else None
            return form
        form.fields[name.lower()] = content.decode("utf-8", "replace")
        form.names[name.lower()] = name
    raise malformed  # no closing delimiter: a truncated body


def signing_key(secret: str, date: str, region: str) -> bytes:
    """SigV4's key for S3 on one day in one region."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check_not_expired(query: str) -> None:
    """Presigned URLs (SigV4, or SigV2 which boto3 still defaults to in us-east-1) expire."""
    params = {name.lower(): value for name, value in parse_qsl(query)}
    try:
        if "x-amz-date" in params and "x-amz-expires" in params:
            signed = datetime.strptime(params["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            deadline = signed + timedelta(seconds=int(params["x-amz-expires"]))
        elif "expires" in params and "awsaccesskeyid" in params:
            deadline = datetime.fromtimestamp(int(params["expires"]), UTC)
        else:
            return
    except ValueError:
        raise S3Error(400, "AuthorizationQueryParametersError", "Invalid X-Amz-Date or X-Amz-Expires.") from None
    if datetime.now(UTC) > deadline:
        raise _denied("Request has expired")


@dataclass(frozen=True)
class PostPolicyChecker:
    """Checks form POST uploads as S3 does for the one key pair in one region."""

    access_key: str
    secret_key: str = field(repr=False)
    region: str

    def check_upload(self, bucket: str, form: Form) -> str:
        """Every check S3 makes of a form posted to bucket, in S3's order; returns the object's key."""
        fields = form.fields
        self.check_signature(fields)
        if "key" not in fields:
            raise S3Error(400, "InvalidArgument", "Bucket POST must contain a field named 'key'.")
        if form.file is None:
            raise S3Error(400, "InvalidArgument", "POST requires exactly one file upload per request.")
        self.check_policy(bucket, form, len(form.file))
        key = fields["key"].replace("${filename}", form.filename)
        if not key:
            raise S3Error(400, "InvalidArgument", "User key must have a length greater than 0.")
        return key

    def check_signature(self, fields: dict[str, str]) -> None:
        if "x-amz-signature" not in fields:
            if "signature" in fields:  # SigV2, which buckets created since 2020 refuse
                raise S3Error(400, "InvalidRequest", SIGV2)
            raise _denied("Access Denied")  # an anonymous upload: docflow's buckets are private
        if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
            raise S3Error(400, "InvalidArgument", "Invalid or missing x-amz-algorithm: use AWS4-HMAC-SHA256.")
        if "policy" not in fields:
            raise S3Error(400, "InvalidArgument", "Bucket POST must contain a field named 'policy'.")
        scope = fields.get("x-amz-credential", "").split("/")
        if len(scope) != 5 or scope[3:] != ["s3", "aws4_request"]:
            raise S3Error(400, "InvalidArgument", f"Invalid credential: {fields.get('x-amz-credential', '')}")
        access_key, date, region = scope[:3]
        if access_key != self.access_key:
            raise S3Error(403, "InvalidAccessKeyId", UNKNOWN_KEY)
        if region != self.region:
            wrong_region = f"the region '{region}' is wrong; expecting '{self.region}'"
            raise S3Error(400, "AuthorizationHeaderMalformed", f"The authorization header is malformed; {wrong_region}")
        expected = hmac.new(signing_key(self.secret_key, date, region), fields["policy"].encode(), hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), fields["x-amz-signature"].lower()):
            raise S3Error(403, "SignatureDoesNotMatch", BAD_SIGNATURE)

    def check_policy(self, bucket: str, form: Form, size: int) -> None:
        try:
            document = json.loads(base64.b64decode(form.fields["policy"], validate=True))
        except (binascii.Error, ValueError):
            raise _invalid_policy("Invalid JSON.") from None
        if not isinstance(document, dict) or not isinstance(document.get("conditions"), list):
            raise _invalid_policy("Policy missing conditions.")
        try:
            expiration = datetime.fromisoformat(document["expiration"])
        except (KeyError, TypeError, ValueError):
            raise _invalid_policy("Invalid 'expiration' value.") from None
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        if datetime.now(UTC) > expiration:
            raise _denied("Invalid according to Policy: Policy expired.")

        covered: set[str] = set()
        for condition in document["conditions"]:
            if isinstance(condition, dict) and len(condition) == 1:  # {"field": value} means eq
                ((name, expected),) = condition.items()
                operator, name = "eq", f"${name}"
            elif isinstance(condition, list) and len(condition) == 3:
                operator, name, expected = condition
                operator = str(operator).lower()
            else:
                raise _invalid_policy(f"Invalid condition: {json.dumps(condition)}")
            if operator == "content-length-range":
                try:
                    low, high = int(name), int(expected)
                except (TypeError, ValueError):
                    raise _invalid_policy(f"Invalid condition: {json.dumps(condition)}") from None
                if size > high:
                    raise S3Error(400, "EntityTooLarge", TOO_LARGE)
                if size < low:
                    raise S3Error(400, "EntityTooSmall", TOO_SMALL)
                continue
            names_a_field = isinstance(name, str) and name.startswith("$") and isinstance(expected, str)
            if operator not in ("eq", "starts-with") or not names_a_field:
                raise _invalid_policy(f"Invalid condition: {json.dumps(condition)}")
            field_name = name[1:].lower()
            covered.add(field_name)
            # The bucket is the one the form posts to, whether or not the form names it.
            actual = bucket if field_name == "bucket" else form.fields.get(field_name)
            holds = actual is not None and (actual == expected if operator == "eq" else actual.startswith(expected))
            if not holds:
                failed = json.dumps([operator, name, expected])
                raise _denied(f"Invalid according to Policy: Policy Condition failed: {failed}")

        unsigned = covered | _UNSIGNED_FIELDS
        extra = [form.names[name] for name in form.fields if name not in unsigned and not name.startswith("x-ignore-")]
        if extra:
            raise _denied(f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")
