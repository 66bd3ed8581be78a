"""A client of docflow's HTTP API, deployed or local: presigned uploads, documents, batches.

Requests carry a bearer token (docflow serve) or, without one, a SigV4 signature made
with the caller's AWS credentials (the deployed API's IAM auth)."""

from __future__ import annotations

import json
import mimetypes
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

DEFAULT_API = "http://127.0.0.1:8000"


class ApiError(RuntimeError):
    def __init__(self, status: int, code: str, message: str):
        # Status 0: no HTTP answer at all, which the message says by itself.
        super().__init__(f"{message} ({status} {code})" if status else message)
        self.status, self.code, self.message = status, code, message


@dataclass
class ApiClient:
    base_url: str = DEFAULT_API
    token: str | None = None
    timeout: float = 30

    @classmethod
    def from_environment(cls, api: str | None = None, token: str | None = None) -> ApiClient:
        return cls(
            (api or os.environ.get("DOCFLOW_API_URL") or DEFAULT_API).rstrip("/"),
            token or os.environ.get("DOCFLOW_API_TOKEN") or None,
        )

    # -- the API ---------------------------------------------------------------------------

    def upload(
        self, path: Path, content_type: str | None = None, process_at: str | None = None, priority: str = "normal"
    ) -> str:
        """Presigns an upload of the file, sends it straight to S3, returns its document id.
        Processing starts by itself once S3 has the file, or at `process_at`."""
        content_type = content_type or guess_content_type(path)
        asked = {"filename": path.name, "content_type": content_type, "size": path.stat().st_size, "priority": priority}
        created = self.call("POST", "/uploads", {**asked, **({"process_at": process_at} if process_at else {})})
        form = created["upload"]
        body, form_type = multipart_form(form["fields"], path.name, path.read_bytes(), content_type)
        request = urllib.request.Request(form["url"], data=body, method="POST", headers={"Content-Type": form_type})
        status, answer = send_request(request, self.timeout)
        if status >= 300:
            raise ApiError(status, _s3_code(answer), f"S3 refused the upload of {path.name}: {_s3_message(answer)}")
        return created["document_id"]

    def document(self, document_id: str) -> dict[str, Any]:
        return self.call("GET", f"/documents/{document_id}")

    def documents(self, status: str | None = None, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        query = {name: value for name, value in (("status", status), ("limit", limit), ("cursor", cursor)) if value}
        return self.call("GET", f"/documents?{urlencode(query)}")

    def start_batch(self, document_ids: list[str], process_at: str | None = None, priority: str = "normal") -> str:
        request = {
            "document_ids": document_ids,
            "priority": priority,
            **({"process_at": process_at} if process_at else {}),
        }
        return self.call("POST", "/batches", request)["batch_id"]

    def batch(self, batch_id: str) -> dict[str, Any]:
        return self.call("GET", f"/batches/{batch_id}")

    def process(self, document_id: str) -> dict[str, Any]:
        return self.call("POST", f"/documents/{document_id}/process")

    def retry_batch(self, batch_id: str) -> str:
        return self.call("POST", f"/batches/{batch_id}/retry")["batch_id"]

    def cancel_batch(self, batch_id: str) -> dict[str, Any]:
        return self.call("DELETE", f"/batches/{batch_id}")

    def add_webhook(self, url: str, events: list[str] | None = None) -> dict[str, Any]:
        return self.call("POST", "/webhooks", {"url": url, **({"events": events} if events else {})})

    def webhooks(self) -> list[dict[str, Any]]:
        return self.call("GET", "/webhooks")["webhooks"]

    def remove_webhook(self, webhook_id: str) -> None:
        self.call("DELETE", f"/webhooks/{webhook_id}")

    def wait(
        self,
        read: Callable[[], dict[str, Any]],
        terminal: frozenset[str],
        *,
        timeout: float = 3600,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Polls `read` until its status is terminal, backing off from 0.2 s to 2 s."""
        deadline, interval = time.monotonic() + timeout, 0.2
        while True:
            current = read()
            if on_update:
                on_update(current)
            if current["status"] in terminal:
                return current
            if time.monotonic() > deadline:
                raise TimeoutError(f"still {current['status']} after {timeout:.0f} s")
            time.sleep(interval)
            interval = min(2.0, interval * 1.5)

    # -- transport -------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = self.base_url + path
        headers.update(self._auth_headers(method, url, data or b"", headers))
        status, answer = send_request(
            urllib.request.Request(url, data=data, method=method, headers=headers), self.timeout
        )
        try:
            parsed = json.loads(answer) if answer else None
        except ValueError:
            parsed = None
        if status >= 400:
            error = (parsed or {}).get("error") if isinstance(parsed, dict) else None
            if isinstance(error, dict):
                raise ApiError(status, error.get("code", "error"), error.get("message", ""))
            message = parsed.get("message") if isinstance(parsed, dict) else None
            raise ApiError(status, "error", str(message or answer[:200].decode("utf-8", "replace")))
        return parsed

    def _auth_headers(self, method: str, url: str, data: bytes, headers: dict[str, str]) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        return sigv4_headers(method, url, data, headers)


def sigv4_headers(method: str, url: str, data: bytes, headers: dict[str, str]) -> dict[str, str]:
    """IAM auth for the deployed API: the request signed with the caller's AWS credentials."""
    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise ApiError(
            401, "unauthorized", "No token (--token or DOCFLOW_API_TOKEN) and no AWS credentials to sign with."
        )
    host = urlsplit(url).hostname or ""
    # https://<api-id>.execute-api.<region>.amazonaws.com/<stage>
    region = host.split(".")[2] if ".execute-api." in host else (session.region_name or "us-east-1")
    request = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
    return {name: value for name, value in request.headers.items() if name not in headers}


def send_request(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except urllib.error.URLError as error:
        where = urllib.parse.urlsplit(request.full_url)
        raise ApiError(
            0,
            "unreachable",
            f"cannot reach {where.scheme}://{where.netloc} ({error.reason}): is `docflow serve` running there, "
            "or is --api (or DOCFLOW_API_URL) the right address?",
        ) from error


def guess_content_type(path: Path) -> str:
    """The content type to declare; the service goes by the bytes in the end."""
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def multipart_form(fields: dict[str, str], filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    """A browser-form POST body and its content type: the presigned fields as they are, then
    the file, last, as S3 requires."""
    from urllib3 import encode_multipart_formdata

    return encode_multipart_formdata([*fields.items(), ("file", (filename, content, content_type))])


def _s3_code(answer: bytes) -> str:
    return _xml_text(answer, "Code") or "upload_refused"


def _s3_message(answer: bytes) -> str:
    return _xml_text(answer, "Message") or answer[:200].decode("utf-8", "replace")


def _xml_text(answer: bytes, tag: str) -> str | None:
    import re

    found = re.search(rf"<{tag}>(.*?)</{tag}>".encode(), answer, re.S)
    return found.group(1).decode("utf-8", "replace") if found else None
