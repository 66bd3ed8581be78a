"""Reads functions/catalog.toml, the one description of docflow's functions, for both the
CDK stack and the local cloud. No aws_cdk import here: the local cloud uses it too."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR = REPO_ROOT / "functions"
CATALOG_PATH = FUNCTIONS_DIR / "catalog.toml"
STATEMACHINE_DIR = REPO_ROOT / "statemachine"

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


QUEUE_FEEDS = ("uploads", "events", "functions")


@dataclass(frozen=True)
class QueueSpec:
    """The SQS queue a function consumes, with its dead-letter queue, and what feeds it:
    S3's upload events (a rule on the default bus), docflow's own events (a rule on its
    bus), or other functions (DOCFLOW_<NAME>_QUEUE_URL in their environment)."""

    fed_by: str
    batch_size: int
    visibility_timeout_seconds: int
    max_receive_count: int
    # How many batches the function takes at once; None: as many as Lambda scales to.
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        if self.fed_by not in QUEUE_FEEDS:
            raise ValueError(f"a queue is fed by one of {', '.join(QUEUE_FEEDS)}, not {self.fed_by!r}")


@dataclass(frozen=True)
class ThrottleSpec:
    """API Gateway's request throttling in front of a function: a token bucket."""

    rate_per_second: float
    burst: int


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    description: str
    handler: str
    runtime: str
    architecture: str
    memory_mb: int
    timeout_seconds: int
    code_dir: Path  # functions/<name>: the folder Lambda's bundle is built from
    environment: Mapping[str, str] = field(default_factory=dict)
    queue: QueueSpec | None = None
    throttling: ThrottleSpec | None = None
    # EventBridge schedules invoking the function with {"job": name}: name -> expression.
    schedules: Mapping[str, str] = field(default_factory=dict)

    @property
    def arn_placeholder(self) -> str:
        """The name the state machines use for this function's ARN: ${DetectFunctionArn}."""
        return f"{self.name.capitalize()}FunctionArn"

    @property
    def queue_placeholder(self) -> str:
        """The name environments use for the URL of the queue this function consumes."""
        return f"{self.name.capitalize()}QueueUrl"


def deployed_name(name: str) -> str:
    """What a function or state machine of the catalog is called once deployed locally, and
    the service it is in logs and metrics everywhere."""
    return f"docflow-{name}"


def service_name(spec: FunctionSpec) -> str:
    """POWERTOOLS_SERVICE_NAME: the same in the local cloud and on AWS."""
    return deployed_name(spec.name)


def load_catalog(path: Path = CATALOG_PATH) -> list[FunctionSpec]:
    raw = tomllib.loads(path.read_text())
    defaults = raw.get("defaults", {})
    specs = []
    for name, own in raw["functions"].items():
        merged = {**defaults, **own}
        environment = {**defaults.get("environment", {}), **own.get("environment", {})}
        specs.append(
            FunctionSpec(
                name=name,
                description=merged.get("description", ""),
                handler=merged["handler"],
                runtime=merged["runtime"],
                architecture=merged["architecture"],
                memory_mb=int(merged["memory_mb"]),
                timeout_seconds=int(merged["timeout_seconds"]),
                environment=environment,
                code_dir=path.parent / name,
                queue=QueueSpec(**own["queue"]) if "queue" in own else None,
                throttling=ThrottleSpec(**own["throttling"]) if "throttling" in own else None,
                schedules=dict(own.get("schedules", {})),
            )
        )
    return specs


def resource_values(
    bucket: str,
    table: str,
    workflow_arns: Mapping[str, str],
    event_bus: str = "",
    queue_urls: Mapping[str, str] | None = None,
    function_arns: Mapping[str, str] | None = None,
    schedules: tuple[str, str] = ("", ""),
) -> dict[str, str]:
    """The ${Name} values of the deployed resources that the catalog's environments and the
    state machines name, however they were deployed (CDK, the local cloud, a test):
    DocumentsBucket, RecordsTable, <Name>WorkflowArn for each state machine, EventBus,
    <Name>QueueUrl for each function's queue, <Name>FunctionArn for each function, and
    ScheduleGroup and SchedulerRoleArn, where one-time schedules are made and what they run as."""
    return {
        "DocumentsBucket": bucket,
        "RecordsTable": table,
        "EventBus": event_bus,
        "ScheduleGroup": schedules[0],
        "SchedulerRoleArn": schedules[1],
        **{f"{name.capitalize()}WorkflowArn": arn for name, arn in workflow_arns.items()},
        **{f"{name.capitalize()}QueueUrl": url for name, url in (queue_urls or {}).items()},
        **{f"{name.capitalize()}FunctionArn": arn for name, arn in (function_arns or {}).items()},
    }


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Fills ${Name} placeholders, as CloudFormation's definition substitutions do; a
    placeholder with no value is an error rather than a silently broken definition."""
    missing = placeholders(text) - set(values)
    if missing:
        raise KeyError(f"no value for {', '.join(sorted(missing))}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def state_machine_files() -> dict[str, Path]:
    """statemachine/<name>.asl.json by name: {"document": ..., "batch": ...}."""
    return {path.name.removesuffix(".asl.json"): path for path in sorted(STATEMACHINE_DIR.glob("*.asl.json"))}


WORKFLOW_TYPES = ("STANDARD", "EXPRESS")


def workflow_types(path: Path = CATALOG_PATH) -> dict[str, str]:
    """Each state machine's type, STANDARD or EXPRESS, by name: the catalog's [workflows]."""
    types = dict(tomllib.loads(path.read_text()).get("workflows", {}))
    files = set(state_machine_files())
    if set(types) != files or not set(types.values()) <= set(WORKFLOW_TYPES):
        expected = f"each of {sorted(files)} a type of {' or '.join(WORKFLOW_TYPES)}"
        raise ValueError(f"{path.name}'s [workflows] must give {expected}; it has {types}")
    return types
