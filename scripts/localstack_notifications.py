"""Turns on a bucket's EventBridge notifications in LocalStack, which the stack's
Custom::S3BucketNotifications does on AWS and LocalStack's community edition ignores: without
it, uploads never reach the ingest rule. `make localstack-deploy` runs it on the deployed
bucket (from cdk.out/localstack-outputs.json); tests/test_localstack_s3.py on its own.

    python scripts/localstack_notifications.py [--endpoint URL] (--outputs FILE | BUCKET)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import boto3


def send_events_to_eventbridge(bucket: str, endpoint: str) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="http://localhost:4566")
    parser.add_argument("--outputs", type=Path, help="cdk deploy's --outputs-file: its DocumentsBucketName")
    parser.add_argument("bucket", nargs="?")
    arguments = parser.parse_args()
    if arguments.outputs:
        (outputs,) = json.loads(arguments.outputs.read_text()).values()
        bucket = outputs["DocumentsBucketName"]
    elif arguments.bucket:
        bucket = arguments.bucket
    else:
        parser.error("name the bucket, or --outputs")
    send_events_to_eventbridge(bucket, arguments.endpoint)
    print(f"{bucket}: S3 events go to EventBridge")


if __name__ == "__main__":
    main()
