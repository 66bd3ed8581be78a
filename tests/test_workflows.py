"""The state machines in statemachine/, executed by moto's ASL interpreter in the local
cloud, with the real handlers in worker processes."""

from __future__ import annotations

import io
import json
import re
import uuid

import pytest
from PIL import Image

from docflow import keys
from docflow.admission import batch_input
from localcloud import LocalCloud
from samples import LOREM, make_image, make_pdf

pytestmark = pytest.mark.local_cloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    with LocalCloud(tmp_path_factory.mktemp("cloud")) as cloud:
        yield cloud


def upload(cloud: LocalCloud, filename: str, data: bytes) -> dict:
    document_id = uuid.uuid4().hex
    key = keys.upload_key(document_id, filename)
    cloud.client("s3").put_object(Bucket=cloud.bucket, Key=key, Body=data)
    return {"document_id": document_id, "key": key, "filename": filename}


def process(cloud: LocalCloud, document: dict) -> tuple[dict, dict]:
    """Runs the document workflow; returns its execution and the recorded result."""
    sfn = cloud.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=cloud.state_machines["document"], name=document["document_id"], input=json.dumps(document)
    )
    finished = cloud.wait_for_execution(execution["executionArn"], timeout=120)
    assert finished["status"] == "SUCCEEDED", finished
    return finished, read_json(cloud, keys.result_key(document["document_id"]))


def read_json(cloud: LocalCloud, key: str):
    return json.loads(read_bytes(cloud, key))


def read_bytes(cloud: LocalCloud, key: str) -> bytes:
    return cloud.client("s3").get_object(Bucket=cloud.bucket, Key=key)["Body"].read()


def state_payloads(cloud: LocalCloud, execution_arn: str) -> list[str]:
    """Every input and output the execution's states passed along."""
    history = cloud.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    payloads = []
    for event in history["events"]:
        for details in event.values():
            if isinstance(details, dict):
                payloads += [details[field] for field in ("input", "output") if isinstance(details.get(field), str)]
    return payloads


def test_a_pdf_is_detected_extracted_and_analysed(cloud):
    document = upload(cloud, "report.pdf", make_pdf([LOREM, LOREM * 2, "documents " * 50]))
    execution, result = process(cloud, document)
    assert json.loads(execution["output"]) == {
        "document_id": document["document_id"],
        "status": "succeeded",
        "error_code": None,
    }
    assert result["status"] == "succeeded"
    assert (result["kind"], result["mime_type"], result["page_count"]) == ("pdf", "application/pdf", 3)
    assert result["keywords"][0]["word"] == "documents"
    text = read_bytes(cloud, result["text_key"]).decode()
    assert "Serverless document processing" in text
    assert result["word_count"] == len(text.split())


def test_an_image_gets_a_thumbnail(cloud):
    document = upload(cloud, "wide.png", make_image("PNG", (900, 300)))
    _, result = process(cloud, document)
    assert (result["status"], result["kind"]) == ("succeeded", "image")
    thumbnail = Image.open(io.BytesIO(read_bytes(cloud, result["thumbnail_key"])))
    assert thumbnail.size == (300, 100)


def test_an_unsupported_file_is_skipped_with_its_code(cloud):
    document = upload(cloud, "notes.txt", b"plain text is not a document docflow processes\n")
    _, result = process(cloud, document)
    assert result["status"] == "skipped"
    assert result["error"]["code"] == "unsupported_type"
    assert result["mime_type"] == "text/plain"


def test_a_transient_failure_is_absorbed_by_retry(cloud):
    cloud.faults.fail_next("detect", times=2, error_type="TransientError")
    document = upload(cloud, "retried.pdf", make_pdf(["retry me"]))
    _, result = process(cloud, document)
    assert result["status"] == "succeeded"
    assert cloud.faults.delivered["detect"] >= 2
    assert cloud.faults.take("detect") is None  # both faults were met, then the real call succeeded


def test_a_permanent_failure_is_recorded_at_once_without_retry(cloud):
    cloud.faults.fail_next("extract", times=3, error_type="PdfCorrupt", message="xref table is broken")
    document = upload(cloud, "broken.pdf", make_pdf(["looks fine"]))
    _, result = process(cloud, document)
    assert result["status"] == "failed"
    assert result["error"] == {"code": "pdf_corrupt", "message": "xref table is broken"}
    assert cloud.faults.delivered["extract"] == 1  # not retried: two faults are still pending
    cloud.faults.take("extract"), cloud.faults.take("extract")


def test_a_lambda_timeout_is_recorded_as_timeout(cloud):
    cloud.faults.fail_next("thumbnail", error_type="Sandbox.Timedout", message="Task timed out after 60.00 seconds")
    document = upload(cloud, "slow.png", make_image("PNG", (64, 64)))
    _, result = process(cloud, document)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "timeout"


def test_no_document_content_travels_through_the_state(cloud):
    marker = "Xylophonequartz"
    pages = [f"{marker} " + "lorem ipsum dolor sit amet " * 200 for _ in range(60)]
    document = upload(cloud, "long.pdf", make_pdf(pages))
    execution, result = process(cloud, document)
    assert result["page_count"] == 60 and result["word_count"] > 60_000
    payloads = state_payloads(cloud, execution["executionArn"])
    assert payloads, "the execution history recorded no state input or output"
    assert all(marker not in payload and len(payload) < 4096 for payload in payloads)


def scanned_strips(texts: list[str], dpi: int = 200) -> bytes:
    """An image-only PDF of one short strip a page (the top of a letter, scanned): pages OCR
    reads in a fraction of a second, so that a scan of many parts stays quick to test."""
    import pypdfium2 as pdfium

    strips = [
        pdfium.PdfDocument(make_pdf([text]))[0].render(scale=dpi / 72, grayscale=True).to_pil().crop((0, 0, 1300, 260))
        for text in texts
    ]
    out = io.BytesIO()
    strips[0].save(out, format="PDF", resolution=dpi, save_all=True, append_images=strips[1:])
    return out.getvalue()


def test_a_scan_is_read_by_ocr_in_parts_side_by_side_and_joined_in_page_order(cloud):
    from docflow.ocr import PAGES_PER_PART

    count = PAGES_PER_PART * 2 + 1  # three parts
    texts = [f"Invoice number {4100 + page} for the warehouse delivery" for page in range(count)]
    document = upload(cloud, "scan.pdf", scanned_strips(texts))
    execution, result = process(cloud, document)
    assert (result["status"], result["page_count"], result["ocr_pages"], result["partial"]) == (
        "succeeded",
        count,
        count,
        False,
    )
    pages = read_bytes(cloud, result["text_key"]).decode().split("\f")
    assert [re.findall(r"\b41\d\d\b", page) for page in pages] == [[str(4100 + page)] for page in range(count)]
    assert result["word_count"] == sum(len(page.split()) for page in pages)
    parts = cloud.client("s3").list_objects_v2(Bucket=cloud.bucket, Prefix=f"documents/{document['document_id']}/ocr/")
    assert sorted(item["Key"].rsplit("/", 1)[1] for item in parts["Contents"]) == [
        "part-0000.json", "part-0001.json", "part-0002.json", "plan.json"
    ]  # fmt: skip
    # The state carries the parts' numbers, never pages or text.
    payloads = state_payloads(cloud, execution["executionArn"])
    assert all("warehouse delivery" not in payload and len(payload) < 4096 for payload in payloads)


def test_a_batch_reports_every_document_exactly_once(cloud):
    documents = [
        upload(cloud, "a.pdf", make_pdf([LOREM])),
        upload(cloud, "b.jpg", make_image("JPEG", (320, 640))),
        upload(cloud, "c.txt", b"text\n"),
        upload(cloud, "d.pdf", b"%PDF-1.4\nthis is not really a pdf"),
        upload(cloud, "a.pdf", make_pdf(["same name, different document"])),
    ]
    batch_id = uuid.uuid4().hex
    manifest_key = keys.manifest_key(batch_id)
    manifest = [{**document, "batch_id": batch_id} for document in documents]
    cloud.client("s3").put_object(Bucket=cloud.bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
    sfn = cloud.client("stepfunctions")
    execution = sfn.start_execution(
        stateMachineArn=cloud.state_machines["batch"],
        name=batch_id,
        input=json.dumps(batch_input(batch_id, manifest_key)),
    )
    finished = cloud.wait_for_execution(execution["executionArn"], timeout=300)
    assert finished["status"] == "SUCCEEDED", finished
    output = json.loads(finished["output"])
    report = read_json(cloud, output["report_key"])
    assert [entry["document_id"] for entry in report["documents"]] == [d["document_id"] for d in documents]
    assert [entry["status"] for entry in report["documents"]] == ["succeeded", "succeeded", "skipped", "failed", "succeeded"]
    assert report["documents"][3]["error"]["code"] == "pdf_corrupt"
    summary = report["summary"]
    assert (summary["total_documents"], summary["succeeded"], summary["failed"], summary["skipped"]) == (5, 3, 1, 1)
    assert summary["total_pages"] == 2
    assert len(finished["output"]) < 4096


# -- injected faults: every document still ends terminal; transient faults end succeeded ----------


def test_a_low_priority_batch_runs_its_children_one_at_a_time_to_the_same_report(cloud):
    documents = [upload(cloud, f"{n}.pdf", make_pdf([f"document {n}"])) for n in range(11)]  # two children
    batch_id = uuid.uuid4().hex
    manifest_key = keys.manifest_key(batch_id)
    manifest = [{**document, "batch_id": batch_id} for document in documents]
    cloud.client("s3").put_object(Bucket=cloud.bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
    start = batch_input(batch_id, manifest_key, "low")
    assert start["max_children"] == 1
    execution = cloud.client("stepfunctions").start_execution(
        stateMachineArn=cloud.state_machines["batch"], name=batch_id, input=json.dumps(start)
    )
    finished = cloud.wait_for_execution(execution["executionArn"], timeout=300)
    assert finished["status"] == "SUCCEEDED", finished
    report = read_json(cloud, json.loads(finished["output"])["report_key"])
    assert report["summary"]["succeeded"] == 11


def test_a_batch_whose_workflow_fails_is_recorded_and_announced_failed(cloud):
    """The manifest is gone: the Map cannot read it, the Catch records the batch failed
    (Batch Failed on the bus) and the execution fails, as it would have."""
    from docflow.dynamodb_records import DynamoRecordStore
    from docflow.records import BatchRecord

    records = DynamoRecordStore(cloud.table, cloud.client("dynamodb"))
    batch_id = uuid.uuid4().hex
    records.create_batch(BatchRecord(batch_id, "alice", 3, keys.manifest_key(batch_id), "running", "t0", "t0"))
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName=f"watch-{batch_id[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"watch-{batch_id[:8]}", EventBusName=cloud.event_bus, EventPattern=json.dumps({"source": ["docflow"]}))
    events.put_targets(Rule=f"watch-{batch_id[:8]}", EventBusName=cloud.event_bus, Targets=[{"Id": "q", "Arn": arn}])
    execution = cloud.client("stepfunctions").start_execution(
        stateMachineArn=cloud.state_machines["batch"], name=batch_id,
        input=json.dumps(batch_input(batch_id, keys.manifest_key(batch_id))),
    )  # fmt: skip
    finished = cloud.wait_for_execution(execution["executionArn"], timeout=120)
    assert (finished["status"], finished.get("error")) == ("FAILED", "BatchFailed")
    assert records.get_batch(batch_id).status == "failed"
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    announced = [json.loads(message["Body"]) for message in messages]
    assert [(e["detail-type"], e["detail"]["batch_id"]) for e in announced] == [("Batch Failed", batch_id)]


def test_a_worker_dying_mid_invocation_is_retried(cloud):
    cloud.faults.crash_next("extract")
    document = upload(cloud, "crash.pdf", make_pdf([LOREM]))
    finished, result = process(cloud, document)
    assert result["status"] == "succeeded" and result["page_count"] == 1
    failures = [e for e in _history(cloud, finished) if e["type"] == "LambdaFunctionFailed"]
    assert [f["lambdaFunctionFailedEventDetails"]["error"] for f in failures] == ["Runtime.ExitError"]


def test_a_lambda_throttle_is_retried(cloud):
    cloud.faults.throttle_next("thumbnail", times=2)
    document = upload(cloud, "busy.png", make_image("PNG", (640, 480)))
    _, result = process(cloud, document)
    assert result["status"] == "succeeded" and (result["thumbnail_width"], result["thumbnail_height"]) == (300, 225)
    assert cloud.faults.take("thumbnail") is None


def test_a_handler_overrunning_its_timeout_ends_failed_with_timeout(cloud):
    cloud.faults.overrun_next("analyze")
    document = upload(cloud, "long.pdf", make_pdf([LOREM]))
    _, result = process(cloud, document)
    assert (result["status"], result["error"]["code"]) == ("failed", "timeout")
    assert "Traceback" not in result["error"]["message"]


def test_a_share_of_s3_requests_failing_leaves_every_document_succeeded(cloud):
    documents = [upload(cloud, f"doc{n}.pdf", make_pdf([LOREM, f"page two of {n}"])) for n in range(4)]
    documents += [upload(cloud, f"img{n}.jpg", make_image("JPEG", (800, 600))) for n in range(4)]
    cloud.s3_gateway.faults.fail_share(0.25, seed=7)
    try:
        results = [process(cloud, document)[1] for document in documents]
    finally:
        cloud.s3_gateway.faults.fail_share(0.0)
    assert cloud.s3_gateway.faults.injected > 10  # S3 really did fail, often
    assert [result["status"] for result in results] == ["succeeded"] * len(documents)
    assert [result["page_count"] for result in results[:4]] == [2, 2, 2, 2]


def _history(cloud: LocalCloud, execution: dict) -> list[dict]:
    return cloud.client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])["events"]
