"""Pipeline: every function of functions/catalog.toml and the two state machines of
statemachine/, each with only the permissions it uses.

Function environments and state machine definitions are filled with the same ${Name}
substitution the local cloud uses (infra.catalog.substitute / CloudFormation's
DefinitionSubstitutions). State machine ARNs are computed from their names, so functions
can name the workflows they start without a dependency cycle."""

from __future__ import annotations

from dataclasses import replace

from aws_cdk import ArnFormat, AssetHashType, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.bundles import build_bundle, bundle_fingerprint
from infra.catalog import (
    FunctionSpec,
    load_catalog,
    placeholders,
    resource_values,
    service_name,
    state_machine_files,
    substitute,
    workflow_types,
)
from infra.nag import acknowledge, acknowledge_managed_policy, acknowledge_wildcards
from infra.storage import Storage

ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# Why no function has a dead-letter queue of its own: none is invoked asynchronously
# without something else keeping the failed event.
_SYNCHRONOUS = "Invoked synchronously by Step Functions, whose Retry and Catch handle its failures."
_NO_DLQ_REASONS = {
    "detect": _SYNCHRONOUS, "extract": _SYNCHRONOUS, "ocr": _SYNCHRONOUS, "join": _SYNCHRONOUS,
    "thumbnail": _SYNCHRONOUS, "analyze": _SYNCHRONOUS, "record": _SYNCHRONOUS, "report": _SYNCHRONOUS,
    "ingest": "Invoked by its SQS event source: failed messages return to the queue and go to its dead-letter queue.",
    "notify": "Invoked by its SQS event source: failed messages return to the queue and go to its dead-letter queue.",
    "deliver": "Invoked by its SQS event source: a delivery not taken returns after its retry delay, and after its "
               "last attempt goes to the queue's dead-letter queue.",
    "admit": "Invoked by its SQS event source: failed messages return to the queue and go to its dead-letter queue.",
    "api": "Invoked synchronously by API Gateway, which answers the caller with the error.",
    "jobs": "Invoked by EventBridge schedules whose targets retry and keep undelivered events in a dead-letter "
            "queue; a failed health check raises an alarm.",
}  # fmt: skip


class Pipeline(Construct):
    def __init__(self, scope: Construct, id: str, *, storage: Storage):
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.storage = storage
        # LocalStack on an x86_64 machine runs x86_64 functions: -c docflow:architecture=x86_64.
        architecture = self.node.try_get_context("docflow:architecture")
        self.specs = {
            spec.name: replace(spec, architecture=architecture) if architecture else spec for spec in load_catalog()
        }
        self.state_machine_names = {name: f"{stack.stack_name}-{name}" for name in state_machine_files()}
        self.workflow_types = workflow_types()
        self.state_machine_arns = {
            name: stack.format_arn(
                service="states",
                resource="stateMachine",
                resource_name=machine_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for name, machine_name in self.state_machine_names.items()
        }
        # docflow's own bus, where documents and batches that end are announced.
        self.event_bus = events.EventBus(self, "Events", event_bus_name=f"{stack.stack_name}-events")
        # Functions are named, and their ARNs computed from the names, as the state machines'
        # are: a function can name another (a schedule's target) without a dependency cycle.
        self.function_names = {name: f"{stack.stack_name}-{name}" for name in self.specs}
        self.function_arns = {
            name: stack.format_arn(
                service="lambda", resource="function", resource_name=function_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for name, function_name in self.function_names.items()
        }  # fmt: skip
        # One-time schedules (a document or batch to process later) are made in this group
        # and run as this role, which may invoke the jobs function alone.
        self.schedule_group = scheduler.CfnScheduleGroup(self, "ScheduleGroup", name=f"{stack.stack_name}-later")
        self.scheduler_role = iam.Role(
            self, "SchedulerRole", assumed_by=iam.ServicePrincipal("scheduler.amazonaws.com"),
            description="What docflow's one-time schedules run as: they invoke the jobs function",
        )  # fmt: skip
        self.scheduler_role.add_to_policy(_allow(["lambda:InvokeFunction"], self.function_arns["jobs"]))
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letters: dict[str, sqs.Queue] = {}
        for spec in self.specs.values():
            if spec.queue is not None:
                self.queues[spec.name], self.dead_letters[spec.name] = self._queue(spec)
        bus, queue_urls = self.event_bus.event_bus_name, {name: queue.queue_url for name, queue in self.queues.items()}
        self.resources = resource_values(
            storage.bucket.bucket_name, storage.table.table_name, self.state_machine_arns, bus, queue_urls,
            self.function_arns, (self.schedule_group.ref, self.scheduler_role.role_arn),
        )  # fmt: skip
        self.functions = {name: self._function(spec) for name, spec in self.specs.items()}
        self.state_machines = {
            name: self._state_machine(name, path.read_text()) for name, path in state_machine_files().items()
        }
        self._grant_functions()

    # -- queues -------------------------------------------------------------------------------

    def _queue(self, spec: FunctionSpec) -> tuple[sqs.Queue, sqs.Queue]:
        """The queue a function consumes and its dead-letter queue, as the catalog gives them;
        what feeds it is wired by infra/event_sources.py."""
        assert spec.queue is not None
        name = spec.name.capitalize()
        dead_letters = sqs.Queue(
            self, f"{name}DeadLetters", retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
        )  # fmt: skip
        queue = sqs.Queue(
            self,
            f"{name}Queue",
            visibility_timeout=Duration.seconds(spec.queue.visibility_timeout_seconds),
            retention_period=Duration.days(4),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=spec.queue.max_receive_count),
        )
        acknowledge(dead_letters, "Serverless-SQSRedrivePolicy", "This is a dead-letter queue; it has none of its own.")
        return queue, dead_letters

    # -- functions ----------------------------------------------------------------------------

    def _function(self, spec: FunctionSpec) -> lambda_.Function:
        log_group = logs.LogGroup(
            self, f"{spec.name}Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        function = lambda_.Function(
            self,
            spec.name.capitalize(),
            function_name=self.function_names[spec.name],
            description=spec.description,
            runtime=lambda_.Runtime(spec.runtime, lambda_.RuntimeFamily.PYTHON),
            architecture=ARCHITECTURES[spec.architecture],
            handler=spec.handler,
            code=_code(spec),
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            environment={
                **{name: substitute(value, self.resources) for name, value in spec.environment.items()},
                "POWERTOOLS_SERVICE_NAME": service_name(spec),
            },
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        acknowledge_managed_policy(
            function, "AWSLambdaBasicExecutionRole", "It only lets the function write its own CloudWatch logs."
        )
        return function

    def _grant_functions(self) -> None:
        bucket, table = self.storage.bucket, self.storage.table
        objects = bucket.arn_for_objects
        sources = (objects("uploads/*"), objects("inputs/*"))
        index = f"{table.table_arn}/index/*"
        document_workflow, batch_workflow = self.state_machine_arns["document"], self.state_machine_arns["batch"]
        batch_executions = _executions_of(self, self.state_machine_names["batch"])
        announce = _allow(["events:PutEvents"], self.event_bus.event_bus_arn)
        # Making a one-time schedule, and handing it the role it runs as.
        schedule = [
            _allow(["scheduler:CreateSchedule"], Stack.of(self).format_arn(
                service="scheduler", resource="schedule", resource_name=f"{self.schedule_group.name}/*",
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            )),
            _allow(["iam:PassRole"], self.scheduler_role.role_arn),
        ]  # fmt: skip
        low_lane = _allow(["sqs:SendMessage"], self.queues["admit"].queue_arn)
        grants: dict[str, list[iam.PolicyStatement]] = {
            # A document is an API upload (uploads/) or a file of a batch sent straight in (inputs/).
            "detect": [_allow(["s3:GetObject"], *sources)],
            "extract": [_allow(["s3:GetObject"], *sources), _allow(["s3:PutObject"], objects("documents/*"))],
            # Its part of the plan (documents/<id>/ocr/), the document, and the part's text.
            "ocr": [
                _allow(["s3:GetObject"], *sources, objects("documents/*")),
                _allow(["s3:PutObject"], objects("documents/*")),
            ],
            "join": [_allow(["s3:GetObject", "s3:PutObject"], objects("documents/*"))],
            "thumbnail": [_allow(["s3:GetObject"], *sources), _allow(["s3:PutObject"], objects("documents/*"))],
            "analyze": [_allow(["s3:GetObject"], objects("documents/*"))],
            "record": [
                _allow(["s3:PutObject"], objects("documents/*")),
                _allow(["dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"], table.table_arn),
                announce,
            ],
            "report": [
                _allow(["s3:GetObject"], objects("documents/*"), objects("batches/*")),
                _allow(["s3:PutObject"], objects("batches/*")),
                _allow(["dynamodb:UpdateItem", "dynamodb:GetItem"], table.table_arn),
                announce,
            ],
            # The owner's webhooks, and what GET /documents or /batches answers (presigned URLs).
            "notify": [
                _allow(["dynamodb:GetItem"], table.table_arn),
                _allow(["dynamodb:Query"], index),
                _allow(["s3:GetObject"], objects("documents/*"), objects("batches/*")),
                _allow(["sqs:SendMessage"], self.queues["deliver"].queue_arn),
            ],
            "deliver": [
                _allow(["dynamodb:GetItem"], table.table_arn),
                _allow(["sqs:ChangeMessageVisibility"], self.queues["deliver"].queue_arn),
            ],
            "ingest": [
                _allow(["dynamodb:GetItem", "dynamodb:UpdateItem"], table.table_arn),
                _allow(["states:StartExecution"], document_workflow),
                low_lane,
                *schedule,
            ],
            "admit": [_allow(["states:StartSyncExecution"], document_workflow)],
            "api": [
                # A presigned POST or GET carries the API's own permission to do what it allows.
                _allow(["s3:PutObject"], objects("uploads/*"), objects("batches/*")),
                _allow(["s3:GetObject"], objects("documents/*"), objects("batches/*")),
                _allow(
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:BatchGetItem",
                        "dynamodb:DeleteItem",
                    ],
                    table.table_arn,
                ),
                _allow(["dynamodb:Query"], index),
                _allow(["states:StartExecution"], document_workflow, batch_workflow),
                _allow(["states:DescribeExecution", "states:StopExecution"], batch_executions),
                announce,
                *schedule,
            ],
            "jobs": [
                _allow(["s3:ListBucket"], bucket.bucket_arn),
                _allow(
                    ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], objects("uploads/*"), objects("documents/*")
                ),
                _allow(["s3:PutObject"], objects("reports/*")),
                _allow(
                    [
                        "dynamodb:Scan",
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    ],
                    table.table_arn,
                ),
                announce,
                # The `start` job: a scheduled upload goes through ingest, a batch starts.
                _allow(["states:StartExecution"], document_workflow, batch_workflow),
                low_lane,
                *schedule,
            ],
        }
        missing = set(self.functions) - set(grants)
        assert not missing, f"no permissions written for {missing}"
        for name, statements in grants.items():
            function = self.functions[name]
            for statement in statements:
                function.add_to_role_policy(statement)
            acknowledge_wildcards(
                function, statements,
                "Object access is scoped to the key prefixes this function uses, executions to those of "
                "the batch workflow, and the index to the records table's own.",
            )  # fmt: skip
            acknowledge(
                function, "AwsSolutions-IAM5[Resource::*]",
                "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource to scope to.",
            )  # fmt: skip
            acknowledge(function, "Serverless-LambdaDLQ", _NO_DLQ_REASONS[name])

    # -- state machines ---------------------------------------------------------------------------

    def _state_machine(self, name: str, definition: str) -> sfn.StateMachine:
        values = {
            **self.resources,
            **{spec.arn_placeholder: self.functions[n].function_arn for n, spec in self.specs.items()},
        }
        used = placeholders(definition)
        substitute(definition, {key: "x" for key in values})  # a missing value fails here, at synth
        machine = sfn.StateMachine(
            self,
            f"{name.capitalize()}Workflow",
            state_machine_name=self.state_machine_names[name],
            definition_body=sfn.DefinitionBody.from_string(definition),
            definition_substitutions={key: values[key] for key in sorted(used)},
            state_machine_type=sfn.StateMachineType[self.workflow_types[name]],
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=logs.LogGroup(
                    self,
                    f"{name.capitalize()}WorkflowLogs",
                    retention=LOG_RETENTION,
                    removal_policy=RemovalPolicy.DESTROY,
                ),
                level=sfn.LogLevel.ALL,
                include_execution_data=False,  # states hold keys only, but logs need not even those
            ),
        )
        invoked = [self.functions[n] for n, spec in self.specs.items() if spec.arn_placeholder in used]
        statements = [_allow(["lambda:InvokeFunction"], *(f.function_arn for f in invoked))] if invoked else []
        if name == "batch":
            statements += self._batch_statements()
        for statement in statements:
            machine.add_to_role_policy(statement)
        acknowledge_wildcards(
            machine, statements,
            "Map runs and their child executions are scoped to the batch workflow's own, manifests to batches/*.",
        )  # fmt: skip
        acknowledge(
            machine, "AwsSolutions-IAM5[Resource::*]",
            "X-Ray and CloudWatch Logs' log delivery actions have no resource to scope to.",
        )  # fmt: skip
        return machine

    def _batch_statements(self) -> list[iam.PolicyStatement]:
        """What a distributed Map needs that reads an S3 manifest and runs its Express
        children, which run the document workflow synchronously (Step Functions' documented set)."""
        names = self.state_machine_names
        return [
            _allow(["s3:GetObject"], self.storage.bucket.arn_for_objects("batches/*")),
            _allow(["states:StartExecution"], self.state_machine_arns["batch"]),
            _allow(["states:DescribeExecution", "states:StopExecution"], _executions_of(self, names["batch"])),
            _allow(["states:StartSyncExecution"], self.state_machine_arns["document"]),
        ]


def _code(spec: FunctionSpec) -> lambda_.Code:
    """The function's bundle, hashed by what it was built from rather than file by file."""
    bundle = build_bundle(spec)
    return lambda_.Code.from_asset(
        str(bundle), asset_hash=bundle_fingerprint(bundle), asset_hash_type=AssetHashType.CUSTOM
    )


def _allow(actions: list[str], *resources: str) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=actions, resources=list(resources))


def _executions_of(scope: Construct, machine_name: str) -> str:
    """Every execution of a state machine, and of its map runs."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{machine_name}*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
