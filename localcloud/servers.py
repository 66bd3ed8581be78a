"""What the local cloud's three HTTP servers (moto's, the S3 endpoint, the API) share."""

from __future__ import annotations

import logging
import socketserver
import sys

logger = logging.getLogger("docflow.localcloud")

# How often a server's loop looks for a request to stop (socketserver's default is half a
# second, which each server would add to every stop).
SHUTDOWN_POLL_SECONDS = 0.05


def log_request_errors(server: socketserver.BaseServer) -> None:
    """A request that breaks off (a client that hangs up mid-request, a worker killed while
    it waited for an answer) is logged to the cloud's log, not printed as a trace on the
    terminal, where socketserver would put it."""

    def handle_error(request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.info("a request from %s broke off: %s", client_address, error)
        else:
            logger.exception("a request from %s failed", client_address)

    server.handle_error = handle_error  # type: ignore[method-assign]
