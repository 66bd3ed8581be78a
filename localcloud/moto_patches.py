"""Where moto differs from AWS, or is slower than it need be, and what the local cloud does
about it: the one place docflow patches moto. No definition and no handler changes for
the local cloud; these change moto's behaviour while a LocalCloud runs, and
`uninstall()` restores moto as it was. Each patch has a canary test in
tests/test_moto_patches.py that fails when moto no longer needs it or has moved the thing
it patches.

1. Service integrations' parameter names. moto's port of the ASL interpreter hands boto3
   the ASL's parameter names as written, `StateMachineArn`, where boto3 wants
   `stateMachineArn`, and reads boto3's answer as `ExecutionArn` where boto3 gives
   `executionArn`. LocalStack, whose interpreter moto ported, converts between the two
   casings; moto's port lost that step. The wrappers restore it for the two integrations
   docflow's definitions use: `states:startExecution.sync:2`, and `aws-sdk:*` (the batch's
   `aws-sdk:sfn:startSyncExecution`), which LocalStack converts by the operation's shapes
   in botocore's service model, as here.

2. A child execution's end is awaited, not polled every half second. moto's `.sync`
   integrations describe the child execution every 0.5 s (`_DELAY_SECONDS_SYNC_CONDITION_CHECK`),
   so each document in a batch waited up to half a second after it was done. Here the
   resolver first waits for the child to end (moto's execution signals it), then describes
   it once, as before.

3. One boto3 client per service, not one per call. The interpreter builds a new boto3
   client for every Lambda invocation and every describe of a child execution: tens of
   milliseconds of CPU each, under the GIL the whole interpreter and moto's server share.
   Clients are thread-safe; here each (region, service) gets one.

4. The interpreter calls moto in its own process. Its service integrations (invoking a
   Lambda function, starting and describing a child execution, reading a Map's items from
   S3) went over HTTP to moto's server in the same process: a socket, a thread, werkzeug and
   Flask for each. With moto's in-process stubber on, as moto's own decorator mode does,
   `boto_client_for` builds clients that moto answers directly. Requests to an explicit
   endpoint (the CLI's, the workers') still go over HTTP.

5. A definition is parsed once. moto's interpreter runs ANTLR over the definition at every
   execution's start: 12 ms of CPU each, every document of a batch. The parse tree depends
   on the text alone, so it is kept per definition; each execution still gets its own
   freshly built components from it (moto's Preprocessor), as before.

6. moto's response classes list their own methods with `inspect.getmembers` on every
   request (`method_names_from_class`); a class's methods do not change, so the list is
   kept per class.

7. moto's server finds the backend for a request's host by listing its own package folder
   (`backends.list_of_moto_modules`, a directory scan) inside the one lock every request
   takes. A host always maps to the same backend, so the answer is remembered.

8. The interpreter's AWS Batch integration imports `moto.batch.utils` for one enum, and
   with it `moto.batch`, whose models import moto's EC2 models, which load EC2's 4 MB
   service model and every region's endpoints: 1.5 s of every local cloud's start, for a
   service no docflow definition calls. Here `moto.batch.utils` is imported alone, without
   its package's `__init__`, while the interpreter is imported; `moto.batch` itself imports
   as before afterwards. Unlike the others this one acts at import, so it has no uninstall.

9. A JSONPath is parsed once. moto's interpreter hands every path it evaluates (each
   InputPath, Parameters field, ItemSelector field, ResultPath, Choice variable) to
   jsonpath_ng's `parse`, which builds a new parser, yacc tables and all, every time: a
   sixth of the interpreter's time in a batch. A parsed path is a read-only tree, so each
   is kept per path string.

10. A DynamoDB transaction backs up the items it writes, not whole tables. moto's
   `transact_write_items` deep-copies every table a transaction names, to roll back on a
   failure: docflow counts each document of a batch with one transaction, so a batch of n
   documents copied the records table n times, O(n^2) in time and memory (a 500-document
   batch through `docflow serve` doubled the server's memory and ran at 40% of the speed
   of a 50-document one). Here the tables are not copied; the items the transaction names
   are, and on a failure those items are put back as they were, as moto's rollback would
   leave them.

11. DynamoDB's writes are serialised. moto's server answers each request in a thread of
   its own and its DynamoDB takes no lock, so two writes to one item, or a transaction and
   another write, can interleave: counting 400 documents of a batch from 8 threads, a
   document was lost or counted twice in most trials (with or without patch 10). DynamoDB
   applies each write to an item atomically and each transaction all or nothing; here one
   lock is held across every write and every transaction.
12. A distributed Map's Express children and ItemBatcher. moto's ASL grammar knows neither
   `"ExecutionType": "EXPRESS"` in a ProcessorConfig nor `ItemBatcher`, and refuses a
   definition that has them. Locally a child's type changes nothing but its billing and
   AWS's five-minute limit, so EXPRESS is read as STANDARD; ItemBatcher is taken out before
   moto parses the definition and applied when the Map runs: its items are grouped into
   {"Items": [...]} of at most `MaxItemsPerBatch`, one child each, and the Map run's item
   counts count items, as AWS's do, not children. Only `MaxItemsPerBatch` is supported,
   and not beside an ItemSelector; anything else is refused with a message saying so. The
   grammar also takes a `ToleratedFailurePercentage` only with a decimal point (`100.0`),
   where AWS takes any number: an integer is read as the same number.

13. Express executions. AWS does not make an Express execution's name unique, and starts
   one again for a repeated name; moto returns the earlier execution, so a redelivered
   upload or a retried batch would silently not run. Here each Express start is a new
   execution. And moto has no `StartSyncExecution`, which a batch's Express children call
   (through the `aws-sdk:sfn` integration) to run the document workflow: here it starts the
   execution, waits for its end (patch 2's signal) for at most Express's five minutes, and
   answers as AWS does, with a 200 and the status, `TIMED_OUT` past the limit. The
   interpreter's clients skip the `sync-` host prefix AWS routes that call by, since one
   local endpoint answers every call.

14. Ended Express executions are not kept forever. moto keeps every execution, its history
   and its interpreter's state (about 45 KB each) as long as the cloud runs: a 10,000-
   document batch through `docflow serve`, its uploads processed first, would leave 20,000. AWS keeps no history of an
   Express execution at all. Here each Express state machine keeps its latest
   `EXPRESS_EXECUTIONS_KEPT` ended executions, enough to look at a run, and forgets older ones.

15. An SQS receive does not recount the queue. For every message it hands out, moto's
   `receive_message` checks the message's retention by asking `get_queue_attributes` for
   the retention period, which computes every attribute first, among them the approximate
   number of messages, a pass over the whole queue: a receive from a backlog of n messages
   cost O(n) per message. With 4,500 uploads queued behind `docflow serve`, ingest received
   one batch every 25 s while its documents waited. Here the retention period is read from
   the queue itself, as the check needs.

16. Percentile statistics. CloudWatch answers `p50`, `p95` and any `pNN` as a statistic
   of GetMetricData; moto answers only Sum, Average, Minimum, Maximum and SampleCount, and
   None for the rest. The console asks for each function's p50 and p95 duration, the same
   query in both runtimes; here a `pNN` is the nearest-rank percentile of the period's
   values, as CloudWatch computes it from raw values.

17. A timeout is evaluated even while its execution stops. moto's interpreter skips
   ("prunes") every component it evaluates once the execution is no longer running, and a
   `.sync` task pops its timeout off the evaluation stack right after evaluating it: an
   execution stopped (a batch cancelled) while such a task's call was out popped the task's
   output instead, a dict, and handed it to the thread that waits for the task's callback
   as its timeout, which died printing `TypeError: '>' not supported between instances of
   'dict' and 'int'` (in a thread `WaitForTaskToken_SyncTask_…`) to `docflow serve`'s
   terminal. Here a timeout always pushes its seconds, so what pops it gets a number. (And
   the local cloud sends any thread's uncaught exception to logs/cloud.log: cloud.py.)
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import math
import sys
import threading
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from moto.cloudwatch.models import Statistics
from moto.core import responses as moto_responses
from moto.core.models import botocore_stubber, patch_client
from moto.core.utils import unix_time
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.moto_server import werkzeug_app
from moto.sqs.models import SQSBackend

# -- 8. the interpreter imported without moto's EC2 -----------------------------------------


def _import_interpreter() -> Any:
    """Imports moto's ASL parser (and with it every state's module) with `moto.batch` as a
    bare package while it loads, so that `moto.batch.utils` loads without `moto.batch`'s
    models; the real package is imported as usual by anyone who asks for it later."""
    if "moto.batch" in sys.modules:  # already imported for real: nothing to save
        return importlib.import_module("moto.stepfunctions.parser.asl.parse.asl_parser")
    import moto

    bare = types.ModuleType("moto.batch")
    bare.__path__ = [str(Path(moto.__file__).parent / "batch")]
    sys.modules["moto.batch"] = bare
    try:
        return importlib.import_module("moto.stepfunctions.parser.asl.parse.asl_parser")
    finally:
        del sys.modules["moto.batch"]
        if getattr(moto, "batch", None) is bare:
            del moto.batch


asl_parser = _import_interpreter()  # also imports every state's module, so the rest below
from moto.stepfunctions.parser.api import StateMachineTypeNotSupported  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.path import result_path  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import Timeout  # noqa: E402
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (  # noqa: E402
    distributed_iteration_component as distributed_map,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (  # noqa: E402
    distributed_item_processor_worker as distributed_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: E402
    state_task_service_aws_sdk as aws_sdk_service,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (  # noqa: E402
    state_task_service_sfn as sfn_service,
)
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor  # noqa: E402
from moto.stepfunctions.parser.asl.utils import boto_client, json_path  # noqa: E402
from moto.stepfunctions.parser.backend import execution as execution_module  # noqa: E402
from moto.stepfunctions.parser.models import StepFunctionsParserBackend  # noqa: E402
from moto.stepfunctions.responses import StepFunctionResponse  # noqa: E402

# How long a .sync resolver waits for the child's end before it describes it anyway: a
# guard against a missed signal, not the usual path.
SYNC_WAIT_SECONDS = 2.0
# Express's limit on an execution's duration (patch 13).
EXPRESS_LIMIT_SECONDS = 300.0
# Ended Express executions kept per state machine (patch 14), and how far past that before pruning.
EXPRESS_EXECUTIONS_KEPT = 1000
_PRUNE_EVERY = 100
# The operations that write to moto's DynamoDB (patches 10 and 11).
_DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items")

_Service = sfn_service.StateTaskServiceSfn
_AwsSdkService = aws_sdk_service.StateTaskServiceAwsSdk
_Communication = execution_module.BaseExecutionWorkerCommunication
_Dispatcher = werkzeug_app.DomainDispatcherApplication
_MapRun = distributed_map.DistributedIterationComponent
_MapRunWorker = distributed_worker.DistributedItemProcessorWorker
_original: dict[str, Callable[..., Any]] = {
    "normalise_parameters": _Service._normalise_parameters,
    "normalise_response": _Service._normalise_response,
    "aws_sdk_normalise_parameters": _AwsSdkService._normalise_parameters,  # for the canaries
    "build_sync2_resolver": _Service._build_sync2_resolver,
    "terminated": _Communication.terminated,
    "boto_client_for": boto_client.boto_client_for,
    "get_backend_for_host": _Dispatcher.get_backend_for_host,
    "parse": asl_parser.AmazonStateLanguageParser.parse,
    "method_names_from_class": moto_responses.method_names_from_class,
    **{f"dynamodb_{name}": getattr(DynamoDBBackend, name) for name in _DYNAMODB_WRITES},
    "json_path_parse": json_path.parse,  # jsonpath_ng.ext's
    "result_path_parse": result_path.parse,  # jsonpath_ng's
    "map_run": _MapRun._map_run,
    "eval_job": _MapRunWorker._eval_job,
    "start_execution": StepFunctionsParserBackend.start_execution,
}


# -- 1. startExecution.sync:2 casing ------------------------------------------------------


def _recase(mapping: dict, first_letter: Callable[[str], str]) -> None:
    for key in list(mapping):
        new_key = first_letter(key[0]) + key[1:]
        if new_key != key:
            mapping[new_key] = mapping.pop(key)


def _normalise_parameters(self, parameters: dict, boto_service_name=None, service_action_name=None) -> None:
    _original["normalise_parameters"](self, parameters, boto_service_name, service_action_name)
    if service_action_name is None:  # the call to boto3, not the describe of its answer
        _recase(parameters, str.lower)


def _normalise_response(self, response: Any, boto_service_name=None, service_action_name=None) -> None:
    _original["normalise_response"](self, response, boto_service_name, service_action_name)
    if isinstance(response, dict):
        _recase(response, str.upper)


@functools.cache
def _operation_model(service: str, action: str) -> Any:
    """botocore's model of an operation, by service and snake-case action (start_sync_execution)."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    name = next(name for name in model.operation_names if xform_name(name) == action)
    return model.operation_model(name)


def _aws_sdk_normalise_parameters(self, parameters: dict, boto_service_name=None, service_action_name=None) -> None:
    operation = _operation_model(
        self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
    )
    if operation.input_shape is not None:
        self._to_boto_request(parameters, operation.input_shape)


def _aws_sdk_normalise_response(self, response: Any, boto_service_name=None, service_action_name=None) -> None:
    operation = _operation_model(
        self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
    )
    if operation.output_shape is not None:
        self._from_boto_response(response, operation.output_shape)


# -- 2. a child execution's end, signalled ------------------------------------------------


class _Endings:
    """Executions that have ended, and the waiters for them, by execution ARN."""

    def __init__(self) -> None:
        self._events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _event(self, arn: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(arn, threading.Event())

    def ended(self, arn: str) -> None:
        self._event(arn).set()

    def wait(self, arn: str, timeout: float) -> None:
        self._event(arn).wait(timeout)

    def forget(self, arn: str) -> None:
        with self._lock:
            self._events.pop(arn, None)


_endings = _Endings()


def _terminated(self) -> None:
    _original["terminated"](self)
    _endings.ended(self.execution.exec_arn)


def _build_sync2_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
    execution_arn = env.stack[-1]["ExecutionArn"]  # what startExecution answered; moto pops it
    resolve = _original["build_sync2_resolver"](
        self, env, resource_runtime_part, normalised_parameters, state_credentials
    )

    def resolve_when_ended() -> Any:
        _endings.wait(execution_arn, SYNC_WAIT_SECONDS)
        result = resolve()
        if result is not None:
            _endings.forget(execution_arn)
        return result

    return resolve_when_ended


# -- 3. one boto3 client per region and service --------------------------------------------

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def _shared_boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    with _clients_lock:
        client = _clients.get((region, service))
        if client is None:
            client = _clients[(region, service)] = _original["boto_client_for"](region, service, state_credentials)
            client.meta.config.inject_host_prefix = False  # patch 13: StartSyncExecution's "sync-"
            patch_client(client)  # patch 4's stubber, whatever the age of boto3's default session
        return client


def _modules_using_boto_client_for() -> list[Any]:
    """moto's interpreter modules import boto_client_for by name: each holds its own reference."""
    return [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is not None
    ]


# -- 5. a definition parsed once ---------------------------------------------------------------

_trees: dict[str, tuple[Any, dict[tuple[str, ...], int]]] = {}  # definition -> (tree, its batchers)


def _parse(definition: str) -> tuple[Any, Any]:
    parsed = _trees.get(definition)
    if parsed is None:
        as_moto_reads_it, batchers = without_what_moto_cannot_parse(definition)  # patch 12
        _program, tree = _original["parse"](as_moto_reads_it)  # raises on a bad definition, as before
        parsed = _trees[definition] = (tree, batchers)
    tree, batchers = parsed
    program = Preprocessor().visit(tree)
    _attach_batchers(program, batchers)
    return program, tree


# -- 6. a class's methods listed once -----------------------------------------------------------

_methods: dict[type, list[str]] = {}


def _method_names_from_class(cls: type) -> list[str]:
    names = _methods.get(cls)
    if names is None:
        names = _methods[cls] = _original["method_names_from_class"](cls)
    return names


# -- 7. the backend of a host, remembered ------------------------------------------------------

_backends_by_host: dict[str | None, Any] = {}


def _get_backend_for_host(self, host: str | None) -> Any:
    # Called under the dispatcher's own lock, so the cache needs none of its own.
    if host not in _backends_by_host:
        _backends_by_host[host] = _original["get_backend_for_host"](self, host)
    return _backends_by_host[host]


# -- 9. a JSONPath parsed once -------------------------------------------------------------------

_JSONPATHS_KEPT = 4096  # paths per parser; a definition has tens
_json_path_parse = functools.lru_cache(maxsize=_JSONPATHS_KEPT)(_original["json_path_parse"])
_result_path_parse = functools.lru_cache(maxsize=_JSONPATHS_KEPT)(_original["result_path_parse"])


# -- 10. a transaction backs up its own items -------------------------------------------------

_transaction = threading.local()  # .active: this thread is inside transact_write_items


def _deepcopy_table(self: Table, memo: dict) -> Table:
    """Inside a transaction, moto's backup of a table is the table itself (its items are
    backed up by _transact_write_items); anywhere else, a table copies as any object does."""
    if getattr(_transaction, "active", False):
        return self
    copied = cast(Table, self.__class__.__new__(self.__class__))
    memo[id(self)] = copied
    for name, value in vars(self).items():
        setattr(copied, name, copy.deepcopy(value, memo))
    return copied


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    backups = []  # (table name, key, the item's attributes before, or None)
    for entry in transact_items:
        for operation in entry.values():
            table = self.tables.get(operation.get("TableName"))
            if table is None:
                continue  # moto raises its own error for it
            if "Key" in operation:
                key = operation["Key"]
            else:
                names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
                key = {name: operation["Item"][name] for name in names if name in operation.get("Item", {})}
            try:
                before = self.get_item(table.name, key)
            except Exception:  # a malformed key: moto's own call reports it
                continue
            backups.append((table.name, key, copy.deepcopy(before.to_json()["Attributes"]) if before else None))
    _transaction.active = True
    try:
        _original["dynamodb_transact_write_items"](self, transact_items)
    except Exception:
        for table_name, key, attributes in reversed(backups):
            if attributes is None:
                if self.get_item(table_name, key) is not None:
                    self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attributes)
        raise
    finally:
        _transaction.active = False


# -- 11. DynamoDB's writes serialised -------------------------------------------------------------

_dynamodb_writing = threading.RLock()  # re-entrant: a transaction's writes go through put_item and the rest


def _dynamodb_write(name: str) -> Callable[..., Any]:
    return _transact_write_items if name == "transact_write_items" else _original[f"dynamodb_{name}"]


def _serialised(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def serialised(*args: Any, **kwargs: Any) -> Any:
        with _dynamodb_writing:
            return write(*args, **kwargs)

    return serialised


# -- 12. a distributed Map's Express children and ItemBatcher ------------------------------------

_BATCHER_FIELDS_SUPPORTED = {"MaxItemsPerBatch"}


def without_what_moto_cannot_parse(definition: str) -> tuple[str, dict[tuple[str, ...], int]]:
    """The definition with its Maps' Express children read as Standard and their
    ItemBatchers taken out, and those batchers: {the Map's path of state names: items per batch}.
    LocalStack's grammar, of which moto's is a port, refuses the same: its tests run the
    definitions rewritten by this too (tests/test_localstack_workflows.py)."""
    try:
        machine = json.loads(definition)
    except ValueError:
        return definition, {}  # moto's parser reports it
    batchers: dict[tuple[str, ...], int] = {}
    changed = False

    def visit(machine: Any, path: tuple[str, ...]) -> None:
        nonlocal changed
        states = machine.get("States") if isinstance(machine, dict) else None
        for name, state in (states or {}).items():
            if not isinstance(state, dict) or state.get("Type") != "Map":
                continue
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            config = processor.get("ProcessorConfig") or {}
            if config.get("ExecutionType") == "EXPRESS":
                config["ExecutionType"] = "STANDARD"
                changed = True
            tolerated = state.get("ToleratedFailurePercentage")
            if isinstance(tolerated, int) and not isinstance(tolerated, bool):
                state["ToleratedFailurePercentage"] = float(tolerated)  # moto's grammar wants "100.0"
                changed = True
            batcher = state.pop("ItemBatcher", None)
            if batcher is not None:
                changed = True
                unsupported = sorted(set(batcher) - _BATCHER_FIELDS_SUPPORTED) + (
                    ["ItemSelector"] if "ItemSelector" in state else []
                )
                if unsupported or not isinstance(batcher.get("MaxItemsPerBatch"), int):
                    raise ValueError(
                        f"The local cloud supports ItemBatcher with MaxItemsPerBatch alone; Map state {name!r} "
                        f"also has {', '.join(unsupported) or 'no MaxItemsPerBatch'}."
                    )
                batchers[(*path, name)] = batcher["MaxItemsPerBatch"]
            visit(processor, (*path, name))

    visit(machine, ())
    return (json.dumps(machine) if changed else definition), batchers


def _attach_batchers(program: Any, batchers: dict[tuple[str, ...], int]) -> None:
    for path, items_per_batch in batchers.items():
        states = program.states
        for name in path[:-1]:
            states = states.states[name].iteration_component._states
        states.states[path[-1]].iteration_component.items_per_batch = items_per_batch


class _Batch(dict):
    """One child's input under an ItemBatcher: {"Items": [...]}."""


def _map_run(self, env, eval_input) -> None:
    items_per_batch = getattr(self, "items_per_batch", None)
    if items_per_batch:
        items = env.stack.pop()
        env.stack.append([_Batch(Items=items[i : i + items_per_batch]) for i in range(0, len(items), items_per_batch)])
    _original["map_run"](self, env, eval_input)


class _ScaledCounter:
    def __init__(self, counter: Any, scale: int):
        self._counter, self._scale = counter, scale

    def count(self, increment: int = 1) -> None:
        self._counter.count(increment * self._scale)

    def offset(self, offset: int) -> None:
        self._counter.offset(offset * self._scale)


class _ItemsOfOneBatch:
    """A Map run's record as one child's worker sees it: its item counts move by the
    child's number of items; everything else is the record's own."""

    def __init__(self, record: Any, items: int):
        self._record = record
        self.item_counter = types.SimpleNamespace(
            **{name: _ScaledCounter(getattr(record.item_counter, name), items) for name in vars(record.item_counter)}
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._record, name)


def _eval_job(self, env, job) -> None:
    if not isinstance(job.job_input, _Batch):
        return _original["eval_job"](self, env, job)
    record = self._map_run_record
    self._map_run_record = _ItemsOfOneBatch(record, len(job.job_input["Items"]))
    try:
        _original["eval_job"](self, env, job)
    finally:
        self._map_run_record = record


# -- 13. Express executions: every start runs; StartSyncExecution -------------------------------


def _start_execution(self, state_machine_arn: str, name: str | None = None, execution_input=None, trace_header=None):
    state_machine = self.describe_state_machine(state_machine_arn)
    if state_machine.type != "EXPRESS":
        return _original["start_execution"](self, state_machine_arn, name, execution_input, trace_header)
    name = name or str(uuid.uuid4())
    # A name of its own for each start, as the ARNs AWS gives Express executions end in one.
    execution = _original["start_execution"](
        self, state_machine_arn, f"{name}:{uuid.uuid4()}", execution_input, trace_header
    )
    execution.name = name
    _forget_old_express_executions(state_machine)  # patch 14
    return execution


# -- 14. ended Express executions forgotten ---------------------------------------------------


_pruning = threading.Lock()


def _forget_old_express_executions(state_machine: Any) -> None:
    executions = state_machine.executions  # appended to by other threads' starts meanwhile
    if len(executions) < EXPRESS_EXECUTIONS_KEPT + _PRUNE_EVERY or not _pruning.acquire(blocking=False):
        return
    try:
        ended = [
            execution
            for execution in list(executions)
            if str(getattr(execution.status, "value", execution.status)) != "RUNNING"
        ]
        for execution in ended[
            : max(0, len(ended) - EXPRESS_EXECUTIONS_KEPT)
        ]:  # the oldest: the list is in start order
            executions.remove(execution)  # one at a time, so that a start appending meanwhile is kept
            _endings.forget(execution.execution_arn)
    finally:
        _pruning.release()


def _start_sync_execution(self: StepFunctionResponse) -> Any:
    backend = self.stepfunction_backend
    state_machine_arn = self._get_param("stateMachineArn")
    if backend.describe_state_machine(state_machine_arn).type != "EXPRESS":
        raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
    started = backend.start_execution(
        state_machine_arn, self._get_param("name"), self._get_param("input", if_none="{}")
    )
    arn = started.execution_arn
    _endings.wait(arn, EXPRESS_LIMIT_SECONDS)
    _endings.forget(arn)
    execution = backend.describe_execution(arn)
    status = str(getattr(execution.status, "value", execution.status))
    if status == "RUNNING":
        backend.stop_execution(arn)
        status = "TIMED_OUT"
    response = {
        "executionArn": arn,
        "stateMachineArn": state_machine_arn,
        "name": execution.name,
        "startDate": execution.start_date,
        "stopDate": execution.stop_date,
        "status": status,
        "input": execution.execution_input,
    }
    if status == "SUCCEEDED":
        output = execution.output
        response["output"] = output if isinstance(output, str) or output is None else json.dumps(output)
    if status == "TIMED_OUT":
        response.update(error="States.Timeout", cause=f"The execution ran longer than {EXPRESS_LIMIT_SECONDS:.0f} s")
    else:
        response.update(
            {key: value for key in ("error", "cause") if (value := getattr(execution, key, None)) is not None}
        )
    return moto_responses.ActionResult(response)


# -- 15. an SQS receive without recounting the queue ------------------------------------------


def _is_message_valid_based_on_retention_period(self: SQSBackend, queue_name: str, message: Any) -> bool:
    retention = self.get_queue(queue_name).message_retention_period  # type: ignore[attr-defined]  # set by Queue()
    return retention + message.sent_timestamp / 1000 > unix_time()


# -- 16. percentile statistics -----------------------------------------------------------------

_moto_statistic = Statistics.get_statistics_for_type


def _statistic(self: Statistics, stat: str) -> Any:
    if stat[:1] != "p" or not stat[1:].replace(".", "", 1).isdigit():
        return _moto_statistic(self, stat)
    values = sorted(self.metric_single_values_list)
    if not values:
        return None
    rank = math.ceil(float(stat[1:]) / 100 * len(values))
    return values[min(max(rank, 1), len(values)) - 1]


# -- 17. a timeout evaluated while its execution stops ---------------------------------------------

_moto_timeout_eval = Timeout.eval


def _timeout_eval(self: Timeout, env: Any) -> None:
    if env.is_running():
        _moto_timeout_eval(self, env)
    else:  # pruned: push its seconds all the same, for whatever pops them next
        env.stack.append(self._eval_seconds(env=env))


# -- install / uninstall ------------------------------------------------------------------------


_stubber_was_enabled = botocore_stubber.enabled


def _replacements() -> list[tuple[Any, str, Any]]:
    """(class or module, attribute, what replaces it): every patch above, installed as one."""
    return [
        (_Service, "_normalise_parameters", _normalise_parameters),
        (_Service, "_normalise_response", _normalise_response),
        (_AwsSdkService, "_normalise_parameters", _aws_sdk_normalise_parameters),
        (_AwsSdkService, "_normalise_response", _aws_sdk_normalise_response),
        (_Service, "_build_sync2_resolver", _build_sync2_resolver),
        (_Communication, "terminated", _terminated),
        (_Dispatcher, "get_backend_for_host", _get_backend_for_host),
        (asl_parser.AmazonStateLanguageParser, "parse", staticmethod(_parse)),
        (moto_responses, "method_names_from_class", _method_names_from_class),
        (json_path, "parse", _json_path_parse),
        (result_path, "parse", _result_path_parse),
        (Table, "__deepcopy__", _deepcopy_table),
        *[(DynamoDBBackend, name, _serialised(_dynamodb_write(name))) for name in _DYNAMODB_WRITES],
        *[(module, "boto_client_for", _shared_boto_client_for) for module in _modules_using_boto_client_for()],
        (_MapRun, "_map_run", _map_run),
        (_MapRunWorker, "_eval_job", _eval_job),
        (StepFunctionsParserBackend, "start_execution", _start_execution),
        (StepFunctionResponse, "start_sync_execution", _start_sync_execution),
        (SQSBackend, "is_message_valid_based_on_retention_period", _is_message_valid_based_on_retention_period),
        (Statistics, "get_statistics_for_type", _statistic),
        (Timeout, "eval", _timeout_eval),
    ]


_ABSENT = object()
# What install() replaced, in order: (owner, attribute, what the owner itself held or _ABSENT,
# so that an inherited or missing attribute is deleted again rather than pinned).
_replaced: list[tuple[Any, str, Any]] = []


def install() -> None:
    global _stubber_was_enabled
    _stubber_was_enabled = botocore_stubber.enabled
    botocore_stubber.enabled = True
    for owner, name, replacement in _replacements():
        _replaced.append((owner, name, vars(owner).get(name, _ABSENT)))
        setattr(owner, name, replacement)


def uninstall() -> None:
    botocore_stubber.enabled = _stubber_was_enabled
    while _replaced:
        owner, name, before = _replaced.pop()
        if before is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, before)
    with _clients_lock:
        _clients.clear()  # they point at this cloud's port
    _backends_by_host.clear()
    _trees.clear()
    _methods.clear()
