"""Both state machines, as synthesised, executed by LocalStack's Step Functions interpreter on
every route, against the same routes in the local cloud (moto's interpreter, real handlers).

Each route first runs in the local cloud; what every Lambda task returned there (or the error
it raised) is recorded from the execution's history and becomes LocalStack's mocked result for
that task (SFN_MOCK_CONFIG), since LocalStack runs no Lambda without Docker. Then LocalStack
runs the definition from the synthesised template with the same input, and must take the same
route: the same states, entered with the same state (so ResultPath, Catch, Retry and Choice
agree), to the same end."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from on_localstack import (
    ACCOUNT,
    REGION,
    SFN_MOCK_CONFIG,
    client,
    require_endpoint,
    resources_of_type,
    synthesised_template,
)
from samples import LOREM, make_image, make_pdf

from docflow import keys
from docflow.admission import batch_input
from localcloud import LocalCloud
from localcloud.cloud import BUCKET
from localcloud.moto_patches import without_what_moto_cannot_parse

pytestmark = pytest.mark.localstack

# route -> (file name, content, a fault the local cloud injects: (function, error) or None)
DOCUMENT_ROUTES: dict[str, tuple[str, bytes, tuple[str, str] | None]] = {
    "pdf": ("report.pdf", make_pdf([LOREM, "documents " * 50]), None),
    "image": ("wide.png", make_image("PNG", (900, 300)), None),
    "unsupported": ("notes.txt", b"plain text is not a document docflow processes\n", None),
    # detect fails once with a retryable error, then succeeds: Retry, then the PDF route.
    "transient": ("retried.pdf", make_pdf(["retry me"]), ("detect", "TransientError")),
    # extract raises the handler's own PdfCorrupt: caught at once, recorded as failed.
    "permanent": ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", None),
}
BATCH_FILES = [("a.pdf", make_pdf([LOREM])), ("b.pdf", make_pdf(["a second document"]))]
# The batch's children run the document workflow under this test case: both documents are
# PDFs, so the mocks of the first one's run serve each (their outputs are dropped).
BATCH_DOCUMENTS_CASE = "batch-documents"
STANDARD_COPY = "-standard"


def as_localstack_parses(definition: str) -> str:
    """The definition with what LocalStack's community grammar (2026.3.0; moto's is a port of
    it) refuses rewritten (test_localstack_refuses_the_batch_workflow_as_written checks that it
    still does), by the local cloud's own rewrite for moto (localcloud/moto_patches.py, 12):
    a Map's Express children run as Standard, ToleratedFailurePercentage as a decimal, and its
    ItemBatcher taken out. Where moto then batches the items itself, here an ItemSelector gives
    each child its item in the batcher's shape, {"Items": [item]}: a child of one item, where
    AWS gives it up to n."""
    rewritten, batchers = without_what_moto_cannot_parse(definition)
    machine = json.loads(rewritten)
    for path in batchers:
        states, state = machine["States"], {}
        for name in path:
            state = states[name]
            states = (state.get("ItemProcessor") or {}).get("States", {})
        assert "ItemSelector" not in state
        state["ItemSelector"] = {"Items.$": "States.Array($$.Map.Item.Value)"}
    return json.dumps(machine)


def entered_states(events: list[dict]) -> list[tuple[str, Any]]:
    """(state name, the state it was entered with) for every state the execution entered."""
    return [
        (event["stateEnteredEventDetails"]["name"], json.loads(event["stateEnteredEventDetails"]["input"]))
        for event in events
        if event["type"].endswith("StateEntered")
    ]


def task_results(events: list[dict]) -> dict[str, list[dict]]:
    """Each Task state's results in order, as LocalStack's mock configuration words them: a
    Lambda's Return is its Invoke response ({StatusCode, Payload}); a Throw is its error."""
    results: dict[str, list[dict]] = {}
    state = ""
    for event in events:
        kind = event["type"]
        if kind == "TaskStateEntered":
            state = event["stateEnteredEventDetails"]["name"]
        elif kind == "LambdaFunctionSucceeded":
            payload = json.loads(event["lambdaFunctionSucceededEventDetails"]["output"])
            results.setdefault(state, []).append({"Return": {"StatusCode": 200, "Payload": payload}})
        elif kind in ("LambdaFunctionFailed", "TaskFailed"):
            details = next(value for key, value in event.items() if key.endswith("FailedEventDetails"))
            results.setdefault(state, []).append(
                {"Throw": {"Error": details["error"], "Cause": details.get("cause", "")}}
            )
    return results


class Recorded:
    """One route's run in the local cloud: its input, status, output and history (and a
    batch's manifest)."""

    def __init__(
        self, execution_input: dict, description: dict, events: list[dict], manifest: list[dict] | None = None
    ):
        self.input, self.status, self.events, self.manifest = execution_input, description["status"], events, manifest
        self.output = json.loads(description["output"]) if description.get("output") else None


def history(sfn, execution_arn: str) -> list[dict]:
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def upload(cloud: LocalCloud, filename: str, data: bytes) -> dict:
    document_id = uuid.uuid4().hex
    key = keys.upload_key(document_id, filename)
    cloud.client("s3").put_object(Bucket=cloud.bucket, Key=key, Body=data)
    return {"document_id": document_id, "key": key, "filename": filename}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> dict[str, Recorded]:
    """Every route run in the local cloud, with the real handlers."""
    runs: dict[str, Recorded] = {}
    with LocalCloud(tmp_path_factory.mktemp("cloud")) as cloud:
        sfn = cloud.client("stepfunctions")
        for route, (filename, data, fault) in DOCUMENT_ROUTES.items():
            if fault:
                cloud.faults.fail_next(fault[0], error_type=fault[1])
            document = upload(cloud, filename, data)
            arn = sfn.start_execution(
                stateMachineArn=cloud.state_machines["document"],
                name=document["document_id"],
                input=json.dumps(document),
            )["executionArn"]
            runs[route] = Recorded(document, cloud.wait_for_execution(arn, timeout=120), history(sfn, arn))
        batch_id = uuid.uuid4().hex
        manifest = [{**upload(cloud, name, data), "batch_id": batch_id} for name, data in BATCH_FILES]
        manifest_key = keys.manifest_key(batch_id)
        cloud.client("s3").put_object(Bucket=cloud.bucket, Key=manifest_key, Body=json.dumps(manifest).encode())
        execution_input = batch_input(batch_id, manifest_key)
        arn = sfn.start_execution(
            stateMachineArn=cloud.state_machines["batch"], name=batch_id, input=json.dumps(execution_input)
        )["executionArn"]
        runs["batch"] = Recorded(
            execution_input, cloud.wait_for_execution(arn, timeout=300), history(sfn, arn), manifest
        )
        # A child's document workflow, by the name the batch gives it: its tasks' results.
        child = f"{batch_id}-{manifest[0]['document_id']}"
        executions = sfn.list_executions(stateMachineArn=cloud.state_machines["document"])["executions"]
        child_arn = next(execution["executionArn"] for execution in executions if execution["name"] == child)
        runs[BATCH_DOCUMENTS_CASE] = Recorded(
            manifest[0], sfn.describe_execution(executionArn=child_arn), history(sfn, child_arn)
        )
    return runs


def resolve(value: Any, template: dict, bucket: str) -> str:
    """A definition substitution's value as it would be deployed into LocalStack's account."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(resolve(part, template, bucket) for part in parts)
    if "Ref" in value:
        pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
        if value["Ref"] in pseudo:
            return pseudo[value["Ref"]]
        assert template["Resources"][value["Ref"]]["Type"] == "AWS::S3::Bucket", value
        return bucket
    logical_id, attribute = value["Fn::GetAtt"]
    resource = template["Resources"][logical_id]
    assert (resource["Type"], attribute) == ("AWS::Lambda::Function", "Arn"), value
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{resource['Properties']['FunctionName']}"


@pytest.fixture(scope="module")
def on_localstack(recorded) -> Iterator[dict[str, str]]:
    """Both state machines created in LocalStack from the synthesised template, and the
    recorded results written as its mock configuration: {workflow: state machine ARN}."""
    require_endpoint()
    template = synthesised_template()
    bucket = BUCKET  # the local cloud's: the recorded inputs and outputs name it
    machines = {}
    for resource in resources_of_type(template, "AWS::StepFunctions::StateMachine").values():
        properties = resource["Properties"]
        definition = properties["DefinitionString"]
        for name, value in properties["DefinitionSubstitutions"].items():
            resolved = resolve(value, template, bucket)
            if name == "DocumentWorkflowArn":  # the batch's children run under their test case
                resolved += f"#{BATCH_DOCUMENTS_CASE}"
            definition = definition.replace("${" + name + "}", resolved)
        machines[properties["StateMachineName"]] = (definition, properties["StateMachineType"])
    machines = {name: (as_localstack_parses(definition), kind) for name, (definition, kind) in machines.items()}
    document = next(name for name in machines if name.endswith("-document"))
    batch = next(name for name in machines if name.endswith("-batch"))

    cases = {document: [*DOCUMENT_ROUTES, BATCH_DOCUMENTS_CASE], batch: ["batch"]}
    # Step Functions keeps no history of an Express execution (LocalStack neither): the
    # document workflow is created a second time as Standard, for its routes' histories.
    machines[f"{document}{STANDARD_COPY}"] = (machines[document][0], "STANDARD")
    cases[f"{document}{STANDARD_COPY}"] = cases[document]
    sfn, s3 = client("stepfunctions"), client("s3")
    arns = {}
    for name, (definition, kind) in machines.items():
        for existing in sfn.list_state_machines()["stateMachines"]:
            if existing["name"] == name:  # left by an earlier run against the same LocalStack
                sfn.delete_state_machine(stateMachineArn=existing["stateMachineArn"])
        arns[name] = sfn.create_state_machine(
            name=name, definition=definition, type=kind, roleArn=f"arn:aws:iam::{ACCOUNT}:role/docflow-workflows"
        )["stateMachineArn"]
    mock = {"StateMachines": {}, "MockedResponses": {}}
    for machine, routes in cases.items():
        test_cases = mock["StateMachines"].setdefault(machine, {"TestCases": {}})["TestCases"]
        for route in routes:
            test_cases[route] = {}
            for state, results in task_results(recorded[route].events).items():
                if state == "ProcessDocument":
                    continue  # not a Lambda: LocalStack starts the document workflow itself
                test_cases[route][state] = f"{route}.{state}"
                mock["MockedResponses"][f"{route}.{state}"] = {str(n): result for n, result in enumerate(results)}
    SFN_MOCK_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    SFN_MOCK_CONFIG.write_text(json.dumps(mock, indent=1))

    # The batch reads its manifest from the bucket, as deployed.
    if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=bucket)
    batch_run = recorded["batch"]
    s3.put_object(Bucket=bucket, Key=batch_run.input["manifest_key"], Body=json.dumps(batch_run.manifest).encode())
    yield {"document": arns[document], "document-standard": arns[f"{document}{STANDARD_COPY}"], "batch": arns[batch]}
    for arn in arns.values():  # their names are the stack's: test_localstack_deploy.py creates them too
        sfn.delete_state_machine(stateMachineArn=arn)


def run_on_localstack(state_machine_arn: str, case: str, execution_input: dict) -> tuple[dict, list[dict]]:
    sfn = client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=f"{state_machine_arn}#{case}",
        name=f"{case}-{uuid.uuid4().hex[:12]}",
        input=json.dumps(execution_input),
    )["executionArn"]
    deadline = time.monotonic() + 120
    while (description := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still running"
        time.sleep(0.2)
    return description, history(sfn, arn)


@pytest.mark.parametrize("route", list(DOCUMENT_ROUTES))
def test_the_document_workflow_takes_the_local_clouds_route_on_localstack(route, recorded, on_localstack):
    local = recorded[route]
    # As deployed: Express, run synchronously, as the batch's children run it.
    sync = client("stepfunctions").start_sync_execution(
        stateMachineArn=f"{on_localstack['document']}#{route}",
        name=f"{route}-{uuid.uuid4().hex[:12]}",
        input=json.dumps(local.input),
    )
    assert (sync["status"], json.loads(sync.get("output") or "null")) == (local.status, local.output), sync
    # The same definition as Standard, for its history.
    description, events = run_on_localstack(on_localstack["document-standard"], route, local.input)
    assert (description["status"], json.loads(description.get("output") or "null")) == (local.status, local.output)
    assert entered_states(events) == entered_states(local.events)
    assert task_results(events) == task_results(local.events)  # every mocked result was met, in order


def test_each_route_ends_as_docflow_says_it_should(recorded):
    """The recordings are the routes they are named after (so the comparisons above compare them)."""
    outcomes = {
        route: (run.status, run.output["status"], run.output["error_code"])
        for route, run in recorded.items()
        if route in DOCUMENT_ROUTES
    }
    assert outcomes == {
        "pdf": ("SUCCEEDED", "succeeded", None),
        "image": ("SUCCEEDED", "succeeded", None),
        "unsupported": ("SUCCEEDED", "skipped", "unsupported_type"),
        "transient": ("SUCCEEDED", "succeeded", None),
        "permanent": ("SUCCEEDED", "failed", "pdf_corrupt"),
    }
    states = {route: [name for name, _ in entered_states(recorded[route].events)] for route in DOCUMENT_ROUTES}
    assert states["pdf"] == ["Detect", "RouteByKind", "ExtractText", "NeedsOcr", "AnalyzeText", "RecordOutcome"]
    assert states["image"] == ["Detect", "RouteByKind", "MakeThumbnail", "TextOfImage", "AnalyzeText", "RecordOutcome"]
    assert states["unsupported"] == ["Detect", "RouteByKind", "RecordOutcome"]
    assert states["permanent"] == ["Detect", "RouteByKind", "ExtractText", "RecordOutcome"]
    assert [result.keys() for result in task_results(recorded["transient"].events)["Detect"]] == [{"Throw"}, {"Return"}]


def test_the_batch_runs_its_documents_through_the_document_workflow_on_localstack(recorded, on_localstack):
    """The Distributed Map reads the manifest from S3, starts an Express child per 10
    documents, and each starts the document workflow synchronously; then the report."""
    local = recorded["batch"]
    description, events = run_on_localstack(on_localstack["batch"], "batch", local.input)
    assert (description["status"], json.loads(description.get("output") or "null")) == (local.status, local.output)
    assert entered_states(events) == entered_states(local.events)
    # One child per manifest entry (the ItemBatcher's rewrite: a child of one item), each
    # succeeded. (LocalStack lists neither a Map run's children nor Express executions, so
    # what each child's startSyncExecution returned is not read here.)
    sfn = client("stepfunctions")
    (map_run,) = sfn.list_map_runs(executionArn=description["executionArn"])["mapRuns"]
    counts = sfn.describe_map_run(mapRunArn=map_run["mapRunArn"])
    assert local.manifest is not None
    expected = len(local.manifest)
    assert (counts["itemCounts"]["succeeded"], counts["itemCounts"]["total"]) == (expected, expected)
    assert (counts["executionCounts"]["succeeded"], counts["executionCounts"]["total"]) == (expected, expected)


def test_localstack_refuses_the_batch_workflow_as_written(on_localstack):
    """Why the batch is rewritten above (as_localstack_parses): when this fails, LocalStack
    parses the definition as written, and the rewrite can go."""
    template = synthesised_template()
    (batch,) = [
        r
        for r in resources_of_type(template, "AWS::StepFunctions::StateMachine").values()
        if r["Properties"]["StateMachineName"].endswith("-batch")
    ]
    definition = json.dumps(json.loads(batch["Properties"]["DefinitionString"]), separators=(",", ":"))
    with pytest.raises(Exception) as refused:
        client("stepfunctions").create_state_machine(
            name="docflow-batch-as-written",
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/docflow-workflows",
        )
    assert "InvalidDefinition" in str(refused.value) and "ItemBatcher" in str(refused.value)
