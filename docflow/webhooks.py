"""Webhooks: docflow's events posted to URLs its callers register, as the Standard Webhooks
specification describes (https://www.standardwebhooks.com).

A delivery is a JSON body {type, timestamp, data} with the headers webhook-id (the same on
every attempt), webhook-timestamp and webhook-signature ("v1," and the base64 HMAC-SHA256
of "id.timestamp.body", keyed with the webhook's secret). One answered with anything but
2xx, or not in time, is tried again after RETRY_DELAYS; past the last it goes to the
dead-letter queue. Targets are checked when they are registered and again, resolved, at
every delivery: https on public addresses only, and the metadata address never; the local
cloud also allows http on loopback (DOCFLOW_WEBHOOK_LOOPBACK)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from docflow.errors import DocflowError
from docflow.records import RecordStore

SECRET_PREFIX = "whsec_"
# Seconds before each retry: from 2 s doubling, so a person watching sees the first ones
# within a minute, up to 2 h apart; the 23 retries span 24.3 hours.
RETRY_DELAYS: tuple[int, ...] = tuple(min(2 * 2**attempt, 7200) for attempt in range(23))
ATTEMPTS = len(RETRY_DELAYS) + 1  # the deliveries queue's maxReceiveCount
TIMEOUT_SECONDS = 10  # for an answer to a delivery
# Cloud metadata services: refused as targets everywhere, loopback allowed or not.
METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),
        ipaddress.ip_address("fd00:ec2::254"),
        ipaddress.ip_address("100.100.100.200"),
    }
)


class TargetRefused(DocflowError):
    code = "invalid_webhook_url"
    advice = "Give an https URL on a public address."


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    """The webhook-signature header's value for one attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{delivery_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def retry_delay(attempt: int) -> int:
    """Seconds to wait after the `attempt`th (1-based) failed attempt."""
    return RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]


Resolver = Callable[[str, int], Sequence[str]]


def _resolve(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (an address checked just now) and what to ask for."""

    url: str
    scheme: str
    host: str
    port: int
    address: str
    path: str


def check_target(url: str, allow_loopback: bool = False, resolve: Resolver = _resolve) -> Target:
    """The URL, checked and resolved; TargetRefused says why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TargetRefused(f"{url!r} is not an http(s) URL.")
    if parts.username or parts.password:
        raise TargetRefused("A webhook URL may not hold a user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise TargetRefused(f"{url!r} has an invalid port.") from error
    try:
        addresses = [ipaddress.ip_address(address.split("%")[0]) for address in resolve(parts.hostname, port)]
    except (OSError, UnicodeError) as error:
        raise TargetRefused(f"{parts.hostname} does not resolve.") from error
    if not addresses:
        raise TargetRefused(f"{parts.hostname} does not resolve.")
    for address in addresses:
        if address in METADATA_ADDRESSES or (address.version == 6 and address.ipv4_mapped in METADATA_ADDRESSES):
            raise TargetRefused(f"{parts.hostname} is a cloud metadata address: docflow never delivers there.")
        loopback = address.is_loopback or (
            address.version == 6 and bool(address.ipv4_mapped and address.ipv4_mapped.is_loopback)
        )
        if loopback and allow_loopback:
            continue
        if not address.is_global:
            raise TargetRefused(f"{parts.hostname} resolves to {address}, which is not a public address.")
    if parts.scheme != "https" and not (allow_loopback and all(a.is_loopback for a in addresses)):
        raise TargetRefused("A webhook URL must be https.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url, parts.scheme, parts.hostname, port, str(addresses[0]), path)


@dataclass(frozen=True)
class Delivery:
    """One event for one webhook: what the deliveries queue carries."""

    delivery_id: str  # webhook-id: the same on every attempt
    webhook_id: str
    type: str  # docflow.notifications.WEBHOOK_TYPES
    timestamp: str  # when the event happened, ISO 8601
    data: dict[str, Any]  # what GET /documents/{id} or GET /batches/{id} answers

    def body(self) -> bytes:
        return json.dumps(
            {"type": self.type, "timestamp": self.timestamp, "data": self.data}, separators=(",", ":")
        ).encode()

    def to_dict(self) -> dict[str, Any]:
        return {"delivery_id": self.delivery_id, "webhook_id": self.webhook_id, "type": self.type,
                "timestamp": self.timestamp, "data": self.data}  # fmt: skip


class DeliveryFailed(Exception):
    """The target did not take the delivery (a status other than 2xx, no answer in time, no
    connection): it is tried again later."""


def post(target: Target, delivery: Delivery, secret: str, now: Callable[[], float] = time.time) -> int:
    """Posts one attempt to the checked address, naming the target's host for TLS and HTTP
    (so DNS cannot move it between the check and the connection); the answer's status."""
    import urllib3

    timestamp = int(now())
    body = delivery.body()
    headers = {
        "content-type": "application/json",
        "user-agent": "docflow-webhooks/1",
        "host": target.host if target.port in (80, 443) else f"{target.host}:{target.port}",
        "webhook-id": delivery.delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, delivery.delivery_id, timestamp, body),
    }
    timeout = urllib3.Timeout(connect=TIMEOUT_SECONDS, read=TIMEOUT_SECONDS)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            timeout=timeout,
            retries=False,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False)
    try:
        response = pool.urlopen("POST", target.path, body=body, headers=headers, redirect=False, preload_content=True)
    except urllib3.exceptions.HTTPError as error:
        raise DeliveryFailed(f"no answer from {target.host}: {type(error).__name__}") from error
    finally:
        pool.close()
    if not 200 <= response.status < 300:
        raise DeliveryFailed(f"{target.host} answered {response.status}")
    return response.status


def deliver(delivery: Delivery, records: RecordStore, allow_loopback: bool, poster: Callable[..., int] = post) -> bool:
    """One attempt: False when the webhook is gone (the delivery is dropped); DeliveryFailed
    when the target did not take it, to be tried again."""
    webhook = records.get_webhook(delivery.webhook_id)
    if webhook is None:
        return False
    try:
        target = check_target(webhook.url, allow_loopback)
    except TargetRefused as error:  # the name resolves elsewhere now: refused, and tried again
        raise DeliveryFailed(error.message) from error
    poster(target, delivery, webhook.secret)
    return True
