"""A local S3 endpoint, in front of moto, that refuses browser-form (presigned POST) uploads as AWS does.

S3Gateway serves S3 over HTTP. Each form POST is read and checked by localcloud.post_policy
(moto's own server would accept any); only then does the gateway store the file in moto with
put_object, so moto's bucket notifications still fire. Every other request (boto3 calls,
presigned GET URLs) is proxied to moto unchanged, after an expiry check of presigned query
parameters, so the gateway can be the one S3 endpoint that `docflow serve` hands to clients.
S3Faults makes a share of the proxied requests fail as S3 does when it throttles.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit
from xml.sax.saxutils import escape

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from localcloud.post_policy import TOO_LARGE, Form, PostPolicyChecker, S3Error, check_not_expired, parse_form
from localcloud.servers import SHUTDOWN_POLL_SECONDS, log_request_errors

logger = logging.getLogger("docflow.s3gateway")

# Headers that describe one connection, not the message: never forwarded either way.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}
)
# Form fields S3 turns into object properties (x-amz-meta-* become metadata).
_OBJECT_FIELDS = {
    "cache-control": "CacheControl",
    "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding",
    "acl": "ACL",
    "x-amz-storage-class": "StorageClass",
}
_CHUNK = 64 * 1024
_DRAIN_LIMIT = 1 << 30  # past this, drop the connection rather than read a refused body


class S3Faults:
    """A share of the requests the gateway proxies answered with S3's 503 SlowDown instead:
    how tests show that throttling and 5xx from S3 are retried, not failures."""

    def __init__(self) -> None:
        self.share = 0.0
        self.injected = 0
        self._random = random.Random(0)
        self._lock = threading.Lock()

    def fail_share(self, share: float, seed: int = 0) -> None:
        with self._lock:
            self.share, self._random = share, random.Random(seed)

    def take(self) -> bool:
        with self._lock:
            if self.share and self._random.random() < self.share:
                self.injected += 1
                return True
            return False


class S3Gateway:
    """Serves S3 on host:port, in front of moto at upstream_url. Use start()/stop() or `with`."""

    def __init__(
        self,
        upstream_url: str,
        *,
        credentials: dict[str, str],
        region: str = "us-east-1",
        host: str = "127.0.0.1",
        port: int = 0,
        max_body_bytes: int = 200 * 1024 * 1024,
    ):
        upstream = urlsplit(upstream_url)
        self._upstream = (upstream.scheme, upstream.netloc)
        self.access_key = credentials["AWS_ACCESS_KEY_ID"]
        self._secret_key = credentials["AWS_SECRET_ACCESS_KEY"]
        self.region = region
        self._checker = PostPolicyChecker(self.access_key, self._secret_key, region)
        self.max_body_bytes = max_body_bytes
        self.faults = S3Faults()
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        # Accepted uploads go in through moto's API so that its notifications fire.
        self._s3 = boto3.session.Session().client(
            "s3",
            endpoint_url=upstream_url,
            region_name=region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self._secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the S3 gateway is not started")
        host, port = str(self._server.server_address[0]), self._server.server_address[1]
        return f"http://{host}:{port}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the S3 gateway is already started")
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="s3-gateway", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> S3Gateway:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def upstream(self) -> http.client.HTTPConnection:
        scheme, netloc = self._upstream
        connection = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        return connection(netloc, timeout=300)

    # -- form POST uploads --------------------------------------------------------------------

    def accept_upload(self, bucket: str, form: Form) -> tuple[int, dict[str, str], bytes]:
        """Checks the form as S3 does, stores the file, and returns S3's answer."""
        fields = form.fields
        key = self._checker.check_upload(bucket, form)
        extra: dict[str, Any] = {_OBJECT_FIELDS[name]: fields[name] for name in fields.keys() & _OBJECT_FIELDS}
        metadata = {name.removeprefix("x-amz-meta-"): v for name, v in fields.items() if name.startswith("x-amz-meta-")}
        content_type = fields.get("content-type") or form.file_type or "binary/octet-stream"
        try:
            stored = self._s3.put_object(
                Bucket=bucket, Key=key, Body=form.file, ContentType=content_type, Metadata=metadata, **extra
            )
        except ClientError as error:  # e.g. NoSuchBucket: moto's answer is S3's answer
            details = error.response.get("Error", {})
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            raise S3Error(status, details.get("Code", "InternalError"), details.get("Message", str(error))) from None
        location = f"{self.url}/{quote(bucket)}/{quote(key)}"
        headers = {"ETag": stored["ETag"], "Location": location}
        status = fields.get("success_action_status")
        if status == "201":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?><PostResponse>'
                f"<Location>{escape(location)}</Location><Bucket>{escape(bucket)}</Bucket>"
                f"<Key>{escape(key)}</Key><ETag>{escape(stored['ETag'])}</ETag></PostResponse>"
            ).encode()
            return 201, headers, body
        return (200 if status == "200" else 204), headers, b""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], gateway: S3Gateway):
        super().__init__(address, _Handler)
        self.gateway = gateway
        log_request_errors(self)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # boto3 keeps connections alive
    timeout = 120  # so that idle kept-alive connections do not outlive stop() for long
    server: _Server
    _headers_sent = False

    def end_headers(self) -> None:
        self._headers_sent = True
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self) -> None:
        self._headers_sent = False
        try:
            path = urlsplit(self.path)
            bucket = path.path[1:].removesuffix("/")
            is_form = self.headers.get_content_type() == "multipart/form-data"
            if self.command == "POST" and is_form and bucket and "/" not in bucket:
                self._upload(bucket)
            else:
                check_not_expired(path.query)
                self._proxy()
            return
        except S3Error as error:
            logger.info("%s %s refused: %s", self.command, self.path, error)
            failure = error
        except ConnectionError:
            logger.debug("client went away during %s %s", self.command, self.path)
            self.close_connection = True
            return
        except Exception:
            logger.exception("S3 gateway failed on %s %s", self.command, self.path)
            failure = S3Error(500, "InternalError", "We encountered an internal error. Please try again.")
        # The request's body may be unread, or a relay half sent: this connection is done.
        self.close_connection = True
        if not self._headers_sent:
            with contextlib.suppress(ConnectionError):
                self._answer(failure.status, {"Content-Type": "application/xml", "Connection": "close"}, failure.xml())

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = _dispatch

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _upload(self, bucket: str) -> None:
        gateway = self.server.gateway
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise S3Error(411, "MissingContentLength", "You must provide the Content-Length HTTP header.")
        if int(length) > gateway.max_body_bytes:
            # Read and drop the body first, or closing the socket on it resets the connection
            # before the client has read why.
            remaining = int(length) if int(length) <= _DRAIN_LIMIT else 0
            while remaining > 0 and (chunk := self.rfile.read(min(_CHUNK, remaining))):
                remaining -= len(chunk)
            raise S3Error(400, "EntityTooLarge", TOO_LARGE)
        form = parse_form(self.headers["Content-Type"], self.rfile.read(int(length)))
        status, headers, body = gateway.accept_upload(bucket, form)
        self._answer(status, headers | ({"Content-Type": "application/xml"} if body else {}), body)

    def _read_body(self, chunked: bool) -> bytes | None:
        if chunked:
            body = bytearray()
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return bytes(body)
        length = self.headers.get("Content-Length")
        return self.rfile.read(int(length)) if length else None

    def _proxy(self) -> None:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        body = self._read_body(chunked)
        if self.server.gateway.faults.take():
            slow_down = S3Error(503, "SlowDown", "Please reduce your request rate.")
            self._answer(slow_down.status, {"Content-Type": "application/xml"}, slow_down.xml())
            return
        headers = [(name, value) for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP]
        if chunked:  # forwarded whole, so with its length
            headers = [(name, value) for name, value in headers if name.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body or b""))))
        upstream = self.server.gateway.upstream()
        try:
            try:
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    upstream.putheader(name, value)
                upstream.endheaders(body)
                response = upstream.getresponse()
            except OSError as error:
                raise S3Error(503, "ServiceUnavailable", f"moto is unreachable: {error}") from None
            self.send_response_only(response.status, response.reason)
            answer = [(name, value) for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP]
            whole = None
            if response.length is None:  # chunked or read-to-close: re-frame it with a length
                whole = response.read()
                answer = [(n, v) for n, v in answer if n.lower() != "content-length"]
                answer.append(("Content-Length", str(len(whole))))
            for name, value in answer:
                self.send_header(name, value)
            self.end_headers()
            self.log_request(response.status)
            if whole is not None:
                self.wfile.write(whole)
            else:
                while chunk := response.read(_CHUNK):
                    self.wfile.write(chunk)
        finally:
            upstream.close()
