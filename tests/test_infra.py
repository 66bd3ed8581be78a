"""The CDK app, checked on its synthesised template (nothing here reaches AWS): cdk-nag
clean, cfn-lint clean, every resource the deployment promises, each function's exact
permissions, the state machines deployed as written, and agreement with the local cloud."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

aws_cdk = pytest.importorskip("aws_cdk")
from aws_cdk import App, RemovalPolicy  # noqa: E402
from aws_cdk import aws_s3 as s3  # noqa: E402
from aws_cdk.assertions import Match, Template  # noqa: E402

from docflow.ingestion import upload_event_pattern  # noqa: E402
from infra.catalog import load_catalog, placeholders, service_name, state_machine_files, workflow_types  # noqa: E402
from infra.stack import build_app  # noqa: E402

pytestmark = pytest.mark.local_cloud

SPECS = {spec.name: spec for spec in load_catalog()}
DATA_SERVICES = ("s3:", "dynamodb:", "sqs:", "states:", "lambda:")


@pytest.fixture(scope="module")
def assembly(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("cdk.out")
    app, stack = build_app(App(outdir=str(outdir)), stack_name="Docflow")
    app.synth()  # cdk-nag runs here: an unacknowledged finding raises
    return outdir, stack, Template.from_stack(stack)


@pytest.fixture(scope="module")
def template(assembly) -> Template:
    return assembly[2]


def resources(template: Template, kind: str) -> dict[str, dict]:
    return template.find_resources(kind)


def the_function(template: Template, name: str) -> tuple[str, dict]:
    """The logical id and properties of the catalog function `name`."""
    for logical_id, resource in resources(template, "AWS::Lambda::Function").items():
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        if variables.get("POWERTOOLS_SERVICE_NAME") == service_name(SPECS[name]):
            return logical_id, resource["Properties"]
    raise AssertionError(f"no function {name} in the template")


# -- the checks in the build -------------------------------------------------------------------


def test_an_unacknowledged_finding_fails_the_synth(tmp_path):
    # The assets are not copied into this assembly (the one below has them): only the checks matter here.
    app, stack = build_app(App(outdir=str(tmp_path), context={"aws:cdk:disable-asset-staging": True}), stack_name="Nagged")
    s3.Bucket(stack, "Careless", removal_policy=RemovalPolicy.DESTROY)  # no SSL rule, no logs
    with pytest.raises(Exception, match="AwsSolutions-S10"):
        app.synth()


def test_cfn_lint_finds_no_errors(assembly):
    outdir, _, _ = assembly
    linted = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--non-zero-exit-code", "error", str(outdir / "Docflow.template.json")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert linted.returncode == 0, linted.stdout[-3000:]


# -- storage -------------------------------------------------------------------------------------


def test_the_documents_bucket_is_private_encrypted_logged_expiring_and_notifies_eventbridge(template):
    retention = int(SPECS["api"].environment["DOCFLOW_RETENTION_DAYS"])
    template.has_resource_properties("AWS::S3::Bucket", {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LoggingConfiguration": {"DestinationBucketName": Match.any_value(), "LogFilePrefix": "documents/"},
        "LifecycleConfiguration": {"Rules": Match.array_with([
            Match.object_like({"Prefix": prefix, "ExpirationInDays": retention, "Status": "Enabled"})
            for prefix in ("uploads/", "inputs/", "documents/", "batches/")
        ])},
        "CorsConfiguration": {"CorsRules": [Match.object_like({"AllowedMethods": ["POST", "GET"]})]},
    })  # fmt: skip
    # CDK turns EventBridge notifications on with its own custom resource.
    template.has_resource_properties("Custom::S3BucketNotifications", {
        "NotificationConfiguration": {"EventBridgeConfiguration": {}}})  # fmt: skip
    policies = resources(template, "AWS::S3::BucketPolicy")
    assert len(policies) == 2  # the documents bucket's and the access logs'
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in statements
        ), "a bucket accepts requests without TLS"


def test_the_records_table_has_its_keys_index_ttl_and_point_in_time_recovery(template):
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
        "GlobalSecondaryIndexes": [Match.object_like({"IndexName": "by_owner", "KeySchema": [
            {"AttributeName": "owner_key", "KeyType": "HASH"}, {"AttributeName": "created_at", "KeyType": "RANGE"}]})],
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    })  # fmt: skip


# -- ingestion ---------------------------------------------------------------------------------------


def test_uploads_reach_ingest_through_eventbridge_and_a_queue_with_a_dead_letter_queue(template):
    queue_spec = SPECS["ingest"].queue
    template.has_resource_properties("AWS::SQS::Queue", {
        "VisibilityTimeout": queue_spec.visibility_timeout_seconds,
        "RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": queue_spec.max_receive_count},
        "SqsManagedSseEnabled": True,
    })  # fmt: skip
    rules = [r for r in resources(template, "AWS::Events::Rule").values() if "EventPattern" in r["Properties"]]
    (rule,) = [r for r in rules if "EventBusName" not in r["Properties"]]  # on the default bus, where S3's go
    pattern = rule["Properties"]["EventPattern"]
    expected = upload_event_pattern("BUCKET")
    assert pattern["source"] == expected["source"] and pattern["detail-type"] == expected["detail-type"]
    assert pattern["detail"]["object"] == expected["detail"]["object"]
    assert "Ref" in pattern["detail"]["bucket"]["name"][0]  # the documents bucket's name
    assert rule["Properties"]["Targets"][0]["DeadLetterConfig"]
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BatchSize": queue_spec.batch_size, "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "FunctionName": {"Ref": the_function(template, "ingest")[0]},
    })  # fmt: skip


def test_docflows_events_reach_notify_and_notify_alone_feeds_the_deliveries_queue(template):
    """A rule on docflow's own bus sends every docflow event to notify's queue; deliver's
    queue keeps a delivery for 24 attempts, as docflow/webhooks.py's retry schedule needs."""
    from docflow.notifications import EVENT_PATTERN
    from docflow.webhooks import ATTEMPTS, RETRY_DELAYS

    (bus,) = resources(template, "AWS::Events::EventBus").values()
    rules = [r["Properties"] for r in resources(template, "AWS::Events::Rule").values()]
    (on_bus,) = [rule for rule in rules if "EventBusName" in rule]
    assert on_bus["EventPattern"] == EVENT_PATTERN and on_bus["Targets"][0]["DeadLetterConfig"]
    assert bus["Properties"]["Name"] == "Docflow-events"
    assert SPECS["deliver"].queue.max_receive_count == ATTEMPTS and sum(RETRY_DELAYS) >= 24 * 3600
    for name in ("notify", "deliver"):
        template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
            "BatchSize": SPECS[name].queue.batch_size, "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "FunctionName": {"Ref": the_function(template, name)[0]},
        })  # fmt: skip
    template.has_resource_properties("AWS::SQS::Queue", {
        "RedrivePolicy": {"deadLetterTargetArn": Match.any_value(), "maxReceiveCount": ATTEMPTS},
        "MessageRetentionPeriod": 4 * 24 * 3600,
    })  # fmt: skip


# -- the pipeline ------------------------------------------------------------------------------------


def test_the_state_machines_are_the_statemachine_files_as_written(template):
    machines = resources(template, "AWS::StepFunctions::StateMachine")
    deployed = {m["Properties"]["StateMachineName"].removeprefix("Docflow-"): m["Properties"] for m in machines.values()}
    for name, path in state_machine_files().items():
        properties = deployed[name]
        text = path.read_text()
        assert properties["DefinitionString"] == text, name
        assert set(properties["DefinitionSubstitutions"]) == placeholders(text)
        assert properties["TracingConfiguration"] == {"Enabled": True}
        assert properties["LoggingConfiguration"]["Level"] == "ALL"
        assert properties["StateMachineType"] == workflow_types()[name]


def test_an_express_workflows_routes_fit_in_its_own_limit_and_that_in_express_five_minutes():
    """The document workflow stops itself (TimeoutSeconds) before Express's 300 s, so that a
    batch's child, waiting on it, outlives it and records a document that ran out of time;
    and the functions' timeouts along each route a document can take, retries aside, fit
    in that limit."""
    from benchmarks.costs import Outcome, document_route, functions_on, load_definitions

    definitions = load_definitions()
    assert workflow_types()["document"] == "EXPRESS"
    machine = definitions["document"]
    assert machine["TimeoutSeconds"] < 300
    timeouts = {spec.name: spec.timeout_seconds for spec in load_catalog()}
    # The OCR Map runs its parts all at once, so one part is the route's time however many.
    for outcome in (
        Outcome("pdf"),
        Outcome("pdf", ocr_parts=1),
        Outcome("image"),
        Outcome("unsupported"),
        Outcome(None),
    ):
        route = document_route(outcome, definitions)
        total = sum(timeouts[name] for name in functions_on(machine, route))
        assert total <= machine["TimeoutSeconds"], (outcome, route, total)


def test_the_ocr_map_runs_every_part_at_once():
    """The route's time above counts one ocr step: that holds while the Map runs as many
    parts at once as a plan can have."""
    from benchmarks.costs import load_definitions
    from docflow.ocr import MAX_PARTS

    (ocr_map,) = (s for s in load_definitions()["document"]["States"].values() if s["Type"] == "Map")
    assert ocr_map["MaxConcurrency"] == MAX_PARTS


def test_the_ocr_deadline_leaves_the_steps_after_ocr_their_time():
    """Parts that run late stop at the deadline, so that join, analyze and record still end
    the document within the workflow's TimeoutSeconds: `partial`, not `timeout`."""
    from benchmarks.costs import load_definitions

    machine = load_definitions()["document"]
    deadline = int(SPECS["ocr"].environment["DOCFLOW_OCR_DEADLINE_SECONDS"])
    after = sum(SPECS[name].timeout_seconds for name in ("join", "analyze", "record"))
    assert deadline + after <= machine["TimeoutSeconds"]
    assert machine["States"]["ReadByOcr"]["ItemSelector"]["started_at.$"] == "$$.Execution.StartTime"


def test_each_function_is_deployed_as_the_catalog_describes_it(template):
    for name, spec in SPECS.items():
        _, properties = the_function(template, name)
        assert properties["Handler"] == spec.handler
        assert properties["Runtime"] == spec.runtime
        assert properties["Architectures"] == [spec.architecture]
        assert properties["MemorySize"] == spec.memory_mb
        assert properties["Timeout"] == spec.timeout_seconds
        assert properties["TracingConfig"] == {"Mode": "Active"}
        variables = properties["Environment"]["Variables"]
        assert set(variables) == set(spec.environment) | {"POWERTOOLS_SERVICE_NAME"}
        for variable, value in spec.environment.items():
            if not placeholders(value):
                assert variables[variable] == value, (name, variable)
            else:
                assert variables[variable] != value, (name, variable)  # filled in by CloudFormation


def test_every_function_has_a_log_group_with_retention(template):
    groups = resources(template, "AWS::Logs::LogGroup")
    for name in SPECS:
        _, properties = the_function(template, name)
        group = groups[properties["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == 30


def test_every_lambda_asset_carries_its_third_party_code_for_arm64(assembly):
    outdir, _, template = assembly
    manifest = json.loads((outdir / "Docflow.assets.json").read_text())["files"]
    tessdata = [f"tessdata/{language}.traineddata" for language in ("eng", "deu", "fra", "spa", "ita", "por", "nld")]
    expected = {
        "detect": ["magic/__init__.py", "pylibmagic/libmagic.so.1", "pylibmagic/magic.mgc"],
        "extract": ["pypdf/__init__.py", "pypdfium2/__init__.py", "fontTools/__init__.py", "cryptography/__init__.py",
                    "PIL/Image.py"],
        "ocr": ["pypdf/__init__.py", "pypdfium2/__init__.py", "tesserocr/__init__.py", "PIL/Image.py", *tessdata],
        "thumbnail": ["PIL/Image.py", "tesserocr/__init__.py", *tessdata],
        "analyze": ["py3langid/data/model.npz.xz", "numpy/__init__.py", "stopwordsiso/stopwords-iso.json",
                    "vaderSentiment/vader_lexicon.txt"],
    }  # fmt: skip
    for name in SPECS:
        _, properties = the_function(template, name)
        asset = manifest[properties["Code"]["S3Key"].removesuffix(".zip")]["source"]["path"]
        folder = outdir / asset
        for path in ["app.py", "docflow/__init__.py", "aws_lambda_powertools/__init__.py", "pydantic/__init__.py",
                     *expected.get(name, [])]:  # fmt: skip
            assert (folder / path).exists(), f"{name} lacks {path}"
        assert not (folder / "boto3").exists(), f"{name} ships the SDK Lambda's runtime provides"
        if name not in ("ocr", "thumbnail"):  # OCR's engine and data only where it runs
            assert not (folder / "tesserocr").exists() and not (folder / "tessdata").exists(), name
        natives = list(folder.rglob("*.so*"))
        assert natives and all(_elf_machine(native) == "aarch64" for native in natives if _is_elf(native)), name
        unzipped = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        assert unzipped < LAMBDA_UNZIPPED_LIMIT, f"{name} is {unzipped / 1e6:.0f} MB unzipped"


LAMBDA_UNZIPPED_LIMIT = 262_144_000  # 250 MiB: a function's code and layers, unzipped


def _is_elf(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == b"\x7fELF"


def _elf_machine(path: Path) -> str:
    with path.open("rb") as file:
        header = file.read(20)
    return {0xB7: "aarch64", 0x3E: "x86_64"}.get(int.from_bytes(header[18:20], "little"), "other")


# -- permissions --------------------------------------------------------------------------------------

# What CDK's SQS event source grants its function.
SQS_EVENT_SOURCE = {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes"}  # fmt: skip
# What puts work off: the low-priority lane, and one-time schedules with the role they run as.
LATER = {"sqs:SendMessage", "scheduler:CreateSchedule", "iam:PassRole"}
EXPECTED_ACTIONS = {
    "detect": {"s3:GetObject"},
    "extract": {"s3:GetObject", "s3:PutObject"},
    "thumbnail": {"s3:GetObject", "s3:PutObject"},
    "analyze": {"s3:GetObject"},
    "record": {"s3:PutObject", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem",
               "events:PutEvents"},
    "report": {"s3:GetObject", "s3:PutObject", "dynamodb:UpdateItem", "dynamodb:GetItem", "events:PutEvents"},
    "notify": {"dynamodb:GetItem", "dynamodb:Query", "s3:GetObject", "sqs:SendMessage", *SQS_EVENT_SOURCE},
    "deliver": {"dynamodb:GetItem", *SQS_EVENT_SOURCE},
    "ingest": {"dynamodb:GetItem", "dynamodb:UpdateItem", "states:StartExecution", *LATER,
               # the SQS event source's own, added by CDK
               "sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage",
               "sqs:GetQueueAttributes"},
    "api": {"s3:PutObject", "s3:GetObject", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
            "dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:Query", "states:StartExecution",
            "states:DescribeExecution", "states:StopExecution", "events:PutEvents", "scheduler:CreateSchedule",
            "iam:PassRole"},
    "admit": {"states:StartSyncExecution", *SQS_EVENT_SOURCE},
    "jobs": {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "dynamodb:Scan", "dynamodb:GetItem",
             "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "events:PutEvents", "states:StartExecution",
             *LATER},
}  # fmt: skip


def _statements_of_role(template: Template, role_logical_id: str) -> list[dict]:
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_each_function_has_exactly_the_permissions_it_uses(template):
    for name, expected in EXPECTED_ACTIONS.items():
        _, properties = the_function(template, name)
        statements = _statements_of_role(template, properties["Role"]["Fn::GetAtt"][0])
        actions = {action for statement in statements for action in _actions(statement)}
        assert actions - {"xray:PutTraceSegments", "xray:PutTelemetryRecords"} == expected, name


def test_no_role_has_a_wildcard_action_on_data(template):
    for logical_id in resources(template, "AWS::IAM::Role"):
        for statement in _statements_of_role(template, logical_id):
            for action in _actions(statement):
                assert not (action.startswith(DATA_SERVICES) and "*" in action), (logical_id, action)


def test_object_permissions_are_scoped_to_key_prefixes(template):
    for name in EXPECTED_ACTIONS:
        _, properties = the_function(template, name)
        for statement in _statements_of_role(template, properties["Role"]["Fn::GetAtt"][0]):
            if any(action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject") for action in _actions(statement)):
                for resource in statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]:
                    suffix = resource["Fn::Join"][1][-1]
                    assert suffix in ("/uploads/*", "/inputs/*", "/documents/*", "/batches/*", "/reports/*"), (name, suffix)


# -- the API --------------------------------------------------------------------------------------------


def test_every_route_but_health_and_docs_needs_iam_auth(template):
    methods = resources(template, "AWS::ApiGateway::Method")
    by_auth = {(m["Properties"]["HttpMethod"], m["Properties"]["AuthorizationType"]) for m in methods.values()}
    assert ("ANY", "AWS_IAM") in by_auth and ("GET", "NONE") in by_auth
    public = [m for m in methods.values() if m["Properties"]["AuthorizationType"] == "NONE"]
    assert {m["Properties"]["HttpMethod"] for m in public} == {"GET"}
    paths = resources(template, "AWS::ApiGateway::Resource")
    assert sorted(paths[m["Properties"]["ResourceId"]["Ref"]]["Properties"]["PathPart"] for m in public) == ["docs", "health"]


def test_the_stage_throttles_traces_and_logs_access(template):
    throttling = SPECS["api"].throttling
    template.has_resource_properties("AWS::ApiGateway::Stage", {
        "StageName": "v1",
        "TracingEnabled": True,
        "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.string_like_regexp("requestId")},
        "MethodSettings": [Match.object_like({"ThrottlingRateLimit": throttling.rate_per_second,
                                              "ThrottlingBurstLimit": throttling.burst, "LoggingLevel": "ERROR"})],
    })  # fmt: skip


# -- schedules and monitoring -----------------------------------------------------------------------------


def test_the_jobs_run_on_the_catalogs_schedules(template):
    jobs_id, _ = the_function(template, "jobs")
    scheduled = {}
    for rule in resources(template, "AWS::Events::Rule").values():
        if "ScheduleExpression" in rule["Properties"]:
            (target,) = rule["Properties"]["Targets"]
            assert target["Arn"] == {"Fn::GetAtt": [jobs_id, "Arn"]} and target["DeadLetterConfig"]
            scheduled[json.loads(target["Input"])["job"]] = rule["Properties"]["ScheduleExpression"]
    assert scheduled == dict(SPECS["jobs"].schedules)


def test_alarms_cover_failures_queues_functions_and_the_health_check_and_notify_the_topic(template):
    alarms = list(resources(template, "AWS::CloudWatch::Alarm").values())
    metrics = {(a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms}
    for expected in [("AWS/States", "ExecutionsFailed"), ("AWS/States", "ExecutionsTimedOut"),
                     ("AWS/Lambda", "Errors"), ("AWS/Lambda", "Throttles"),
                     ("AWS/SQS", "ApproximateNumberOfMessagesVisible"), ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
                     ("docflow", "HealthCheckFailed")]:  # fmt: skip
        assert expected in metrics, expected
    assert len([a for a in alarms if a["Properties"].get("MetricName") == "Errors"]) == len(SPECS)
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": topic_id}] for a in alarms)
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    template.has_parameter("AlarmEmail", {"Type": "String"})
    template.has_resource("AWS::SNS::Subscription", {"Condition": Match.any_value(),
                                                     "Properties": Match.object_like({"Protocol": "email"})})
    assert len(resources(template, "AWS::CloudWatch::Dashboard")) == 1


# -- one description, two runtimes ----------------------------------------------------------------------


def test_the_local_cloud_and_the_template_agree_on_every_function(template, tmp_path):
    from localcloud.cloud import LOCAL_SETTINGS, LocalCloud

    cloud = LocalCloud(tmp_path)  # not started: only its view of the catalog is read
    cloud.function_arns = {name: f"arn:local:{name}" for name in SPECS}
    cloud.state_machines = {name: f"arn:local:{name}" for name in state_machine_files()}
    cloud.queues = {name: f"https://local/{name}" for name, spec in SPECS.items() if spec.queue}
    for name, spec in SPECS.items():
        local = cloud.functions[name]
        _, deployed = the_function(template, name)
        assert (local.handler, local.timeout_seconds, local.memory_mb) == (
            deployed["Handler"], deployed["Timeout"], deployed["MemorySize"],
        )  # fmt: skip
        local_environment = cloud._function_environment(spec)
        deployed_environment = deployed["Environment"]["Variables"]
        for variable, value in deployed_environment.items():
            assert variable in local_environment, (name, variable)
            if isinstance(value, str) and variable not in LOCAL_SETTINGS:
                assert local_environment[variable] == value, (name, variable)
