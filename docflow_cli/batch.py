"""Runs a batch through a deployed docflow: upload the files, write the manifest, start the
batch workflow, follow its progress, and fetch the report. Works against any endpoint that
speaks S3 and Step Functions: the local cloud here, AWS once deployed."""

from __future__ import annotations

import json
import mimetypes
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from docflow import keys
from docflow.admission import batch_input


@dataclass(frozen=True)
class InputFile:
    path: Path
    name: str  # as the user knows it: relative to the folder given, or the file's own name


@dataclass
class Batch:
    batch_id: str
    documents: list[dict[str, str]] = field(default_factory=list)  # the manifest
    execution_arn: str | None = None


class BatchFailed(RuntimeError):
    """The batch itself did not complete (as opposed to some of its documents failing)."""


_SERIAL = TransferConfig(use_threads=False)


def new_id() -> str:
    return uuid.uuid4().hex


def submit_batch(s3: Any, sfn: Any, bucket: str, state_machine_arn: str, files: list[InputFile]) -> Batch:
    """Uploads every file under its own document id, then starts the batch workflow."""
    batch = Batch(batch_id=f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{new_id()[:8]}")

    def upload(item: InputFile) -> dict[str, str]:
        document_id = new_id()
        key = keys.input_key(document_id, item.name)
        content_type = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
        # The pool uploads several files at once; each file's own parts need no more threads.
        s3.upload_file(str(item.path), bucket, key, ExtraArgs={"ContentType": content_type}, Config=_SERIAL)
        return {"document_id": document_id, "key": key, "filename": item.name, "batch_id": batch.batch_id}

    with ThreadPoolExecutor(max_workers=8) as pool:
        batch.documents = list(pool.map(upload, files))
    manifest_key = keys.manifest_key(batch.batch_id)
    s3.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(batch.documents).encode())
    batch.execution_arn = sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=batch.batch_id,
        input=json.dumps(batch_input(batch.batch_id, manifest_key)),
    )["executionArn"]
    return batch


def count_done(sfn: Any, batch: Batch) -> int | None:
    """How many of the batch's documents are done so far: the items its Map run has
    finished, as Step Functions counts them, in two requests whatever the batch's size.
    None when that cannot be said just now (progress is shown, never relied on)."""
    try:
        map_runs = sfn.list_map_runs(executionArn=batch.execution_arn)["mapRuns"]
        if not map_runs:
            return 0  # the Map has not started yet
        counts = sfn.describe_map_run(mapRunArn=map_runs[0]["mapRunArn"])["itemCounts"]
    except ClientError:  # moto cannot describe a Map run whose execution is still starting
        return None
    return counts["succeeded"] + counts["failed"] + counts["timedOut"] + counts["aborted"]


def wait_for_batch(
    s3: Any,
    sfn: Any,
    bucket: str,
    batch: Batch,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
    interval: float = 0.5,
    timeout: float = 3600,
) -> dict:
    """Follows the batch until its workflow ends; returns the report. Raises BatchFailed.
    Polls quickly at first, so a small batch's end is seen at once, then every `interval`."""
    deadline = time.monotonic() + timeout
    total = len(batch.documents)
    delay = 0.02
    while True:
        status = sfn.describe_execution(executionArn=batch.execution_arn)
        if status["status"] != "RUNNING":
            break
        done = count_done(sfn, batch)
        if done is not None:
            on_progress(done, total)
        if time.monotonic() > deadline:
            raise BatchFailed(f"the batch was still running after {timeout:.0f} s")
        time.sleep(delay)
        delay = min(interval, delay * 1.5)
    if status["status"] != "SUCCEEDED":
        reason = status.get("cause") or status.get("error") or status["status"].lower()
        raise BatchFailed(f"the batch workflow ended {status['status']}: {reason}")
    on_progress(total, total)
    report_key = json.loads(status["output"])["report_key"]
    return json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
