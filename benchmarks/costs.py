"""What a docflow run would cost on AWS, per 1,000 documents, at list prices.

`price_run(OUT)` reads what `docflow run FOLDER --out OUT` left behind and prices it as the
deployed stack would be billed (us-east-1, arm64, free tiers left out, first volume tier):

- report.json: each document's kind and status, from which the state machines' routes are
  walked (statemachine/*.asl.json), so Step Functions is counted from the definitions;
- .local-cloud/logs/invocations.jsonl: every Lambda invocation (duration, init, memory);
- .local-cloud/logs/requests.json: every request moto served, {service: {operation: n}}
  (localcloud/metering.py); deployment and control-plane operations are left out;
- .local-cloud/logs/<function>.log: the functions' own log lines, for CloudWatch Logs.

The document workflow is priced twice, side by side: as a Standard workflow (per state
transition) and as deployed, Express (per execution and GB-second; functions/catalog.toml
says which). The batch workflow is priced as deployed in both: Standard, with one state
transition for each child execution its distributed Map starts, and those children as
Express executions when they are. Everything else is the same on both sides.

Reading the run (`read_run`) is the only I/O besides the definitions and the catalog;
`price` is a pure function of what was read."""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from docflow.ocr import OcrPlan
from infra.catalog import load_catalog, state_machine_files

# -- list prices ------------------------------------------------------------------------------
# USD, us-east-1, on-demand list prices; free tiers left out; the first volume tier where a
# price is tiered. Each is per the unit named, from the AWS pricing page named.
#
# Lambda, https://aws.amazon.com/lambda/pricing/
LAMBDA_ARM64_GB_SECOND = 0.0000133334  # USD per GB-second, arm64 (Graviton), first volume tier
LAMBDA_X86_GB_SECOND = 0.0000166667  # USD per GB-second, x86_64 (should a function of the catalog use it)
LAMBDA_REQUEST = 0.20 / 1_000_000  # USD per request: $0.20 per million invocations
# Step Functions, https://aws.amazon.com/step-functions/pricing/
SFN_STANDARD_TRANSITION = 0.000025  # USD per state transition, Standard ($0.025 per 1,000), retries included
SFN_EXPRESS_REQUEST = 1.00 / 1_000_000  # USD per Express execution started: $1.00 per million
SFN_EXPRESS_GB_SECOND = 0.00001667  # USD per GB-second of Express duration, first 1,000 GB-hours a month
# S3 (S3 Standard), https://aws.amazon.com/s3/pricing/
S3_TIER1_REQUEST = 0.005 / 1_000  # USD per PUT, COPY, POST or LIST request: $0.005 per 1,000
S3_TIER2_REQUEST = 0.0004 / 1_000  # USD per GET, SELECT and every other request (HEAD...): $0.0004 per 1,000; DELETE is free
# DynamoDB on demand, https://aws.amazon.com/dynamodb/pricing/on-demand/
DYNAMODB_WRITE_UNIT = 0.625 / 1_000_000  # USD per write request unit: $0.625 per million
DYNAMODB_READ_UNIT = 0.125 / 1_000_000  # USD per read request unit: $0.125 per million
# SQS, https://aws.amazon.com/sqs/pricing/
SQS_REQUEST = 0.40 / 1_000_000  # USD per standard-queue request (per 64 KB chunk): $0.40 per million
# EventBridge, https://aws.amazon.com/eventbridge/pricing/
EVENTBRIDGE_CUSTOM_EVENT = 1.00 / 1_000_000  # USD per custom event published: $1.00 per million; AWS service events (S3's) are free
# API Gateway, https://aws.amazon.com/api-gateway/pricing/
API_GATEWAY_REST_REQUEST = 3.50 / 1_000_000  # USD per REST API call: $3.50 per million, first 333 million a month
# CloudWatch, https://aws.amazon.com/cloudwatch/pricing/
CLOUDWATCH_LOGS_INGESTED_GB = 0.50  # USD per GB ingested, standard class (also Lambda logs' first tier)

# -- how each is metered ----------------------------------------------------------------------
LAMBDA_BILLING_MS = 1  # Lambda bills duration rounded up to the millisecond, INIT included since August 2025
EXPRESS_BILLING_MS = 100  # Express duration is rounded up to the next 100 ms, per execution
# Express bills memory in 64 MB chunks, from the definition's size, Map/Parallel use and the
# payload. The document workflow's definition is ~7 KB and its state carries S3 keys and
# small results, never content (see its Comment), so it is taken to use the first chunk.
EXPRESS_BILLED_MEMORY_MB = 64
# An inline Map without a MaxConcurrency runs up to 40 iterations at once. An Express child
# of the batch's Map runs its documents side by side, so it lasts about its documents' time
# over its inline Map's concurrency (at least the longest document's), and bills that.
INLINE_MAP_CONCURRENCY = 40
# docflow reads its records with ConsistentRead=True (docflow/dynamodb_records.py): 1 RRU per read of
# an item under 4 KB, not the 0.5 of an eventually consistent read.
DYNAMODB_GET_ITEM_RRU = 1.0
# A transactional write costs 2 WRU per item under 1 KB. requests.json counts requests, not
# items; docflow's only transaction (RecordStore.count_in_batch) writes 2 items (the batch's
# per-document mark and its counter), so each TransactWriteItems is 2 items, 4 WRU.
DYNAMODB_TRANSACT_WRITE_ITEMS = 2
DYNAMODB_TRANSACT_WRU_PER_ITEM = 2
GB = 1024**3  # AWS bills data in GB of 2^30 bytes
PER_DOCUMENTS = 1000  # prices are given per this many documents
TARGET_PER_1000 = 0.05  # the target: at most $0.05 per 1,000 documents

# -- requests.json: what each operation is ----------------------------------------------------
S3_TIER1_OPERATIONS = {"PutObject", "PostObject", "ListObjects", "CopyObject", "DeleteObjects"}  # DeleteObjects is a POST
S3_FREE_OPERATIONS = {"DELETEObject"}  # DELETE requests are free
S3_SETUP_OPERATIONS = {"PutBucket"}  # creating and configuring the bucket (metering.py's PUT without a key)
DYNAMODB_WRITE_UNITS = {
    "PutItem": 1.0,
    "UpdateItem": 1.0,
    "DeleteItem": 1.0,
    "TransactWriteItems": float(DYNAMODB_TRANSACT_WRITE_ITEMS * DYNAMODB_TRANSACT_WRU_PER_ITEM),
}
DYNAMODB_READ_UNITS = {"GetItem": DYNAMODB_GET_ITEM_RRU}
SQS_BILLED_OPERATIONS = {
    "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
    "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
}  # fmt: skip
EVENTBRIDGE_BILLED_OPERATIONS = {"PutEvents"}  # counted as one event a request: docflow puts no batches
SETUP_OPERATIONS = {
    "dynamodb": {"CreateTable", "UpdateTimeToLive", "DescribeTable", "DescribeTimeToLive", "DeleteTable", "UpdateTable",
                 "ListTables", "TagResource", "UpdateContinuousBackups"},
    "sqs": {"CreateQueue", "GetQueueAttributes", "SetQueueAttributes", "GetQueueUrl", "DeleteQueue", "ListQueues",
            "TagQueue", "PurgeQueue"},
    "events": {"PutRule", "PutTargets", "DeleteRule", "RemoveTargets", "DescribeRule", "ListRules",
               "ListTargetsByRule", "EnableRule", "DisableRule", "CreateEventBus", "DeleteEventBus", "TagResource"},
}  # fmt: skip
# Whole services: deployment and identity, or billed from another record than requests.json.
NOT_PER_REQUEST_SERVICES = {
    "iam": "deployment",
    "sts": "deployment",
    "unsigned": "the local cloud's own (moto-api)",
    # Standard bills state transitions and Express executions, counted from the definitions;
    # the CLI's StartExecution, DescribeExecution and map-run polls are not billed.
    "states": "billed by transitions and executions, not requests",
    # CreateFunction and the like are deployment; invocations are priced from invocations.jsonl.
    "lambda": "priced from invocations.jsonl",
}


# -- the state machines' routes ---------------------------------------------------------------

_MISSING = object()
MAX_STATES_PER_EXECUTION = 1000  # a walk longer than this is a loop the walker cannot follow


def load_definitions() -> dict[str, dict[str, Any]]:
    """statemachine/<name>.asl.json, parsed, by name: {"document": ..., "batch": ...}."""
    return {name: json.loads(path.read_text()) for name, path in state_machine_files().items()}


@lru_cache(maxsize=1)
def _functions_by_placeholder() -> dict[str, str]:
    """${DetectFunctionArn} -> "detect", for every function of the catalog."""
    return {spec.arn_placeholder: spec.name for spec in load_catalog()}


def invoked_function(state: Mapping[str, Any]) -> str | None:
    """The catalog function a Task state invokes, from its Resource ("${ExtractFunctionArn}")
    or a lambda:invoke integration's FunctionName; None for any other state."""
    if state.get("Type") != "Task":
        return None
    names = _functions_by_placeholder()
    candidates = [state.get("Resource", "")]
    for section in ("Parameters", "Arguments"):
        if isinstance(state.get(section), Mapping):
            candidates.append(str(state[section].get("FunctionName", "")))
    for candidate in candidates:
        for placeholder, name in names.items():
            if candidate == f"${{{placeholder}}}" or candidate.startswith(f"${{{placeholder}}}:"):
                return name
    return None


def _get(data: Any, path: str) -> Any:
    if path == "$":
        return data
    current = data
    for part in path.removeprefix("$.").split("."):
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _put(data: Mapping[str, Any], path: str | None, value: Any) -> Any:
    """The state after a result lands at ResultPath (null: dropped; "$": replaces it)."""
    if path is None:
        return data
    if path == "$":
        return value
    parts = path.removeprefix("$.").split(".")
    updated = dict(data) if isinstance(data, Mapping) else {}
    target = updated
    for part in parts[:-1]:
        inner = target.get(part)
        target[part] = dict(inner) if isinstance(inner, Mapping) else {}
        target = target[part]
    target[parts[-1]] = value
    return updated


_COMPARISONS = {
    "StringEquals": lambda value, expected: isinstance(value, str) and value == expected,
    "BooleanEquals": lambda value, expected: isinstance(value, bool) and value == expected,
    "NumericEquals": lambda value, expected: isinstance(value, (int, float)) and value == expected,
    "NumericGreaterThan": lambda value, expected: isinstance(value, (int, float)) and value > expected,
    "IsPresent": lambda value, expected: (value is not _MISSING) == expected,
    "IsNull": lambda value, expected: (value is None) == expected,
}


def _matches(rule: Mapping[str, Any], data: Any) -> bool:
    if "And" in rule:
        return all(_matches(inner, data) for inner in rule["And"])
    if "Or" in rule:
        return any(_matches(inner, data) for inner in rule["Or"])
    if "Not" in rule:
        return not _matches(rule["Not"], data)
    if "Variable" in rule:
        value = _get(data, rule["Variable"])
        for operator, test in _COMPARISONS.items():
            if operator in rule:
                return test(value, rule[operator])
    # A rule the walker cannot read must not silently send documents down the Default.
    raise ValueError(f"the cost model's walker cannot evaluate the Choice rule {dict(rule)}")


def walk(
    machine: Mapping[str, Any],
    results: Mapping[str, Any] | None = None,
    fails_at: str | None = None,
    data: Any = None,
    map_items: int = 0,
) -> list[str]:
    """The states one execution of `machine` enters, in order: what Standard bills as state
    transitions (retries aside). `results` gives what each function returns (by catalog
    name), placed at its Task's ResultPath so Choice states route on it; `fails_at` names a
    function whose Task fails once, which the execution then leaves by its Catch (States.ALL
    first) or, with none, ends failed there. An inline Map's iterations, `map_items` of
    them, enter their states after it."""
    results = results or {}
    data = {} if data is None else data
    entered: list[str] = []
    name: str = machine["StartAt"]
    while True:
        if len(entered) >= MAX_STATES_PER_EXECUTION:
            raise ValueError(f"the walk entered more than {MAX_STATES_PER_EXECUTION} states: {entered[-5:]}")
        state = machine["States"][name]
        entered.append(name)
        kind = state["Type"]
        function = invoked_function(state)
        if kind == "Choice":
            chosen = next((rule["Next"] for rule in state.get("Choices", []) if _matches(rule, data)), None)
            name = chosen or state.get("Default")
            if name is None:
                return entered  # States.NoChoiceMatched: the execution fails here
            continue
        if fails_at is not None and function == fails_at:
            fails_at = None  # one failure per execution
            catchers = state.get("Catch", [])
            catcher = next((c for c in catchers if "States.ALL" in c.get("ErrorEquals", [])), None) or next(iter(catchers), None)
            if catcher is None:
                return entered
            data = _put(data, catcher.get("ResultPath", "$"), {"Error": "Failed", "Cause": "cost model"})
            name = catcher["Next"]
            continue
        if function is not None and function in results:
            data = _put(data, state.get("ResultPath", "$"), results[function])
        if kind == "Map" and "ItemReader" not in state:
            entered += walk(state.get("ItemProcessor") or state["Iterator"]) * map_items
        if kind in ("Succeed", "Fail") or state.get("End"):
            return entered
        name = state["Next"]


@dataclass(frozen=True)
class MapChildren:
    """How the batch workflow's distributed Map runs its documents: AWS bills one Standard
    state transition for each child execution it starts; an Express child bills nothing
    more per state, a Standard one each state it enters."""

    items_per_child: int  # ItemBatcher's MaxItemsPerBatch; 1 without an ItemBatcher
    express: bool
    states: list[str]  # the states a child enters (transitions when it is Standard)
    concurrency: int  # how many of its items a child runs at once (its inline Map's)


def map_children(definitions: Mapping[str, Mapping[str, Any]] | None = None) -> MapChildren:
    batch = (definitions or load_definitions())["batch"]
    (state,) = (state for state in batch["States"].values() if state.get("Type") == "Map")
    processor = state.get("ItemProcessor") or state["Iterator"]
    inner_maps = [inner for inner in processor["States"].values() if inner.get("Type") == "Map"]
    return MapChildren(
        items_per_child=int(state.get("ItemBatcher", {}).get("MaxItemsPerBatch", 1)),
        express=processor.get("ProcessorConfig", {}).get("ExecutionType") == "EXPRESS",
        states=walk(processor),
        concurrency=(inner_maps[0].get("MaxConcurrency") or INLINE_MAP_CONCURRENCY) if inner_maps else 1,
    )


@dataclass(frozen=True)
class Outcome:
    """One document's outcome as report.json gives it; what the walker needs to know which
    route the document workflow took."""

    kind: str | None  # detect's kind: "pdf", "image", "unsupported"...; None when detect failed
    status: str = "succeeded"  # succeeded, failed, skipped
    failed_function: str | None = None  # the function whose step failed; derived when None
    ocr_parts: int = 0  # the parts of a PDF's pages the ocr step read

    @classmethod
    def from_report(cls, document: Mapping[str, Any]) -> Outcome:
        failed = None
        if document.get("status") == "failed" and document.get("kind") == "pdf" and document.get("page_count") is not None:
            failed = "analyze"  # extract counted the pages: analyze is what failed
        ocr_parts = 0
        if document.get("kind") == "pdf" and document.get("ocr_pages"):
            ocr_parts = OcrPlan.of(list(range(document["ocr_pages"]))).parts
        return cls(document.get("kind"), str(document.get("status")), failed, ocr_parts)

    def failing_function(self) -> str | None:
        """Which step failed: detect when no kind was detected, extract for a PDF (analyze
        when extract had counted its pages), thumbnail for an image."""
        if self.status != "failed":
            return None
        if self.failed_function is not None:
            return self.failed_function
        if self.kind is None:
            return "detect"
        return {"pdf": "extract", "image": "thumbnail"}.get(self.kind)


def document_route(outcome: Outcome, definitions: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """The states the document workflow enters for a document with this outcome."""
    machine = (definitions or load_definitions())["document"]
    results: dict[str, Any] = {"extract": {"ocr_parts": outcome.ocr_parts}}
    if outcome.kind is not None:
        results["detect"] = {"kind": outcome.kind}
    return walk(machine, results=results, fails_at=outcome.failing_function(), map_items=outcome.ocr_parts)


def batch_route(definitions: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """The states the batch workflow itself enters once per batch (the Map, WriteReport)."""
    return walk((definitions or load_definitions())["batch"])


def transitions(outcome: Outcome, definitions: Mapping[str, Mapping[str, Any]] | None = None) -> int:
    """The state transitions of a document's route, retries aside: what a Standard document
    workflow would bill for it."""
    return len(document_route(outcome, definitions))


def child_executions(documents: int, batches: int, children: MapChildren) -> int:
    """The child executions the batches' Maps start, the documents spread evenly."""
    return batches * math.ceil(documents / batches / children.items_per_child) if batches else 0


def functions_on(machine: Mapping[str, Any], states: Iterable[str]) -> list[str]:
    """The functions the states of a route invoke, in order; an inline Map's states are on
    the route by their own names."""
    by_name = _states_by_name(machine)
    functions = []
    for name in states:
        function = invoked_function(by_name[name])
        if function is not None:
            functions.append(function)
    return functions


def _states_by_name(machine: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every state of `machine` and of its inline Maps by name, the outer where names repeat."""
    found: dict[str, Mapping[str, Any]] = {}
    for name, state in machine["States"].items():
        found.setdefault(name, state)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor and "ItemReader" not in state:
            for inner_name, inner in _states_by_name(processor).items():
                found.setdefault(inner_name, inner)
    return found


def _all_functions(machine: Mapping[str, Any]) -> set[str]:
    found = set()
    for state in machine["States"].values():
        function = invoked_function(state)
        if function is not None:
            found.add(function)
        for inner in (state.get("ItemProcessor"), state.get("Iterator")):
            if inner:
                found |= _all_functions(inner)
        for branch in state.get("Branches", []):
            found |= _all_functions(branch)
    return found


# -- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    function: str
    memory_mb: int
    duration_ms: float
    init_ms: float | None
    status: str = "ok"

    @property
    def billed_ms(self) -> int:
        """Lambda's billed duration: init (on a cold start) and the invocation, rounded up to
        the millisecond."""
        return math.ceil((self.duration_ms + (self.init_ms or 0.0)) / LAMBDA_BILLING_MS) * LAMBDA_BILLING_MS


@dataclass(frozen=True)
class Run:
    """What `docflow run` left in OUT, as the cost model reads it."""

    outcomes: list[Outcome]
    invocations: list[Invocation]
    requests: dict[str, dict[str, int]]
    function_log_bytes: int  # bytes the functions wrote to their logs
    batches: int = 1  # `docflow run` is one batch


def read_run(out_dir: Path) -> Run:
    """Reads report.json and .local-cloud/logs/ of a `docflow run --out OUT_DIR`."""
    out_dir = Path(out_dir)
    logs = out_dir / ".local-cloud" / "logs"
    for needed in (out_dir / "report.json", logs / "invocations.jsonl", logs / "requests.json"):
        if not needed.exists():
            raise FileNotFoundError(f"{needed} is missing: is {out_dir} the --out of a completed docflow run?")
    report = json.loads((out_dir / "report.json").read_text())
    invocations = []
    for line in (logs / "invocations.jsonl").read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            invocations.append(
                Invocation(
                    function=record["function"],
                    memory_mb=int(record["memory_mb"]),
                    duration_ms=float(record["duration_ms"]),
                    init_ms=None if record.get("init_ms") is None else float(record["init_ms"]),
                    status=str(record.get("status", "ok")),
                )
            )
    function_names = {spec.name for spec in load_catalog()}
    log_bytes = sum(path.stat().st_size for path in logs.glob("*.log") if path.stem in function_names)
    return Run(
        outcomes=[Outcome.from_report(document) for document in report["documents"]],
        invocations=invocations,
        requests=json.loads((logs / "requests.json").read_text()),
        function_log_bytes=log_bytes,
    )


# -- pricing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceCost:
    service: str
    standard: float  # USD per 1,000 documents, the document workflow as Standard (deployed)
    express: float  # USD per 1,000 documents, the document workflow as Express
    basis: str  # what was billed, per 1,000 documents


@dataclass(frozen=True)
class RouteCount:
    kind: str | None
    status: str
    failed_function: str | None
    documents: int
    states: list[str]  # the document workflow's states entered
    transitions: int  # Standard transitions per document: the route plus the Map child's
    express_ms: float  # the Lambda time on the route, per document (see price())
    express_billed_ms: int  # rounded up to 100 ms


@dataclass(frozen=True)
class CostReport:
    documents: int
    services: list[ServiceCost]
    standard_total: float  # USD per 1,000 documents
    express_total: float
    counts: dict[str, float]  # what was counted in the run (not scaled)
    routes: list[RouteCount]
    unpriced: dict[str, dict[str, int]] = field(default_factory=dict)  # requests of no known price
    notes: list[str] = field(default_factory=list)
    target: float = TARGET_PER_1000


def _lambda_price(architecture: str) -> float:
    return LAMBDA_ARM64_GB_SECOND if architecture == "arm64" else LAMBDA_X86_GB_SECOND


def price(
    run: Run,
    definitions: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    api_requests_per_document: float = 0.0,
) -> CostReport:
    """Prices `run` per 1,000 documents. Pure but for reading the catalog (and the
    definitions, when none are given). `api_requests_per_document` adds API Gateway calls (`docflow run` makes
    none; a client of the API makes about 5 a document: presign, status reads)."""
    definitions = definitions or load_definitions()
    documents = len(run.outcomes)
    if documents == 0:
        raise ValueError("the run processed no documents")
    scale = PER_DOCUMENTS / documents
    catalog = load_catalog()
    architectures = {spec.name: spec.architecture for spec in catalog}
    queue_consumers = {spec.name for spec in catalog if spec.queue is not None}
    document_machine, batch_machine = definitions["document"], definitions["batch"]
    counts: dict[str, float] = {"documents": documents, "batches": run.batches}

    # Step Functions: each document's route through the document workflow, walked.
    by_route: Counter[Outcome] = Counter(
        Outcome(o.kind, o.status, o.failing_function(), o.ocr_parts) for o in run.outcomes
    )
    routes_states = {outcome: document_route(outcome, definitions) for outcome in by_route}
    children = map_children(definitions)
    child_starts = child_executions(documents, run.batches, children)
    per_batch = batch_route(definitions)
    expected: Counter[str] = Counter()
    for outcome, number in by_route.items():
        for function in functions_on(document_machine, routes_states[outcome]):
            expected[function] += number
    for function in functions_on(batch_machine, per_batch):
        expected[function] += run.batches
    invoked = Counter(invocation.function for invocation in run.invocations)
    # Every invocation of a workflow's function past the routes' count is a retry: one more
    # state transition each (AWS bills retries as transitions).
    document_functions, batch_functions = _all_functions(document_machine), _all_functions(batch_machine)
    retries = {name: max(0, invoked[name] - expected[name]) for name in document_functions | batch_functions}
    document_retries = sum(n for name, n in retries.items() if name in document_functions)
    batch_retries = sum(n for name, n in retries.items() if name in batch_functions - document_functions)
    document_transitions = sum(len(routes_states[o]) * n for o, n in by_route.items())
    # The batch as deployed, on both sides: its own states, one transition per child started,
    # and a Standard child's states.
    child_transitions = child_starts * (1 if children.express else 1 + len(children.states))
    batch_transitions = child_transitions + run.batches * len(per_batch)
    standard_transitions = document_transitions + document_retries + batch_transitions + batch_retries
    express_standard_transitions = batch_transitions + batch_retries

    # Express duration: invocations carry no document id, so each function's total time
    # (duration + init) is divided by the documents whose route runs it (its retries
    # included), and a document's duration is the sum over the functions on its route.
    function_ms: Counter[str] = Counter()
    for invocation in run.invocations:
        function_ms[invocation.function] += invocation.duration_ms + (invocation.init_ms or 0.0)
    visits: Counter[str] = Counter()
    for outcome, number in by_route.items():
        for function in functions_on(document_machine, routes_states[outcome]):
            visits[function] += number
    per_visit_ms = {name: function_ms[name] / visits[name] for name in visits}
    routes: list[RouteCount] = []
    express_gb_seconds = 0.0
    for outcome, number in sorted(by_route.items(), key=lambda item: (-item[1], str(item[0]))):
        states = routes_states[outcome]
        ms = sum(per_visit_ms[function] for function in functions_on(document_machine, states))
        billed = max(EXPRESS_BILLING_MS, math.ceil(ms / EXPRESS_BILLING_MS) * EXPRESS_BILLING_MS)
        express_gb_seconds += number * (EXPRESS_BILLED_MEMORY_MB / 1024) * (billed / 1000)
        routes.append(
            RouteCount(outcome.kind, outcome.status, outcome.failed_function, number, states,
                       len(states), round(ms, 1), billed)
        )  # fmt: skip
    # The batch's Express children, each lasting its documents' time over its inline Map's
    # concurrency, and at least its longest document's.
    child_gb_seconds = 0.0
    if children.express and child_starts:
        document_ms = sum(route.express_ms * route.documents for route in routes)
        longest = max(route.express_ms for route in routes)
        child_ms = max(longest, document_ms / child_starts / children.concurrency)
        child_billed = max(EXPRESS_BILLING_MS, math.ceil(child_ms / EXPRESS_BILLING_MS) * EXPRESS_BILLING_MS)
        child_gb_seconds = child_starts * (EXPRESS_BILLED_MEMORY_MB / 1024) * (child_billed / 1000)
    batch_children = (
        (child_starts * SFN_EXPRESS_REQUEST + child_gb_seconds * SFN_EXPRESS_GB_SECOND) if children.express else 0.0
    )
    counts.update(
        standard_transitions=standard_transitions,
        document_workflow_transitions=document_transitions,
        batch_workflow_transitions=batch_transitions,
        retry_transitions=document_retries + batch_retries,
        batch_child_executions=child_starts,
        express_executions=documents,
        express_gb_seconds=round(express_gb_seconds, 6),
        batch_child_gb_seconds=round(child_gb_seconds, 6),
    )
    sfn_standard = standard_transitions * SFN_STANDARD_TRANSITION + batch_children
    sfn_express = (
        documents * SFN_EXPRESS_REQUEST
        + express_gb_seconds * SFN_EXPRESS_GB_SECOND
        + express_standard_transitions * SFN_STANDARD_TRANSITION
        + batch_children
    )

    # Lambda: every invocation, billed per ms with its init, at its memory and architecture.
    lambda_gb_seconds = 0.0
    lambda_compute = 0.0
    init_gb_seconds = 0.0
    for invocation in run.invocations:
        gb_seconds = invocation.memory_mb / 1024 * invocation.billed_ms / 1000
        lambda_gb_seconds += gb_seconds
        init_gb_seconds += invocation.memory_mb / 1024 * (invocation.init_ms or 0.0) / 1000
        lambda_compute += gb_seconds * _lambda_price(architectures.get(invocation.function, "arm64"))
    lambda_requests = len(run.invocations)
    counts.update(
        lambda_invocations=lambda_requests,
        lambda_cold_starts=sum(1 for i in run.invocations if i.init_ms is not None),
        lambda_gb_seconds=round(lambda_gb_seconds, 6),
        lambda_init_gb_seconds=round(init_gb_seconds, 6),
    )
    lambda_cost = lambda_compute + lambda_requests * LAMBDA_REQUEST

    # Requests moto served, by what each costs.
    s3_tier1 = s3_tier2 = sqs_requests = events = api_requests = 0
    dynamodb_wru = dynamodb_rru = 0.0
    unpriced: dict[str, dict[str, int]] = {}
    for service, operations in run.requests.items():
        if service in NOT_PER_REQUEST_SERVICES:
            continue
        for operation, number in operations.items():
            if operation in SETUP_OPERATIONS.get(service, set()):
                continue
            if service == "s3":
                if operation in S3_SETUP_OPERATIONS or operation in S3_FREE_OPERATIONS:
                    continue
                if operation in S3_TIER1_OPERATIONS:
                    s3_tier1 += number
                else:  # GET, HEAD and every other request
                    s3_tier2 += number
            elif service == "dynamodb" and operation in DYNAMODB_WRITE_UNITS:
                dynamodb_wru += DYNAMODB_WRITE_UNITS[operation] * number
            elif service == "dynamodb" and operation in DYNAMODB_READ_UNITS:
                dynamodb_rru += DYNAMODB_READ_UNITS[operation] * number
            elif service == "sqs" and operation in SQS_BILLED_OPERATIONS:
                sqs_requests += number
            elif service == "events" and operation in EVENTBRIDGE_BILLED_OPERATIONS:
                events += number
            elif service == "execute-api":
                api_requests += number
            else:
                unpriced.setdefault(service, {})[operation] = number
    # What AWS does that the local cloud does in-process, so requests.json cannot show it:
    # - the Map's ItemReader reads the manifest (one request a batch, s3:getObject/listObjectsV2);
    # - EventBridge delivers each upload's S3 event to ingest's queue: an SQS SendMessage;
    # - Lambda's event source mapping receives each batch it invokes a function with and
    #   deletes it: a ReceiveMessage and a DeleteMessageBatch per invocation, when the local
    #   poller's own requests are not in requests.json (its empty long polls are a cost per
    #   hour, not per document, and are left out).
    for state in batch_machine["States"].values():
        reader = state.get("ItemReader") if state.get("Type") == "Map" else None
        if reader:
            if reader.get("Resource", "").endswith(":s3:getObject"):
                s3_tier2 += run.batches
            else:
                s3_tier1 += run.batches
    sqs_requests += documents
    polls_inferred = 0
    if "ReceiveMessage" not in run.requests.get("sqs", {}):
        polls_inferred = 2 * sum(1 for invocation in run.invocations if invocation.function in queue_consumers)
        sqs_requests += polls_inferred
    api_requests += round(api_requests_per_document * documents)
    counts.update(
        s3_put_post_list=s3_tier1,
        s3_get_head_other=s3_tier2,
        dynamodb_write_units=dynamodb_wru,
        dynamodb_read_units=dynamodb_rru,
        sqs_requests=sqs_requests,
        sqs_requests_inferred=documents + polls_inferred,
        eventbridge_custom_events=events,
        api_gateway_requests=api_requests,
        function_log_bytes=run.function_log_bytes,
    )
    s3_cost = s3_tier1 * S3_TIER1_REQUEST + s3_tier2 * S3_TIER2_REQUEST
    dynamodb_cost = dynamodb_wru * DYNAMODB_WRITE_UNIT + dynamodb_rru * DYNAMODB_READ_UNIT
    sqs_cost = sqs_requests * SQS_REQUEST
    events_cost = events * EVENTBRIDGE_CUSTOM_EVENT
    api_cost = api_requests * API_GATEWAY_REST_REQUEST
    logs_cost = run.function_log_bytes / GB * CLOUDWATCH_LOGS_INGESTED_GB

    def per(value: float) -> str:
        return f"{value * scale:,.0f}"

    services = [
        ServiceCost(
            "Step Functions",
            sfn_standard * scale,
            sfn_express * scale,
            f"Standard: {per(standard_transitions)} transitions | Express: {per(documents)} executions, "
            f"{express_gb_seconds * scale:,.2f} GB-s at {EXPRESS_BILLED_MEMORY_MB} MB | both: the batch's "
            f"{per(express_standard_transitions)} transitions"
            + (f" and {per(child_starts)} Express children" if children.express else ""),
        ),
        ServiceCost(
            "Lambda (arm64)",
            lambda_cost * scale,
            lambda_cost * scale,
            f"{per(lambda_requests)} requests, {lambda_gb_seconds * scale:,.1f} GB-s "
            f"({init_gb_seconds * scale:,.1f} of it init)",
        ),
        ServiceCost("S3 requests", s3_cost * scale, s3_cost * scale, f"{per(s3_tier1)} PUT/POST/LIST, {per(s3_tier2)} GET/HEAD"),
        ServiceCost(
            "DynamoDB (on demand)", dynamodb_cost * scale, dynamodb_cost * scale, f"{per(dynamodb_wru)} WRU, {per(dynamodb_rru)} RRU"
        ),
        ServiceCost("SQS", sqs_cost * scale, sqs_cost * scale, f"{per(sqs_requests)} requests"),
        ServiceCost("EventBridge", events_cost * scale, events_cost * scale, f"{per(events)} custom events (S3's are free)"),
        ServiceCost("API Gateway (REST)", api_cost * scale, api_cost * scale, f"{per(api_requests)} requests"),
        ServiceCost(
            "CloudWatch Logs",
            logs_cost * scale,
            logs_cost * scale,
            f"{run.function_log_bytes * scale / 1024**2:,.2f} MiB of function logs",
        ),
    ]
    notes = [
        "Lambda durations and init times are this machine's, in the local cloud's workers; cold starts are "
        f"as many as the local run had ({counts['lambda_cold_starts']:.0f} of {lambda_requests} invocations).",
        "Express duration: each function's total time divided by the documents that ran it, summed along each "
        "route; Step Functions' own time between states is not measured.",
        f"The batch workflow is as deployed on both sides: its Map starts a child per {children.items_per_child} "
        f"document(s), a Standard transition each ({child_starts} here), "
        + ("each an Express execution." if children.express else f"each entering {len(children.states)} states."),
        "Not priced: Step Functions' execution logs (level ALL) and Lambda's platform log lines, X-Ray traces, "
        "EMF custom metrics (a fixed monthly cost), storage and data transfer.",
    ]
    if unpriced:
        notes.append("requests with no price here: " + ", ".join(f"{s}:{o}" for s, ops in unpriced.items() for o in ops))
    return CostReport(
        documents=documents,
        services=services,
        standard_total=sum(line.standard for line in services),
        express_total=sum(line.express for line in services),
        counts=counts,
        routes=routes,
        unpriced=unpriced,
        notes=notes,
    )


def price_run(out_dir: Path, *, api_requests_per_document: float = 0.0) -> CostReport:
    """Prices the `docflow run --out OUT_DIR` in OUT_DIR per 1,000 documents."""
    return price(read_run(Path(out_dir)), api_requests_per_document=api_requests_per_document)


def format_costs(report: CostReport) -> str:
    """The report as a table: USD per 1,000 documents, Standard and Express side by side."""
    kinds = Counter(route.kind or "none" for route in report.routes for _ in range(route.documents))
    statuses = Counter(route.status for route in report.routes for _ in range(route.documents))
    lines = [
        f"cost per {PER_DOCUMENTS:,} documents, USD, AWS list prices (us-east-1, arm64, no free tier): "
        f"{report.documents} documents ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; "
        f"{', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})",
        "",
        f"{'service':<22} {'Standard':>10} {'Express':>10}  billed per {PER_DOCUMENTS:,} documents",
    ]
    for line in report.services:
        lines.append(f"{line.service:<22} {line.standard:>10.5f} {line.express:>10.5f}  {line.basis}")
    lines.append(f"{'total':<22} {report.standard_total:>10.5f} {report.express_total:>10.5f}")

    def verdict(total: float) -> str:
        return "ok" if total <= report.target else "MISS"

    lines.append(
        f"{f'target <= {report.target:.2f}':<22} {verdict(report.standard_total):>10} {verdict(report.express_total):>10}"
    )
    lines.append("")
    lines.append("routes (document workflow; transitions as a Standard workflow would bill them):")
    for route in report.routes:
        failed = f", failed at {route.failed_function}" if route.failed_function else ""
        lines.append(
            f"  {route.documents:>5} x {route.kind or 'none'} {route.status}{failed}: {' > '.join(route.states)}; "
            f"{route.transitions} transitions; Express {route.express_ms:,.0f} ms, billed {route.express_billed_ms:,} ms"
        )
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
