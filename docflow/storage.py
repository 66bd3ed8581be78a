"""Where documents and everything derived from them live: an object store behind a small
protocol, so the domain never imports boto3 and tests can hand it a fake."""

from __future__ import annotations

import json
import os
from typing import IO, Any, Protocol

from docflow.aws_errors import ErrorMap, error_code
from docflow.errors import DocumentNotFound, TransientError

S3_ERRORS = ErrorMap(
    service="Storage",
    transient_codes=frozenset(
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
    ),
    transient=TransientError,
    missing_codes=frozenset({"NoSuchKey", "404", "NotFound"}),
    missing=lambda key: DocumentNotFound(f"No object at {key}"),
)


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
    """ObjectStore on one S3 bucket. S3's failures leave as docflow's errors (S3_ERRORS): a
    missing object is permanent, throttling and 5xx are transient."""

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
        with S3_ERRORS.translated(key):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}")
            except Exception as error:
                # An empty object has no byte 0: S3 answers 416 to any range.
                if error_code(error) == "InvalidRange":
                    return b"", 0
                raise
            head = response["Body"].read()
            content_range = response.get("ContentRange")  # "bytes 0-1023/52345"
            size = int(content_range.rsplit("/", 1)[1]) if content_range else response["ContentLength"]
            return head, size

    def download(self, key: str, sink: IO[bytes]) -> None:
        with S3_ERRORS.translated(key):
            self.client.download_fileobj(self.bucket, key, sink)

    def open(self, key: str) -> IO[bytes]:
        with S3_ERRORS.translated(key):
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"]

    def put(self, key: str, data: bytes, content_type: str) -> None:
        with S3_ERRORS.translated(key):
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def upload(self, key: str, source: IO[bytes], content_type: str) -> None:
        with S3_ERRORS.translated(key):
            self.client.upload_fileobj(source, self.bucket, key, ExtraArgs={"ContentType": content_type})

    def get_json(self, key: str) -> Any:
        with S3_ERRORS.translated(key):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return json.loads(body)

    def put_json(self, key: str, value: Any) -> None:
        self.put(key, json.dumps(value, ensure_ascii=False).encode(), "application/json")

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        with S3_ERRORS.translated(prefix):
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
