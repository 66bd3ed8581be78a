"""In-memory stand-ins for the adapters, for fast tests of the domain logic."""

from __future__ import annotations

import io
import json
from typing import IO, Any

from docflow.errors import DocumentNotFound


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
