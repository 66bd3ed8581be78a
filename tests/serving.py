"""A real `docflow serve` process for the tests that meet it as a user does."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
import requests

from docflow.statuses import TERMINAL_BATCH_STATUSES, TERMINAL_STATUSES

REPO = Path(__file__).resolve().parent.parent
TERMINAL = TERMINAL_STATUSES | TERMINAL_BATCH_STATUSES


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A running `docflow serve` and what it printed."""

    def __init__(self, process: subprocess.Popen, lines: dict[str, str], tokens: list[str]):
        self.process = process
        self.tokens = tokens
        self.api = lines["API"]
        self.aws = lines["AWS"]
        self.console = lines["console"]  # the console's sign-in URL, its one-time token in it

    def upload_event(self, key: str) -> dict:
        """The EventBridge event S3 sends when `key` lands, as ingest receives it."""
        etag = self.client("s3").head_object(Bucket="docflow-local-documents", Key=key)["ETag"].strip('"')
        return {"version": "0", "id": "dead", "detail-type": "Object Created", "source": "aws.s3",
                "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
                "detail": {"version": "0", "bucket": {"name": "docflow-local-documents"},
                           "object": {"key": key, "etag": etag}, "request-id": "r", "requester": "123456789012"}}  # fmt: skip

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.aws,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


@contextmanager
def serving(workdir: Path, tokens: list[str]) -> Iterator[Server]:
    """`docflow serve` on a free port with these tokens, stopped (by Ctrl-C) afterwards."""
    environment = {**os.environ, "DOCFLOW_API_TOKEN": ",".join(tokens)}
    for name in ("AWS_ENDPOINT_URL", "DOCFLOW_BUCKET", "DOCFLOW_TABLE"):
        environment.pop(name, None)
    command = [sys.executable, "-m", "docflow_cli.main", "serve", "--port", str(free_port()), "--workdir", str(workdir)]
    process = subprocess.Popen(
        command, cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=open(workdir / "serve.err", "wb"), text=True
    )
    lines: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        match = re.match(r"^(console|API|S3|AWS)\s+(\S+)", line)
        if match:
            lines[match.group(1)] = match.group(2)
        if "ready" in line:
            break
    if "API" not in lines:
        process.kill()
        pytest.fail(f"docflow serve did not start: {(workdir / 'serve.err').read_text()[-2000:]}")
    try:
        yield Server(process, lines, tokens)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            process.kill()
    assert process.returncode == 0, (workdir / "serve.err").read_text()[-2000:]


# -- calling it as a client does -------------------------------------------------------------------

FIRST = "the first token serve was given"  # the helpers' default caller


def call(server: Server, method: str, path: str, token: str | None = FIRST, **kwargs) -> requests.Response:
    """The API called with a bearer token (the server's first by default; None: no token)."""
    headers = kwargs.pop("headers", {})
    token = server.tokens[0] if token == FIRST else token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, server.api + path, headers=headers, timeout=30, **kwargs)


def presign(server: Server, filename: str, content_type: str, token: str = FIRST, **extra) -> dict:
    response = call(
        server, "POST", "/uploads", token, json={"filename": filename, "content_type": content_type, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


def send(upload: dict, filename: str, data: bytes, content_type: str) -> requests.Response:
    """The browser-form POST to S3: the presigned fields as they are, then the file."""
    form = upload["upload"]
    return requests.post(form["url"], data=form["fields"], files={"file": (filename, data, content_type)}, timeout=60)


def upload(server: Server, path: Path, content_type: str, token: str = FIRST, **extra) -> str:
    created = presign(server, path.name, content_type, token, **extra)
    response = send(created, path.name, path.read_bytes(), content_type)
    assert response.status_code == 204, response.text
    return created["document_id"]


def wait_until_ended(server: Server, path: str, token: str = FIRST, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = call(server, "GET", path, token).json()
        if body.get("status") in TERMINAL:
            return body
        assert time.monotonic() < deadline, f"{path} still {body.get('status')}"
        time.sleep(0.3)


def scheduled_batch(server: Server, document_ids: list[str]) -> str:
    """A batch over the documents, scheduled an hour ahead (so it stays `scheduled`)."""
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = call(server, "POST", "/batches", json={"document_ids": document_ids, "process_at": later})
    assert response.status_code == 202, response.text
    return response.json()["batch_id"]
