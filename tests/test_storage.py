"""The S3 adapter turns S3's failures into docflow's taxonomy."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from docflow.errors import DocumentNotFound, TransientError
from docflow.storage import S3ObjectStore


class FailingS3:
    def __init__(self, code: str):
        self.code = code

    def get_object(self, **_):
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "GetObject")


@pytest.mark.parametrize("code", ["SlowDown", "ServiceUnavailable", "InternalError", "503"])
def test_throttling_and_5xx_are_transient(code):
    with pytest.raises(TransientError):
        S3ObjectStore("bucket", FailingS3(code)).get_json("k")


def test_a_missing_object_is_not_found():
    with pytest.raises(DocumentNotFound, match="k"):
        S3ObjectStore("bucket", FailingS3("NoSuchKey")).read_head("k", 10)


def test_anything_else_propagates_unchanged():
    with pytest.raises(ClientError):
        S3ObjectStore("bucket", FailingS3("AccessDenied")).get_json("k")


def test_a_missing_object_on_moto_is_not_found(s3_store):
    with pytest.raises(DocumentNotFound):
        s3_store.get_json("nothing/here.json")
