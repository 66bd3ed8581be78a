"""Webhooks: Standard Webhooks signatures, the targets docflow refuses (checked again at each
delivery, resolved), the retry schedule, and the fan-out of an event to the webhooks that
asked for it. End to end against docflow serve: tests/test_serve.py."""

from __future__ import annotations

import json

import pytest

from docflow.fanout import deliveries_of
from docflow.records import DocumentRecord, WebhookRecord
from docflow.settings import DEFAULTS
from docflow.webhooks import (
    ATTEMPTS,
    RETRY_DELAYS,
    Delivery,
    DeliveryFailed,
    TargetRefused,
    check_target,
    deliver,
    retry_delay,
    sign,
)
from fakes import MemoryObjectStore


def test_the_signature_is_standard_webhooks_own_test_vector():
    # From the Standard Webhooks reference libraries' tests.
    signature = sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                     b'{"test": 2432232314}')  # fmt: skip
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def resolving(*addresses: str):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize(("url", "addresses", "loopback"), [
    ("https://hooks.example.com/x", ["93.184.216.34"], False),
    ("https://hooks.example.com:8443/x?a=1", ["2606:2800:220:1::"], False),
    ("http://127.0.0.1:9000/hook", ["127.0.0.1"], True),
    ("http://localhost/hook", ["127.0.0.1", "::1"], True),
])  # fmt: skip
def test_public_https_targets_and_loopback_where_allowed_are_accepted(url, addresses, loopback):
    target = check_target(url, loopback, resolving(*addresses))
    assert target.address == addresses[0] and target.host in url


@pytest.mark.parametrize(("url", "addresses", "loopback", "why"), [
    ("http://169.254.169.254/latest", ["169.254.169.254"], True, "metadata"),  # refused even where loopback is not
    ("https://metadata.internal/", ["169.254.169.254"], False, "metadata"),
    ("https://rebound.example.com/", ["10.0.0.7"], False, "not a public address"),  # DNS that points inside
    ("https://mixed.example.com/", ["93.184.216.34", "192.168.1.1"], False, "not a public address"),
    ("https://v6.example.com/", ["fd00:ec2::254"], True, "metadata"),
    ("https://link.example.com/", ["169.254.10.10"], False, "not a public address"),
    ("https://shared.example.com/", ["100.64.0.1"], False, "not a public address"),
    ("http://127.0.0.1/hook", ["127.0.0.1"], False, "not a public address"),  # loopback only in docflow serve
    ("http://hooks.example.com/", ["93.184.216.34"], False, "must be https"),
    ("http://hooks.example.com/", ["93.184.216.34"], True, "must be https"),  # http only to loopback
    ("ftp://hooks.example.com/", ["93.184.216.34"], False, "not an http"),
    ("https://u:p@hooks.example.com/", ["93.184.216.34"], False, "user name"),
])  # fmt: skip
def test_metadata_private_link_local_and_plain_http_targets_are_refused(url, addresses, loopback, why):
    with pytest.raises(TargetRefused, match=why):
        check_target(url, loopback, resolving(*addresses))


def test_a_name_that_does_not_resolve_is_refused():
    def fails(host, port):
        raise OSError("no such name")

    with pytest.raises(TargetRefused, match="does not resolve"):
        check_target("https://nowhere.example/", False, fails)


def test_retries_start_within_seconds_and_span_a_day():
    assert RETRY_DELAYS[:3] == (2, 4, 8) and sum(RETRY_DELAYS[:4]) < 60  # four retries within a minute
    assert sum(RETRY_DELAYS) >= 24 * 3600 and max(RETRY_DELAYS) <= 12 * 3600  # SQS's longest visibility
    assert ATTEMPTS == len(RETRY_DELAYS) + 1
    assert [retry_delay(n) for n in (1, 2, ATTEMPTS + 5)] == [2, 4, RETRY_DELAYS[-1]]


class Records:
    """The few reads the fan-out and a delivery make, over plain dicts."""

    def __init__(self, webhooks: list[WebhookRecord], documents: list[DocumentRecord]):
        self.webhooks = {webhook.webhook_id: webhook for webhook in webhooks}
        self.documents = {document.document_id: document for document in documents}

    def list_webhooks(self, owner):
        return [webhook for webhook in self.webhooks.values() if webhook.owner == owner]

    def get_webhook(self, webhook_id):
        return self.webhooks.get(webhook_id)

    def get_document(self, document_id):
        return self.documents.get(document_id)


def webhook(webhook_id: str, owner: str, events: list[str]) -> WebhookRecord:
    # .invalid never resolves (RFC 6761).
    return WebhookRecord(webhook_id, owner, f"https://{webhook_id}.invalid/", events, "whsec_" + "QUJD" * 8, "t")


def test_an_event_becomes_one_delivery_for_each_of_the_owners_webhooks_that_asked_for_it():
    document = DocumentRecord("d1", "alice", "a.pdf", "uploads/d1/a.pdf", "application/pdf", "failed", "t0", "t1",
                              result={"status": "failed"}, error={"code": "pdf_corrupt", "message": "broken"})  # fmt: skip
    records = Records(
        [webhook("all", "alice", ["document.failed", "batch.completed"]), webhook("other", "alice", ["document.succeeded"]),
         webhook("bobs", "bob", ["document.failed"])],
        [document],
    )  # fmt: skip
    event = {"id": "e1", "time": "2026-11-30T12:00:00Z", "detail-type": "Document Failed",
             "detail": {"document_id": "d1", "owner": "alice"}}  # fmt: skip
    (delivery,) = deliveries_of(event, records, MemoryObjectStore(), DEFAULTS)
    assert (delivery.webhook_id, delivery.type, delivery.timestamp) == ("all", "document.failed", "2026-11-30T12:00:00Z")
    assert delivery.data["error"] == {"code": "pdf_corrupt", "message": "broken"} and delivery.data["status"] == "failed"
    again = deliveries_of(event, records, MemoryObjectStore(), DEFAULTS)  # the same event, redelivered
    assert again[0].delivery_id == delivery.delivery_id
    assert deliveries_of({**event, "detail": {"document_id": "d1", "owner": None}}, records, None, DEFAULTS) == []
    body = json.loads(delivery.body())
    assert set(body) == {"type", "timestamp", "data"} and body["data"]["document_id"] == "d1"


def test_a_delivery_to_a_removed_webhook_is_dropped_and_a_refused_target_is_retried():
    delivery = Delivery("msg_1", "gone", "document.succeeded", "t", {})
    assert deliver(delivery, Records([], []), allow_loopback=False, poster=lambda *a: 200) is False
    records = Records([webhook("w1", "alice", ["document.succeeded"])], [])
    posted = []
    to_w1 = Delivery("msg_2", "w1", "document.succeeded", "t", {})
    with pytest.raises(DeliveryFailed, match="does not resolve"):  # no DNS here: refused now, tried again later
        deliver(to_w1, records, allow_loopback=False, poster=lambda *a: posted.append(a))
    assert posted == []
