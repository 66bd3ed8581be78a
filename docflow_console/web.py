"""The console's own routes, under /console: its page, its sign-in, and what the page reads
besides docflow's API (the service's operations, a document's timeline, a redrive).

The page reads documents and batches, and cancels and retries, through docflow's API itself,
on the same origin, signed in by its session cookie: `docflow serve`'s API takes the cookie
as it takes a bearer token, and `docflow console` forwards the API's routes to the deployed
API, signed with the user's AWS credentials. So the console sees what the API shows its
caller, and nothing of another owner's."""

from __future__ import annotations

import json
import mimetypes
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from docflow_console.operations import Operations
from docflow_console.sessions import Sessions, same_origin
from docflow_console.timeline import WorkflowHistory, steps

PREFIX = "/console"
STATIC = Path(__file__).resolve().parent / "static"
# The only files served, by name: a name from a request is looked up here, never joined to a path.
STATIC_FILES = {path.name: path for path in STATIC.iterdir() if path.is_file()}
_TIMELINE = re.compile(r"^/console/api/documents/([A-Za-z0-9_-]{1,64})/timeline$")
_REDRIVE = re.compile(r"^/console/api/queues/([A-Za-z0-9_.-]{1,80})/redrive$")

# The page runs only its own script and may not be framed: another page on 127.0.0.1, which a
# browser counts as the same site, cannot overlay it to steer its buttons. Images (thumbnails)
# come from S3's presigned URLs.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: http: https:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

NO_RUN_KEPT = (
    "No run of this document's workflow is kept: not started yet, forgotten, or on AWS, where an Express "
    "workflow's runs are in its log group only."
)

# Calls docflow's API as the signed-in caller: (caller, method, path) -> (status, JSON body).
CallApi = Callable[[str, str, str], tuple[int, Any]]


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: Any) -> Reply:
        return cls(
            status, json.dumps(value).encode(), {"Content-Type": "application/json", "Cache-Control": "no-store"}
        )

    @classmethod
    def error(cls, status: int, code: str, message: str) -> Reply:
        return cls.json(status, {"error": {"code": code, "message": message}})

    @classmethod
    def redirect(cls, to: str, cookie: str | None = None) -> Reply:
        headers = {"Location": to, "Cache-Control": "no-store"}
        if cookie:
            headers["Set-Cookie"] = cookie
        return cls(303, b"", headers)


def send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    """Writes the reply as the handler's answer to its request."""
    handler.send_response(reply.status)
    for name, value in reply.headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(reply.body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(reply.body)


def owns(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class Console:
    def __init__(self, sessions: Sessions, operations: Operations, history: WorkflowHistory, call_api: CallApi):
        self.sessions = sessions
        self.operations = operations
        self.history = history
        self.call_api = call_api

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """One request under /console; `headers` with lower-case names."""
        parts = urlsplit(target)
        path, query = parts.path.rstrip("/") or "/", parse_qs(parts.query)
        if path.startswith(f"{PREFIX}/static/") and method == "GET":
            return self._static(path.removeprefix(f"{PREFIX}/static/"))
        if path == PREFIX and method == "GET":
            return self._page(query, headers)
        if path == f"{PREFIX}/sign-in" and method == "POST":
            return self._sign_in(headers, body)
        if path == f"{PREFIX}/sign-out" and method == "POST":
            self.sessions.sign_out(headers)
            return Reply.redirect(PREFIX, self.sessions.clear_cookie())
        caller = self.sessions.caller(method, headers)
        if caller is None:
            return Reply.error(401, "unauthorized", "Sign in to the console first (the URL docflow printed).")
        if path == f"{PREFIX}/api/operations" and method == "GET":
            return Reply.json(200, self.operations.snapshot())
        if (found := _TIMELINE.match(path)) and method == "GET":
            return self._timeline(caller, found.group(1))
        if (found := _REDRIVE.match(path)) and method == "POST":
            return self._redrive(found.group(1))
        return Reply.error(404, "not_found", f"No console route {method} {path}.")

    # -- the page and signing in -----------------------------------------------------------

    def _page(self, query: dict[str, list[str]], headers: Mapping[str, str]) -> Reply:
        token = (query.get("token") or [""])[0]
        if token:
            # A good token leaves the address bar (and the history) at once, by the redirect.
            value = self.sessions.sign_in(token)
            if value is None:
                return self._sign_in_page(401, "That sign-in link was used already or has expired; enter the token.")
            return Reply.redirect(PREFIX, self.sessions.set_cookie(value))
        if self.sessions.caller("GET", headers) is None:
            return self._sign_in_page(200)
        return self._static("console.html")

    def _sign_in(self, headers: Mapping[str, str], body: bytes) -> Reply:
        if not same_origin(headers):  # another site's form may not sign a browser in
            return self._sign_in_page(403, "Sign in from the console's own page.")
        token = (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0]
        value = self.sessions.sign_in(token)
        if value is None:
            return self._sign_in_page(401, "That token is not valid here.")
        return Reply.redirect(PREFIX, self.sessions.set_cookie(value))

    def _sign_in_page(self, status: int, problem: str = "") -> Reply:
        page = (STATIC / "sign-in.html").read_text().replace("{{problem}}", _escape(problem))
        return Reply(status, page.encode(), {"Content-Type": "text/html; charset=utf-8", **PAGE_HEADERS})

    def _static(self, name: str) -> Reply:
        if name not in STATIC_FILES:
            return Reply.error(404, "not_found", f"No console file {quote(name)}.")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = {"Content-Type": f"{content_type}; charset=utf-8", "Cache-Control": "no-cache"}
        if content_type == "text/html":
            headers.update(PAGE_HEADERS)
        return Reply(200, STATIC_FILES[name].read_bytes(), headers)

    # -- what the page reads besides the API -----------------------------------------------

    def _timeline(self, caller: str, document_id: str) -> Reply:
        """The document as the API shows its caller, with its timeline: the API's answer is
        both the owner's check and what the page shows, so the page asks once."""
        status, document = self.call_api(caller, "GET", f"/documents/{document_id}")
        if status != 200:  # not the caller's, or not there: the API's own answer
            return Reply.json(status, document)
        events = self.history.latest_events(document_id)
        if events is None:
            return Reply.json(200, {"document": document, "steps": None, "note": NO_RUN_KEPT})
        return Reply.json(200, {"document": document, "steps": [step.to_dict() for step in steps(events)]})

    def _redrive(self, queue: str) -> Reply:
        try:
            moved = self.operations.redrive(queue)
        except KeyError:
            return Reply.error(404, "not_found", f"No dead-letter queue {queue}.")
        return Reply.json(200, {"queue": queue, "moved": moved})


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
