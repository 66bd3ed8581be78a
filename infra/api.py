"""API: API Gateway (REST) in front of the api function. Every route but GET /health needs
IAM auth (SigV4); the stage throttles as the catalog says and writes JSON access logs."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_logs as logs
from constructs import Construct

from docflow.api_models import PUBLIC_PATHS
from infra.nag import acknowledge, acknowledge_managed_policy
from infra.pipeline import LOG_RETENTION, Pipeline

STAGE = "v1"


class Api(Construct):
    def __init__(self, scope: Construct, id: str, *, pipeline: Pipeline):
        super().__init__(scope, id)
        spec = pipeline.specs["api"]
        throttling = spec.throttling
        assert throttling is not None, "the catalog gives the API its throttling"
        access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.rest_api = apigateway.LambdaRestApi(
            self,
            "Rest",
            handler=pipeline.functions["api"],
            proxy=True,
            description="docflow: presigned uploads, documents and batches",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            default_method_options=apigateway.MethodOptions(authorization_type=apigateway.AuthorizationType.IAM),
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigateway.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=throttling.rate_per_second,
                throttling_burst_limit=throttling.burst,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                access_log_destination=apigateway.LogGroupLogDestination(access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True,
                ),
            ),
        )  # fmt: skip
        # The public routes (docflow.api_models.PUBLIC_PATHS): the health check, which load
        # balancers and uptime checks call, and the docs, which a browser opens with no credentials.
        for path in sorted(PUBLIC_PATHS):
            public = self.rest_api.root.add_resource(path.strip("/")).add_method(
                "GET",
                apigateway.LambdaIntegration(pipeline.functions["api"]),
                authorization_type=apigateway.AuthorizationType.NONE,
            )
            for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                acknowledge(public, rule, f"GET {path} is public on purpose; every other route uses IAM auth.")
        for rule, reason in (
            ("AwsSolutions-COG4", "The API uses IAM (SigV4) auth: its callers are programs holding AWS credentials."),
            ("AwsSolutions-APIG2", "Requests are validated in the api function against its OpenAPI models, "
                                   "which answer with docflow's JSON errors."),
            ("AwsSolutions-APIG3", "IAM auth refuses unsigned requests before they cost anything, and stage "
                                   "throttling caps the rest; WAF is left to deployments that need it."),
        ):  # fmt: skip
            acknowledge(self.rest_api, rule, reason)
        acknowledge_managed_policy(
            self.rest_api, "AmazonAPIGatewayPushToCloudWatchLogs",
            "API Gateway's account-level role for writing execution logs to CloudWatch; AWS maintains it.",
        )  # fmt: skip
        self.url = self.rest_api.url
