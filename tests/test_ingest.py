"""ingest: S3 "Object Created" events, from EventBridge through SQS, start each upload's
document workflow once, however often the event is delivered. The real handler runs
in-process on moto's DynamoDB and Step Functions, with events shaped as Lambda hands them."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid

import boto3
import pytest

from docflow import keys
from docflow.ingestion import Upload, upload_event_pattern
from docflow.records import DocumentRecord
from handlers import lambda_context, load_deployed_handler

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

REGION = "us-east-1"
ACCOUNT = "123456789012"
ALICE = "arn:aws:iam::123456789012:user/alice"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:docflow-uploads"
NOW = "2026-01-01T00:00:00.000000+00:00"
EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")


# -- the function as deployed ----------------------------------------------------------------


@pytest.fixture
def starts(monkeypatch) -> list[str]:
    """The name of every document workflow start ingest asks for. Express does not refuse a
    repeated name (moto's in-process Step Functions does), so starts are counted here."""
    from docflow.workflows import StepFunctionsWorkflows

    names: list[str] = []
    start = StepFunctionsWorkflows.start_document

    def counted(self, name, document):
        names.append(name)
        return start(self, name, document)

    monkeypatch.setattr(StepFunctionsWorkflows, "start_document", counted)
    return names


@pytest.fixture
def ingest(state_machines, monkeypatch, starts):
    return load_deployed_handler("ingest", monkeypatch, state_machines)


def document_executions(state_machines) -> list[dict]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return sfn.list_executions(stateMachineArn=state_machines["document"])["executions"]


def execution_input(execution: dict) -> dict:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    return json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])


def pending_document(record_store, filename: str = "report.pdf") -> DocumentRecord:
    """A document as the API records it when it presigns the upload."""
    document_id = uuid.uuid4().hex
    record = DocumentRecord(
        document_id=document_id,
        owner=ALICE,
        filename=filename,
        key=keys.upload_key(document_id, filename),
        content_type="application/pdf",
        status="pending",
        created_at=NOW,
        updated_at=NOW,
    )
    record_store.create_document(record)
    return record


# -- events as Lambda receives them ----------------------------------------------------------------


def object_created(key: str, etag: str = "9b2cf535f27731c974343645a3985328", size: int = 1024,
                   bucket: str | None = None, version_id: str | None = None) -> dict:
    """The EventBridge event S3 sends when an object is created (keys URL-encoded)."""
    bucket = bucket or os.environ["DOCFLOW_BUCKET"]
    detail_object = {"key": key, "size": size, "etag": etag, "sequencer": "0062E99A88DC407460"}
    if version_id:
        detail_object["version-id"] = version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": detail_object,
            "request-id": "x",
            "requester": ACCOUNT,
            "source-ip-address": "203.0.113.15",
            "reason": "PutObject",
        },
    }


def sqs_record(body: dict | str, message_id: str | None = None) -> dict:
    """One SQS message as the event source mapping hands it to Lambda."""
    text = body if isinstance(body, str) else json.dumps(body)
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a" + uuid.uuid4().hex,
        "body": text,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1767225600000",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1767225600100",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION,
    }


def sqs_event(*records: dict) -> dict:
    return {"Records": list(records)}


def invoke(ingest, *records: dict) -> list[str]:
    """Runs one invocation; returns the message ids it reported as failed."""
    response = ingest(sqs_event(*records), lambda_context())
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


# -- one upload, one execution ------------------------------------------------------------------


def test_an_upload_starts_its_document_workflow(ingest, record_store, state_machines):
    document = pending_document(record_store)

    assert invoke(ingest, sqs_record(object_created(document.key))) == []

    (execution,) = document_executions(state_machines)
    assert execution_input(execution) == {
        "document_id": document.document_id,
        "key": document.key,
        "filename": "report.pdf",
    }
    record = record_store.get_document(document.document_id)
    assert record.status == "processing"
    assert record.run_id == execution["name"]
    assert execution["name"].startswith(document.document_id)


def test_the_same_event_three_times_in_one_batch_starts_one_execution(ingest, record_store, starts):
    document = pending_document(record_store)
    event = object_created(document.key)

    assert invoke(ingest, *(sqs_record(event) for _ in range(3))) == []

    assert len(starts) == 1
    record = record_store.get_document(document.document_id)
    assert (record.status, record.run_id, record.run_started) == ("processing", starts[0], True)


def test_the_same_event_in_three_invocations_starts_one_execution(ingest, record_store, starts):
    document = pending_document(record_store)
    event = object_created(document.key)

    for _ in range(3):
        assert invoke(ingest, sqs_record(event)) == []

    assert len(starts) == 1
    assert record_store.get_document(document.document_id).run_id == starts[0]


def test_the_same_upload_in_distinct_eventbridge_events_starts_one_execution(ingest, record_store, starts):
    """S3 may emit the event twice: two EventBridge ids, one object."""
    document = pending_document(record_store)
    first, second = object_created(document.key), object_created(document.key)
    assert first["id"] != second["id"]

    assert invoke(ingest, sqs_record(first), sqs_record(second)) == []

    assert len(starts) == 1


def test_a_delivery_that_marked_its_run_but_never_started_it_is_started_by_the_next(ingest, record_store, starts):
    document = pending_document(record_store)
    event = object_created(document.key)
    run = Upload(document.key, event["detail"]["object"]["etag"]).execution_name()
    record_store.start_processing(document.document_id, run, NOW)  # and then the invocation died

    assert invoke(ingest, sqs_record(event)) == []
    assert invoke(ingest, sqs_record(event)) == []

    assert starts == [run]
    assert record_store.get_document(document.document_id).run_started is True


def test_a_new_upload_to_the_same_key_starts_again(ingest, record_store, state_machines):
    document = pending_document(record_store)

    assert invoke(ingest, sqs_record(object_created(document.key, etag="aaaa1111"))) == []
    assert invoke(ingest, sqs_record(object_created(document.key, etag="bbbb2222"))) == []

    names = {execution["name"] for execution in document_executions(state_machines)}
    assert len(names) == 2
    assert record_store.get_document(document.document_id).run_id in names


def test_a_new_version_of_the_same_bytes_starts_again(ingest, record_store, state_machines):
    document = pending_document(record_store)
    etag = "9b2cf535f27731c974343645a3985328"

    invoke(ingest, sqs_record(object_created(document.key, etag=etag, version_id="v1")))
    invoke(ingest, sqs_record(object_created(document.key, etag=etag, version_id="v2")))

    assert len(document_executions(state_machines)) == 2


# -- what is not docflow's ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "uploads/{id}/other.pdf",  # the record's id, but not the key the API handed out
        "uploads/{other}/report.pdf",  # no record
        "documents/{id}/text.txt",  # docflow's own output
        "uploads/{id}/nested/report.pdf",
        "uploads/report.pdf",
        "uploads//report.pdf",
    ],
)
def test_an_object_docflow_did_not_hand_out_starts_nothing_and_is_not_a_failure(
    ingest, record_store, state_machines, key
):
    document = pending_document(record_store)

    key = key.format(id=document.document_id, other=uuid.uuid4().hex)
    assert invoke(ingest, sqs_record(object_created(key))) == []

    assert document_executions(state_machines) == []
    assert record_store.get_document(document.document_id).status == "pending"


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        json.dumps({"detail": {"object": {"key": "uploads/x/y.pdf"}}}),  # not an EventBridge event
        json.dumps({**object_created("uploads/x/y.pdf"), "detail": {"bucket": {"name": "b"}}}),  # no object
    ],
    ids=["not-json", "not-eventbridge", "no-object"],
)
def test_a_malformed_message_fails_alone(ingest, record_store, state_machines, body):
    document = pending_document(record_store)
    bad, good = sqs_record(body), sqs_record(object_created(document.key))

    assert invoke(ingest, bad, good) == [bad["messageId"]]

    (execution,) = document_executions(state_machines)
    assert execution_input(execution)["document_id"] == document.document_id
    assert record_store.get_document(document.document_id).status == "processing"


def test_a_url_encoded_key_is_matched(ingest, record_store, state_machines):
    document = pending_document(record_store, filename="résumé.pdf")
    assert document.key == f"uploads/{document.document_id}/résumé.pdf"

    encoded = f"uploads/{document.document_id}/r%C3%A9sum%C3%A9.pdf"
    assert invoke(ingest, sqs_record(object_created(encoded))) == []

    (execution,) = document_executions(state_machines)
    assert execution_input(execution)["key"] == document.key
    assert record_store.get_document(document.document_id).status == "processing"


# -- Upload, the identity of one upload ------------------------------------------------------------


def test_an_upload_key_names_its_document():
    assert Upload("uploads/3f2b9c0d5a6e4f1b8c7d6e5f4a3b2c1d/report.pdf", "e").document_id == (
        "3f2b9c0d5a6e4f1b8c7d6e5f4a3b2c1d"
    )


@pytest.mark.parametrize(
    "key",
    [
        "documents/abc/report.pdf",  # wrong prefix
        "Uploads/abc/report.pdf",
        "batches/abc/manifest.json",
        "uploads/abc/nested/report.pdf",  # too many parts
        "uploads/abc/report.pdf/",
        "uploads/abc",  # too few
        "uploads/report.pdf",
        "uploads//report.pdf",  # empty id
        "",
    ],
)
def test_a_key_outside_uploads_id_name_names_no_document(key):
    assert Upload(key, "e").document_id is None


def test_the_execution_name_is_the_uploads_identity():
    document_id = uuid.uuid4().hex
    key = keys.upload_key(document_id, "résumé (final).pdf")
    upload = Upload(key, '"9b2cf535f27731c974343645a3985328"', "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")

    name = upload.execution_name()
    assert name == Upload(key, '"9b2cf535f27731c974343645a3985328"', "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY").execution_name()
    assert EXECUTION_NAME.fullmatch(name), name
    assert name.startswith(f"{document_id}-")


@pytest.mark.parametrize(
    "filename", ["report.pdf", "x" * 5000 + ".pdf", "日本語の文書.pdf", "a b+c%20.pdf"], ids=["plain", "long", "cjk", "odd"]
)
def test_an_execution_name_is_short_and_plain(filename):
    key = keys.upload_key(uuid.uuid4().hex, filename)
    name = Upload(key, "etag", None).execution_name()
    assert EXECUTION_NAME.fullmatch(name), name  # Step Functions: at most 80 characters


def test_the_execution_name_changes_with_the_upload():
    key = keys.upload_key(uuid.uuid4().hex, "report.pdf")
    names = {
        Upload(key, "etag-1").execution_name(),
        Upload(key, "etag-2").execution_name(),
        Upload(key, "etag-1", "version-2").execution_name(),
        Upload(keys.upload_key(uuid.uuid4().hex, "report.pdf"), "etag-1").execution_name(),
    }
    assert len(names) == 4


# -- the EventBridge rule ------------------------------------------------------------------------


def test_the_upload_rule_routes_uploads_and_nothing_else(aws):
    """The pattern on moto's default bus, with a queue as its target: only objects created
    under uploads/ in the documents bucket reach it. (moto does not implement
    TestEventPattern, so the rule itself is put to the test.)"""
    bucket = os.environ["DOCFLOW_BUCKET"]
    events = boto3.client("events", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="docflow-uploads", EventPattern=json.dumps(upload_event_pattern(bucket)), State="ENABLED")
    events.put_targets(Rule="docflow-uploads", Targets=[{"Id": "queue", "Arn": queue_arn}])

    cases = {
        "upload": object_created(f"uploads/{uuid.uuid4().hex}/report.pdf"),
        "output": object_created(f"documents/{uuid.uuid4().hex}/text.txt"),
        "other-bucket": object_created(f"uploads/{uuid.uuid4().hex}/report.pdf", bucket="someone-elses-bucket"),
        "deleted": {**object_created(f"uploads/{uuid.uuid4().hex}/gone.pdf"), "detail-type": "Object Deleted"},
    }
    for event in cases.values():
        entry = {
            "Source": event["source"],
            "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]),
            "Resources": event["resources"],
        }
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0

    delivered = []
    for _ in range(5):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        delivered += [json.loads(message["Body"])["detail"]["object"]["key"] for message in messages]
    assert delivered == [cases["upload"]["detail"]["object"]["key"]]


def test_the_upload_pattern_names_the_bucket_and_the_prefix():
    pattern = upload_event_pattern("my-bucket")
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == ["my-bucket"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "uploads/"}]


def test_motos_etag_spelling_names_the_same_run_as_s3s(ingest, record_store, starts):
    """moto writes "eTag" where S3 writes "etag": both are the same upload, started once."""
    document = pending_document(record_store)
    s3_event = object_created(document.key)
    moto_event = object_created(document.key)
    moto_event["detail"]["object"]["eTag"] = moto_event["detail"]["object"].pop("etag")

    assert invoke(ingest, sqs_record(moto_event), sqs_record(s3_event)) == []

    assert starts == [Upload(document.key, s3_event["detail"]["object"]["etag"]).execution_name()]
