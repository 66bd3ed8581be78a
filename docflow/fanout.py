"""notify's work: an event of docflow's bus becomes one webhook delivery for each of its
owner's webhooks that asked for its type, carrying what the API answers for the document or
batch now (docflow.service's views)."""

from __future__ import annotations

import hashlib
from typing import Any

from docflow.notifications import webhook_type
from docflow.records import RecordStore
from docflow.service import batch_view, document_view
from docflow.settings import Settings
from docflow.storage import Presigner
from docflow.webhooks import Delivery


def delivery_id(event_id: str, webhook_id: str) -> str:
    """The same for a redelivered event, so that a receiver can tell a repeat."""
    return "msg_" + hashlib.sha256(f"{event_id}:{webhook_id}".encode()).hexdigest()[:26]


def deliveries_of(
    event: dict[str, Any], records: RecordStore, presigner: Presigner, settings: Settings
) -> list[Delivery]:
    """The deliveries an EventBridge event of docflow's (its envelope: id, time,
    detail-type, detail) makes: one for each of the owner's webhooks that asked for its
    type, each carrying what the API answers for the document or batch now."""
    detail, kind = event["detail"], webhook_type(event["detail-type"])
    owner = detail.get("owner")
    if not owner:
        return []  # a document the API did not upload: nobody to tell
    webhooks = [webhook for webhook in records.list_webhooks(owner) if kind in webhook.events]
    if not webhooks:
        return []
    if "document_id" in detail:
        document = records.get_document(detail["document_id"])
        data = document_view(document, presigner, settings) if document else None
    else:
        batch = records.get_batch(detail["batch_id"])
        data = batch_view(batch, presigner, settings) if batch else None
    if data is None:
        return []  # deleted since (its retention ran out): there is nothing to describe
    return [
        Delivery(delivery_id(event["id"], webhook.webhook_id), webhook.webhook_id, kind, event["time"], data)
        for webhook in webhooks
    ]
