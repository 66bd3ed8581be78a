"""`docflow console --stack NAME`: the console of a deployed stack, served on this machine.

The browser talks to this server only. /console is the console's own; every other route
is docflow's API, forwarded to the stack's API Gateway and signed with the user's AWS
credentials (SigV4), once the browser has signed in to this server. So the page is the
same as under `docflow serve`, and sees what the API shows the user's IAM principal."""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from docflow.api_models import PUBLIC_PATHS
from docflow_cli.client import send_request, sigv4_headers
from docflow_console.operations import Operations, Resources
from docflow_console.sessions import Sessions
from docflow_console.timeline import WorkflowHistory
from docflow_console.web import Console, Reply, owns, send
from infra.catalog import load_catalog

FORWARDED_HEADERS = ("content-type", "accept")


class StackApi:
    """docflow's deployed API, called with the user's AWS credentials."""

    def __init__(self, url: str, timeout: float = 30):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def forward(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        url = self.url + target
        sent = {name: headers[name] for name in FORWARDED_HEADERS if name in headers}
        sent.update(sigv4_headers(method, url, body, sent))
        request = urllib.request.Request(url, data=body or None, method=method, headers=sent)
        status, answer = send_request(request, self.timeout)
        return Reply(status, answer, {"Content-Type": "application/json", "Cache-Control": "no-store"})

    def call(self, _caller: str, method: str, path: str) -> tuple[int, Any]:
        reply = self.forward(method, path, {"accept": "application/json"}, b"")
        return reply.status, json.loads(reply.body or b"null")


def console_for_stack(stack: str, port: int, session: Any, token: str) -> tuple[Console, StackApi, str]:
    """The console of the stack, its API, and the caller (the user's IAM principal), whom
    `token` signs in."""
    cloudformation = session.client("cloudformation")
    (described,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    api = StackApi(outputs["ApiUrl"])
    resources = Resources.of_stack(cloudformation, stack, {spec.name for spec in load_catalog()})
    caller = session.client("sts").get_caller_identity()["Arn"]
    console = Console(
        Sessions(port, {token: caller}),
        Operations(session.client("cloudwatch"), session.client("sqs"), resources),
        WorkflowHistory(session.client("stepfunctions"), resources.document_workflow_arn),
        api.call,
    )
    return console, api, caller


class ConsoleServer:
    def __init__(self, console: Console, api: StackApi, port: int, host: str = "127.0.0.1"):
        self.console, self.api = console, api
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="console", daemon=True)

    def __enter__(self) -> ConsoleServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        if owns(urlsplit(target).path):
            return self.console.handle(method, target, headers, body)
        if urlsplit(target).path not in PUBLIC_PATHS and self.console.sessions.caller(method, headers) is None:
            return Reply.error(401, "unauthorized", "Sign in to the console first (the URL docflow console printed).")
        return self.api.forward(method, target, headers, body)


def _handler_for(server: ConsoleServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            length = int(headers.get("content-length") or 0)
            send(self, server.answer(self.command, self.path, headers, self.rfile.read(length) if length else b""))

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args) -> None:
            pass  # the terminal is for the URL and errors

    return Handler
