"""Pass references, not payloads: no state payload grows with the number of documents in a
batch or the pages of a PDF. Two batches (3 and 12 documents, PDFs of 1 to 30 pages and
PNGs) run through the real state machines in the local cloud; then every input and output
their executions' histories recorded (the batch execution's and each document execution's)
is measured and compared.

Sizes are compared twice: raw, within a few bytes (ids and timestamps are of fixed length,
but counts gain digits), and in a canonical form (JSON with every number set to 0 and every
timestamp to one token), which must be equal to the byte: there a list that gains an entry
per document, even an empty `{}`, shows."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from docflow_cli.batch import Batch, InputFile, submit_batch, wait_for_batch
from localcloud import LocalCloud
from samples import LOREM, make_image, make_pdf

pytestmark = pytest.mark.local_cloud

SMALL, LARGE = 3, 12
DOCUMENT_PAYLOAD_LIMIT = 4096  # bytes: an outcome's summary and some keys, never content
RAW_SLACK = 32  # bytes: counts that gain a digit or two from the smaller run to the larger
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})?$")


# -- the documents: names of one length, so that only what the state carries can differ ------


def _pages(count: int) -> list[str]:
    """Every PDF's pages are LOREM, so its keywords (and the report's top ten) are the same
    words whatever its page count: only their counts change."""
    return [LOREM] * count


def _documents(count: int) -> list[tuple[str, bytes]]:
    """`count` documents, a 1-page PDF, a PNG and a 30-page PDF first, then others of both."""
    made = [("p01-000.pdf", make_pdf(_pages(1))), ("img-001.png", make_image("PNG", (96, 64))),
            ("p30-002.pdf", make_pdf(_pages(30)))]  # fmt: skip
    for number in range(len(made), count):
        if number % 3 == 1:
            made.append((f"img-{number:03d}.png", make_image("PNG", (64 + number, 48))))
        else:
            pages = 1 + (number * 7) % 12
            made.append((f"p{pages:02d}-{number:03d}.pdf", make_pdf(_pages(pages))))
    return made[:count]


# -- the histories ------------------------------------------------------------------------


def _history(sfn, execution_arn: str) -> Iterator[dict]:
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        yield from page["events"]


def _payloads(sfn, execution_arn: str) -> list[tuple[str, str]]:
    """(event type and field, payload) of every input and output in the execution's history."""
    found = []
    for event in _history(sfn, execution_arn):
        for name, details in event.items():
            if name.endswith("EventDetails") and isinstance(details, dict):
                for field in ("input", "output"):
                    if isinstance(details.get(field), str):
                        found.append((f"{event['type']}.{field}", details[field]))
    return found


def _canonical(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return 0
    if isinstance(value, str):
        return "T" if _TIMESTAMP.match(value) else value
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return {key: _canonical(item) for key, item in value.items()}


def _canonical_size(payload: str) -> int:
    try:
        return len(json.dumps(_canonical(json.loads(payload)), separators=(",", ":")))
    except ValueError:
        return len(payload)


class Profile:
    """The largest payload of each kind of event of an execution, raw and canonical."""

    def __init__(self, payloads: list[tuple[str, str]]):
        self.raw: dict[str, int] = {}
        self.canonical: dict[str, int] = {}
        for kind, payload in payloads:
            self.raw[kind] = max(self.raw.get(kind, 0), len(payload.encode()))
            self.canonical[kind] = max(self.canonical.get(kind, 0), _canonical_size(payload))

    @property
    def largest(self) -> int:
        return max(self.raw.values())


class Run:
    def __init__(self, batch: Batch, report: dict, batch_profile: Profile, documents: dict[str, Profile]):
        self.batch, self.report, self.batch_profile, self.documents = batch, report, batch_profile, documents

    def profile_of(self, filename: str) -> Profile:
        document_id = next(d["document_id"] for d in self.batch.documents if d["filename"] == filename)
        return self.documents[document_id]


def _run(cloud: LocalCloud, folder: Path, count: int) -> Run:
    folder.mkdir()
    files = []
    for name, data in _documents(count):
        (folder / name).write_bytes(data)
        files.append(InputFile(folder / name, name))
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    batch = submit_batch(s3, sfn, cloud.bucket, cloud.state_machines["batch"], files)
    report = wait_for_batch(s3, sfn, cloud.bucket, batch, interval=0.2, timeout=120)
    children = [
        execution
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=cloud.state_machines["document"])
        for execution in page["executions"]
        if execution["name"].startswith(f"{batch.batch_id}-")
    ]
    by_document = {}
    for execution in children:
        document_id = execution["name"].removeprefix(f"{batch.batch_id}-")
        by_document[document_id] = Profile(_payloads(sfn, execution["executionArn"]))
    return Run(batch, report, Profile(_payloads(sfn, batch.execution_arn)), by_document)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, Run]:
    root = tmp_path_factory.mktemp("payloads")
    with LocalCloud(root / "cloud") as cloud:
        return {count: _run(cloud, root / f"batch-{count}", count) for count in (SMALL, LARGE)}


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [SMALL, LARGE])
def test_the_report_counts_every_document(runs, count):
    run = runs[count]
    summary = run.report["summary"]
    assert (summary["total_documents"], summary["succeeded"], summary["failed"], summary["skipped"]) == (count, count, 0, 0)
    assert sorted(entry["document_id"] for entry in run.report["documents"]) == sorted(
        document["document_id"] for document in run.batch.documents
    )
    # Every document ran in a child execution of its own, and each left a history to measure.
    assert set(run.documents) == {document["document_id"] for document in run.batch.documents}


def test_the_batch_executions_payloads_do_not_grow_with_its_documents(runs):
    small, large = runs[SMALL].batch_profile, runs[LARGE].batch_profile
    assert "MapStateExited.output" in small.canonical, f"no Map output in the history: {sorted(small.canonical)}"
    # The same events, each carrying the same structure: nothing gained an entry per document.
    assert large.canonical == small.canonical
    assert abs(large.largest - small.largest) <= RAW_SLACK, (small.raw, large.raw)
    for kind, size in large.raw.items():
        assert abs(size - small.raw[kind]) <= RAW_SLACK, (kind, small.raw[kind], size)


def test_every_document_executions_payloads_are_small(runs):
    for count, run in runs.items():
        for document_id, profile in run.documents.items():
            assert profile.largest < DOCUMENT_PAYLOAD_LIMIT, (count, document_id, profile.raw)


def test_a_documents_payloads_do_not_grow_with_its_pages(runs):
    run = runs[SMALL]
    one_page, thirty_pages = run.profile_of("p01-000.pdf"), run.profile_of("p30-002.pdf")
    assert "LambdaFunctionSucceeded.output" in one_page.canonical
    assert thirty_pages.canonical == one_page.canonical
    assert abs(thirty_pages.largest - one_page.largest) <= RAW_SLACK, (one_page.raw, thirty_pages.raw)
    # The report saw the pages: the 30-page PDF really was read through.
    pages = {entry["document_id"]: entry.get("page_count") for entry in run.report["documents"]}
    assert sorted(pages.values(), key=lambda n: n or 0) == [None, 1, 30]


def test_a_documents_payloads_are_the_same_in_a_larger_batch(runs):
    """The same kind of document carries the same state in a batch of 3 as in one of 12."""
    for filename in ("p01-000.pdf", "img-001.png", "p30-002.pdf"):
        assert runs[LARGE].profile_of(filename).canonical == runs[SMALL].profile_of(filename).canonical, filename
