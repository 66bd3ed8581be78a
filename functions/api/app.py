"""api: docflow's HTTP API on API Gateway (REST, IAM auth), one Lambda behind every route.

Routes parse and validate, then call docflow.service; ServiceError and validation errors
become JSON {"error": {"code", "message"}} with their status. The caller is whoever API
Gateway authenticated (docflow serve puts its local caller in the same place)."""

from __future__ import annotations

import json
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from docflow.admission import EventBridgeScheduler
from docflow.api_models import (
    PUBLIC_PATHS,
    Batch,
    BatchList,
    BatchRequest,
    BatchStarted,
    Document,
    DocumentPage,
    DocumentStatus,
    ErrorBody,
    Health,
    Processing,
    UploadCreated,
    UploadRequest,
    WebhookCreated,
    WebhookList,
    WebhookRequest,
)
from docflow.dynamodb_records import DynamoRecordStore
from docflow.notifications import EventBridgePublisher
from docflow.runtime import logger, metrics, tracer
from docflow.service import DocflowService, ServiceError
from docflow.settings import Settings
from docflow.storage import S3ObjectStore
from docflow.workflows import StepFunctionsWorkflows, Throttled

store = S3ObjectStore.from_environment()
service = DocflowService(
    records=DynamoRecordStore.from_environment(),
    store=store,
    presigner=store,
    workflows=StepFunctionsWorkflows.from_environment(),
    events=EventBridgePublisher.from_environment(),
    scheduler=EventBridgeScheduler.from_environment(),
    settings=Settings.from_environment(),
)

app = APIGatewayRestResolver(enable_validation=True)
app.configure_openapi(
    title="docflow",
    version="1.0.0",
    description="Upload PDFs and images, follow their processing, and combine them into batch reports. "
    "Every route but /health and /docs needs credentials: with `docflow serve`, the bearer token it prints "
    "(Authorize, above); on AWS, requests signed with SigV4 by an IAM principal allowed execute-api:Invoke, "
    "which a browser cannot make (use the CLI, or any AWS SDK).",
    security_schemes={
        "bearer": HTTPBearer(description="docflow serve: the token it prints (DOCFLOW_API_TOKEN)"),
        "sigv4": APIKey.model_validate(
            {"name": "Authorization", "in": "header", "description": "On AWS: the request's AWS Signature Version 4"}
        ),
    },
    security=[{"bearer": []}, {"sigv4": []}],
)  # fmt: skip


def answers(ok: int, *statuses: int) -> dict[int, OpenAPIResponse]:
    """What a route answers: `ok` with its return model, and its errors besides those every
    authenticated route may, each with docflow's error body."""
    errors: dict[int, OpenAPIResponse] = {
        status: {"description": ERRORS[status], "content": {"application/json": {"model": ErrorBody}}}
        for status in (401, 403, 429, *statuses)
    }
    return {ok: {"description": SUCCESSES[ok]}, **errors}


SUCCESSES = {200: "OK", 201: "Created", 202: "Accepted: the work has started", 204: "Removed"}


# What each error status means, for the OpenAPI document: its codes, and when.
ERRORS = {
    400: "malformed_json: the body is not JSON",
    401: "unauthorized: no credentials",
    403: "forbidden: credentials that are not a caller's",
    404: "not_found: no such id of the caller's (another caller's is answered the same way)",
    409: "conflict: not uploaded yet, still processing, already ended, or too many webhooks",
    413: "file_too_large: the declared size is over DOCFLOW_MAX_UPLOAD_BYTES",
    415: "unsupported_type: a content type docflow does not process, or a body that is not JSON",
    422: "invalid_request: the body or a parameter breaks its schema, or a webhook URL docflow refuses",
    429: "throttled: over the caller's rate (Retry-After says when to try again)",
}
# Swagger UI at /docs, and the OpenAPI document it shows at /docs?format=json.
app.enable_swagger(path="/docs")


def error(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": {"code": code, "message": message}},
        headers=headers,
    )


def principal_of(event: APIGatewayProxyEvent) -> str | None:
    """The authenticated caller: an IAM principal's ARN, or a Cognito user's sub."""
    context = event.request_context
    return context.identity.user_arn or (context.authorizer.claims or {}).get("sub")


def caller() -> str:
    return principal_of(app.current_event) or ""


def refusal(event: APIGatewayProxyEvent) -> dict | None:
    """What is refused before routing, as API Gateway would: no caller (401), and a body that
    is not JSON (415; a form-encoded one, from curl -d, would otherwise fail validation in a
    confusing way). Powertools validates a request before its middlewares run, so these
    checks come first, in the handler."""
    if event.path in PUBLIC_PATHS:
        return None
    if not principal_of(event):
        return refused(401, "unauthorized", "Sign the request: this API needs an authenticated caller.")
    content_type = (event.headers or {}).get("content-type") or (event.headers or {}).get("Content-Type") or ""
    if event.body and not content_type.split(";")[0].strip().lower().endswith("json"):
        return refused(415, "unsupported_media_type", "Send the body as JSON, with Content-Type: application/json.")
    return None


def refused(status: int, code: str, message: str) -> dict:
    """A proxy response for a request refused before it reaches the resolver."""
    body = {"error": {"code": code, "message": message}}
    return {"statusCode": status, "headers": {"Content-Type": content_types.APPLICATION_JSON}, "body": json.dumps(body)}


@app.get("/health", summary="Whether the API answers", tags=["health"], security=[{}])
def health() -> Health:
    return Health(status="ok")


@app.post(
    "/uploads", status_code=201, tags=["documents"], responses=answers(201, 400, 413, 415, 422),
    summary="Ask for a presigned upload; the document is processed once it lands (or at process_at)",
)  # fmt: skip
def create_upload(request: UploadRequest) -> tuple[UploadCreated, int]:
    created = service.create_upload(
        caller(), request.filename, request.content_type, request.size, request.process_at, request.priority
    )
    metrics.add_metric(name="UploadsPresigned", unit="Count", value=1)
    return UploadCreated.model_validate(created), 201


@app.get("/documents", tags=["documents"], responses=answers(200, 422), summary="The caller's documents, newest first")
def list_documents(
    status: Annotated[DocumentStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> DocumentPage:
    return DocumentPage.model_validate(service.list_documents(caller(), status, limit, cursor))


@app.get(
    "/documents/<document_id>", tags=["documents"], responses=answers(200, 404),
    summary="A document: its status, results, and links to its text and thumbnail",
)  # fmt: skip
def get_document(document_id: str) -> Document:
    return Document.model_validate(service.get_document(caller(), document_id))


@app.post(
    "/documents/<document_id>/process", status_code=202, tags=["documents"], responses=answers(202, 404, 409),
    summary="Process a stored upload again",
)  # fmt: skip
def process_document(document_id: str) -> tuple[Processing, int]:
    return Processing.model_validate(service.process_document(caller(), document_id)), 202


@app.post(
    "/batches", status_code=202, tags=["batches"], responses=answers(202, 400, 404, 409, 415, 422),
    summary="One report over uploaded documents, now or at process_at",
)  # fmt: skip
def create_batch(request: BatchRequest) -> tuple[BatchStarted, int]:
    started = service.create_batch(caller(), request.document_ids, request.process_at, request.priority)
    return BatchStarted.model_validate(started), 202


@app.get("/batches", tags=["batches"], responses=answers(200, 422), summary="The caller's batches, newest first")
def list_batches(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> BatchList:
    return BatchList.model_validate(service.list_batches(caller(), limit))


@app.get(
    "/batches/<batch_id>",
    tags=["batches"],
    responses=answers(200, 404),
    summary="A batch: its progress, summary and report",
)
def get_batch(batch_id: str) -> Batch:
    return Batch.model_validate(service.get_batch(caller(), batch_id))


@app.post(
    "/batches/<batch_id>/retry", status_code=202, tags=["batches"], responses=answers(202, 404, 409),
    summary="A new batch over a batch's failed documents (all of them when it failed or was cancelled)",
)  # fmt: skip
def retry_batch(batch_id: str) -> tuple[BatchStarted, int]:
    return BatchStarted.model_validate(service.retry_batch(caller(), batch_id)), 202


@app.delete(
    "/batches/<batch_id>",
    tags=["batches"],
    responses=answers(200, 404, 409),
    summary="Cancel a running or scheduled batch",
)
def cancel_batch(batch_id: str) -> Batch:
    return Batch.model_validate(service.cancel_batch(caller(), batch_id))


@app.post(
    "/webhooks", status_code=201, tags=["webhooks"], responses=answers(201, 409, 422),
    summary="Post the caller's events to a URL; the answer shows the signing secret once",
)  # fmt: skip
def add_webhook(request: WebhookRequest) -> tuple[WebhookCreated, int]:
    created = service.add_webhook(caller(), request.url, list(request.events) if request.events else None)
    return WebhookCreated.model_validate(created), 201


@app.get("/webhooks", tags=["webhooks"], responses=answers(200), summary="The caller's webhooks")
def list_webhooks() -> WebhookList:
    return WebhookList.model_validate(service.list_webhooks(caller()))


@app.delete(
    "/webhooks/<webhook_id>",
    status_code=204,
    tags=["webhooks"],
    responses=answers(204, 404),
    summary="Remove a webhook",
)
def remove_webhook(webhook_id: str) -> Response[None]:
    service.remove_webhook(caller(), webhook_id)
    return Response(status_code=204, body=None)


@app.exception_handler(ServiceError)
def service_error(problem: ServiceError) -> Response:
    return error(problem.status, problem.code, problem.message)


@app.exception_handler(Throttled)
def throttled(problem: Throttled) -> Response:
    return error(429, problem.code, problem.advice, headers={"Retry-After": "5"})


@app.exception_handler(RequestValidationError)
def invalid_request(problem: RequestValidationError) -> Response:
    problems = problem.errors()
    if any(item.get("type") == "json_invalid" for item in problems):
        return error(400, "malformed_json", "The request body is not valid JSON.")
    return error(422, "invalid_request", "; ".join(_describe(item) for item in problems[:5]))


@app.not_found
def not_found(_: Exception) -> Response:
    return error(404, "not_found", f"No route {app.current_event.http_method} {app.current_event.path}.")


@app.exception_handler(Exception)
def internal_error(problem: Exception) -> Response:
    # The trace goes to the log, where an operator can read it; never to the caller.
    logger.exception("unhandled error")
    return error(500, "internal_error", "Something went wrong on our side; the details are in the service's logs.")


def _describe(item: dict) -> str:
    where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
    return f"{where}: {item.get('msg', 'invalid')}" if where else str(item.get("msg", "invalid"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict, context: LambdaContext) -> dict:
    return refusal(APIGatewayProxyEvent(event)) or app.resolve(event, context)
