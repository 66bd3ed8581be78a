"""ingest: an upload landed in S3; start its document workflow, once.

S3 and EventBridge deliver at least once, and SQS redelivers what a failed invocation did
not finish, so the same upload can arrive several times. Its run is named after the
upload's identity (key, ETag, version) and noted on the document's record, and so is its
start: a delivery after the one that started the run starts nothing. (The document
workflow is Express, which does not refuse a repeated execution name as Standard does.)
Two deliveries at the same moment may both start it; every step is idempotent and the
document is counted once, so that costs a second run and changes nothing.

A document to be processed later (its process_at) is scheduled instead: the jobs function's
`start` job brings the same upload back here when it is due. A low-priority one is queued
in its lane (docflow.admission) rather than started at once."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from docflow.admission import Lane, Scheduler
from docflow.records import RecordStore
from docflow.workflows import Workflows

Ingested = Literal["started", "queued", "scheduled", "repeated", "unknown"]


@dataclass(frozen=True)
class Upload:
    key: str
    etag: str
    version_id: str | None = None

    @property
    def document_id(self) -> str | None:
        """uploads/<document_id>/<name>: the id the API gave the upload, if the key has one."""
        parts = self.key.split("/")
        return parts[1] if len(parts) == 3 and parts[0] == "uploads" and parts[1] else None

    def execution_name(self) -> str:
        # S3 says "null" for the version of an object in an unversioned bucket.
        version = "" if self.version_id in (None, "", "null") else self.version_id
        identity = f"{self.key}\n{self.etag}\n{version}".encode()
        # Step Functions allows 80 characters: 63 of the id, a dash and 16 of the digest.
        return f"{(self.document_id or '')[:63]}-{hashlib.sha256(identity).hexdigest()[:16]}"


@dataclass(frozen=True)
class Admission:
    """Where a document's run goes when it does not start at once."""

    lane: Lane  # low priority
    scheduler: Scheduler  # later


def ingest(records: RecordStore, workflows: Workflows, admission: Admission, upload: Upload, now: str) -> Ingested:
    document_id = upload.document_id
    record = records.get_document(document_id) if document_id else None
    if record is None or record.key != upload.key:
        # Only the API hands out upload keys, and it records each one first; an object
        # without a record was written some other way and is not docflow's to process.
        return "unknown"
    if record.process_at and datetime.fromisoformat(record.process_at) > datetime.fromisoformat(now):
        # The schedule first: a retried delivery makes it again (a no-op) before marking.
        admission.scheduler.start_at(
            datetime.fromisoformat(record.process_at), f"document-{record.document_id}",
            {"job": "start", "upload": asdict(upload)},
        )  # fmt: skip
        return "scheduled" if records.schedule(record.document_id, now) else "repeated"
    run = upload.execution_name()
    first = records.start_processing(record.document_id, run, now)
    if not first and record.run_id == run and record.run_started:
        return "repeated"
    # Started again when the record says this run began but not that it started: an
    # earlier delivery may have marked it and then failed before starting it.
    if record.priority == "low":
        admission.lane.enqueue(run, record.workflow_input())
    else:
        workflows.start_document(run, record.workflow_input())
    records.mark_run_started(record.document_id, run)
    if not first:
        return "repeated"
    return "queued" if record.priority == "low" else "started"


def upload_event_pattern(bucket: str) -> dict:
    """The EventBridge pattern of the events ingest consumes: objects created under
    uploads/ in the documents bucket. The CDK stack and the local cloud both use it."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"prefix": "uploads/"}]}},
    }
