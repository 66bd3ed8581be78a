from __future__ import annotations

import os

import pytest

from corpus import CORPUS, corpus_files, corpus_images, corpus_pdfs  # noqa: F401  (fixtures)

# Tests never reach AWS: fake credentials, one region, and Powertools kept quiet.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="docflow",
    POWERTOOLS_SERVICE_NAME="docflow-tests",
    DOCFLOW_BUCKET="docflow-test-documents",
    DOCFLOW_TABLE="docflow-test-records",
    DOCFLOW_EVENT_BUS="docflow-test-events",
    DOCFLOW_DELIVERIES_QUEUE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/docflow-test-deliveries",
    DOCFLOW_LOW_LANE_URL="https://sqs.us-east-1.amazonaws.com/123456789012/docflow-test-admit",
    DOCFLOW_SCHEDULE_GROUP="docflow-test",
    DOCFLOW_SCHEDULER_ROLE_ARN="arn:aws:iam::123456789012:role/docflow-test-scheduler",
    DOCFLOW_JOBS_FUNCTION_ARN="arn:aws:lambda:us-east-1:123456789012:function:docflow-test-jobs",
)
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")  # the CDK tests run on Node 20
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture
def aws():
    """moto's in-process AWS with docflow's bucket and records table, as deployed."""
    from moto import mock_aws

    from docflow.dynamodb_records import create_table

    # moto's state is new for every test; boto3's default session is kept, so its service
    # models and endpoint rules load once per run rather than once per test (0.6 s each).
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        import boto3

        # A default session made before moto was imported (by a CLI test, say) would send
        # its clients to AWS: one made now carries moto's handler, and is kept from then on.
        if not getattr(boto3.DEFAULT_SESSION, "made_under_moto", False):
            boto3.setup_default_session()
            boto3.DEFAULT_SESSION.made_under_moto = True
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=os.environ["DOCFLOW_BUCKET"])
        create_table(boto3.client("dynamodb", region_name="us-east-1"), os.environ["DOCFLOW_TABLE"])
        boto3.client("events", region_name="us-east-1").create_event_bus(Name=os.environ["DOCFLOW_EVENT_BUS"])
        boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="docflow-test-deliveries")
        boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="docflow-test-admit")
        boto3.client("scheduler", region_name="us-east-1").create_schedule_group(Name=os.environ["DOCFLOW_SCHEDULE_GROUP"])
        yield


@pytest.fixture
def event_publisher(aws):
    """A real EventBridgePublisher on moto's EventBridge, putting on the test's bus."""
    import boto3

    from docflow.notifications import EventBridgePublisher

    return EventBridgePublisher(os.environ["DOCFLOW_EVENT_BUS"], boto3.client("events", region_name="us-east-1"))


@pytest.fixture
def published(aws):
    """What docflow puts on its bus during the test, as EventBridge delivers it to a rule's
    target: call it for the events so far, each {"detail-type", "detail", ...}."""
    import json

    import boto3

    from docflow.notifications import EVENT_PATTERN

    sqs, events = boto3.client("sqs", region_name="us-east-1"), boto3.client("events", region_name="us-east-1")
    url = sqs.create_queue(QueueName="docflow-test-published")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = os.environ["DOCFLOW_EVENT_BUS"]
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps(EVENT_PATTERN))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "capture", "Arn": arn}])
    seen: list[dict] = []

    def read() -> list[dict]:
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            seen.extend(json.loads(message["Body"]) for message in messages)
            sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages])
        return seen

    return read


@pytest.fixture
def s3_store(aws):
    """A real S3ObjectStore on moto's in-process S3."""
    import boto3

    from docflow.storage import S3ObjectStore

    return S3ObjectStore(os.environ["DOCFLOW_BUCKET"], boto3.client("s3", region_name="us-east-1"))


@pytest.fixture
def record_store(aws):
    """A real DynamoRecordStore on moto's in-process DynamoDB."""
    import boto3

    from docflow.dynamodb_records import DynamoRecordStore

    return DynamoRecordStore(os.environ["DOCFLOW_TABLE"], boto3.client("dynamodb", region_name="us-east-1"))


@pytest.fixture
def state_machines(aws) -> dict[str, str]:
    """docflow-document and docflow-batch in moto's in-process Step Functions, as one-state
    Pass machines of the catalog's types: tests see what was started, with which name and input."""
    import json

    import boto3

    from infra.catalog import workflow_types

    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    role = "arn:aws:iam::123456789012:role/docflow"
    return {
        name: sfn.create_state_machine(name=f"docflow-{name}", definition=definition, roleArn=role, type=kind)["stateMachineArn"]
        for name, kind in workflow_types().items()
    }


# -- longest modules first --------------------------------------------------------------------
# `make test` spreads whole modules over one worker per core (--dist loadscope). Handed out in
# file order, a long module late in the list leaves one worker busy while the other idles, so
# modules are ordered by how long each took in the last whole run (kept in pytest's cache),
# longest first. A run with no record keeps file order; tests within a module keep theirs.

_MODULE_SECONDS = "docflow/module-seconds"
_WHOLE_RUN = 100  # tests: a run of fewer (one module, -k) does not set the order
_measured: dict[str, float] = {}  # seconds by module, this run


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    seconds = config.cache.get(_MODULE_SECONDS, {}) if config.cache is not None else {}
    if seconds:
        items.sort(key=lambda item: -seconds.get(_module(item.nodeid), 0.0))


def pytest_runtest_logreport(report):
    # The controller of an xdist run sees every worker's reports here.
    _measured[_module(report.nodeid)] = _measured.get(_module(report.nodeid), 0.0) + report.duration


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    if hasattr(config, "workerinput") or config.cache is None or session.testscollected < _WHOLE_RUN:
        return
    config.cache.set(_MODULE_SECONDS, {module: round(total, 2) for module, total in _measured.items()})
