"""Calls the real Lambda handlers in-process, as Lambda would."""

from __future__ import annotations

import importlib.util
import os
import time
import uuid
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"


class FakeContext:
    function_name = "docflow-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:docflow-test"
    log_group_name = "/aws/lambda/docflow-test"
    log_stream_name = "test"

    def __init__(self, seconds: float = 60):
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = time.time() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def load_handler(name: str):
    """functions/<name>/app.py's handler, imported afresh so its S3 client is made inside
    the test's moto mock."""
    path = FUNCTIONS / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"docflow_function_{name}_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def load_deployed_handler(name: str, monkeypatch, workflow_arns: dict[str, str]):
    """functions/<name>'s handler with the environment functions/catalog.toml gives it, as
    deployed: its ${...} names filled with the test's bucket, table and state machines."""
    from infra.catalog import load_catalog, substitute

    resources = {
        "DocumentsBucket": os.environ["DOCFLOW_BUCKET"],
        "RecordsTable": os.environ["DOCFLOW_TABLE"],
        "DocumentWorkflowArn": workflow_arns["document"],
        "BatchWorkflowArn": workflow_arns["batch"],
    }
    (spec,) = [spec for spec in load_catalog() if spec.name == name]
    for variable, value in spec.environment.items():
        monkeypatch.setenv(variable, substitute(value, resources))
    return load_handler(name)
