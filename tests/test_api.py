"""The api function, called in-process with API Gateway REST (v1) proxy events, on moto's
S3, DynamoDB and Step Functions: what each route answers, to whom, and how it fails."""

from __future__ import annotations

import inspect
import json
import re
import uuid
from typing import get_type_hints

import boto3
import pytest

from handlers import lambda_context, load_deployed_handler
from samples import recorded_result

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

ALICE = "arn:aws:iam::123456789012:user/alice"
BOB = "arn:aws:iam::123456789012:user/bob"
PDF_UPLOAD = {"filename": "report.pdf", "content_type": "application/pdf", "size": 1024}
NOW = "2026-01-01T00:00:00.000000+00:00"



# -- the function as deployed ----------------------------------------------------------------


@pytest.fixture
def api(state_machines, monkeypatch):
    return load_deployed_handler("api", monkeypatch, state_machines)


def api_module(handler) -> dict:
    """The globals of the handler's module (load_handler imports it under a fresh name)."""
    module = inspect.unwrap(handler).__globals__
    assert "service" in module and "app" in module
    return module


# -- requests ---------------------------------------------------------------------------------


def proxy_event(method, path, body=None, caller=ALICE, headers=None, query=None, claims=None) -> dict:
    """An API Gateway REST proxy event, as API Gateway hands it to Lambda."""
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    if headers is None:
        headers = {"Content-Type": "application/json"} if body is not None else {}
    identity = {"sourceIp": "203.0.113.7", "userAgent": "pytest", "userArn": caller, "caller": None}
    context = {
        "accountId": "123456789012",
        "apiId": "abc123",
        "resourceId": "res",
        "resourcePath": "/{proxy+}",
        "stage": "prod",
        "requestId": str(uuid.uuid4()),
        "httpMethod": method,
        "path": f"/prod{path}",
        "identity": identity,
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "body": body,
        "isBase64Encoded": False,
        "requestContext": context,
    }


def call(handler, method, path, **options) -> dict:
    """The handler's raw answer; no answer ever carries a stack trace."""
    response = handler(proxy_event(method, path, **options), lambda_context())
    assert "Traceback" not in (response.get("body") or ""), response["body"]
    return response


def request(handler, method, path, body=None, caller=ALICE, headers=None, query=None):
    """(status, JSON body) of one API call."""
    response = call(handler, method, path, body=body, caller=caller, headers=headers, query=query)
    return response["statusCode"], json.loads(response["body"])


def assert_error(answer, status: int, code: str) -> str:
    """Checks an error answer's status and shape; returns its message."""
    got_status, body = answer
    assert (got_status, set(body)) == (status, {"error"}), answer
    assert body["error"]["code"] == code, answer
    assert isinstance(body["error"]["message"], str) and body["error"]["message"], answer
    return body["error"]["message"]


# -- documents, made through the API ------------------------------------------------------------


def upload(api, caller=ALICE, **fields) -> str:
    status, body = request(api, "POST", "/uploads", {**PDF_UPLOAD, **fields}, caller=caller)
    assert status == 201, body
    return body["document_id"]


def mark_processed(record_store, document_id: str, status: str = "succeeded") -> None:
    """What the record step writes when the document workflow ends."""
    assert record_store.record_result(document_id, recorded_result(document_id, failed=status == "failed"), NOW)


def executions(state_machine_arn: str) -> list[dict]:
    return boto3.client("stepfunctions", region_name="us-east-1").list_executions(stateMachineArn=state_machine_arn)[
        "executions"
    ]


# -- authentication ---------------------------------------------------------------------------


def test_health_and_the_docs_answer_without_a_caller(api):
    assert request(api, "GET", "/health", caller=None) == (200, {"status": "ok"})
    status, schema = request(api, "GET", "/docs", caller=None, query={"format": "json"})
    assert status == 200 and schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "/uploads", PDF_UPLOAD),
        ("GET", "/documents", None),
        ("GET", "/documents/abc", None),
        ("POST", "/documents/abc/process", None),
        ("POST", "/batches", {"document_ids": ["abc"]}),
        ("GET", "/batches/abc", None),
        ("DELETE", "/batches/abc", None),
        ("POST", "/webhooks", {"url": "https://example.com/x"}),
        ("GET", "/no/such/route", None),
    ],
)
def test_every_other_route_needs_a_caller(api, method, path, body):
    assert_error(request(api, method, path, body, caller=None), 401, "unauthorized")


@pytest.mark.parametrize(
    "method, path, body, query",
    [
        ("POST", "/uploads", {}, None),
        ("POST", "/uploads", "{not json", None),
        ("POST", "/batches", {"document_ids": []}, None),
        ("GET", "/documents", None, {"limit": "0"}),
    ],
)
def test_an_unauthenticated_request_is_refused_before_it_is_validated(api, method, path, body, query):
    assert_error(request(api, method, path, body, caller=None, query=query), 401, "unauthorized")


def test_an_unauthenticated_request_changes_nothing(api, record_store):
    request(api, "POST", "/uploads", PDF_UPLOAD, caller=None)
    assert record_store.client.scan(TableName=record_store.table)["Items"] == []


def test_a_cognito_caller_is_known_by_its_sub(api):
    claims = {"sub": "5e1b4151-cognito-user", "email": "carol@example.com"}
    created = call(api, "POST", "/uploads", body=PDF_UPLOAD, caller=None, claims=claims)
    assert created["statusCode"] == 201, created["body"]
    document_id = json.loads(created["body"])["document_id"]

    seen = call(api, "GET", f"/documents/{document_id}", caller=None, claims=claims)
    assert seen["statusCode"] == 200, seen["body"]
    assert_error(request(api, "GET", f"/documents/{document_id}", caller=ALICE), 404, "not_found")


# -- uploads ----------------------------------------------------------------------------------


def test_an_upload_is_presigned_for_a_safe_key(api, record_store):
    status, body = request(api, "POST", "/uploads", {**PDF_UPLOAD, "filename": "../../etc/passwd.pdf"})

    assert status == 201, body
    document_id = body["document_id"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", document_id)
    assert body["upload"]["url"].startswith("https://")
    fields = body["upload"]["fields"]
    assert fields["key"] == f"uploads/{document_id}/passwd.pdf"
    assert fields["Content-Type"] == "application/pdf"
    assert "policy" in fields
    assert 0 < body["expires_in"] <= 900

    record = record_store.get_document(document_id)
    assert (record.owner, record.status, record.key) == (ALICE, "pending", fields["key"])
    assert record.filename == "../../etc/passwd.pdf"


def test_the_presigned_policy_holds_the_key_type_and_size_limit(api):
    import base64

    _, body = request(api, "POST", "/uploads", PDF_UPLOAD)
    policy = json.loads(base64.b64decode(body["upload"]["fields"]["policy"]))
    conditions = policy["conditions"]
    assert {"key": body["upload"]["fields"]["key"]} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", 1, 50 * 1024 * 1024] in conditions


def test_a_new_upload_is_listed_as_pending(api):
    document_id = upload(api, filename="scan.png", content_type="image/png")
    status, body = request(api, "GET", f"/documents/{document_id}")
    assert status == 200, body
    assert body["document_id"] == document_id
    assert (body["filename"], body["content_type"], body["status"]) == ("scan.png", "image/png", "pending")
    assert (body["results"], body["error"], body["thumbnail_url"], body["text_url"]) == (None, None, None, None)


@pytest.mark.parametrize("content_type", ["text/html", "application/x-msdownload", "application/pdfx", "image/svg+xml"])
def test_a_type_docflow_does_not_process_is_refused(api, record_store, content_type):
    answer = request(api, "POST", "/uploads", {**PDF_UPLOAD, "content_type": content_type})
    message = assert_error(answer, 415, "unsupported_type")
    assert "application/pdf" in message  # says what is accepted
    assert record_store.client.scan(TableName=record_store.table)["Items"] == []


def test_a_declared_content_type_is_compared_without_its_parameters_or_case(api):
    status, body = request(api, "POST", "/uploads", {**PDF_UPLOAD, "content_type": "Application/PDF; charset=binary"})
    assert status == 201, body
    assert body["upload"]["fields"]["Content-Type"] == "application/pdf"


def test_a_file_over_the_limit_is_refused_before_upload(api, record_store):
    message = assert_error(request(api, "POST", "/uploads", {**PDF_UPLOAD, "size": 60 * 1024 * 1024}), 413, "file_too_large")
    assert "52,428,800" in message
    assert record_store.client.scan(TableName=record_store.table)["Items"] == []


def test_a_file_of_exactly_the_limit_is_accepted(api):
    status, body = request(api, "POST", "/uploads", {**PDF_UPLOAD, "size": 50 * 1024 * 1024})
    assert status == 201, body


def test_a_malformed_json_body_is_a_400(api):
    assert_error(request(api, "POST", "/uploads", '{"filename": "a.pdf",'), 400, "malformed_json")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"filename": "a.pdf"}, "content_type"),
        ({"content_type": "application/pdf"}, "filename"),
        ({**PDF_UPLOAD, "colour": "blue"}, "colour"),
        ({**PDF_UPLOAD, "size": -1}, "size"),
        ({**PDF_UPLOAD, "filename": ""}, "filename"),
        ({**PDF_UPLOAD, "content_type": ""}, "content_type"),
        ({**PDF_UPLOAD, "size": "big"}, "size"),
    ],
)
def test_an_invalid_upload_request_is_a_422_naming_the_field(api, body, field):
    message = assert_error(request(api, "POST", "/uploads", body), 422, "invalid_request")
    assert field in message




@pytest.mark.parametrize("name", ["Content-Type", "content-type"])
def test_a_form_encoded_body_is_refused(api, name):
    answer = request(
        api, "POST", "/uploads", "filename=a.pdf&content_type=application/pdf",
        headers={name: "application/x-www-form-urlencoded"},
    )
    assert_error(answer, 415, "unsupported_media_type")


def test_a_text_body_is_refused(api):
    answer = request(api, "POST", "/uploads", json.dumps(PDF_UPLOAD), headers={"Content-Type": "text/plain"})
    assert_error(answer, 415, "unsupported_media_type")


def test_a_body_without_a_content_type_is_refused(api):
    assert_error(request(api, "POST", "/uploads", json.dumps(PDF_UPLOAD), headers={}), 415, "unsupported_media_type")


def test_a_json_content_type_with_a_charset_is_accepted(api):
    answer = request(api, "POST", "/uploads", PDF_UPLOAD, headers={"Content-Type": "application/json; charset=utf-8"})
    assert answer[0] == 201, answer


# -- documents ----------------------------------------------------------------------------------


def test_an_unknown_document_is_a_404(api):
    assert_error(request(api, "GET", f"/documents/{uuid.uuid4().hex}"), 404, "not_found")


def test_bob_cannot_see_or_process_alices_document(api, record_store):
    document_id = upload(api, caller=ALICE)
    mark_processed(record_store, document_id)

    unknown_id = uuid.uuid4().hex
    bob_get = request(api, "GET", f"/documents/{document_id}", caller=BOB)
    unknown = request(api, "GET", f"/documents/{unknown_id}", caller=BOB)
    assert_error(bob_get, 404, "not_found")
    # Answered exactly as a document that does not exist, id aside.
    assert bob_get[1] == json.loads(json.dumps(unknown[1]).replace(unknown_id, document_id))
    assert_error(request(api, "POST", f"/documents/{document_id}/process", caller=BOB), 404, "not_found")
    assert request(api, "GET", "/documents", caller=BOB) == (200, {"documents": [], "next_cursor": None})


def test_a_processed_document_shows_its_results(api, record_store):
    document_id = upload(api)
    mark_processed(record_store, document_id)

    status, body = request(api, "GET", f"/documents/{document_id}")
    assert status == 200, body
    assert body["status"] == "succeeded"
    assert body["results"]["page_count"] == 2
    assert body["results"]["keywords"] == [{"word": "invoice", "count": 3}]
    assert body["error"] is None


def test_the_list_holds_only_the_callers_documents_newest_first(api):
    alices = [upload(api, caller=ALICE, filename=f"a{i}.pdf") for i in range(3)]
    bobs = [upload(api, caller=BOB, filename="b.pdf")]

    status, body = request(api, "GET", "/documents")
    assert status == 200, body
    assert [d["document_id"] for d in body["documents"]] == alices[::-1]
    assert body["next_cursor"] is None
    _, body = request(api, "GET", "/documents", caller=BOB)
    assert [d["document_id"] for d in body["documents"]] == bobs


def test_the_list_filters_by_status(api, record_store):
    pending = upload(api, filename="pending.pdf")
    done = upload(api, filename="done.pdf")
    failed = upload(api, filename="failed.pdf")
    mark_processed(record_store, done)
    mark_processed(record_store, failed, status="failed")

    for status, expected in (("pending", [pending]), ("succeeded", [done]), ("failed", [failed]), ("skipped", [])):
        answer = request(api, "GET", "/documents", query={"status": status})
        assert answer[0] == 200, answer
        assert [d["document_id"] for d in answer[1]["documents"]] == expected, status


def test_an_unknown_status_filter_is_a_422(api):
    message = assert_error(request(api, "GET", "/documents", query={"status": "done"}), 422, "invalid_request")
    assert "status" in message


def test_the_list_pages_with_a_cursor(api):
    made = [upload(api, filename=f"{i}.pdf") for i in range(5)]

    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, body = request(api, "GET", "/documents", query=query)
        assert status == 200, body
        assert len(body["documents"]) <= 2
        seen += [d["document_id"] for d in body["documents"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert pages < 10, "the cursor never ends"
    assert seen == made[::-1]
    assert pages == 3


def test_a_filtered_list_pages_too(api, record_store):
    made = [upload(api, filename=f"{i}.pdf") for i in range(6)]
    succeeded = made[::2]
    for document_id in succeeded:
        mark_processed(record_store, document_id)

    seen, cursor = [], None
    for _ in range(10):
        query = {"limit": "2", "status": "succeeded", **({"cursor": cursor} if cursor else {})}
        status, body = request(api, "GET", "/documents", query=query)
        assert status == 200, body
        seen += [d["document_id"] for d in body["documents"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == succeeded[::-1]


@pytest.mark.parametrize("limit", ["0", "500", "-1", "ten"])
def test_a_limit_outside_1_to_100_is_a_422(api, limit):
    message = assert_error(request(api, "GET", "/documents", query={"limit": limit}), 422, "invalid_request")
    assert "limit" in message


def test_a_cursor_not_handed_out_is_a_422(api):
    assert_error(request(api, "GET", "/documents", query={"cursor": "not-a-cursor!"}), 422, "invalid_request")


def test_alices_cursor_does_not_page_bobs_list(api):
    for i in range(3):
        upload(api, caller=ALICE, filename=f"{i}.pdf")
    _, page = request(api, "GET", "/documents", query={"limit": "1"})
    assert page["next_cursor"]
    answer = request(api, "GET", "/documents", caller=BOB, query={"cursor": page["next_cursor"]})
    assert_error(answer, 422, "invalid_request")


def test_a_pending_document_cannot_be_processed(api, state_machines):
    document_id = upload(api)
    assert_error(request(api, "POST", f"/documents/{document_id}/process"), 409, "conflict")
    assert executions(state_machines["document"]) == []


def test_a_processed_document_can_be_processed_again(api, record_store, state_machines):
    document_id = upload(api)
    mark_processed(record_store, document_id)

    status, body = request(api, "POST", f"/documents/{document_id}/process")
    assert (status, body) == (202, {"document_id": document_id, "status": "processing"})
    (execution,) = executions(state_machines["document"])
    started = boto3.client("stepfunctions", region_name="us-east-1").describe_execution(
        executionArn=execution["executionArn"]
    )
    record = record_store.get_document(document_id)
    assert json.loads(started["input"]) == {"document_id": document_id, "key": record.key, "filename": "report.pdf"}
    assert record.status == "processing"

    # Now it is processing: a second request waits for the first to finish.
    assert_error(request(api, "POST", f"/documents/{document_id}/process"), 409, "conflict")


# -- batches ----------------------------------------------------------------------------------


def test_an_empty_batch_is_a_422(api):
    message = assert_error(request(api, "POST", "/batches", {"document_ids": []}), 422, "invalid_request")
    assert "document_ids" in message


def test_a_batch_id_of_the_wrong_shape_is_a_422(api):
    message = assert_error(request(api, "POST", "/batches", {"document_ids": ["../etc"]}), 422, "invalid_request")
    assert "document_ids" in message


def test_a_batch_of_an_unknown_document_is_a_404(api, state_machines):
    unknown = uuid.uuid4().hex
    message = assert_error(request(api, "POST", "/batches", {"document_ids": [unknown]}), 404, "not_found")
    assert unknown in message
    assert executions(state_machines["batch"]) == []


def test_a_batch_of_someone_elses_document_is_a_404(api, record_store):
    document_id = upload(api, caller=BOB)
    mark_processed(record_store, document_id)
    assert_error(request(api, "POST", "/batches", {"document_ids": [document_id]}), 404, "not_found")


def test_a_batch_of_a_pending_document_is_a_409(api, record_store, state_machines):
    done, pending = upload(api), upload(api)
    mark_processed(record_store, done)
    message = assert_error(request(api, "POST", "/batches", {"document_ids": [done, pending]}), 409, "conflict")
    assert pending in message and done not in message
    assert executions(state_machines["batch"]) == []


def test_a_batch_starts_follows_and_cancels(api, record_store, s3_store, state_machines):
    documents = [upload(api, filename=f"{i}.pdf") for i in range(2)]
    for document_id in documents:
        mark_processed(record_store, document_id)

    status, started = request(api, "POST", "/batches", {"document_ids": documents + documents[:1]})
    assert status == 202, started
    assert set(started) == {"batch_id", "status", "total", "process_at"}
    assert (started["status"], started["total"]) == ("running", 2)  # duplicates counted once
    batch_id = started["batch_id"]

    (execution,) = executions(state_machines["batch"])
    assert execution["name"] == batch_id
    manifest = s3_store.get_json(f"batches/{batch_id}/manifest.json")
    assert [item["document_id"] for item in manifest] == documents

    status, batch = request(api, "GET", f"/batches/{batch_id}")
    assert status == 200, batch
    assert (batch["batch_id"], batch["status"]) == (batch_id, "running")
    assert batch["progress"] == {"total": 2, "done": 0, "failed": 0}
    assert batch["report_url"] is None

    assert_error(request(api, "GET", f"/batches/{batch_id}", caller=BOB), 404, "not_found")
    assert_error(request(api, "DELETE", f"/batches/{batch_id}", caller=BOB), 404, "not_found")
    assert request(api, "GET", "/batches") == (200, {"batches": [batch]})
    assert request(api, "GET", "/batches", caller=BOB) == (200, {"batches": []})

    status, cancelled = request(api, "DELETE", f"/batches/{batch_id}")
    assert status == 200, cancelled
    assert cancelled["status"] == "cancelled"
    assert executions(state_machines["batch"])[0]["status"] == "ABORTED"

    assert_error(request(api, "DELETE", f"/batches/{batch_id}"), 409, "conflict")
    assert request(api, "GET", f"/batches/{batch_id}")[1]["status"] == "cancelled"


def test_an_unknown_batch_is_a_404(api):
    assert_error(request(api, "GET", f"/batches/{uuid.uuid4().hex}"), 404, "not_found")
    assert_error(request(api, "DELETE", f"/batches/{uuid.uuid4().hex}"), 404, "not_found")


# -- the rest -----------------------------------------------------------------------------------


@pytest.mark.parametrize("method, path", [("GET", "/nothing/here"), ("PUT", "/documents"), ("GET", "/uploads")])
def test_an_unknown_route_is_a_json_404(api, method, path):
    message = assert_error(request(api, method, path), 404, "not_found")
    assert path in message




def test_the_openapi_document_describes_the_api(api):
    status, schema = request(api, "GET", "/docs", query={"format": "json"})
    assert status == 200, schema
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "docflow"
    assert schema["info"]["description"].startswith("Upload PDFs and images")
    assert {"/uploads", "/documents", "/documents/{document_id}", "/batches", "/batches/{batch_id}"} <= set(
        schema["paths"]
    )
    assert "/docs" not in schema["paths"]


def test_the_docs_are_a_swagger_page(api):
    response = call(api, "GET", "/docs")
    assert response["statusCode"] == 200, response["body"]
    assert "<html" in response["body"].lower()
    assert "swagger" in response["body"].lower()


def test_an_unexpected_error_is_a_500_without_its_details(api, monkeypatch):
    document_id = upload(api)

    def broken(owner, document_id):
        raise RuntimeError("secret connection string postgres://admin:hunter2@db")

    monkeypatch.setattr(api_module(api)["service"], "get_document", broken)
    response = call(api, "GET", f"/documents/{document_id}")
    body = json.loads(response["body"])
    assert response["statusCode"] == 500
    assert body["error"]["code"] == "internal_error"
    assert "hunter2" not in response["body"] and "RuntimeError" not in response["body"]


def test_a_documents_results_and_error_are_the_outcomes_own(api):
    """The API describes a document's results and error with the outcome's own types."""
    from docflow import outcome

    schemas = request(api, "GET", "/docs", query={"format": "json"})[1]["components"]["schemas"]
    assert tuple(schemas["Findings"]["properties"]) == outcome.FINDINGS
    assert set(outcome.FINDINGS) < set(get_type_hints(outcome.DocumentResult))
    assert tuple(schemas["ErrorInfo"]["properties"]) == tuple(outcome.ErrorInfo.__annotations__)
    document = schemas["Document"]["properties"]
    assert {"$ref": "#/components/schemas/Findings"} in document["results"]["anyOf"]


