"""The records on DynamoDB: DynamoRecordStore, the table's layout, its keys and page cursors.

The records live in one DynamoDB table (TABLE_SCHEMA, which the CDK stack and the local
cloud both create). Items: DOC#<id>/DOC (a document), BATCH#<id>/BATCH (a batch),
BATCH#<id>/DOC#<id> (a document's outcome was counted in the batch: the mark that keeps a
retried record step from counting it twice), WEBHOOK#<id>/WEBHOOK (a webhook). The by_owner
index lists a caller's documents, batches or webhooks by time.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from docflow.records import BatchRecord, DocumentRecord, InvalidCursor, WebhookRecord
from docflow.statuses import BatchStatus

OWNER_INDEX = "by_owner"
# The one table layout; infra/ deploys it and the local cloud creates it from this.
TABLE_SCHEMA: dict[str, Any] = {
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
        {"AttributeName": "owner_key", "AttributeType": "S"},
        {"AttributeName": "created_at", "AttributeType": "S"},
    ],
    "GlobalSecondaryIndexes": [
        {
            "IndexName": OWNER_INDEX,
            "KeySchema": [
                {"AttributeName": "owner_key", "KeyType": "HASH"},
                {"AttributeName": "created_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ],
    "BillingMode": "PAY_PER_REQUEST",
}
TTL_ATTRIBUTE = "expires_at"


def document_pk(document_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"DOC#{document_id}"}, "sk": {"S": "DOC"}}


def batch_pk(batch_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"BATCH#{batch_id}"}, "sk": {"S": "BATCH"}}


def webhook_pk(webhook_id: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"WEBHOOK#{webhook_id}"}, "sk": {"S": "WEBHOOK"}}


def owner_key(owner: str, kind: str) -> str:
    """The owner index's key of an owner's records of one kind (document, batch, webhook)."""
    return f"{owner}#{kind}"


def encode_cursor(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


def _is_document_position(key: dict[str, Any], owner: str) -> bool:
    """Whether a decoded cursor is a position in the owner's documents, as DynamoDB's
    LastEvaluatedKey of the owner index has it; anything else would reach DynamoDB as a
    malformed request."""
    if set(key) != {"pk", "sk", "owner_key", "created_at"}:
        return False
    if not all(
        isinstance(value, dict) and set(value) == {"S"} and isinstance(value["S"], str) for value in key.values()
    ):
        return False
    mine = key["owner_key"]["S"] == owner_key(owner, "document")
    return mine and key["pk"]["S"].startswith("DOC#") and key["sk"]["S"] == "DOC"


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor("The cursor is not one this service handed out.") from error
    if not isinstance(decoded, dict):
        raise InvalidCursor("The cursor is not one this service handed out.")
    return decoded


class DynamoRecordStore:
    """RecordStore on one DynamoDB table, through the low-level client: the items are
    written as plain strings and numbers, and the outcome as one JSON string, so no float
    ever has to become a Decimal."""

    def __init__(self, table: str, client: Any = None):
        if client is None:
            client = boto3.client("dynamodb")
        self.table = table
        self.client = client
        self._errors = client.exceptions

    @classmethod
    def from_environment(cls) -> DynamoRecordStore:
        return cls(os.environ["DOCFLOW_TABLE"])

    # -- documents ----------------------------------------------------------------------

    def create_document(self, record: DocumentRecord) -> None:
        self._create(document_pk(record.document_id), "document", record)

    def get_document(self, document_id: str) -> DocumentRecord | None:
        item = self.client.get_item(TableName=self.table, Key=document_pk(document_id), ConsistentRead=True).get("Item")
        return _document(item) if item else None

    def get_documents(self, document_ids: list[str]) -> dict[str, DocumentRecord]:
        found: dict[str, DocumentRecord] = {}
        unique = list(dict.fromkeys(document_ids))
        for start in range(0, len(unique), 100):  # BatchGetItem's limit
            pending: dict[str, Any] = {
                self.table: {"Keys": [document_pk(i) for i in unique[start : start + 100]], "ConsistentRead": True}
            }
            while pending:
                response = self.client.batch_get_item(RequestItems=pending)
                for item in response["Responses"].get(self.table, []):
                    record = _document(item)
                    found[record.document_id] = record
                pending = response.get("UnprocessedKeys") or {}
        return found

    def list_documents(
        self, owner: str, *, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[DocumentRecord], str | None]:
        query = self._owned(owner, "document", ScanIndexForward=False)
        if status:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            query["ExpressionAttributeValues"][":status"] = {"S": status}
        start = decode_cursor(cursor) if cursor else None
        if start is not None and not _is_document_position(start, owner):
            raise InvalidCursor("The cursor is not one this service handed out.")
        records: list[DocumentRecord] = []
        # A filter applies after DynamoDB's page is read, so a page can come back short:
        # read on until the page is full or the index ends.
        while len(records) < limit:
            page = dict(query, Limit=limit - len(records))
            if start:
                page["ExclusiveStartKey"] = start
            response = self.client.query(**page)
            records.extend(_document(item) for item in response["Items"])
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        return records, encode_cursor(start) if start else None

    def start_processing(self, document_id: str, run_id: str, now: str) -> bool:
        return self._update_if(
            document_pk(document_id),
            "SET #status = :processing, run_id = :run, updated_at = :now REMOVE #error, run_started",
            "attribute_exists(pk) AND (attribute_not_exists(run_id) OR run_id <> :run)",
            names={"#status": "status", "#error": "error"},
            values={":processing": {"S": "processing"}, ":run": {"S": run_id}, ":now": {"S": now}},
        )

    def schedule(self, document_id: str, now: str) -> bool:
        return self._move(document_pk(document_id), "pending", "scheduled", now)

    def mark_run_started(self, document_id: str, run_id: str) -> None:
        # Not applied when another run has begun since: that run's own start marks it.
        self._update_if(
            document_pk(document_id), "SET run_started = :started", "run_id = :run",
            values={":started": {"BOOL": True}, ":run": {"S": run_id}},
        )  # fmt: skip

    def abandon_run(self, document_id: str, run_id: str, status: str, now: str) -> bool:
        return self._update_if(
            document_pk(document_id),
            "SET #status = :status, updated_at = :now REMOVE run_id",
            "run_id = :run AND #status = :processing",
            names={"#status": "status"},
            values={
                ":status": {"S": status},
                ":run": {"S": run_id},
                ":processing": {"S": "processing"},
                ":now": {"S": now},
            },
        )

    def record_result(self, document_id: str, result: dict[str, Any], now: str) -> str | None:
        error = result.get("error")
        values: dict[str, Any] = {
            ":status": {"S": result["status"]},
            ":result": {"S": json.dumps(result, separators=(",", ":"))},
            ":now": {"S": now},
        }
        expression = "SET #status = :status, #result = :result, updated_at = :now"
        if error:
            expression += ", #error = :error"
            values[":error"] = {"S": json.dumps(error)}
        else:
            expression += " REMOVE #error"
        try:
            answer = self.client.update_item(
                TableName=self.table, Key=document_pk(document_id), UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues=values,
                ExpressionAttributeNames={"#status": "status", "#result": "result", "#error": "error"},
                ReturnValues="ALL_NEW",
            )  # fmt: skip
        except self._errors.ConditionalCheckFailedException:
            return None
        return _plain(answer["Attributes"])["owner"]

    def documents(self) -> Iterator[DocumentRecord]:
        pages = self.client.get_paginator("scan").paginate(
            TableName=self.table,
            FilterExpression="sk = :document",
            ExpressionAttributeValues={":document": {"S": "DOC"}},
        )
        for page in pages:
            yield from (_document(item) for item in page["Items"])

    def delete_document(self, document_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key=document_pk(document_id))

    # -- batches ----------------------------------------------------------------------------

    def create_batch(self, record: BatchRecord) -> None:
        self._create(batch_pk(record.batch_id), "batch", record)

    def get_batch(self, batch_id: str) -> BatchRecord | None:
        item = self.client.get_item(TableName=self.table, Key=batch_pk(batch_id), ConsistentRead=True).get("Item")
        return _batch(item) if item else None

    def activate_batch(self, batch_id: str, now: str) -> bool:
        return self._move(batch_pk(batch_id), "scheduled", "running", now)

    def set_batch_execution(self, batch_id: str, execution_arn: str) -> None:
        self.client.update_item(
            TableName=self.table,
            Key=batch_pk(batch_id),
            UpdateExpression="SET execution_arn = :arn",
            ExpressionAttributeValues={":arn": {"S": execution_arn}},
        )

    def count_in_batch(self, batch_id: str, document_id: str, failed: bool, now: str) -> bool:
        mark = {"pk": {"S": f"BATCH#{batch_id}"}, "sk": {"S": f"DOC#{document_id}"}}
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.table, "Item": mark, "ConditionExpression": "attribute_not_exists(pk)"}},
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": batch_pk(batch_id),
                            "UpdateExpression": "ADD done :one, failed :failed SET updated_at = :now",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {
                                ":one": {"N": "1"},
                                ":failed": {"N": "1" if failed else "0"},
                                ":now": {"S": now},
                            },
                        }
                    },
                ]
            )
            return True
        except self._errors.TransactionCanceledException:
            return False

    def finish_batch(
        self, batch_id: str, status: BatchStatus, now: str, was: BatchStatus = "running", **fields: Any
    ) -> bool:
        return self._move(batch_pk(batch_id), was, status, now, **fields)

    def list_batches(self, owner: str, limit: int) -> list[BatchRecord]:
        response = self.client.query(**self._owned(owner, "batch", ScanIndexForward=False, Limit=limit))
        return [_batch(item) for item in response["Items"]]

    # -- webhooks ---------------------------------------------------------------------------

    def create_webhook(self, record: WebhookRecord) -> None:
        self._create(webhook_pk(record.webhook_id), "webhook", record)

    def get_webhook(self, webhook_id: str) -> WebhookRecord | None:
        item = self.client.get_item(TableName=self.table, Key=webhook_pk(webhook_id), ConsistentRead=True).get("Item")
        return _webhook(item) if item else None

    def list_webhooks(self, owner: str) -> list[WebhookRecord]:
        pages = self.client.get_paginator("query").paginate(**self._owned(owner, "webhook"))
        return [_webhook(item) for page in pages for item in page["Items"]]

    def delete_webhook(self, webhook_id: str) -> None:
        self.client.delete_item(TableName=self.table, Key=webhook_pk(webhook_id))

    def _create(self, key: dict[str, Any], kind: str, record: DocumentRecord | BatchRecord | WebhookRecord) -> None:
        """A new item for the record, listed under its owner's `kind` in the owner index."""
        item = {**key, "owner_key": {"S": owner_key(record.owner, kind)}, **_attributes(asdict(record))}
        self.client.put_item(TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def _owned(self, owner: str, kind: str, **query: Any) -> dict[str, Any]:
        """A query of the owner index for the owner's records of `kind`, with `query` besides."""
        return {
            "TableName": self.table,
            "IndexName": OWNER_INDEX,
            "KeyConditionExpression": "owner_key = :owner",
            "ExpressionAttributeValues": {":owner": {"S": owner_key(owner, kind)}},
            **query,
        }

    def _move(self, key: dict[str, Any], was: str, status: str, now: str, **fields: Any) -> bool:
        """Moves the item at `key` from status `was` to `status`, setting `fields` too; False
        when it is not at `was` (any more)."""
        names = {"#status": "status"}
        values = {":status": {"S": status}, ":was": {"S": was}, ":now": {"S": now}}
        assignments = ["#status = :status", "updated_at = :now"]
        for name, value in fields.items():
            names[f"#{name}"] = name
            values[f":{name}"] = _attribute(value)
            assignments.append(f"#{name} = :{name}")
        return self._update_if(key, "SET " + ", ".join(assignments), "#status = :was", names=names, values=values)

    def _update_if(
        self,
        key: dict[str, Any],
        update: str,
        condition: str,
        *,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> bool:
        """One conditional update of the item at `key`: True when it was applied, False when
        its condition did not hold."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": key,
            "UpdateExpression": update,
            "ConditionExpression": condition,
        }
        if names:
            request["ExpressionAttributeNames"] = names
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            self.client.update_item(**request)
            return True
        except self._errors.ConditionalCheckFailedException:
            return False


# -- item encoding: boto3's serializer, with JSON strings for anything nested -------------

# Stored as JSON strings, as they always have been: the deployed table's items read back as
# they are, and a DynamoDB map could not hold the outcome's floats without Decimals.
_JSON_FIELDS = {"result", "error", "summary", "events"}
_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, separators=(",", ":"))
    return _SERIALIZER.serialize(value)


def _attributes(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _attribute(value) for name, value in values.items() if value is not None}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = {}
    for name, typed in item.items():
        value = _DESERIALIZER.deserialize(typed)
        if isinstance(value, Decimal):  # the records' numbers are counts and epoch seconds
            value = int(value) if value == value.to_integral_value() else float(value)
        elif name in _JSON_FIELDS and isinstance(value, str):
            value = json.loads(value)
        plain[name] = value
    return plain


def _document(item: dict[str, Any]) -> DocumentRecord:
    plain = _plain(item)
    # A field an item does not have (it was stored before the field existed) takes its default.
    fields: dict[str, Any] = {name: plain[name] for name in DocumentRecord.__dataclass_fields__ if name in plain}
    return DocumentRecord(**fields)


def _batch(item: dict[str, Any]) -> BatchRecord:
    plain = _plain(item)
    fields = {name: plain[name] for name in BatchRecord.__dataclass_fields__ if name in plain}
    return BatchRecord(**fields)


def _webhook(item: dict[str, Any]) -> WebhookRecord:
    plain = _plain(item)
    return WebhookRecord(**{name: plain[name] for name in WebhookRecord.__dataclass_fields__})


def create_table(client: Any, name: str) -> None:
    """Creates the records table as TABLE_SCHEMA describes it (the local cloud and tests)."""
    client.create_table(TableName=name, **TABLE_SCHEMA)
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE}
    )
