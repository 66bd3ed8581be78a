"""Signing a browser in to the console, as Jupyter does: a one-time token in the URL the
server prints (or a token typed into the sign-in form) becomes a session cookie.

The cookie is HttpOnly (no script reads it) and SameSite=Strict (no other site's page sends
it). SameSite does not tell ports apart, and every docflow serve listens on 127.0.0.1, so a
request that changes something is also checked for coming from the console's own origin:
the Origin header browsers send with every POST and DELETE must name this server."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

SESSION_SECONDS = 12 * 3600
ONE_TIME_SECONDS = 15 * 60
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Session:
    caller: str
    expires: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    """Sessions of one server. `tokens` maps each lasting token (docflow serve's API tokens)
    to the caller it stands for; one-time tokens are made by `one_time_token`."""

    def __init__(self, port: int, tokens: Mapping[str, str], clock: Callable[[], float] = time.time):
        # Cookies are kept per host, not per port: each server names its own.
        self.cookie_name = f"docflow_session_{port}"
        self.tokens = dict(tokens)
        self.clock = clock
        self._one_time: dict[str, Session] = {}  # digest of the token -> who it signs in
        self._sessions: dict[str, Session] = {}  # digest of the cookie's value -> session
        self._lock = threading.Lock()

    def one_time_token(self, caller: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._one_time[_digest(token)] = Session(caller, self.clock() + ONE_TIME_SECONDS)
        return token

    def sign_in(self, token: str) -> str | None:
        """A new session's cookie value for a valid token (a one-time token is used up), or None."""
        caller = self._redeem(token.strip())
        if caller is None:
            return None
        value = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[_digest(value)] = Session(caller, self.clock() + SESSION_SECONDS)
        return value

    def sign_out(self, headers: Mapping[str, str]) -> None:
        value = self._cookie_value(headers)
        if value:
            with self._lock:
                self._sessions.pop(_digest(value), None)

    def caller(self, method: str, headers: Mapping[str, str]) -> str | None:
        """Who the request's session cookie signs in, if it has a live one and, for a request
        that changes something, comes from this server's own page; None otherwise."""
        value = self._cookie_value(headers)
        if not value:
            return None
        with self._lock:
            session = self._sessions.get(_digest(value))
        if session is None or session.expires < self.clock():
            return None
        if method.upper() not in SAFE_METHODS and not same_origin(headers):
            return None
        return session.caller

    def set_cookie(self, value: str) -> str:
        return f"{self.cookie_name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_SECONDS}"

    def clear_cookie(self) -> str:
        return f"{self.cookie_name}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"

    def _redeem(self, token: str) -> str | None:
        if not token:
            return None
        if (caller := caller_of(token, self.tokens)) is not None:
            return caller
        with self._lock:
            session = self._one_time.pop(_digest(token), None)
        return session.caller if session and session.expires >= self.clock() else None

    def _cookie_value(self, headers: Mapping[str, str]) -> str | None:
        try:
            cookie = SimpleCookie(headers.get("cookie", ""))
        except CookieError:
            return None
        morsel = cookie.get(self.cookie_name)
        return morsel.value if morsel else None


def caller_of(token: str, callers: Mapping[str, str]) -> str | None:
    """Who a lasting token stands for, compared in constant time; None for an unknown one."""
    for known, caller in callers.items():
        if hmac.compare_digest(token.encode(), known.encode()):
            return caller
    return None


def same_origin(headers: Mapping[str, str]) -> bool:
    """Whether the request's Origin (or, without one, its Referer) is the host it was sent to."""
    origin = headers.get("origin") or headers.get("referer")
    host = headers.get("host")
    if not origin or not host or origin == "null":
        return False
    return urlsplit(origin).netloc == host
