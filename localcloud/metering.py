"""Counts the requests the local cloud serves, by service and operation, as AWS bills them.

`RequestMeter` wraps a WSGI application (moto's server) and names each request from what
the SDK sends: the signing scope of its Authorization header gives the service, the
X-Amz-Target header the operation of JSON protocols (DynamoDB, SQS, Step Functions,
EventBridge), and the method and path that of REST ones (S3, Lambda). The counts are what
`make bench` prices per document (benchmarks/costs.py)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


def s3_operation(method: str, path: str, query: str) -> str:
    """S3's request classes: what a PUT, COPY, POST or LIST costs differs from a GET's."""
    has_key = path.strip("/").count("/") >= 1
    if method == "GET":
        return "GetObject" if has_key else "ListObjects"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "PUT":
        return "PutObject" if has_key else "PutBucket"
    if method == "POST":
        return "DeleteObjects" if "delete" in query else "PostObject"
    return f"{method}Object"


def name_request(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, operation) of one request, from its WSGI environ."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = scope.group(1) if scope else "unsigned"
    method, path, query = (
        environ.get("REQUEST_METHOD", ""),
        environ.get("PATH_INFO", ""),
        environ.get("QUERY_STRING", ""),
    )
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rpartition(".")[2]
    if service == "s3":
        return service, s3_operation(method, path, query)
    if service == "lambda" and path.endswith("/invocations"):
        return service, "Invoke"
    return service, f"{method} {path.split('/', 2)[1] if '/' in path else path}"


class RequestMeter:
    """A WSGI middleware: counts each request, then passes it on unchanged."""

    def __init__(self, application: Callable[..., Iterable[bytes]]):
        self.application = application
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        name = name_request(environ)
        with self._lock:
            self.counts[name] += 1
        return self.application(environ, start_response)

    def snapshot(self) -> dict[str, dict[str, int]]:
        """{service: {operation: count}}, a copy."""
        with self._lock:
            items = list(self.counts.items())
        by_service: dict[str, dict[str, int]] = {}
        for (service, operation), count in sorted(items):
            by_service.setdefault(service, {})[operation] = count
        return by_service
