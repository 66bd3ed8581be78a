"""Calls the real Lambda handlers in-process, as Lambda would: loaded and given a context
by the local cloud's own worker code (localcloud/worker.py)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from infra.catalog import load_catalog, resource_values, substitute
from localcloud import worker

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"


def lambda_context(seconds: float = 60) -> worker.LambdaContext:
    """A Lambda context with `seconds` left, as the local cloud's workers make one."""
    return worker.LambdaContext(str(uuid.uuid4()), time.time() + seconds)


def load_handler(name: str):
    """functions/<name>'s handler, as the catalog names it, imported afresh (a new module
    each time), so that its clients are made inside the test's moto mock."""
    (spec,) = [spec for spec in load_catalog() if spec.name == name]
    return worker.load_handler(FUNCTIONS / name, spec.handler)


def load_deployed_handler(name: str, monkeypatch, workflow_arns: dict[str, str]):
    """functions/<name>'s handler with the environment functions/catalog.toml gives it, as
    deployed: its ${...} names filled with the test's bucket, table and state machines.

    Loaded once per environment and kept (a load takes a quarter of a second, mostly its
    boto3 clients): moto's state is new for every test, and the clients the module made
    reach whichever moto mock is active, so a kept handler sees only the test's own state."""
    resources = resource_values(
        os.environ["DOCFLOW_BUCKET"], os.environ["DOCFLOW_TABLE"], workflow_arns, os.environ["DOCFLOW_EVENT_BUS"],
        {"deliver": os.environ["DOCFLOW_DELIVERIES_QUEUE_URL"], "admit": os.environ["DOCFLOW_LOW_LANE_URL"]},
        {"jobs": os.environ["DOCFLOW_JOBS_FUNCTION_ARN"]},
        (os.environ["DOCFLOW_SCHEDULE_GROUP"], os.environ["DOCFLOW_SCHEDULER_ROLE_ARN"]),
    )  # fmt: skip
    (spec,) = [spec for spec in load_catalog() if spec.name == name]
    for variable, value in spec.environment.items():
        monkeypatch.setenv(variable, substitute(value, resources))
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(("DOCFLOW_", "AWS_", "POWERTOOLS_"))))
    key = (name, environment)
    if key not in _loaded:
        _loaded[key] = load_handler(name)
    return _loaded[key]


_loaded: dict[tuple, object] = {}
