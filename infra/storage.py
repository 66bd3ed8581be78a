"""Storage: the documents bucket (with its access-log bucket) and the records table."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from docflow.dynamodb_records import OWNER_INDEX, TABLE_SCHEMA, TTL_ATTRIBUTE
from infra.nag import acknowledge

# What each key prefix holds, all kept for the retention period (keys.py makes the keys).
EXPIRING_PREFIXES = ("uploads/", "inputs/", "documents/", "batches/", "reports/")
# Both buckets: encrypted, never public, TLS only, kept when the stack goes.
PRIVATE: dict[str, Any] = dict(
    encryption=s3.BucketEncryption.S3_MANAGED,
    block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    enforce_ssl=True,
    removal_policy=RemovalPolicy.RETAIN,
)


class Storage(Construct):
    def __init__(self, scope: Construct, id: str, *, retention_days: int, cors_origins: list[str]):
        super().__init__(scope, id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            **PRIVATE,
        )
        acknowledge(
            self.access_logs, "AwsSolutions-S1",
            "This is the access-log bucket of the documents bucket; logging its own access would recurse.",
        )  # fmt: skip
        self.bucket = s3.Bucket(
            self,
            "Documents",
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="documents/",
            event_bridge_enabled=True,  # S3 -> EventBridge -> SQS -> ingest
            lifecycle_rules=[
                *(
                    s3.LifecycleRule(prefix=prefix, expiration=Duration.days(retention_days))
                    for prefix in EXPIRING_PREFIXES
                ),
                s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1)),
            ],
            # Browsers post the presigned form straight to the bucket and read results from it.
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET],
                    allowed_origins=cors_origins,
                    allowed_headers=["*"],
                    max_age=3000,
                )
            ],
            **PRIVATE,
        )
        self.table = dynamodb.Table(
            self,
            "Records",
            partition_key=_key("pk"),
            sort_key=_key("sk"),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=TTL_ATTRIBUTE,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )
        (index,) = TABLE_SCHEMA["GlobalSecondaryIndexes"]
        self.table.add_global_secondary_index(
            index_name=OWNER_INDEX,
            partition_key=_key(index["KeySchema"][0]["AttributeName"]),
            sort_key=_key(index["KeySchema"][1]["AttributeName"]),
            projection_type=dynamodb.ProjectionType.ALL,
        )


def _key(name: str) -> dynamodb.Attribute:
    types = {item["AttributeName"]: item["AttributeType"] for item in TABLE_SCHEMA["AttributeDefinitions"]}
    assert types[name] == "S"
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)
