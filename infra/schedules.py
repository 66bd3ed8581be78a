"""Schedules: EventBridge rules that run the jobs function, as the catalog lists them."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge
from infra.pipeline import Pipeline


class Schedules(Construct):
    def __init__(self, scope: Construct, id: str, *, pipeline: Pipeline):
        super().__init__(scope, id)
        spec = pipeline.specs["jobs"]
        # Invocations EventBridge could not deliver, kept for a look.
        self.dead_letters = sqs.Queue(
            self, "Undelivered", retention_period=Duration.days(14), encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )  # fmt: skip
        for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
            acknowledge(
                self.dead_letters, rule, "This queue is the dead-letter queue of the schedules' EventBridge targets."
            )
        self.rules = {
            job: events.Rule(
                self,
                "".join(part.capitalize() for part in job.split("-")),
                description=f"docflow {job} job",
                schedule=events.Schedule.expression(expression),
                targets=[
                    targets.LambdaFunction(
                        pipeline.functions["jobs"],
                        event=events.RuleTargetInput.from_object({"job": job}),
                        dead_letter_queue=self.dead_letters,
                        retry_attempts=2,
                        max_event_age=Duration.hours(1),
                    )
                ],
            )
            for job, expression in spec.schedules.items()
        }
