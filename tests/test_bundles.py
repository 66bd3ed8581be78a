"""Each Lambda bundle runs its handler from the bundle alone.

The bundle is built as infra.bundles builds it for deployment, but for this machine's
architecture and Python so that its native wheels load here. Each handler then runs in a
fresh interpreter started with -I -S: no site-packages, no PYTHONPATH, nothing on sys.path
but the standard library, the bundle, and the SDK that Lambda's runtime provides (boto3
and its dependencies). An import the bundle lacks fails the test."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from docflow import keys
from docflow.dynamodb_records import create_table
from infra.bundles import RUNTIME_PROVIDED, build_bundle
from infra.catalog import load_catalog, substitute
from samples import joined, make_image, make_pdf, scanned

pytestmark = pytest.mark.local_cloud

ARCHITECTURE = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
BUCKET, TABLE = "docflow-bundle-test", "docflow-bundle-records"
SPECS = {spec.name: spec for spec in load_catalog()}


@pytest.fixture(scope="module")
def runtime_sdk(tmp_path_factory) -> Path:
    """What Lambda's Python runtime puts beside a bundle: boto3 and its dependencies."""
    sdk = tmp_path_factory.mktemp("runtime-sdk")
    site_packages = Path(boto3.__file__).resolve().parent.parent
    for name in RUNTIME_PROVIDED:
        for path in site_packages.glob(name):
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            copy(path, sdk / path.name)
    return sdk


@pytest.fixture(scope="module")
def moto_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its state per process: a local cloud that ran earlier in this worker left its
    # resources (its event bus of the same name, say). Start from none, as the local cloud does.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    session = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    boto3.client("s3", **session).create_bucket(Bucket=BUCKET)
    create_table(boto3.client("dynamodb", **session), TABLE)
    boto3.client("events", **session).create_event_bus(Name="docflow-events")
    yield endpoint, boto3.client("s3", **session)
    server.stop()


def run_from_bundle(name: str, event: dict, runtime_sdk: Path, endpoint: str, tmp_path: Path, fails: bool = False) -> dict:
    bundle = build_bundle(SPECS[name], ARCHITECTURE, PYTHON, build_dir=tmp_path.parent / "build")
    module, _, function = SPECS[name].handler.rpartition(".")
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path[:0] = [{str(bundle)!r}, {str(runtime_sdk)!r}]

        class Context:
            function_name = "docflow-{name}"; function_version = "$LATEST"; memory_limit_in_mb = 512
            invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:docflow-{name}"
            aws_request_id = "bundle-test"
            def get_remaining_time_in_millis(self): return 60000

        from {module} import {function} as handler
        result = handler(json.loads(sys.stdin.read()), Context())
        loaded = [line.split()[-1] for line in open("/proc/self/maps") if "libmagic" in line]
        ocr, languages = sys.modules.get("docflow.ocr"), __import__("os").environ.get("DOCFLOW_OCR_LANGUAGES")
        print(json.dumps({{"result": result, "modules": sorted(m.__file__ or "" for m in sys.modules.values()
                                                                if getattr(m, "__file__", None)),
                          "libmagic": sorted(set(loaded)),
                          "tessdata": str(ocr.tessdata_dir(languages)) if ocr and languages else None}}))
        """
    )
    resources = {
        "DocumentsBucket": BUCKET,
        "RecordsTable": TABLE,
        "DocumentWorkflowArn": "arn:aws:states:us-east-1:123456789012:stateMachine:docflow-document",
        "BatchWorkflowArn": "arn:aws:states:us-east-1:123456789012:stateMachine:docflow-batch",
        "EventBus": "docflow-events",
        "ScheduleGroup": "docflow-later",
        "SchedulerRoleArn": "arn:aws:iam::123456789012:role/docflow-scheduler",
        **{spec.arn_placeholder: f"arn:aws:lambda:us-east-1:123456789012:function:docflow-{spec.name}" for spec in SPECS.values()},
        **{spec.queue_placeholder: f"{endpoint}/123456789012/docflow-{spec.name}" for spec in SPECS.values() if spec.queue},
    }
    environment = {  # the function's own, as deployed, and what Lambda adds
        **{variable: substitute(value, resources) for variable, value in SPECS[name].environment.items()},
        "PATH": os.environ["PATH"],
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    }
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", script],
        input=json.dumps(event), env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if fails:  # as it should: what it said on the way out
        assert completed.returncode != 0, completed.stdout[-3000:]
        return {"stderr": completed.stderr}
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    outside = [path for path in answer["modules"] if not _inside(path, bundle, runtime_sdk)]
    assert outside == [], f"{name} imported code from outside its bundle"
    return answer


def _inside(path: str, bundle: Path, runtime_sdk: Path) -> bool:
    stdlib = Path(os.__file__).resolve().parent
    resolved = Path(path).resolve()
    return any(resolved.is_relative_to(root) for root in (bundle.resolve(), runtime_sdk.resolve(), stdlib))


def test_detect_runs_from_its_bundle_with_the_libmagic_it_ships(runtime_sdk, moto_endpoint, tmp_path):
    endpoint, s3 = moto_endpoint
    s3.put_object(Bucket=BUCKET, Key="uploads/d1/scan.png", Body=make_pdf(["misnamed"]))
    answer = run_from_bundle("detect", {"document_id": "d1", "key": "uploads/d1/scan.png", "filename": "scan.png"},
                             runtime_sdk, endpoint, tmp_path)  # fmt: skip
    assert answer["result"]["mime_type"] == "application/pdf" and answer["result"]["extension_mismatch"] is True
    assert answer["libmagic"], "libmagic was not loaded"
    assert all("/pylibmagic/" in path for path in answer["libmagic"]), answer["libmagic"]


def test_extract_ocr_join_and_analyze_run_from_their_bundles(runtime_sdk, moto_endpoint, tmp_path):
    endpoint, s3 = moto_endpoint
    pdf = joined(make_pdf(["Quarterly revenue grew", "Margins improved"]), scanned(make_pdf(["Revenue by region"])))
    s3.put_object(Bucket=BUCKET, Key="uploads/d2/r.pdf", Body=pdf)
    document = {"document_id": "d2", "key": "uploads/d2/r.pdf", "filename": "r.pdf"}
    answer = run_from_bundle("extract", document, runtime_sdk, endpoint, tmp_path)
    extracted = answer["result"]
    assert extracted["page_count"] == 3 and extracted["text_key"] == keys.text_key("d2")
    assert (extracted["ocr_parts"], extracted["ocr_pages"]) == (1, 0)
    assert "tesserocr" not in " ".join(answer["modules"])  # extract plans OCR; it does not run it
    part = run_from_bundle("ocr", {**document, "part": 0}, runtime_sdk, endpoint, tmp_path)
    assert part["result"] == {"read": 1, "failed": 0, "unread": 0}
    assert Path(part["tessdata"]).parent.name == "ocr"  # its own data
    joined_text = run_from_bundle("join", {**document, "extraction": extracted}, runtime_sdk, endpoint, tmp_path)
    assert joined_text["result"]["ocr_pages"] == 1
    analysed = run_from_bundle(
        "analyze", {**document, "extraction": joined_text["result"]}, runtime_sdk, endpoint, tmp_path
    )
    assert "region" in [keyword["word"] for keyword in analysed["result"]["keywords"]]


def test_thumbnail_runs_from_its_bundle(runtime_sdk, moto_endpoint, tmp_path):
    endpoint, s3 = moto_endpoint
    s3.put_object(Bucket=BUCKET, Key="uploads/d3/p.png", Body=make_image("PNG", (1200, 600)))
    answer = run_from_bundle("thumbnail", {"document_id": "d3", "key": "uploads/d3/p.png", "filename": "p.png"},
                             runtime_sdk, endpoint, tmp_path)  # fmt: skip
    assert (answer["result"]["width"], answer["result"]["height"]) == (300, 150)


def test_record_and_report_run_from_their_bundles(runtime_sdk, moto_endpoint, tmp_path):
    endpoint, s3 = moto_endpoint
    state = {"document_id": "d4", "key": "uploads/d4/x.txt", "filename": "x.txt",
             "detection": {"mime_type": "text/plain", "kind": "unsupported", "size_bytes": 3}}  # fmt: skip
    recorded = run_from_bundle("record", state, runtime_sdk, endpoint, tmp_path)["result"]
    assert recorded["status"] == "skipped"
    s3.put_object(Bucket=BUCKET, Key=keys.manifest_key("b1"), Body=json.dumps([{"document_id": "d4", "filename": "x.txt", "key": "k"}]))
    reported = run_from_bundle("report", {"batch_id": "b1", "manifest_key": keys.manifest_key("b1")}, runtime_sdk, endpoint, tmp_path)
    assert reported["result"]["summary"]["skipped"] == 1


def test_api_and_ingest_run_from_their_bundles(runtime_sdk, moto_endpoint, tmp_path):
    endpoint, _ = moto_endpoint
    health = {"httpMethod": "GET", "path": "/health", "headers": {}, "requestContext": {"identity": {}}, "body": None}
    assert json.loads(run_from_bundle("api", health, runtime_sdk, endpoint, tmp_path)["result"]["body"]) == {"status": "ok"}
    created = {"detail-type": "Object Created", "source": "aws.s3", "account": "123456789012", "id": "1", "version": "0",
               "time": "2026-01-01T00:00:00Z", "region": "us-east-1", "resources": [],
               "detail": {"version": "0", "bucket": {"name": BUCKET}, "object": {"key": "uploads/nobody/x.pdf", "etag": "e"},
                          "request-id": "r", "requester": "123456789012"}}
    message = {"messageId": "m1", "receiptHandle": "r", "body": json.dumps(created), "md5OfBody": "0",
               "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "s",
                              "ApproximateFirstReceiveTimestamp": "1"},
               "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
               "awsRegion": "us-east-1"}  # fmt: skip
    ingested = run_from_bundle("ingest", {"Records": [message]}, runtime_sdk, endpoint, tmp_path)
    assert ingested["result"] == {"batchItemFailures": []}  # no record: not docflow's upload, and not a failure


def test_notify_deliver_and_admit_run_from_their_bundles(runtime_sdk, moto_endpoint, tmp_path):
    endpoint, _ = moto_endpoint
    event = {"id": "e1", "time": "2026-11-30T12:00:00Z", "detail-type": "Document Succeeded", "source": "docflow",
             "detail": {"document_id": "d9", "owner": None}}  # fmt: skip
    delivery = {"delivery_id": "msg_1", "webhook_id": "gone", "type": "document.succeeded", "timestamp": "t", "data": {}}
    for name, body in (("notify", event), ("deliver", delivery)):
        message = {"messageId": "m1", "receiptHandle": "r", "body": json.dumps(body), "md5OfBody": "0",
                   "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "s",
                                  "ApproximateFirstReceiveTimestamp": "1"},
                   "messageAttributes": {}, "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
                   "awsRegion": "us-east-1"}  # fmt: skip
        # Nobody to notify, and a delivery whose webhook is gone: both handled, nothing failed.
        answer = run_from_bundle(name, {"Records": [message]}, runtime_sdk, endpoint, tmp_path)
        assert answer["result"] == {"batchItemFailures": []}, name
    # admit runs the document workflow synchronously, which this moto server cannot (the local cloud's can:
    # tests/test_serve.py): its code loads from its bundle and gets as far as asking Step Functions.
    queued = {"run": "r1", "document": {"document_id": "d9", "key": "uploads/d9/x.pdf", "filename": "x.pdf"}}
    message = {**message, "body": json.dumps(queued)}
    failed = run_from_bundle("admit", {"Records": [message]}, runtime_sdk, endpoint, tmp_path, fails=True)
    assert "StartSyncExecution" in failed["stderr"] and "ModuleNotFoundError" not in failed["stderr"]


def test_jobs_runs_from_its_bundle(runtime_sdk, moto_endpoint, tmp_path):
    endpoint, s3 = moto_endpoint
    report = run_from_bundle("jobs", {"job": "usage-report"}, runtime_sdk, endpoint, tmp_path)["result"]
    assert report["report_key"].startswith("reports/usage/")
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=report["report_key"])["Body"].read()) == report


def test_every_catalog_function_is_covered_here():
    tested = {"detect", "extract", "ocr", "join", "analyze", "thumbnail", "record", "report", "api", "ingest", "jobs",
              "notify", "deliver", "admit"}  # fmt: skip
    assert set(SPECS) == tested, "a new function needs its bundle tested here"


def test_builds_at_once_leave_one_whole_bundle(tmp_path):
    """pytest's workers and a synth may build the same bundle at the same moment; each build
    is swapped in whole, so none sees or leaves half of one."""
    from concurrent.futures import ThreadPoolExecutor

    spec = SPECS["record"]
    with ThreadPoolExecutor(4) as pool:
        bundles = list(pool.map(lambda _: build_bundle(spec, ARCHITECTURE, PYTHON, build_dir=tmp_path), range(4)))
    (bundle,) = set(bundles)
    assert (bundle / "pydantic" / "__init__.py").is_file() and (bundle / "docflow" / "dynamodb_records.py").is_file()
    assert [path.name for path in bundle.parent.iterdir()] == ["record"]  # no staging left behind
