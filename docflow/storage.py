"""Where documents and everything derived from them live: an object store behind a small
protocol, so the domain never imports boto3 and tests can hand it a fake."""

from __future__ import annotations

import json
import os
from typing import IO, Any, Protocol

from docflow.errors import DocumentNotFound, TransientError

TRANSIENT_S3_CODES = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "Throttling",
        "ThrottlingException",
        "503",
        "500",
    }
)
MISSING_S3_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class ObjectStore(Protocol):
    def read_head(self, key: str, length: int) -> tuple[bytes, int]:
        """The first `length` bytes of the object and its total size."""

    def download(self, key: str, sink: IO[bytes]) -> None:
        """Streams the whole object into `sink`."""

    def open(self, key: str) -> IO[bytes]:
        """A readable stream of the object, for reading it piece by piece."""

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def upload(self, key: str, source: IO[bytes], content_type: str) -> None:
        """Streams `source` into the object (multipart for large files)."""

    def get_json(self, key: str) -> Any: ...

    def put_json(self, key: str, value: Any) -> None: ...

    def delete_prefix(self, prefix: str) -> int:
        """Deletes every object under `prefix`; returns how many there were."""


class Presigner(Protocol):
    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        """{"url", "fields"} of a browser-form POST that may write this one object."""

    def presign_download(self, key: str, expires_in: int) -> str: ...


class S3ObjectStore:
    """ObjectStore on one S3 bucket. Every S3 failure leaves as a docflow error: a missing
    object is permanent, throttling and 5xx are transient (botocore has already retried
    them), anything else propagates as an internal error."""

    def __init__(self, bucket: str, client: Any = None, *, connections: int = 10):
        if client is None:
            import boto3
            from botocore.config import Config

            # SigV4 throughout: S3 refuses SigV2-signed upload forms on buckets made since 2020.
            config = Config(signature_version="s3v4", max_pool_connections=connections)
            client = boto3.client("s3", config=config)
        self.bucket = bucket
        self.client = client

    @classmethod
    def from_environment(cls, *, connections: int = 10) -> S3ObjectStore:
        """The store on DOCFLOW_BUCKET. `connections` sizes the client's pool: a caller that
        reads from many threads needs one connection per thread, or botocore drops and
        reopens them."""
        return cls(os.environ["DOCFLOW_BUCKET"], connections=connections)

    def read_head(self, key: str, length: int) -> tuple[bytes, int]:
        with _s3_errors(key):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}")
            except Exception as error:
                # An empty object has no byte 0: S3 answers 416 to any range.
                if _error_code(error) == "InvalidRange":
                    return b"", 0
                raise
            head = response["Body"].read()
            content_range = response.get("ContentRange")  # "bytes 0-1023/52345"
            size = int(content_range.rsplit("/", 1)[1]) if content_range else response["ContentLength"]
            return head, size

    def download(self, key: str, sink: IO[bytes]) -> None:
        with _s3_errors(key):
            self.client.download_fileobj(self.bucket, key, sink)

    def open(self, key: str) -> IO[bytes]:
        with _s3_errors(key):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def put(self, key: str, data: bytes, content_type: str) -> None:
        with _s3_errors(key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def upload(self, key: str, source: IO[bytes], content_type: str) -> None:
        with _s3_errors(key):
            self.client.upload_fileobj(source, self.bucket, key, ExtraArgs={"ContentType": content_type})

    def get_json(self, key: str) -> Any:
        with _s3_errors(key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return json.loads(body)

    def put_json(self, key: str, value: Any) -> None:
        self.put(key, json.dumps(value, ensure_ascii=False).encode(), "application/json")

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        with _s3_errors(prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                batch = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                if batch:
                    self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
                    deleted += len(batch)
        return deleted

    # -- presigned URLs: the client talks to S3 directly, the bytes never pass the API --

    def presign_upload(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        """A presigned POST for exactly this key and content type, at most max_bytes:
        S3 checks the policy, so a client cannot write anywhere else or anything else."""
        return self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )

    def presign_download(self, key: str, expires_in: int) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )


def _error_code(error: BaseException) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class _s3_errors:
    """Turns botocore's failures into docflow's taxonomy."""

    def __init__(self, key: str):
        self.key = key

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, error, traceback) -> bool:
        if error is None or isinstance(error, (DocumentNotFound, TransientError)):
            return False
        code = _error_code(error)
        if code in MISSING_S3_CODES:
            raise DocumentNotFound(f"No object at {self.key}") from error
        if code in TRANSIENT_S3_CODES or _is_connection_error(error):
            raise TransientError(f"Storage did not answer ({code or type(error).__name__})") from error
        return False


def _is_connection_error(error: BaseException) -> bool:
    from botocore.exceptions import ConnectionError as BotoConnectionError
    from botocore.exceptions import ReadTimeoutError

    return isinstance(error, (BotoConnectionError, ReadTimeoutError))
