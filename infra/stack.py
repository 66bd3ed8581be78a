"""The docflow stack: one construct per concern, all built from the same description the
local cloud runs (functions/catalog.toml, statemachine/*.asl.json, docflow's schemas)."""

from __future__ import annotations

from aws_cdk import App, CfnOutput, Stack, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import Construct

from infra.api import Api
from infra.catalog import load_catalog
from infra.ingestion import Ingestion
from infra.monitoring import Monitoring
from infra.nag import acknowledge_managed_policy
from infra.pipeline import Pipeline
from infra.schedules import Schedules
from infra.storage import Storage


class DocflowStack(Stack):
    def __init__(self, scope: Construct, id: str, **kwargs) -> None:
        super().__init__(scope, id, description="docflow: serverless document processing", **kwargs)
        defaults = load_catalog()[0].environment
        retention_days = int(self.node.try_get_context("docflow:retentionDays") or defaults["DOCFLOW_RETENTION_DAYS"])
        cors_origins = self.node.try_get_context("docflow:corsOrigins") or ["*"]

        self.storage = Storage(self, "Storage", retention_days=retention_days, cors_origins=cors_origins)
        self.pipeline = Pipeline(self, "Pipeline", storage=self.storage)
        self.ingestion = Ingestion(self, "Ingestion", pipeline=self.pipeline)
        self.api = Api(self, "Api", pipeline=self.pipeline)
        self.schedules = Schedules(self, "Schedules", pipeline=self.pipeline)
        self.monitoring = Monitoring(self, "Monitoring", pipeline=self.pipeline, ingestion=self.ingestion, api=self.api)

        self._acknowledge_cdk_internals()

        CfnOutput(self, "ApiUrl", value=self.api.url, description="docflow upload --api <this>")
        CfnOutput(self, "DocumentsBucketName", value=self.storage.bucket.bucket_name)
        CfnOutput(self, "RecordsTableName", value=self.storage.table.table_name)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.ingestion.dead_letters.queue_url)
        CfnOutput(self, "WebhookDeadLetterQueueUrl", value=self.pipeline.dead_letters["deliver"].queue_url)
        CfnOutput(
            self, "EventBusName", value=self.pipeline.event_bus.event_bus_name, description="add rules of your own here"
        )
        for name, machine in self.pipeline.state_machines.items():
            CfnOutput(self, f"{name.capitalize()}WorkflowArn", value=machine.state_machine_arn)

    def _acknowledge_cdk_internals(self) -> None:
        for child in self.node.children:
            # The function CDK adds to turn on the bucket's EventBridge notifications.
            if child.node.id.startswith("BucketNotificationsHandler"):
                acknowledge_managed_policy(
                    child, "AWSLambdaBasicExecutionRole",
                    "CDK's own handler that turns on the bucket's EventBridge notifications at deploy time; "
                    "the managed policy only lets it write its logs.",
                )  # fmt: skip


def build_app(app: App | None = None, stack_name: str | None = None) -> tuple[App, DocflowStack]:
    """The app `cdk synth` runs: the stack, checked by cdk-nag's AwsSolutions and Serverless
    packs; an unacknowledged finding fails the synth."""
    app = app or App()
    stack = DocflowStack(app, stack_name or app.node.try_get_context("docflow:stackName") or "Docflow")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app), ServerlessChecks(app))
    return app, stack
