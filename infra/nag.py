"""cdk-nag acknowledgements: each names the construct it applies to and why."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Accepts cdk-nag's `rule` (e.g. "AwsSolutions-IAM5", or one finding of it) on this
    construct and those below it, for `reason`."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def acknowledge_managed_policy(construct: IConstruct, policy: str, reason: str) -> None:
    """Accepts AwsSolutions-IAM4 for one AWS managed service-role policy, by name."""
    acknowledge(
        construct, f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{policy}]", reason
    )


def acknowledge_wildcards(construct: IConstruct, statements: list[iam.PolicyStatement], reason: str) -> None:
    """Accepts AwsSolutions-IAM5 for exactly the wildcard resources in `statements`, each
    named as cdk-nag names it (e.g. <DocumentsBucket.Arn>/uploads/*), so a new wildcard
    elsewhere still fails the synth."""
    stack = Stack.of(construct)
    for statement in statements:
        for resource in statement.resources:
            rendered = _as_nag_renders(stack.resolve(resource))
            if "*" in rendered:
                acknowledge(construct, f"AwsSolutions-IAM5[Resource::{rendered}]", reason)


def _as_nag_renders(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it in a finding's id."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_as_nag_renders(part) for part in parts)
    raise ValueError(f"cannot render {value!r}")
