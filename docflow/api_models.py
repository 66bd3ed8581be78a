"""The API's request and response bodies: validated on the way in and out, and the
source of the OpenAPI document at /docs?format=json."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from docflow.outcome import ErrorInfo, Findings
from docflow.statuses import BatchStatus, DocumentStatus, Priority

# Routes anyone may call: the health check, and the API's documentation (Swagger UI and its
# OpenAPI document), which a browser opens before it has any credentials.
PUBLIC_PATHS = frozenset({"/health", "/docs"})

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", examples=["3f2b9c0d5a6e4f1b8c7d6e5f4a3b2c1d"])]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UploadRequest(_Body):
    filename: str = Field(min_length=1, max_length=1024, examples=["report.pdf"])
    content_type: str = Field(min_length=1, max_length=255, examples=["application/pdf"])
    size: int | None = Field(None, ge=0, description="The file's size in bytes, to be refused early when too large")
    process_at: AwareDatetime | None = Field(
        None, description="Start processing then (ISO 8601 with a time zone, up to a year ahead), not at once"
    )
    priority: Priority = Field("normal", description="low waits in its own lane, so it never holds up the rest")


class PresignedPost(BaseModel):
    url: str
    fields: dict[str, str] = Field(description="Form fields to send before the file, as they are")


class UploadCreated(BaseModel):
    document_id: Id
    upload: PresignedPost
    expires_in: int = Field(description="Seconds the upload form stays valid")
    process_at: str | None


class Document(BaseModel):
    document_id: Id
    filename: str
    content_type: str
    status: DocumentStatus
    priority: Priority
    process_at: str | None
    created_at: str
    updated_at: str
    results: Findings | None
    error: ErrorInfo | None
    thumbnail_url: str | None = None
    text_url: str | None = None


class DocumentPage(BaseModel):
    documents: list[Document]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last")


class Processing(BaseModel):
    document_id: Id
    status: DocumentStatus


class BatchRequest(_Body):
    document_ids: list[Id] = Field(min_length=1, max_length=10_000)
    process_at: AwareDatetime | None = Field(None, description="Start the batch then (up to a year ahead)")
    priority: Priority = "normal"


class BatchStarted(BaseModel):
    batch_id: Id
    status: Literal["running", "scheduled"]
    total: int
    process_at: str | None = None


class Progress(BaseModel):
    total: int
    done: int
    failed: int


class Batch(BaseModel):
    batch_id: Id
    status: BatchStatus
    progress: Progress
    priority: Priority
    process_at: str | None
    created_at: str
    updated_at: str
    summary: dict[str, Any] | None
    report_url: str | None


class BatchList(BaseModel):
    batches: list[Batch]


WebhookEvent = Literal[
    "document.succeeded", "document.failed", "document.skipped", "batch.completed", "batch.failed", "batch.cancelled"
]


class WebhookRequest(_Body):
    url: str = Field(min_length=8, max_length=2048, examples=["https://example.com/docflow-events"])
    # Every event when left out.
    events: list[WebhookEvent] | None = Field(default=None, min_length=1)


class Webhook(BaseModel):
    webhook_id: Id
    url: str
    events: list[WebhookEvent]
    created_at: str


class WebhookCreated(Webhook):
    # The key of the deliveries' signatures: shown once, here.
    secret: str = Field(pattern=r"^whsec_[A-Za-z0-9+/=]+$")


class WebhookList(BaseModel):
    webhooks: list[Webhook]


class ErrorBody(BaseModel):
    """Every error docflow answers: a code from the README's table and a message for people."""

    error: ErrorInfo = Field(examples=[{"code": "not_found", "message": "No document 3f2b9c0d5a6e4f1b8c7d6."}])


class Health(BaseModel):
    status: Literal["ok"]
