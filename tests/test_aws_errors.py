"""The one mechanism by which adapters turn AWS client errors into docflow's."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from docflow.aws_errors import error_code
from docflow.errors import DocumentNotFound, TransientError, UnsupportedType
from docflow.storage import S3_ERRORS
from docflow.workflows import SFN_ERRORS, Throttled


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "detail"}}, "AnyOperation")


def test_error_code_reads_a_client_error_and_nothing_else():
    assert error_code(client_error("SlowDown")) == "SlowDown"
    assert error_code(ValueError("SlowDown")) == ""


@pytest.mark.parametrize("code", ["NoSuchKey", "404", "NotFound"])
def test_a_missing_object_becomes_document_not_found_naming_its_key(code):
    with pytest.raises(DocumentNotFound, match="uploads/d1/a.pdf") as raised:
        with S3_ERRORS.translated("uploads/d1/a.pdf"):
            raise client_error(code)
    assert isinstance(raised.value.__cause__, ClientError)


@pytest.mark.parametrize("code", ["SlowDown", "503", "InternalError"])
def test_throttling_and_5xx_from_s3_are_transient(code):
    with pytest.raises(TransientError, match=f"Storage did not answer \\({code}\\)"):
        with S3_ERRORS.translated("k"):
            raise client_error(code)


def test_step_functions_throttling_is_throttled_and_a_lost_connection_transient():
    with pytest.raises(Throttled):
        with SFN_ERRORS.translated():
            raise client_error("ExecutionLimitExceeded")
    with pytest.raises(Throttled, match="EndpointConnectionError"):
        with SFN_ERRORS.translated():
            raise EndpointConnectionError(endpoint_url="https://states.example")


def test_other_failures_and_docflows_own_errors_pass_unchanged():
    with pytest.raises(ClientError):
        with S3_ERRORS.translated("k"):
            raise client_error("AccessDenied")
    with pytest.raises(ClientError):  # Step Functions has no "missing" mapping
        with SFN_ERRORS.translated():
            raise client_error("ExecutionDoesNotExist")
    with pytest.raises(UnsupportedType):
        with S3_ERRORS.translated("k"):
            raise UnsupportedType("not a document")
