"""API Gateway for the local cloud: HTTP requests in, REST proxy events to the api
function, its proxy responses back out.

It does what the deployed API Gateway does before the function runs: authenticate the
caller and cap the body size. On AWS the caller is an IAM principal; here it is a bearer
token (DOCFLOW_API_TOKEN), and the caller the token stands for goes where API Gateway puts
an IAM caller, requestContext.identity.userArn, so the function cannot tell the two apart.

With a console attached (docflow_console), it also serves /console, and takes the console's
session cookie as it takes a token: the console's page, and Swagger UI at /docs, call the
API from a signed-in browser.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from docflow.api_models import PUBLIC_PATHS
from docflow_console.sessions import caller_of
from docflow_console.web import Console, owns, send
from infra.catalog import ThrottleSpec
from localcloud.servers import SHUTDOWN_POLL_SECONDS, log_request_errors
from localcloud.workers import Invocation

logger = logging.getLogger("docflow.localcloud")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_TEXT_TYPES = ("application/json", "text/", "application/xml")


class Throttle:
    """API Gateway's token bucket, one per caller: `burst` requests at once, refilled at
    `rate_per_second`."""

    def __init__(self, spec: ThrottleSpec, clock: Callable[[], float] = time.monotonic):
        self.spec = spec
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # caller -> (tokens, when)
        self._lock = threading.Lock()

    def allow(self, caller: str) -> bool:
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(caller, (float(self.spec.burst), now))
            tokens = min(float(self.spec.burst), tokens + (now - then) * self.spec.rate_per_second)
            allowed = tokens >= 1
            self._buckets[caller] = (tokens - 1 if allowed else tokens, now)
            return allowed


def caller_for(token: str) -> str:
    """The principal a token stands for: stable, and not the token itself."""
    digest = hashlib.sha256(token.encode()).hexdigest()[:12]
    return f"arn:aws:iam::000000000000:user/docflow-local-{digest}"


class LocalApiGateway:
    def __init__(
        self,
        invoke: Callable[[dict], Invocation],
        tokens: list[str],
        *,
        throttling: ThrottleSpec | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        if not tokens:
            raise ValueError("the local API needs at least one token")
        self.invoke = invoke
        self.callers = {token: caller_for(token) for token in tokens}  # who each token stands for
        self.console: Console | None = None
        self.throttle = Throttle(throttling) if throttling else None
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        log_request_errors(self._server)
        self._server.daemon_threads = True
        self.host, self.port = str(self._server.server_address[0]), self._server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="local API", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> LocalApiGateway:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def authenticate(self, method: str, headers: dict[str, str]) -> tuple[int, str] | str:
        """The caller's principal, or (status, message) refusing the request."""
        authorization = headers.get("authorization")
        if authorization is None and self.console is not None:
            signed_in = self.console.sessions.caller(method, headers)
            if signed_in is not None:
                return signed_in
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, "Send Authorization: Bearer <token>, or sign in to the console; docflow serve printed both."
        return caller_of(token.strip(), self.callers) or (403, "The token is not valid for this API.")

    def call_as(self, caller: str, method: str, path: str) -> tuple[int, Any]:
        """docflow's API called by `caller`, as this gateway would pass a request of theirs on."""
        result = self.invoke(self.proxy_event(method, path, {"accept": "application/json"}, b"", caller))
        if result.error:
            return 502, {"error": {"code": "internal_error", "message": "The API failed to answer."}}
        response = json.loads(result.payload)
        return int(response.get("statusCode", 200)), json.loads(response.get("body") or "null")

    def proxy_event(self, method: str, target: str, headers: dict[str, str], body: bytes, caller: str | None) -> dict:
        """The REST API proxy event API Gateway sends for this request."""
        parts = urlsplit(target)
        # The bearer token and the console's session cookie are the gateway's business: the
        # function, and its logs, never see them.
        headers = {name: value for name, value in headers.items() if name not in ("authorization", "cookie")}
        query = parse_qs(parts.query, keep_blank_values=True)
        text = not body or headers.get("content-type", "").startswith(_TEXT_TYPES)
        return {
            "resource": "/{proxy+}",
            "path": parts.path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": {"proxy": parts.path.lstrip("/")},
            "stageVariables": None,
            "requestContext": {
                "accountId": "000000000000",
                "apiId": "local",
                "stage": "local",
                "resourcePath": "/{proxy+}",
                "path": parts.path,
                "httpMethod": method,
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": "127.0.0.1", "userArn": caller, "userAgent": headers.get("user-agent")},
            },
            "body": (body.decode("utf-8", "replace") if text else base64.b64encode(body).decode()) if body else None,
            "isBase64Encoded": not text,
        }


def _handler_for(gateway: LocalApiGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "docflow-local-api"

        def _serve(self) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            length = int(headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self._json(413, "request_too_large", f"The request body is over {MAX_BODY_BYTES:,} bytes.", close=True)
                return
            body = self.rfile.read(length) if length else b""
            path = urlsplit(self.path).path
            if gateway.console is not None and owns(path):
                send(self, gateway.console.handle(self.command, self.path, headers, body))
                return
            caller = None
            if path not in PUBLIC_PATHS:
                authenticated = gateway.authenticate(self.command, headers)
                if isinstance(authenticated, tuple):
                    self._json(
                        authenticated[0], "unauthorized" if authenticated[0] == 401 else "forbidden", authenticated[1]
                    )
                    return
                caller = authenticated
            if gateway.throttle and not gateway.throttle.allow(caller or "anonymous"):
                self._json(429, "throttled", "Too many requests; slow down and try again.", retry_after=1)
                return
            result = gateway.invoke(gateway.proxy_event(self.command, self.path, headers, body, caller))
            if result.error:
                # What API Gateway answers when the integration fails; the cause is in the log.
                logger.error("api function failed: %s", result.payload[:2000])
                self._json(502, "internal_error", "The API failed to answer; the details are in the service's logs.")
                return
            self._reply(json.loads(result.payload))

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def _reply(self, response: dict) -> None:
            body = response.get("body") or ""
            data = base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()
            self.send_response(int(response.get("statusCode", 200)))
            headers = dict(response.get("headers") or {})
            for name, values in (response.get("multiValueHeaders") or {}).items():
                headers.setdefault(name, ", ".join(values))
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _json(self, status: int, code: str, message: str, close: bool = False, retry_after: int = 0) -> None:
            data = json.dumps({"error": {"code": code, "message": message}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if retry_after:
                self.send_header("Retry-After", str(retry_after))
            self.send_header("Content-Length", str(len(data)))
            if close:  # the unread body would otherwise be taken for the next request
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:
            logger.info("%s %s", self.address_string(), format % args)

    return Handler
