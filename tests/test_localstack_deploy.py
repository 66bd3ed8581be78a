"""The stack in LocalStack without Docker: `cdklocal bootstrap`, the synthesised assets
published to the bootstrap bucket, and as much of the template deployed by CloudFormation as
the community edition can create here; what it cannot is left out, with what is attached to
it, and listed (.localstack/partial-deploy.json); what only names it is given a stand-in."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import uuid
import zipfile
from typing import Any

import pytest
from on_localstack import ACCOUNT, ENDPOINT, REGION, REPO, client, require_endpoint, synthesised_template

pytestmark = pytest.mark.localstack

# What the community edition cannot create on a machine without Docker, and why.
NOT_HERE_KINDS = {
    "AWS::DynamoDB::Table": "LocalStack's DynamoDB downloads and runs Java at start, which fails here",
    "AWS::Lambda::Function": "LocalStack downloads its Lambda runtime (which fails here) and runs functions in Docker",
    "AWS::CloudWatch::Dashboard": "no resource provider in the community edition (reported created, but not created)",
    "Custom::S3BucketNotifications": "not in the community edition (the bucket's EventBridge notifications)",
}


def not_here(resource: dict) -> str | None:
    """Why LocalStack cannot create this resource here, or None."""
    if resource["Type"] in NOT_HERE_KINDS:
        return NOT_HERE_KINDS[resource["Type"]]
    if (
        resource["Type"] == "AWS::StepFunctions::StateMachine"
        and '"ItemBatcher"' in resource["Properties"]["DefinitionString"]
    ):
        # tests/test_localstack_workflows.py runs it rewritten (as_localstack_parses)
        return "the community edition's grammar refuses its ItemBatcher (and an Express ItemProcessor)"
    return None


# Resources that act on a resource left out, and cannot be created without it.
ATTACHED = {"AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping"}


def names_in(value: Any) -> set[str]:
    """The logical ids a template value names (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found.update(part.split("}")[0].split(".")[0] for part in text.split("${")[1:])
            found |= names_in(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= names_in(inner)
    return found


def stand_in(value: Any, left_out: dict[str, tuple[str, str]]) -> Any:
    """`value` with each Ref and Fn::GetAtt Arn of a resource left out replaced by the name
    and ARN it would have had: a state machine, a policy or an alarm may name a function
    that is not there, as they may name one not yet deployed."""
    if isinstance(value, dict):
        if value.keys() == {"Ref"} and value["Ref"] in left_out:
            return left_out[value["Ref"]][0]
        if value.keys() == {"Fn::GetAtt"} and value["Fn::GetAtt"][0] in left_out:
            assert value["Fn::GetAtt"][1] == "Arn", value
            return left_out[value["Fn::GetAtt"][0]][1]
        if "Fn::Sub" in value:
            assert not names_in(value) & left_out.keys(), value
        return {key: stand_in(inner, left_out) for key, inner in value.items()}
    if isinstance(value, list):
        return [stand_in(inner, left_out) for inner in value]
    return value


def physical(name: str, resource: dict) -> tuple[str, str]:
    """The name and ARN a resource would have been deployed with in LocalStack's account."""
    if resource["Type"] == "AWS::Lambda::Function":
        function = resource["Properties"].get("FunctionName", name)
        return function, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
    if resource["Type"] == "AWS::StepFunctions::StateMachine":  # its Ref is its ARN
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{resource['Properties']['StateMachineName']}"
        return arn, arn
    if resource["Type"] == "AWS::DynamoDB::Table":
        table = resource["Properties"].get("TableName", name)
        return table, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    return name, f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:{name}"  # a custom resource: nothing names its ARN


def without_what_cannot_be_here(template: dict) -> tuple[dict, dict[str, str]]:
    """The template less what not_here() names and what is ATTACHED to it, everything else
    naming one given its stand-in: {logical id: why} of those left out."""
    resources = template["Resources"]
    left_out = {name: why for name, r in resources.items() if (why := not_here(r))}
    left_out.update({
        name: f"attached to {', '.join(sorted(names_in(r) & left_out.keys()))}"
        for name, r in resources.items()
        if r["Type"] in ATTACHED and names_in(r) & left_out.keys()
    })  # fmt: skip
    stand_ins = {name: physical(name, resources[name]) for name in left_out}
    kept = {}
    for name, resource in resources.items():
        if name in left_out:
            continue
        resource = stand_in(resource, stand_ins)
        if "DependsOn" in resource:
            depends = [resource["DependsOn"]] if isinstance(resource["DependsOn"], str) else resource["DependsOn"]
            resource["DependsOn"] = [other for other in depends if other not in left_out]
        kept[name] = resource
    outputs = stand_in(template.get("Outputs", {}), stand_ins)
    return {**template, "Resources": kept, "Outputs": outputs}, left_out


def cdklocal(*arguments: str) -> subprocess.CompletedProcess:
    """cdklocal as `make localstack-deploy` runs it (the Makefile's CDKLOCAL), on cdk.out."""
    return subprocess.run(
        ["make", "-s", "localstack-cdk", f"LOCALSTACK_ENDPOINT={ENDPOINT}", f"CDK_ARGS={' '.join(arguments)}"],
        cwd=REPO, capture_output=True, text=True, timeout=900, env={**os.environ},
    )  # fmt: skip


@pytest.fixture(scope="module")
def bootstrapped() -> str:
    require_endpoint()
    done = cdklocal("bootstrap", "--app", "cdk.out")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (bucket,) = [b["Name"] for b in client("s3").list_buckets()["Buckets"] if b["Name"].startswith("cdk-")]
    return bucket


def test_cdklocal_bootstraps_and_publishes_every_asset(bootstrapped):
    done = cdklocal("publish-assets", "--unstable=publish-assets", "--app", "cdk.out")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest = json.loads(next((REPO / "cdk.out").glob("*.assets.json")).read_text())
    expected = {
        destination["objectKey"]
        for asset in manifest["files"].values()
        for destination in asset["destinations"].values()
    }
    s3 = client("s3")
    published = {o["Key"] for o in s3.list_objects_v2(Bucket=bootstrapped).get("Contents", [])}
    assert expected <= published
    # Each asset arrived whole: a function's bundle holds every file of its folder in cdk.out,
    # the template is the synthesised one.
    for asset in manifest["files"].values():
        (destination,) = asset["destinations"].values()
        body = s3.get_object(Bucket=bootstrapped, Key=destination["objectKey"])["Body"].read()
        source = REPO / "cdk.out" / asset["source"]["path"]
        if asset["source"].get("packaging") == "zip":
            files = {str(path.relative_to(source)) for path in source.rglob("*") if path.is_file()}
            assert set(zipfile.ZipFile(io.BytesIO(body)).namelist()) >= files
        else:
            assert body == source.read_bytes()


def test_the_stack_less_what_needs_docker_or_pro_deploys(bootstrapped):
    template = synthesised_template()
    partial, left_out = without_what_cannot_be_here(template)
    (REPO / ".localstack").mkdir(exist_ok=True)
    (REPO / ".localstack" / "partial-deploy.json").write_text(json.dumps(
        {"created": sorted(partial["Resources"]), "left_out": left_out}, indent=1
    ))  # fmt: skip
    cloudformation, s3 = client("cloudformation"), client("s3")
    stack_name = f"DocflowPartial-{uuid.uuid4().hex[:8]}"  # a LocalStack of your own may hold an earlier one
    # Larger than TemplateBody's 51,200 bytes: from the bootstrap bucket, as cdk deploys it.
    s3.put_object(Bucket=bootstrapped, Key=f"{stack_name}.template.json", Body=json.dumps(partial).encode())
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateURL=f"{ENDPOINT}/{bootstrapped}/{stack_name}.template.json",
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        # An address, so that the alarms' email subscription (a condition of the stack) is created too.
        Parameters=[{"ParameterKey": "AlarmEmail", "ParameterValue": "alarms@example.com"}],
    )
    try:
        deadline = time.monotonic() + 300
        while (stack := cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0])["StackStatus"].endswith(
            "IN_PROGRESS"
        ):
            assert time.monotonic() < deadline
            time.sleep(1)
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        failures = [
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}"
            for e in events
            if e["ResourceStatus"].endswith("FAILED")
        ]
        assert stack["StackStatus"] == "CREATE_COMPLETE", failures
        summaries = cloudformation.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    finally:  # the stack's names (its event bus, its state machines) are free again for the next run
        cloudformation.delete_stack(StackName=stack_name)
    created = {summary["LogicalResourceId"] for summary in summaries}
    assert created == set(partial["Resources"])
    # What was left out is what not_here() names and what is attached to it: the buckets, the
    # queues, the buses and rules, the document workflow and the API are among what was created.
    kinds = {template["Resources"][name]["Type"] for name in created}
    assert {
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::Events::Rule",
        "AWS::StepFunctions::StateMachine",
        "AWS::ApiGateway::Stage",
    } <= kinds
