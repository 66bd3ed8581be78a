"""jobs: the scheduled jobs, one function; EventBridge schedules send {"job": name}."""

from datetime import UTC, datetime
from importlib import resources
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from docflow.admission import EventBridgeScheduler, SqsLane
from docflow.dynamodb_records import DynamoRecordStore
from docflow.ingestion import Admission, Upload
from docflow.jobs import START, HealthCheckFailed, Job, cleanup, health_check, start, usage_report
from docflow.notifications import EventBridgePublisher
from docflow.runtime import logger, metrics, step
from docflow.storage import S3ObjectStore
from docflow.workflows import StepFunctionsWorkflows

store = S3ObjectStore.from_environment()
records = DynamoRecordStore.from_environment()
events = EventBridgePublisher.from_environment()
workflows = StepFunctionsWorkflows.from_environment()
admission = Admission(SqsLane.from_environment(), EventBridgeScheduler.from_environment())
CANARY = resources.files("docflow.data").joinpath("canary.pdf").read_bytes()


class JobRequest(BaseModel):
    job: Job | Literal["start"]
    # What a scheduled start names: an upload ({key, etag, version_id}) or a batch.
    upload: dict[str, Any] | None = None
    batch_id: str | None = None


@step(JobRequest)
def handler(request: JobRequest, context: LambdaContext) -> dict:
    now = datetime.now(UTC)
    logger.append_keys(job=request.job)
    result: dict[str, Any]
    if request.job == START:
        result = start(
            records, workflows, admission, events, now,
            Upload(**request.upload) if request.upload else None, request.batch_id,
        )  # fmt: skip
    elif request.job == "cleanup":
        result = cleanup(records, store, events, now)
        metrics.add_metric(name="DocumentsExpired", unit=MetricUnit.Count, value=result["expired"])
        metrics.add_metric(name="DocumentsStuckFailed", unit=MetricUnit.Count, value=result["stuck_failed"])
    elif request.job == "usage-report":
        result = usage_report(records, store, now)
        for status, count in result["by_status"].items():
            metrics.add_metric(name=f"Usage{status.capitalize()}", unit=MetricUnit.Count, value=count)
    else:
        try:
            result = health_check(records, store, now, CANARY)
        except HealthCheckFailed:
            metrics.add_metric(name="HealthCheckFailed", unit=MetricUnit.Count, value=1)
            raise
        metrics.add_metric(name="HealthCheckFailed", unit=MetricUnit.Count, value=0)
        metrics.add_metric(name="HealthCheckSeconds", unit=MetricUnit.Seconds, value=result["seconds"])
    logger.info("job done", extra={"result": result})
    return result
