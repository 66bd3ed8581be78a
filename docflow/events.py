"""The inputs the state machines hand to the functions, validated on arrival.

Every input carries references (S3 keys) and small results, never document content.
Unknown fields are ignored: each task receives the whole workflow state so far."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class DocumentRef(_Input):
    """One uploaded document: its id, where it is stored, and the name the user gave it."""

    document_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    key: str = Field(min_length=1, max_length=1024)
    filename: str = Field(min_length=1, max_length=1024)


class OcrPartRequest(DocumentRef):
    """One part of a PDF's pages to read by OCR, numbered in the document's plan."""

    part: int = Field(ge=0)
    # When the document's workflow started: the parts stop reading at its OCR deadline.
    started_at: datetime | None = None


class TextToJoin(DocumentRef):
    """The document's extraction (docflow.text.Extraction's fields), whose pages that need
    OCR the ocr step has read."""

    extraction: dict


class ExtractionRef(_Input):
    text_key: str


class AnalysisRequest(DocumentRef):
    extraction: ExtractionRef


class BatchRef(_Input):
    batch_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    manifest_key: str
    started_at: str | None = None
    # Set when the batch workflow failed: what its Catch recorded, and when.
    failure: dict | None = None
    failed_at: str | None = None


class WorkflowState(DocumentRef):
    """The document workflow's state as it reaches the record step: the results of the steps
    that ran, and the failure a Catch recorded, if any."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    # Set when the document runs as part of a batch, whose progress its outcome counts in.
    batch_id: str | None = None
    detection: dict | None = None
    extraction: dict | None = None
    analysis: dict | None = None
    thumbnail: dict | None = None
    failure: dict | None = None
