"""benchmarks/costs.py: the cost model of a docflow run, per 1,000 documents.

The fake run below is priced by hand, line by line, from the list prices; the routes are
walked through the real statemachine/*.asl.json."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import costs  # noqa: E402
from benchmarks.costs import Outcome  # noqa: E402

# -- the routes, from the real definitions --------------------------------------------------


@pytest.fixture(scope="module")
def definitions():
    return costs.load_definitions()


def test_a_pdf_that_succeeds_is_detected_extracted_analysed_and_recorded(definitions):
    assert costs.document_route(Outcome("pdf"), definitions) == [
        "Detect", "RouteByKind", "ExtractText", "NeedsOcr", "AnalyzeText", "RecordOutcome"
    ]  # fmt: skip
    assert costs.transitions(Outcome("pdf"), definitions) == 6


def test_a_scanned_pdf_is_read_by_ocr_in_parts_then_joined(definitions):
    scan = Outcome.from_report({"kind": "pdf", "status": "succeeded", "page_count": 15, "ocr_pages": 15})
    assert scan.ocr_parts == 3  # of 5 pages
    route = costs.document_route(scan, definitions)
    assert route == [
        "Detect", "RouteByKind", "ExtractText", "NeedsOcr", "ListOcrParts", "ReadByOcr",
        "ReadOcrPart", "ReadOcrPart", "ReadOcrPart", "JoinText", "AnalyzeText", "RecordOutcome",
    ]  # fmt: skip
    assert costs.functions_on(definitions["document"], route) == [
        "detect", "extract", "ocr", "ocr", "ocr", "join", "analyze", "record"
    ]  # fmt: skip


def test_an_image_is_detected_thumbnailed_read_analysed_and_recorded(definitions):
    assert costs.document_route(Outcome("image"), definitions) == [
        "Detect", "RouteByKind", "MakeThumbnail", "TextOfImage", "AnalyzeText", "RecordOutcome"
    ]  # fmt: skip
    assert costs.transitions(Outcome("image"), definitions) == 6


def test_an_unsupported_file_goes_from_the_choice_straight_to_the_record(definitions):
    skipped = Outcome("unsupported", "skipped")
    assert costs.document_route(skipped, definitions) == ["Detect", "RouteByKind", "RecordOutcome"]
    assert costs.transitions(skipped, definitions) == 3


def test_a_failure_at_extract_is_caught_and_recorded(definitions):
    encrypted = Outcome.from_report({"kind": "pdf", "status": "failed", "page_count": None, "error": {"code": "pdf_encrypted"}})
    assert encrypted.failing_function() == "extract"
    assert costs.document_route(encrypted, definitions) == ["Detect", "RouteByKind", "ExtractText", "RecordOutcome"]
    assert costs.transitions(encrypted, definitions) == 4


def test_other_failures_leave_by_their_own_step(definitions):
    # No kind: detect failed (empty file, too large, gone).
    assert costs.document_route(Outcome(None, "failed"), definitions) == ["Detect", "RecordOutcome"]
    # Extract counted the pages, so analyze is what failed.
    analysed = Outcome.from_report({"kind": "pdf", "status": "failed", "page_count": 3})
    assert costs.document_route(analysed, definitions) == [
        "Detect", "RouteByKind", "ExtractText", "NeedsOcr", "AnalyzeText", "RecordOutcome"
    ]  # fmt: skip
    corrupt_image = Outcome.from_report({"kind": "image", "status": "failed", "page_count": None})
    assert costs.document_route(corrupt_image, definitions) == ["Detect", "RouteByKind", "MakeThumbnail", "RecordOutcome"]


def test_the_batch_workflow_starts_an_express_child_per_10_documents_and_costs_two_states_a_batch(definitions):
    children = costs.map_children(definitions)
    assert (children.items_per_child, children.express, children.concurrency) == (10, True, 40)
    assert costs.batch_route(definitions) == ["ProcessDocuments", "WriteReport"]
    assert [costs.child_executions(n, 1, children) for n in (1, 10, 11, 10_000)] == [1, 1, 2, 1000]


def test_a_changed_definition_changes_the_count(definitions):
    changed = copy.deepcopy(definitions)
    states = changed["document"]["States"]
    states["AnalyzeText"]["Next"] = "Pause"
    states["Pause"] = {"Type": "Pass", "Next": "RecordOutcome"}
    assert costs.transitions(Outcome("pdf"), changed) == 7
    assert costs.transitions(Outcome("image"), changed) == 7


def test_a_choice_the_walker_cannot_read_is_an_error_not_a_default(definitions):
    changed = copy.deepcopy(definitions)
    changed["document"]["States"]["RouteByKind"]["Choices"][0] = {
        "Variable": "$.detection.kind", "StringMatches": "pdf*", "Next": "ExtractText"
    }  # fmt: skip
    with pytest.raises(ValueError, match="Choice rule"):
        costs.document_route(Outcome("pdf"), changed)


# -- a fake run, priced by hand -----------------------------------------------------------------

# 4 documents, so per 1,000 documents is x 250.
DOCUMENTS = [
    {"filename": "a.pdf", "status": "succeeded", "kind": "pdf", "page_count": 1, "error": None},
    {"filename": "b.png", "status": "succeeded", "kind": "image", "page_count": None, "error": None},
    {"filename": "c.pdf", "status": "failed", "kind": "pdf", "page_count": None, "error": {"code": "pdf_encrypted"}},
    {"filename": "d.txt", "status": "skipped", "kind": "unsupported", "page_count": None, "error": {"code": "unsupported_type"}},
]
INVOCATIONS = [
    # function, memory, duration, init, status
    ("ingest", 256, 40.0, None, "ok"),
    ("detect", 256, 99.2, 400.5, "ok"),  # billed ceil(499.7) = 500 ms
    ("detect", 256, 100.0, None, "ok"),
    ("detect", 256, 100.0, None, "ok"),
    ("detect", 256, 100.0, None, "ok"),
    ("extract", 1024, 300.0, 200.0, "ok"),
    ("extract", 1024, 250.4, None, "TransientError"),  # retried: one more transition; billed 251 ms
    ("extract", 1024, 249.0, None, "PdfEncrypted"),
    ("analyze", 512, 200.0, None, "ok"),
    ("thumbnail", 1024, 400.0, None, "ok"),
    ("analyze", 512, 200.0, None, "ok"),  # the image's text
    ("record", 256, 50.0, None, "ok"),
    ("record", 256, 50.0, None, "ok"),
    ("record", 256, 50.0, None, "ok"),
    ("record", 256, 50.0, None, "ok"),
    ("report", 1024, 100.0, None, "ok"),
]
REQUESTS = {
    "dynamodb": {"CreateTable": 1, "UpdateTimeToLive": 1, "GetItem": 4, "UpdateItem": 5, "TransactWriteItems": 4},
    "events": {"PutRule": 1, "PutTargets": 1, "PutEvents": 2},
    "iam": {"POST ": 1},
    "lambda": {"POST 2015-03-31": 9},
    "monitoring": {"PutMetricData": 1},
    "s3": {"PutBucket": 2, "PutObject": 10, "ListObjects": 1, "GetObject": 12, "HeadObject": 3, "DELETEObject": 1},
    "sqs": {"CreateQueue": 2, "GetQueueAttributes": 2, "ReceiveMessage": 5, "DeleteMessageBatch": 1},
    "states": {"CreateStateMachine": 2, "StartExecution": 1, "DescribeExecution": 5},
    "unsigned": {"POST moto-api": 1},
}
FUNCTION_LOG_BYTES = {"detect.log": 1000, "extract.log": 2000, "record.log": 1096}  # 4,096 bytes


@pytest.fixture
def fake_out(tmp_path):
    out = tmp_path / "out"
    logs = out / ".local-cloud" / "logs"
    logs.mkdir(parents=True)
    (out / "report.json").write_text(json.dumps({"batch_id": "b", "summary": {"total_documents": 4}, "documents": DOCUMENTS}))
    lines = [
        json.dumps({"function": f, "memory_mb": m, "duration_ms": d, "init_ms": i, "wait_ms": 3.0, "status": s})
        for f, m, d, i, s in INVOCATIONS
    ]
    (logs / "invocations.jsonl").write_text("\n".join(lines) + "\n")
    (logs / "requests.json").write_text(json.dumps(REQUESTS))
    for name, size in FUNCTION_LOG_BYTES.items():
        (logs / name).write_bytes(b"x" * size)
    (logs / "cloud.log").write_bytes(b"y" * 5000)  # the local cloud's, not a function's
    (logs / "zygote.log").write_bytes(b"z" * 700)
    return out


PER_1000 = 1000 / 4
# Lambda: billed ms (init included, rounded up to the ms) x GB:
#   detect 500+100+100+100 ms at 0.25 GB = 0.2; extract 500+251+249 ms at 1 GB = 1.0;
#   analyze 2 x 0.2 s at 0.5 GB = 0.2; thumbnail 0.4; record 4 x 50 ms at 0.25 GB = 0.05;
#   report 0.1; ingest 40 ms at 0.25 GB = 0.01: 1.96 GB-s; 16 requests.
LAMBDA = (1.96 * 0.0000133334 + 16 * 0.20 / 1e6) * PER_1000
# The batch, as deployed on both sides: its 2 states and 1 Express child for its 4 documents
# (10 a child), whose start is a transition: 3 transitions. The child lasts its longest
# document, 974.625 ms (below), billed 1,000 ms at 64 MB = 0.0625 GB-s, and one request.
BATCH_CHILD = 1 * 1.00 / 1e6 + 0.0625 * 0.00001667
# Standard: routes 6 (pdf, through the choice of OCR) + 6 (image) + 4 (pdf failed at
# extract) + 3 (unsupported) = 19, one retry of extract, the batch's 3: 23 transitions.
SFN_STANDARD = (23 * 0.000025 + BATCH_CHILD) * PER_1000
# Express: per document visit, detect 899.7/4 = 224.925 ms, extract 999.4/2 = 499.7 (its
# retry included), analyze 200, thumbnail 400, record 50. Routes: pdf 974.625 -> 1,000 ms,
# image (its text analysed too) 874.925 -> 900, failed pdf 774.625 -> 800, unsupported
# 274.925 -> 300: 3.0 s at 64 MB = 0.1875 GB-s; 4 executions; the batch's 3 transitions and
# its child.
SFN_EXPRESS = (4 * 1.00 / 1e6 + 0.1875 * 0.00001667 + 3 * 0.000025 + BATCH_CHILD) * PER_1000
# S3: 10 PUT + 1 LIST; 12 GET + 3 HEAD + the Map's read of the manifest (PutBucket: setup;
# DELETE: free).
S3 = (11 * 0.005 / 1000 + 16 * 0.0004 / 1000) * PER_1000
# DynamoDB: 5 UpdateItem + 4 transactions x 2 items x 2 WRU = 21 WRU; 4 strongly consistent GetItem = 4 RRU.
DYNAMODB = (21 * 0.625 / 1e6 + 4 * 0.125 / 1e6) * PER_1000
# SQS: 5 receives + 1 delete batch + 4 deliveries of the uploads' events (setup left out).
SQS = 10 * 0.40 / 1e6 * PER_1000
EVENTBRIDGE = 2 * 1.00 / 1e6 * PER_1000
LOGS = 4096 / 1024**3 * 0.50 * PER_1000


def test_a_run_is_priced_per_1000_documents_as_computed_by_hand(fake_out):
    report = costs.price_run(fake_out)
    lines = {line.service: line for line in report.services}
    assert report.documents == 4
    assert lines["Lambda (arm64)"].standard == pytest.approx(LAMBDA, rel=1e-9)
    assert lines["Lambda (arm64)"].express == pytest.approx(LAMBDA, rel=1e-9)
    assert lines["Step Functions"].standard == pytest.approx(SFN_STANDARD, rel=1e-9)
    assert lines["Step Functions"].express == pytest.approx(SFN_EXPRESS, rel=1e-9)
    assert lines["S3 requests"].standard == pytest.approx(S3, rel=1e-9)
    assert lines["DynamoDB (on demand)"].standard == pytest.approx(DYNAMODB, rel=1e-9)
    assert lines["SQS"].standard == pytest.approx(SQS, rel=1e-9)
    assert lines["EventBridge"].standard == pytest.approx(EVENTBRIDGE, rel=1e-9)
    assert lines["API Gateway (REST)"].standard == 0
    assert lines["CloudWatch Logs"].standard == pytest.approx(LOGS, rel=1e-9)
    common = LAMBDA + S3 + DYNAMODB + SQS + EVENTBRIDGE + LOGS
    assert report.standard_total == pytest.approx(SFN_STANDARD + common, rel=1e-9)
    assert report.express_total == pytest.approx(SFN_EXPRESS + common, rel=1e-9)
    assert report.standard_total == pytest.approx(0.17233, abs=1e-5)  # the sum, once more by hand
    assert report.express_total == pytest.approx(0.04911, abs=1e-5)


def test_the_counts_used_are_reported(fake_out):
    report = costs.price_run(fake_out)
    assert report.counts["standard_transitions"] == 23
    assert report.counts["batch_child_executions"] == 1
    assert report.counts["batch_child_gb_seconds"] == pytest.approx(0.0625)
    assert report.counts["retry_transitions"] == 1
    assert report.counts["lambda_invocations"] == 16
    assert report.counts["lambda_cold_starts"] == 2
    assert report.counts["lambda_gb_seconds"] == pytest.approx(1.96)
    assert report.counts["express_gb_seconds"] == pytest.approx(0.1875)
    assert report.counts["s3_put_post_list"] == 11 and report.counts["s3_get_head_other"] == 16
    assert report.counts["dynamodb_write_units"] == 21 and report.counts["dynamodb_read_units"] == 4
    assert report.counts["function_log_bytes"] == 4096
    assert {(r.kind, r.status, r.documents, r.transitions, r.express_billed_ms) for r in report.routes} == {
        ("pdf", "succeeded", 1, 6, 1000),
        ("image", "succeeded", 1, 6, 900),
        ("pdf", "failed", 1, 4, 800),
        ("unsupported", "skipped", 1, 3, 300),
    }
    assert report.unpriced == {"monitoring": {"PutMetricData": 1}}  # shown, not silently dropped


def test_the_queue_consumers_polls_are_inferred_when_the_local_cloud_made_them_in_process(fake_out):
    requests_json = fake_out / ".local-cloud" / "logs" / "requests.json"
    requests_json.write_text(json.dumps({**REQUESTS, "sqs": {}}))
    report = costs.price_run(fake_out)
    sqs = next(line for line in report.services if line.service == "SQS")
    # 4 deliveries of the uploads' events, and ingest's one invocation: its receive and its delete.
    assert sqs.standard == pytest.approx((4 + 2) * 0.40 / 1e6 * PER_1000, rel=1e-9)
    assert report.counts["sqs_requests_inferred"] == 6


def test_api_gateway_calls_can_be_added_per_document(fake_out):
    report = costs.price_run(fake_out, api_requests_per_document=5)
    api = next(line for line in report.services if line.service == "API Gateway (REST)")
    assert api.standard == pytest.approx(20 * 3.50 / 1e6 * PER_1000, rel=1e-9)


def test_the_table_shows_both_workflows_and_the_target(fake_out):
    text = costs.format_costs(costs.price_run(fake_out))
    assert "Standard" in text and "Express" in text
    assert "0.17233" in text and "0.04911" in text
    assert text.count("MISS") == 1 and " ok" in text  # Standard is over $0.05, Express within it
    assert "Detect > RouteByKind > ExtractText > NeedsOcr > AnalyzeText > RecordOutcome" in text


def test_a_folder_that_is_not_a_run_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="report.json"):
        costs.price_run(tmp_path)
