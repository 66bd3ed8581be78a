"""In-memory stand-ins for the adapters, for fast tests of the domain logic."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import IO, Any

from docflow.errors import DocumentNotFound
from docflow.workflows import Throttled

EXECUTION_PREFIX = "arn:aws:states:us-east-1:123456789012:execution:"


class MemoryObjectStore:
    def __init__(self, objects: dict[str, bytes] | None = None):
        self.objects: dict[str, bytes] = dict(objects or {})
        self.content_types: dict[str, str] = {}
        self.reads: list[tuple[str, int | None]] = []  # (key, bytes asked for; None = all)

    def _get(self, key: str) -> bytes:
        if key not in self.objects:
            raise DocumentNotFound(f"No object at {key}")
        return self.objects[key]

    def read_head(self, key: str, length: int) -> tuple[bytes, int]:
        data = self._get(key)
        self.reads.append((key, length))
        return data[:length], len(data)

    def download(self, key: str, sink: IO[bytes]) -> None:
        self.reads.append((key, None))
        sink.write(self._get(key))

    def open(self, key: str) -> IO[bytes]:
        self.reads.append((key, None))
        return io.BytesIO(self._get(key))

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = bytes(data)
        self.content_types[key] = content_type

    def upload(self, key: str, source: IO[bytes], content_type: str) -> None:
        self.put(key, source.read(), content_type)

    def get_json(self, key: str) -> Any:
        return json.loads(self._get(key))

    def put_json(self, key: str, value: Any) -> None:
        self.put(key, json.dumps(value).encode(), "application/json")

    def delete_prefix(self, prefix: str) -> int:
        doomed = [key for key in self.objects if key.startswith(prefix)]
        for key in doomed:
            del self.objects[key]
        return len(doomed)


class FakeWorkflows:
    """The Workflows protocol in memory: records what was started and stopped, and answers
    each execution's status from `statuses` (RUNNING until a test says otherwise)."""

    def __init__(self) -> None:
        self.documents: list[tuple[str, dict[str, Any]]] = []
        self.batches: list[tuple[str, dict[str, Any]]] = []
        self.stopped: list[tuple[str, str]] = []
        self.statuses: dict[str, str] = {}
        self.throttled_starts = 0  # how many of the next starts Step Functions refuses

    def start_document(self, name: str, document: dict[str, Any]) -> str:
        return self._start(self.documents, "docflow-document", name, document)

    def start_batch(self, name: str, batch: dict[str, Any]) -> str:
        return self._start(self.batches, "docflow-batch", name, batch)

    def run_document(self, name: str, document: dict[str, Any]) -> str:
        self._start(self.documents, "docflow-document", name, document)
        return "SUCCEEDED"

    def status(self, execution_arn: str) -> str:
        return self.statuses[execution_arn]

    def stop(self, execution_arn: str, cause: str) -> None:
        self.stopped.append((execution_arn, cause))
        self.statuses[execution_arn] = "ABORTED"

    def _start(self, started: list, machine: str, name: str, execution_input: dict[str, Any]) -> str:
        if self.throttled_starts:
            self.throttled_starts -= 1
            raise Throttled("Step Functions is throttling requests")
        started.append((name, execution_input))
        arn = f"{EXECUTION_PREFIX}{machine}:{name}"
        self.statuses.setdefault(arn, "RUNNING")
        return arn


class FakeS3:
    """A boto3 S3 client as far as `docflow run`'s output writer uses one: download_file."""

    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects

    def download_file(self, bucket: str, key: str, path: str) -> None:
        Path(path).write_bytes(self.objects[key])
