"""Canaries for localcloud/moto_patches.py: each fails when moto no longer behaves as the
patch it guards assumes (fixed upstream, or moved), so a patch never outlives its reason."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud, moto_patches

pytestmark = pytest.mark.local_cloud

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """One local cloud for the canaries that only need one running: each names its own
    state machines. (Those that check what starting or stopping a cloud does start their own.)"""
    with LocalCloud(tmp_path_factory.mktemp("cloud")) as running:
        yield running


def test_1_moto_still_needs_the_sfn_casing_shim(cloud):
    """Without the patches, moto cannot run startExecution.sync:2; with them, it can.
    When this fails because the first execution succeeded, moto has been fixed: delete patch 1."""

    sfn = cloud.client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/docflow-local"
    child = sfn.create_state_machine(
        name="child",
        roleArn=role,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    parent = sfn.create_state_machine(
        name="parent",
        roleArn=role,
        definition=json.dumps(
            {
                "StartAt": "Child",
                "States": {
                    "Child": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::states:startExecution.sync:2",
                        "Parameters": {"StateMachineArn": child, "Input": {"n": 1}, "Name.$": "$.name"},
                        "OutputPath": "$.Output",
                        "End": True,
                    }
                },
            }
        ),
    )["stateMachineArn"]

    def run(name: str) -> dict:
        started = sfn.start_execution(stateMachineArn=parent, name=name, input=json.dumps({"name": name}))
        return cloud.wait_for_execution(started["executionArn"], timeout=60)

    moto_patches.uninstall()
    try:
        unshimmed = run("without-shim")
    finally:
        moto_patches.install()
    assert unshimmed["status"] == "FAILED", "moto runs startExecution.sync:2 by itself now: remove patch 1"
    shimmed = run("with-shim")
    assert shimmed["status"] == "SUCCEEDED" and json.loads(shimmed["output"]) == {"n": 1}


def test_2_moto_still_polls_child_executions_on_a_timer():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback

    assert state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK >= 0.1, (
        "moto no longer polls slowly: drop patch 2"
    )
    assert moto_patches._original["build_sync2_resolver"] is not None


def test_3_moto_still_builds_a_client_per_call():
    build = moto_patches._original["boto_client_for"]
    assert build("us-east-1", "lambda") is not build("us-east-1", "lambda"), "moto shares its clients: drop patch 3"


def test_3_4_patched_clients_are_shared_and_answered_in_process(cloud):
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    first = lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda")
    assert first is lambda_eval_utils.boto_client_for(region="us-east-1", service="lambda")
    # No endpoint of its own: moto's stubber answers it without a socket.
    assert "amazonaws.com" in first.meta.endpoint_url
    moto_patches.uninstall()
    try:
        assert lambda_eval_utils.boto_client_for is moto_patches._original["boto_client_for"]
    finally:
        moto_patches.install()


def test_5_moto_still_parses_the_definition_at_every_start(cloud, monkeypatch):
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parses = []
    original = moto_patches._original["parse"]

    def counting(definition):
        parses.append(definition)
        return original(definition)

    moto_patches.uninstall()
    monkeypatch.setattr(AmazonStateLanguageParser, "parse", staticmethod(counting))
    try:
        sfn = cloud.client("stepfunctions")
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
        machine = sfn.create_state_machine(
            name="pass", roleArn="arn:aws:iam::123456789012:role/r", definition=definition
        )
        parses.clear()
        for name in ("one", "two"):
            arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=name)["executionArn"]
            assert cloud.wait_for_execution(arn, timeout=30)["status"] == "SUCCEEDED"
    finally:
        monkeypatch.undo()
        moto_patches.install()
    assert parses.count(definition) == 2, "moto no longer parses at every start: drop patch 5"


def test_5_a_kept_parse_tree_still_gives_each_execution_its_own_components():
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    first, tree = moto_patches._parse(definition)
    second, same_tree = moto_patches._parse(definition)
    assert tree is same_tree and first is not second
    moto_patches._trees.clear()


def test_6_moto_still_lists_a_class_methods_at_every_request():
    from moto.stepfunctions.responses import StepFunctionResponse

    list_methods = moto_patches._original["method_names_from_class"]
    assert list_methods(StepFunctionResponse) is not list_methods(StepFunctionResponse), (
        "moto caches them: drop patch 6"
    )


def test_7_moto_still_scans_its_package_for_every_host(monkeypatch):
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    scans = []
    original = backends.list_of_moto_modules
    monkeypatch.setattr(backends, "list_of_moto_modules", lambda: scans.append(1) or original())
    dispatcher = DomainDispatcherApplication(create_backend_app)
    for _ in range(2):
        moto_patches._original["get_backend_for_host"](dispatcher, "s3.us-east-1.amazonaws.com")
    assert len(scans) == 2, "moto no longer scans its package per request: drop patch 7"


def test_patches_make_a_batch_of_child_executions_quick(cloud):
    """Not a timing target (make bench has those): a child's end is seen when it ends, not at
    moto's next half-second poll, so ten one-state children run in well under 10 x 0.5 s."""
    sfn = cloud.client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/docflow-local"
    child = sfn.create_state_machine(
        name="chain-child",
        roleArn=role,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    chain = {
        f"C{i}": {
            "Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child, "Name": f"child-{i}", "Input": {}},
            "ResultPath": None,
            "Next": f"C{i + 1}",
        }
        for i in range(10)
    }
    chain["C9"].pop("Next")
    chain["C9"]["End"] = True
    parent = sfn.create_state_machine(
        name="chain-parent", roleArn=role, definition=json.dumps({"StartAt": "C0", "States": chain})
    )
    started = time.monotonic()
    arn = sfn.start_execution(stateMachineArn=parent["stateMachineArn"], name="parent")["executionArn"]
    ended = cloud.wait_for_execution(arn, timeout=60, interval=0.02)
    assert ended["status"] == "SUCCEEDED", (ended.get("error"), ended.get("cause"))
    assert time.monotonic() - started < 10 * 0.5


def test_8_moto_still_imports_ec2_for_the_interpreters_batch_integration():
    """In a fresh interpreter: moto's own import of its Batch integration loads moto.ec2,
    and moto_patches' import of the interpreter does not, yet leaves moto.batch whole.
    When the first check fails, moto no longer drags EC2 in: delete patch 8."""
    batch_integration = "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch"
    unpatched = _fresh_python(f"import sys, {batch_integration}; print('moto.ec2' in sys.modules)")
    assert unpatched == "True", "moto's Batch integration no longer imports EC2: drop patch 8"
    patched = _fresh_python(
        "import sys, localcloud.moto_patches; print('moto.ec2' in sys.modules);"
        "from moto.batch import batch_backends; print('moto.ec2' in sys.modules)"
    )
    assert patched == "False\nTrue", "the interpreter loaded EC2, or moto.batch is not whole afterwards"


def _fresh_python(code: str) -> str:
    import subprocess
    import sys
    from pathlib import Path

    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout.strip()


def test_9_jsonpath_ng_still_builds_a_parser_for_every_path():
    """Unpatched, moto parses each JSONPath anew; patched, one parse serves every use.
    When the first check fails, jsonpath_ng or moto caches parses itself: drop patch 9."""
    from jsonpath_ng import parse as plain_parse
    from jsonpath_ng.ext import parse as extended_parse
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    assert extended_parse("$.detection.kind") is not extended_parse("$.detection.kind"), (
        "jsonpath_ng caches: drop patch 9"
    )
    assert plain_parse("$.detection") is not plain_parse("$.detection")
    moto_patches.install()
    try:
        assert json_path.parse("$.detection.kind") is json_path.parse("$.detection.kind")
        assert result_path.parse("$.detection") is result_path.parse("$.detection")
        assert json_path.extract_json("$.detection.kind", {"detection": {"kind": "pdf"}}) == "pdf"
        assert json_path.extract_json("$.detection.kind", {"detection": {"kind": "image"}}) == "image"
    finally:
        moto_patches.uninstall()
    assert json_path.parse is extended_parse and result_path.parse is plain_parse


def _records_table(dynamodb):
    dynamodb.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )  # fmt: skip
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "batch"}, "sk": {"S": "counter"}, "done": {"N": "1"}})
    return dynamodb


def _transaction(dynamodb, document: str, expected_done: str):
    """docflow's shape: mark a document once, and count it."""
    from botocore.exceptions import ClientError

    try:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "batch"}, "sk": {"S": document}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "batch"}, "sk": {"S": "counter"}},
                        "UpdateExpression": "SET done = done + :one", "ConditionExpression": "done = :expected",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":expected": {"N": expected_done}}}},
        ])  # fmt: skip
        return "written"
    except ClientError as error:
        return error.response["Error"]["Code"]


def _items(dynamodb) -> dict[str, str | None]:
    return {item["sk"]["S"]: item.get("done", {}).get("N") for item in dynamodb.scan(TableName="t")["Items"]}


def test_10_moto_still_copies_whole_tables_for_a_transaction(cloud):
    """Unpatched, a failed transaction replaces the table with a deep copy made before it;
    patched, the table stays and only the transaction's own items are put back. When the
    first check fails, moto no longer copies tables: drop patch 10."""
    import copy

    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends["123456789012"]["us-east-1"]
    dynamodb = _records_table(cloud.client("dynamodb"))
    moto_patches.uninstall()
    try:
        table = backend.tables["t"]
        assert _transaction(dynamodb, "doc-1", expected_done="5") == "TransactionCanceledException"
        assert backend.tables["t"] is not table, "moto kept the table through a failed transaction: drop patch 10"
    finally:
        moto_patches.install()

    table = backend.tables["t"]
    # The Put succeeds before the Update's condition fails: both are undone.
    assert _transaction(dynamodb, "doc-1", expected_done="5") == "TransactionCanceledException"
    assert backend.tables["t"] is table
    assert _items(dynamodb) == {"counter": "1"}
    assert _transaction(dynamodb, "doc-1", expected_done="1") == "written"
    assert _items(dynamodb) == {"counter": "2", "doc-1": None}
    # Counted once: the same document again fails on its mark and changes nothing.
    assert _transaction(dynamodb, "doc-1", expected_done="2") == "TransactionCanceledException"
    assert _items(dynamodb) == {"counter": "2", "doc-1": None}
    assert copy.deepcopy(table) is not table  # outside a transaction a table still copies


def test_11_moto_dynamodb_still_writes_without_a_lock():
    """moto's DynamoDB answers requests from many threads with no lock of its own. When this
    fails, moto locks its writes: drop patch 11."""
    import inspect

    from moto.dynamodb.models import DynamoDBBackend

    for name in moto_patches._DYNAMODB_WRITES:
        source = inspect.getsource(moto_patches._original[f"dynamodb_{name}"])
        assert "lock" not in source.lower(), f"moto's DynamoDB {name} takes a lock now: drop patch 11"
    assert not any("lock" in name.lower() for name in vars(DynamoDBBackend)), "moto's DynamoDB has a lock now"


def test_11_a_batch_counted_from_many_threads_counts_each_document_once(cloud):
    """docflow's batch progress, counted over HTTP from 8 threads at once as the record
    step's invocations do, with a quarter of the documents counted twice (retried steps)."""
    import uuid
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    from docflow.dynamodb_records import DynamoRecordStore, batch_pk

    client = boto3.client("dynamodb", endpoint_url=cloud.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local")  # fmt: skip
    store = DynamoRecordStore(cloud.table, client)
    for _ in range(2):
        batch_id = uuid.uuid4().hex
        client.put_item(TableName=cloud.table, Item={**batch_pk(batch_id), "done": {"N": "0"}, "failed": {"N": "0"}})
        documents = [uuid.uuid4().hex for _ in range(400)]
        with ThreadPoolExecutor(8) as pool:
            counted = list(
                pool.map(lambda d: store.count_in_batch(batch_id, d, False, "now"), documents + documents[:100])
            )
        assert counted.count(True) == 400
        item = client.get_item(TableName=cloud.table, Key=batch_pk(batch_id), ConsistentRead=True)["Item"]
        assert item["done"]["N"] == "400"


def test_1_moto_still_passes_aws_sdk_parameters_as_written():
    """moto's aws-sdk integration hands boto3 `StateMachineArn` as the ASL spells it. When this
    fails, moto converts the casing itself: drop patch 1's aws-sdk half."""
    parameters = {"StateMachineArn": "arn", "Input": "{}"}
    service = moto_patches._AwsSdkService.__new__(moto_patches._AwsSdkService)
    moto_patches._original["aws_sdk_normalise_parameters"](service, parameters, "stepfunctions", "start_sync_execution")
    assert parameters == {"StateMachineArn": "arn", "Input": "{}"}, (
        "moto recases aws-sdk parameters now: drop patch 1's aws-sdk half"
    )
    moto_patches._aws_sdk_normalise_parameters(service, parameters, "stepfunctions", "start_sync_execution")
    assert parameters == {"stateMachineArn": "arn", "input": "{}"}


BATCHED_MAP = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemBatcher": {"MaxItemsPerBatch": 3},
            "ToleratedFailurePercentage": 100,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "Count",
                "States": {
                    "Count": {"Type": "Pass", "Parameters": {"size.$": "States.ArrayLength($.Items)"}, "End": True}
                },
            },
            "End": True,
        }
    },
}


def test_12_moto_still_refuses_express_children_item_batchers_and_whole_percentages():
    """moto's grammar refuses each of the three; when one parses, drop that part of patch 12."""
    import copy

    parse = moto_patches._original["parse"]
    for change in ("ItemBatcher", "ExecutionType", "ToleratedFailurePercentage"):
        definition = copy.deepcopy(BATCHED_MAP)
        state = definition["States"]["Each"]
        # Each time, only the one construct under test is left as AWS writes it.
        if change != "ItemBatcher":
            state.pop("ItemBatcher")
        if change != "ExecutionType":
            state["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "STANDARD"
        if change != "ToleratedFailurePercentage":
            state["ToleratedFailurePercentage"] = 100.0
        with pytest.raises(Exception):
            parse(json.dumps(definition))


def test_12_a_batched_map_gives_each_child_its_items_and_counts_items(cloud):
    from botocore.exceptions import ClientError

    sfn = cloud.client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/docflow-local"
    machine = sfn.create_state_machine(name="batched", roleArn=role, definition=json.dumps(BATCHED_MAP))[
        "stateMachineArn"
    ]
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"items": list(range(7))}))["executionArn"]
    ended = cloud.wait_for_execution(arn, timeout=60)
    assert ended["status"] == "SUCCEEDED", (ended.get("error"), ended.get("cause"))
    assert json.loads(ended["output"]) == [{"size": 3}, {"size": 3}, {"size": 1}]
    (map_run,) = sfn.list_map_runs(executionArn=arn)["mapRuns"]
    described = sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])
    assert (described["itemCounts"]["total"], described["itemCounts"]["succeeded"]) == (7, 7)
    assert described["executionCounts"]["total"] == 3

    unsupported = json.loads(json.dumps(BATCHED_MAP))
    unsupported["States"]["Each"]["ItemBatcher"]["MaxInputBytesPerBatch"] = 1024
    with pytest.raises(ClientError, match="MaxInputBytesPerBatch"):
        sfn.create_state_machine(name="unsupported", roleArn=role, definition=json.dumps(unsupported))


def test_13_moto_still_lacks_sync_starts_and_reuses_express_names(cloud):
    """When moto answers StartSyncExecution, or starts an Express name again, drop that half of patch 13."""
    from moto.stepfunctions.responses import StepFunctionResponse

    sfn = cloud.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    machine = sfn.create_state_machine(
        name="express-names", definition=definition, roleArn="arn:aws:iam::123456789012:role/r", type="EXPRESS"
    )
    moto_patches.uninstall()
    try:
        assert not hasattr(StepFunctionResponse, "start_sync_execution"), (
            "moto has StartSyncExecution: drop it from patch 13"
        )
        first = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="same", input="{}")["executionArn"]
        try:  # moto answers with the running execution, or refuses once it has ended
            again = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="same", input="{}")[
                "executionArn"
            ]
        except sfn.exceptions.ExecutionAlreadyExists:
            again = first
    finally:
        moto_patches.install()
    assert first == again, "moto starts a repeated Express name again: drop that half of patch 13"


def test_13_express_starts_always_run_and_sync_starts_answer_as_aws_does(cloud):
    sfn = cloud.client("stepfunctions")
    role = "arn:aws:iam::123456789012:role/docflow-local"
    echo = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "Parameters": {"seen.$": "$.n"}, "End": True}}}
    machine = sfn.create_state_machine(name="echo", roleArn=role, definition=json.dumps(echo), type="EXPRESS")[
        "stateMachineArn"
    ]

    answers = [
        sfn.start_sync_execution(stateMachineArn=machine, name="same", input=json.dumps({"n": n})) for n in (1, 1, 2)
    ]
    assert [answer["status"] for answer in answers] == ["SUCCEEDED"] * 3
    assert [json.loads(answer["output"]) for answer in answers] == [{"seen": 1}, {"seen": 1}, {"seen": 2}]
    assert len({answer["executionArn"] for answer in answers}) == 3  # each start ran

    failing = {"StartAt": "Fail", "States": {"Fail": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}}}
    broken = sfn.create_state_machine(name="broken", roleArn=role, definition=json.dumps(failing), type="EXPRESS")
    answer = sfn.start_sync_execution(stateMachineArn=broken["stateMachineArn"], input="{}")
    assert (answer["status"], answer["error"], answer["cause"]) == ("FAILED", "Broken", "on purpose")


def test_14_only_the_latest_ended_express_executions_are_kept(cloud, monkeypatch):
    """moto keeps every execution (the canary); patched, an Express machine keeps its latest
    EXPRESS_EXECUTIONS_KEPT ended ones, here made 5 to keep the test short."""
    monkeypatch.setattr(moto_patches, "EXPRESS_EXECUTIONS_KEPT", 5)
    monkeypatch.setattr(moto_patches, "_PRUNE_EVERY", 2)
    sfn = cloud.client("stepfunctions")
    definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
    role = "arn:aws:iam::123456789012:role/r"
    express = sfn.create_state_machine(name="express-kept", definition=definition, roleArn=role, type="EXPRESS")[
        "stateMachineArn"
    ]
    standard = sfn.create_state_machine(name="standard-kept", definition=definition, roleArn=role)["stateMachineArn"]
    for machine in (express, standard):
        for n in range(20):
            arn = sfn.start_execution(stateMachineArn=machine, name=f"run-{n}")["executionArn"]
            cloud.wait_for_execution(arn, timeout=30, interval=0.01)
    kept = [e["name"] for e in sfn.list_executions(stateMachineArn=express)["executions"]]
    assert 5 <= len(kept) < 5 + 2 and "run-19" in kept and "run-0" not in kept
    assert len(sfn.list_executions(stateMachineArn=standard)["executions"]) == 20  # moto keeps every one


def test_15_an_sqs_receive_no_longer_recounts_the_queue_for_each_message(cloud, monkeypatch):
    """Unpatched, receiving 10 messages computes the queue's attributes (a pass over every
    message) 10 times; patched, not once, and a message past its retention is still not
    handed out. When the first count is 0, moto reads the period directly: drop patch 15."""
    from moto.sqs.models import Queue

    computed = []
    attributes = Queue.attributes
    monkeypatch.setattr(Queue, "attributes", property(lambda queue: computed.append(1) or attributes.fget(queue)))
    sqs = cloud.client("sqs")
    queue = sqs.create_queue(QueueName="recount")["QueueUrl"]
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": str(n), "MessageBody": str(n)} for n in range(10)])

    moto_patches.uninstall()
    try:
        assert len(sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]) == 10
    finally:
        moto_patches.install()
    assert len(computed) >= 10, "moto no longer recounts the queue per message: drop patch 15"
    computed.clear()
    assert len(sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]) == 10
    assert computed == []

    expiring = sqs.create_queue(QueueName="expiring", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=expiring, MessageBody="old")
    monkeypatch.setattr(moto_patches, "unix_time", lambda: time.time() + 61)
    assert sqs.receive_message(QueueUrl=expiring).get("Messages", []) == []


def test_13_a_sync_start_past_express_limit_answers_timed_out(cloud, monkeypatch):
    monkeypatch.setattr(moto_patches, "EXPRESS_LIMIT_SECONDS", 0.5)
    sfn = cloud.client("stepfunctions")
    slow = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 5, "End": True}}}
    machine = sfn.create_state_machine(
        name="slow", roleArn="arn:aws:iam::123456789012:role/r", definition=json.dumps(slow), type="EXPRESS"
    )
    answer = sfn.start_sync_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
    assert (answer["status"], answer["error"]) == ("TIMED_OUT", "States.Timeout")
    assert sfn.describe_execution(executionArn=answer["executionArn"])["status"] != "RUNNING"


def test_16_percentiles_are_answered_as_cloudwatch_answers_them(cloud):
    """Unpatched, moto fails to answer a query for p95 (its None cannot be serialised);
    patched, it answers the nearest-rank percentile. When the unpatched query answers,
    moto knows percentiles: drop patch 16."""
    from datetime import UTC, datetime, timedelta

    import boto3
    from botocore.config import Config

    cloudwatch = boto3.client(
        "cloudwatch", endpoint_url=cloud.endpoint_url, region_name="us-east-1", aws_access_key_id="local",
        aws_secret_access_key="local", config=Config(retries={"max_attempts": 1}),  # moto's 500 at once
    )  # fmt: skip
    now = datetime.now(UTC)
    cloudwatch.put_metric_data(
        Namespace="Canary",
        MetricData=[{"MetricName": "Duration", "Value": float(v), "Timestamp": now} for v in range(1, 101)],
    )
    queries = [
        {
            "Id": f"q{n}",
            "MetricStat": {"Metric": {"Namespace": "Canary", "MetricName": "Duration"}, "Period": 3600, "Stat": stat},
        }
        for n, stat in enumerate(("p50", "p95", "p99.9", "Maximum"))
    ]

    def answered() -> list[list[float]]:
        results = cloudwatch.get_metric_data(
            MetricDataQueries=queries, StartTime=now - timedelta(hours=1), EndTime=now + timedelta(minutes=1)
        )
        return [result["Values"] for result in results["MetricDataResults"]]

    moto_patches.uninstall()
    try:
        with pytest.raises(ClientError, match="InternalError|InternalFailure|500"):
            answered()
    finally:
        moto_patches.install()
    assert answered() == [[50.0], [95.0], [100.0], [100.0]]


def test_17_a_timeout_pruned_in_a_stopping_execution_still_pushes_its_seconds(cloud):
    """Unpatched, moto pushes nothing for a timeout once its execution stops, and the `.sync`
    task that pops it next takes its own output for the timeout. When the unpatched stack
    holds the seconds, moto evaluates it anyway: drop patch 17."""
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    class StoppedExecution:
        def __init__(self) -> None:
            self.stack: list = [{"ExecutionArn": "the task's output"}]

        def is_running(self) -> bool:
            return False

    unpatched = StoppedExecution()
    moto_patches.uninstall()
    try:
        TimeoutSeconds(60).eval(unpatched)
    finally:
        moto_patches.install()
    assert unpatched.stack.pop() == {"ExecutionArn": "the task's output"}, "moto evaluates it now: drop patch 17"
    patched = StoppedExecution()
    TimeoutSeconds(60).eval(patched)
    assert patched.stack.pop() == 60


def test_17_a_threads_uncaught_exception_goes_to_the_cloud_log_not_the_terminal(tmp_path):
    """In a process of its own: pytest puts its own hook for threads' exceptions around each test."""
    script = (
        "import threading, sys\n"
        "from localcloud import LocalCloud\n"
        f"with LocalCloud({str(tmp_path)!r}):\n"
        "    def fail(): raise TypeError(\"'>' not supported between instances of 'dict' and 'int'\")\n"
        "    thread = threading.Thread(target=fail, name='WaitForTaskToken_SyncTask_x'); thread.start(); thread.join()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "TypeError" not in done.stderr
    log = (tmp_path / "logs" / "cloud.log").read_text()
    assert "WaitForTaskToken_SyncTask_x ended with an uncaught exception" in log and "TypeError: '>'" in log
