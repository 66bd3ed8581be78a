"""Throughput of the whole pipeline in the local cloud: a batch through the real state
machines and handlers. `DOCFLOW_BENCH_DOCUMENTS` sets the batch size (default 60)."""

from __future__ import annotations

import os
import time

import pytest

from docflow_cli.batch import InputFile, submit_batch, wait_for_batch
from localcloud import LocalCloud
from samples import LOREM, make_image, make_pdf

DOCUMENTS = int(os.environ.get("DOCFLOW_BENCH_DOCUMENTS", "60"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[InputFile]:
    folder = tmp_path_factory.mktemp("batch")
    files = []
    for number in range(DOCUMENTS):
        if number % 2:
            path, data = folder / f"doc-{number}.pdf", make_pdf([LOREM * 5] * 4)
        else:
            path, data = folder / f"photo-{number}.jpg", make_image("JPEG", (1600, 1200))
        path.write_bytes(data)
        files.append(InputFile(path, path.name))
    return files


def test_batch_throughput(benchmark, inputs, tmp_path):
    with LocalCloud(tmp_path / "cloud") as cloud:
        s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")

        def run_batch() -> dict:
            batch = submit_batch(s3, sfn, cloud.bucket, cloud.state_machines["batch"], inputs)
            return wait_for_batch(s3, sfn, cloud.bucket, batch, interval=0.2)

        started = time.monotonic()
        report = benchmark.pedantic(run_batch, rounds=1, iterations=1)
        elapsed = time.monotonic() - started
    assert report["summary"]["succeeded"] == DOCUMENTS
    benchmark.extra_info["documents_per_second"] = round(DOCUMENTS / elapsed, 2)
    print(f"\n{DOCUMENTS} documents in {elapsed:.1f} s: {DOCUMENTS / elapsed:.2f} documents/s")
