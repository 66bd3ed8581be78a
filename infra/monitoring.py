"""Monitoring (the seed's Flower): one CloudWatch dashboard, and alarms that notify an SNS
topic whose e-mail subscriber is a deploy parameter."""

from __future__ import annotations

from aws_cdk import CfnCondition, CfnParameter, Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.api import Api
from infra.catalog import service_name
from infra.ingestion import Ingestion
from infra.nag import acknowledge
from infra.pipeline import Pipeline

NAMESPACE = "docflow"  # POWERTOOLS_METRICS_NAMESPACE in the catalog
FIVE_MINUTES = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(self, scope: Construct, id: str, *, pipeline: Pipeline, ingestion: Ingestion, api: Api):
        super().__init__(scope, id)
        email = CfnParameter(
            Stack.of(self),
            "AlarmEmail",
            type="String",
            default="",
            description="E-mail address alarms are sent to (confirm the subscription AWS mails); empty for none",
        )
        self.topic = sns.Topic(
            self, "Alarms", master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"), enforce_ssl=True
        )
        has_email = CfnCondition(
            self, "HasAlarmEmail", expression=Fn.condition_not(Fn.condition_equals(email.value_as_string, ""))
        )
        subscription = sns.CfnSubscription(
            self,
            "AlarmEmailSubscription",
            topic_arn=self.topic.topic_arn,
            protocol="email",
            endpoint=email.value_as_string,
        )
        subscription.cfn_options.condition = has_email
        acknowledge(
            subscription,
            "Serverless-SNSRedrivePolicy",
            "An e-mail subscription: SNS retries e-mail delivery itself, "
            "and an undeliverable alarm e-mail has nothing to redrive to.",
        )
        self.alarms: list[cloudwatch.Alarm] = []

        machines = pipeline.state_machines
        functions = pipeline.functions
        queue, dead_letters = ingestion.queue, ingestion.dead_letters

        for name, machine in machines.items():
            for event, metric, what in (
                ("Failed", machine.metric_failed, "failed"),
                ("TimedOut", machine.metric_timed_out, "timed out"),
            ):
                summed = metric(period=FIVE_MINUTES, statistic="Sum")
                self._alarm(f"{name}Executions{event}", summed, 1, f"{name} workflow executions {what}")
        for name, function in functions.items():
            for event, metric, what in (
                ("Errors", function.metric_errors, "raised errors"),
                ("Throttles", function.metric_throttles, "was throttled"),
            ):
                summed = metric(period=FIVE_MINUTES, statistic="Sum")
                self._alarm(f"{name}{event}", summed, 1, f"the {name} function {what}")
        self._alarm(
            "DeadLetters",
            dead_letters.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
            1,
            "uploads are waiting in the dead-letter queue: see `docflow dlq redrive`",
        )
        self._alarm(
            "WebhookDeadLetters",
            pipeline.dead_letters["deliver"].metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            1,
            "webhook deliveries ran out of attempts (24 hours): see `docflow dlq count --queue webhooks`",
        )
        self._alarm(
            "NotifyDeadLetters",
            pipeline.dead_letters["notify"].metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            1,
            "events could not be turned into webhook deliveries: see the notify function's log",
        )
        self._alarm(
            "OldUploads",
            queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
            600,
            "an upload has waited over 10 minutes to start",
        )
        health = cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name="HealthCheckFailed",
            dimensions_map={"service": service_name(pipeline.specs["jobs"])},
            period=Duration.minutes(15),
            statistic="Sum",
        )
        # No data means the health check did not run at all: as bad as a failure.
        self._alarm(
            "HealthCheck",
            health,
            1,
            "the canary document did not come through the pipeline",
            missing=cloudwatch.TreatMissingData.BREACHING,
        )

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{Stack.of(self).stack_name}-docflow")
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown="# docflow\nWorkflows, functions, ingestion and documents.", width=24, height=2
            )
        )
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"{name} workflow executions",
                    left=[
                        machine.metric_started(),
                        machine.metric_succeeded(),
                        machine.metric_failed(),
                        machine.metric_timed_out(),
                    ],
                    width=12,
                )
                for name, machine in machines.items()
            )
        )
        for name, function in functions.items():
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title=f"{name}: invocations, errors, throttles",
                    left=[function.metric_invocations(), function.metric_errors(), function.metric_throttles()],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title=f"{name}: duration p50 / p99",
                    left=[function.metric_duration(statistic="p50"), function.metric_duration(statistic="p99")],
                    width=12,
                ),
            )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="ingest queue: depth and oldest message (s)",
                left=[queue.metric_approximate_number_of_messages_visible()],
                right=[queue.metric_approximate_age_of_oldest_message()],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="dead-letter queue depth",
                left=[dead_letters.metric_approximate_number_of_messages_visible()],
                width=12,
            ),
        )
        deliver = service_name(pipeline.specs["deliver"])
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="webhook deliveries: taken, not taken (retried), dropped",
                left=[
                    cloudwatch.Metric(
                        namespace=NAMESPACE, metric_name=metric, dimensions_map={"service": deliver}, statistic="Sum"
                    )
                    for metric in ("WebhookDeliveries", "WebhookDeliveriesFailed", "WebhookDeliveriesDropped")
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="webhook deliveries: waiting, and out of attempts",
                left=[pipeline.queues["deliver"].metric_approximate_number_of_messages_visible()],
                right=[pipeline.dead_letters["deliver"].metric_approximate_number_of_messages_visible()],
                width=12,
            ),
        )
        record = service_name(pipeline.specs["record"])
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="documents by outcome",
                width=8,
                left=[
                    cloudwatch.Metric(
                        namespace=NAMESPACE, metric_name=metric, dimensions_map={"service": record}, statistic="Sum"
                    )
                    for metric in ("DocumentsSucceeded", "DocumentsSkipped")
                ]
                + [_search("error_code", "DocumentsFailed", label="failed")],
            ),
            cloudwatch.GraphWidget(title="documents by kind", width=8, left=[_search("kind", "DocumentsByKind")]),
            cloudwatch.GraphWidget(
                title="failures by error code", width=8, left=[_search("error_code", "DocumentsFailed", label="code")]
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                width=12,
                left=[
                    api.rest_api.metric_count(),
                    api.rest_api.metric_client_error(),
                    api.rest_api.metric_server_error(),
                ],
            ),
            cloudwatch.AlarmStatusWidget(title="alarms", alarms=self.alarms, width=12),
        )

    def _alarm(
        self,
        id: str,
        metric: cloudwatch.Metric,
        threshold: float,
        description: str,
        *,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> None:
        alarm = metric.create_alarm(
            self,
            f"{id[0].upper()}{id[1:]}Alarm",
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=missing,
            alarm_description=f"docflow: {description}",
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)


def _search(dimension: str, metric_name: str, label: str | None = None) -> cloudwatch.MathExpression:
    """Every series of docflow's metric, one per value of the dimension, summed per 5 minutes."""
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{{{NAMESPACE},{dimension},service}} MetricName=\"{metric_name}\"', 'Sum', 300)",
        label=label or dimension,
        period=FIVE_MINUTES,
    )
