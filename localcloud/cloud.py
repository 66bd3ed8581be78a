"""LocalCloud: moto's server plus docflow's resources, functions and state machines."""

from __future__ import annotations

import functools
import io
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.models import patch_client

from docflow.dynamodb_records import create_table
from docflow.ingestion import upload_event_pattern
from docflow.notifications import EVENT_PATTERN
from docflow.settings import Settings
from infra.catalog import (
    FunctionSpec,
    deployed_name,
    load_catalog,
    resource_values,
    service_name,
    state_machine_files,
    substitute,
    workflow_types,
)
from localcloud.event_sources import QueuePoller
from localcloud.metering import RequestMeter
from localcloud.s3_gateway import S3Gateway
from localcloud.scheduler import ScheduleRunner
from localcloud.servers import SHUTDOWN_POLL_SECONDS, log_request_errors
from localcloud.service_metrics import ServiceMetrics
from localcloud.workers import FunctionPool, Invocation, Zygote

REGION = "us-east-1"
BUCKET = "docflow-local-documents"
TABLE = "docflow-local-records"
# moto accepts any credentials; these keep boto3 from looking for real ones.
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# What Lambda's runtime gives every function besides its own variables.
_PASSED_THROUGH = ("PATH", "LANG", "TZ", "TMPDIR", "LD_LIBRARY_PATH", "MAGIC")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# The settings the local cloud gives its functions in place of the catalog's, and why; the
# only ones (tests/test_infra.py checks the rest agree with the deployed stack's).
LOCAL_SETTINGS = {
    # Webhooks may target this machine, so that a receiver of one's own gets them here.
    "DOCFLOW_WEBHOOK_LOOPBACK": "1",
}


SETTINGS = frozenset(variable for variable, _, _ in Settings.described())


class LocalCloud:
    """Starts moto on 127.0.0.1, deploys docflow into it, and stops it all on exit.

    with LocalCloud() as cloud:
        cloud.client("s3").put_object(Bucket=cloud.bucket, ...)
        cloud.client("stepfunctions").start_execution(stateMachineArn=cloud.state_machines["batch"], ...)
    """

    def __init__(self, workdir: Path | None = None, *, concurrency: int | None = None, port: int | None = None):
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="docflow-local-"))
        self.concurrency = concurrency or max(2, os.cpu_count() or 2)
        self.port = port or _free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.bucket = BUCKET
        self.table = TABLE
        self.functions: dict[str, FunctionSpec] = {spec.name: spec for spec in load_catalog()}
        self.function_arns: dict[str, str] = {}
        self.state_machines: dict[str, str] = {}
        self.pools: dict[str, FunctionPool] = {}
        self.faults = InjectedFaults()
        self.queues: dict[str, str] = {}  # function name -> URL of the queue it consumes
        self.queue_arns: dict[str, str] = {}
        self.dead_letter_queues: dict[str, str] = {}
        self.event_bus = deployed_name("events")
        self.schedule_group = deployed_name("later")
        self.role = ""
        self.schedules: ScheduleRunner | None = None
        self.service_metrics: ServiceMetrics | None = None
        self.pollers: list[QueuePoller] = []
        self.s3_gateway: S3Gateway | None = None
        self._zygote: Zygote | None = None
        self._server: _MotoServer | None = None
        self._saved_environment: dict[str, str | None] = {}
        self._excepthook: Callable[[threading.ExceptHookArgs], Any] | None = None
        self._clients: dict[tuple[str, bool], Any] = {}

    # -- life cycle ---------------------------------------------------------------------

    def __enter__(self) -> LocalCloud:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        self._log_service_chatter()
        # The workers' libraries load on one core while moto is imported on the other.
        self._zygote = Zygote(self._base_environment(), self.workdir / "logs" / "zygote.log")
        from moto.core.config import default_user_config

        from localcloud import moto_patches

        default_user_config["stepfunctions"]["execute_state_machine"] = True
        # The interpreter calls back into "its" server for service integrations.
        self._set_environment(MOTO_PORT=str(self.port), **CREDENTIALS)
        moto_patches.install()
        _route_lambda_invocations_to(self)
        try:
            self._server = _MotoServer(self.port)
            # moto keeps its state per process: a cloud started earlier in this process left
            # its resources behind. Each LocalCloud starts empty (and only one runs at a time).
            reset = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
            urllib.request.urlopen(reset).close()
            self._deploy()
        except BaseException:
            self.stop()  # no server thread, patch or worker outlives a failed start
            raise

    def stop(self) -> None:
        if self.service_metrics is not None:
            self.service_metrics.stop()
            self.service_metrics = None
        if self.schedules is not None:
            self.schedules.stop()
            self.schedules = None
        for poller in self.pollers:
            poller.stop()
        self.pollers.clear()
        with ThreadPoolExecutor() as stopping:  # each worker takes a moment to exit
            list(stopping.map(FunctionPool.close, self.pools.values()))
        self.pools.clear()
        if self._zygote is not None:
            self._zygote.close()  # and any worker still left
            self._zygote = None
        if self.s3_gateway is not None:
            self.s3_gateway.stop()
            self.s3_gateway = None
        if self._server is not None:
            # What each service was asked, for make bench's cost model (metering.py).
            (self.workdir / "logs" / "requests.json").write_text(json.dumps(self.requests_served(), indent=1))
            self._server.stop()
            self._server = None
        _route_lambda_invocations_to(None)
        if self._excepthook is not None:
            threading.excepthook, self._excepthook = self._excepthook, None
        if "localcloud.moto_patches" in sys.modules:
            sys.modules["localcloud.moto_patches"].uninstall()
        self._clients.clear()
        self._restore_environment()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def requests_served(self) -> dict[str, dict[str, int]]:
        """{service: {operation: count}} of every request moto has served so far."""
        return self._server.meter.snapshot() if self._server else {}

    def client(self, service: str) -> Any:
        """A client of the cloud's endpoint, over HTTP as any program would use it."""
        return self._client(service, over_http=True)

    def _client(self, service: str, over_http: bool) -> Any:
        """Clients are made once per service (they are thread-safe). Without `over_http`,
        moto answers in this process (moto_patches, patch 4): the cloud's own deployment and
        event sources, which are AWS's own services, need no socket."""
        key = (service, over_http)
        if key not in self._clients:
            self._clients[key] = boto3.client(
                service,
                endpoint_url=self.endpoint_url if over_http else None,
                region_name=REGION,
                aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                # One endpoint answers every operation, StartSyncExecution's "sync-" host too.
                config=Config(inject_host_prefix=False),
            )
            if not over_http:
                # moto answers a client in-process only if its session was made after moto
                # was imported, or the client is patched: the default session may be older.
                patch_client(self._clients[key])
        return self._clients[key]

    # -- deployment: the same catalog and definitions CDK deploys -------------------------

    def _deploy(self) -> None:
        """What the workers' environments name first, so they start while the rest is made."""
        # Clients reach S3 through the gateway, which checks presigned POSTs as S3 does.
        self.s3_gateway = S3Gateway(self.endpoint_url, credentials=CREDENTIALS, region=REGION)
        self.s3_gateway.start()
        role = self._client("iam", over_http=False).create_role(
            RoleName="docflow-local", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
        )["Role"]["Arn"]
        self.role = role
        self._create_queues()
        self._client("events", over_http=False).create_event_bus(Name=self.event_bus)
        self._client("scheduler", over_http=False).create_schedule_group(Name=self.schedule_group)
        self._register_functions(role)
        self._deploy_state_machines(role)
        self._start_workers()
        s3 = self._client("s3", over_http=False)
        s3.create_bucket(Bucket=self.bucket)
        # S3 -> EventBridge, as the stack configures the bucket.
        s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        create_table(self._client("dynamodb", over_http=False), self.table)
        self._deploy_event_sources()
        self.schedules = ScheduleRunner(
            self._client("scheduler", over_http=False), self.schedule_group,
            lambda arn, payload: self.invoke(arn, json.loads(payload)),
        )  # fmt: skip
        self.schedules.start()
        self.service_metrics = ServiceMetrics(self._client("cloudwatch", over_http=False), _moto_queues)
        self.service_metrics.start()

    def _resource_values(self) -> dict[str, str]:
        return resource_values(
            self.bucket, self.table, self.state_machines, self.event_bus, self.queues, self.function_arns,
            (self.schedule_group, self.role),
        )  # fmt: skip

    def _register_functions(self, role: str) -> None:
        lambda_client = self._client("lambda", over_http=False)
        # moto wants code to register a function; the code that runs is the worker's.
        placeholder = io.BytesIO()
        with zipfile.ZipFile(placeholder, "w") as archive:
            archive.writestr("app.py", "")
        for spec in self.functions.values():
            arn = lambda_client.create_function(
                FunctionName=deployed_name(spec.name),
                Runtime=spec.runtime,
                Role=role,
                Handler=spec.handler,
                Code={"ZipFile": placeholder.getvalue()},
                Timeout=spec.timeout_seconds,
                MemorySize=spec.memory_mb,
                Architectures=[spec.architecture],
            )["FunctionArn"]
            self.function_arns[spec.name] = arn

    def _start_workers(self) -> None:
        assert self._zygote is not None, "the zygote starts first"
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for spec in self.functions.values():
            self.pools[spec.name] = FunctionPool(
                spec,
                self._zygote,
                self._function_environment(spec),
                logs / f"{spec.name}.log",
                self.concurrency,
            )
        for pool in self.pools.values():
            threading.Thread(target=pool.warm, daemon=True).start()

    def _create_queues(self) -> None:
        """The SQS queue (with its dead-letter queue) of each function the catalog gives one."""
        sqs = self._client("sqs", over_http=False)
        for spec in self.functions.values():
            if spec.queue is None:
                continue
            name = deployed_name(spec.name)
            dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(spec.queue.max_receive_count)}
            url = sqs.create_queue(
                QueueName=name,
                Attributes={
                    "VisibilityTimeout": str(spec.queue.visibility_timeout_seconds),
                    "RedrivePolicy": json.dumps(redrive),
                },
            )["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.queues[spec.name], self.queue_arns[spec.name], self.dead_letter_queues[spec.name] = url, arn, dlq_url

    def _deploy_event_sources(self) -> None:
        """What feeds each queue (S3's upload events through a rule on the default bus,
        docflow's own events through a rule on its bus, or other functions), and a poller
        handing its messages to its function."""
        sqs, events = self._client("sqs", over_http=False), self._client("events", over_http=False)
        for name, url in self.queues.items():
            spec, arn = self.functions[name], self.queue_arns[name]
            assert spec.queue is not None
            rule = f"{deployed_name(name)}-{spec.queue.fed_by}"
            if spec.queue.fed_by == "uploads":
                events.put_rule(Name=rule, EventPattern=json.dumps(upload_event_pattern(self.bucket)))
                events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
            elif spec.queue.fed_by == "events":
                events.put_rule(Name=rule, EventBusName=self.event_bus, EventPattern=json.dumps(EVENT_PATTERN))
                events.put_targets(Rule=rule, EventBusName=self.event_bus, Targets=[{"Id": "queue", "Arn": arn}])
            # Lambda's event source runs up to max_concurrency batches at once: a poller each.
            for _ in range(spec.queue.max_concurrency or 1):
                poller = QueuePoller(sqs, url, arn, spec.queue.batch_size, functools.partial(self.invoke, name), REGION)
                poller.start()
                self.pollers.append(poller)

    def _base_environment(self) -> dict[str, str]:
        """What every function's process has, whatever its own settings."""
        environment = {key: os.environ[key] for key in _PASSED_THROUGH if key in os.environ}
        environment.update(CREDENTIALS)
        environment["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
        return environment

    def _function_environment(self, spec: FunctionSpec) -> dict[str, str]:
        values = self._resource_values()
        environment = {key: substitute(value, values) for key, value in spec.environment.items()}
        environment.update(self._base_environment())
        environment.update(
            AWS_ENDPOINT_URL=self.endpoint_url,
            AWS_DEFAULT_REGION=REGION,
            AWS_REGION=REGION,
            AWS_LAMBDA_FUNCTION_NAME=deployed_name(spec.name),
            DOCFLOW_FUNCTION_ARN=self.function_arns[spec.name],
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(spec.memory_mb),
            POWERTOOLS_SERVICE_NAME=service_name(spec),
            POWERTOOLS_TRACE_DISABLED="true",  # no X-Ray daemon here
        )
        environment.update({key: value for key, value in LOCAL_SETTINGS.items() if key in environment})
        # The settings of the user's own environment win over the catalog's, for the functions that read them.
        environment.update({key: os.environ[key] for key in SETTINGS if key in environment and key in os.environ})
        if self.s3_gateway is not None:
            # S3 is the gateway for every function, as for clients: it checks presigned
            # uploads, hands out URLs clients can reach, and can inject S3's own failures.
            environment["AWS_ENDPOINT_URL_S3"] = self.s3_gateway.url
        return environment

    def _deploy_state_machines(self, role: str) -> None:
        sfn = self._client("stepfunctions", over_http=False)
        # The document workflow first: the batch workflow names it.
        types = workflow_types()
        for name, path in sorted(state_machine_files().items(), key=lambda item: item[0] != "document"):
            definition = substitute(path.read_text(), self._resource_values())
            self.state_machines[name] = sfn.create_state_machine(
                name=deployed_name(name), definition=definition, roleArn=role, type=types[name]
            )["stateMachineArn"]

    # -- invocations ----------------------------------------------------------------------

    def invoke(self, function_name: str, event: Any) -> Invocation:
        """Runs an invocation of a deployed function (by name or ARN) in its worker pool."""
        name = function_name.rsplit(":", 1)[-1].removeprefix("docflow-")
        pool = self.pools.get(name)
        if pool is None:
            return Invocation.failed("ResourceNotFoundException", f"Function not found: {function_name}")
        fault = self.faults.take(name)
        if isinstance(fault, Invocation):
            result = fault
        elif isinstance(fault, Crash):
            result = pool.invoke(event, kill_after=CRASH_AFTER_SECONDS)
        elif isinstance(fault, Overrun):
            result = pool.invoke(event, timeout_seconds=OVERRUN_TIMEOUT_SECONDS, stall=True)
        else:
            result = pool.invoke(event)
        if self.service_metrics is not None:
            self.service_metrics.invoked(deployed_name(name), result)
        return result

    def wait_for_execution(self, execution_arn: str, timeout: float = 600, interval: float = 0.2) -> dict:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            description = sfn.describe_execution(executionArn=execution_arn)
            if description["status"] != "RUNNING":
                return description
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still running after {timeout} s")
            time.sleep(interval)

    # -- helpers ----------------------------------------------------------------------------

    def _log_service_chatter(self) -> None:
        """moto's interpreter's traces go to logs/cloud.log, not the terminal, and so does a
        thread's uncaught exception (moto runs each execution, Map run and callback in a
        thread of its own): the terminal is for what the person running docflow needs to
        read. The server's line per request is not written at all (tens of thousands a
        batch: metering.py counts them instead)."""
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(logs / "cloud.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        for name, level in (("werkzeug", logging.WARNING), ("moto", logging.INFO), (THREADS_LOGGER, logging.ERROR)):
            logger = logging.getLogger(name)
            logger.handlers = [handler]
            logger.propagate = False
            logger.setLevel(level)
        self._excepthook = threading.excepthook
        threading.excepthook = _log_thread_failure

    def _set_environment(self, **values: str) -> None:
        for key, value in values.items():
            self._saved_environment.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_environment(self) -> None:
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environment.clear()


class _MotoServer:
    """moto's server app, metered, on 127.0.0.1 in a thread (as moto's ThreadedMotoServer,
    with the meter in front)."""

    def __init__(self, port: int):
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        class RequestHandler(MotoRequestHandler):
            # Headers and body go out in two writes: without TCP_NODELAY, Nagle holds the
            # second until the client's delayed ACK of the first, milliseconds a request.
            disable_nagle_algorithm = True

        self.meter = RequestMeter(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", port, self.meter, threaded=True, request_handler=RequestHandler)
        log_request_errors(self._server)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), name="moto", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class Crash:
    """The worker process dies while the handler runs (out of memory, a segfault)."""


class Overrun:
    """The handler runs past its function's timeout and Lambda stops it."""


Fault = Invocation | Crash | Overrun
CRASH_AFTER_SECONDS = 0.05
OVERRUN_TIMEOUT_SECONDS = 0.5  # the stalled handler's limit: no need to wait its real one


class InjectedFaults:
    """What the next invocations of a function meet instead of a normal run: how tests
    show what the state machines do when Lambda, a worker or a dependency misbehaves.
    S3's own failures are injected at the S3 endpoint: `cloud.s3_gateway.faults`."""

    def __init__(self) -> None:
        self._pending: dict[str, list[Fault]] = {}
        self._lock = threading.Lock()
        self.delivered: dict[str, int] = {}

    def fail_next(
        self, function: str, times: int = 1, error_type: str = "TransientError", message: str = "injected fault"
    ) -> None:
        """The handler's invocation fails with `error_type` (a handler's exception or a
        platform error such as Sandbox.Timedout)."""
        self._add(function, [Invocation.failed(error_type, message) for _ in range(times)])

    def throttle_next(self, function: str, times: int = 1) -> None:
        """Lambda refuses the invocation: too many concurrent executions. Step Functions
        names this error Lambda.TooManyRequestsException (moto's interpreter would say
        "Exception", so it is delivered as AWS names it)."""
        self.fail_next(function, times, "Lambda.TooManyRequestsException", "Rate Exceeded.")

    def crash_next(self, function: str, times: int = 1) -> None:
        self._add(function, [Crash() for _ in range(times)])

    def overrun_next(self, function: str, times: int = 1) -> None:
        self._add(function, [Overrun() for _ in range(times)])

    def _add(self, function: str, faults: list[Fault]) -> None:
        with self._lock:
            self._pending.setdefault(function, []).extend(faults)

    def take(self, function: str) -> Fault | None:
        with self._lock:
            pending = self._pending.get(function)
            if not pending:
                return None
            self.delivered[function] = self.delivered.get(function, 0) + 1
            return pending.pop(0)


_active_cloud: LocalCloud | None = None
_moto_lambda_invoke: dict[str, Callable[..., Any]] = {}  # moto's own, before the first routing


THREADS_LOGGER = "docflow.localcloud.threads"


def _log_thread_failure(failure: threading.ExceptHookArgs) -> None:
    if failure.exc_type is SystemExit or failure.exc_value is None:
        return
    name = failure.thread.name if failure.thread else "a thread"
    logging.getLogger(THREADS_LOGGER).error("%s ended with an uncaught exception", name, exc_info=failure.exc_value)


def _moto_queues() -> dict[str, Any]:
    """moto's SQS queues by name, in this process."""
    from moto.sqs.models import sqs_backends

    return sqs_backends[DEFAULT_ACCOUNT_ID][REGION].queues


def _route_lambda_invocations_to(cloud: LocalCloud | None) -> None:
    """Points moto's Lambda Invoke at the cloud's worker pools (None restores moto's own)."""
    global _active_cloud
    from moto.awslambda.models import LambdaBackend

    original = _moto_lambda_invoke.setdefault("invoke", LambdaBackend.invoke)
    _active_cloud = cloud
    LambdaBackend.invoke = _invoke if cloud else original  # type: ignore[method-assign,assignment]


def _invoke(backend, function_name: str, qualifier, body, headers, response_headers) -> bytes:
    backend.get_function(function_name, qualifier)  # moto's own 404 for unknown functions
    event = json.loads(body) if body else {}
    assert _active_cloud is not None, "invocations are routed only while a cloud runs"
    result = _active_cloud.invoke(function_name, event)
    if result.error:
        response_headers["x-amz-function-error"] = result.error
    response_headers["Content-Length"] = str(len(result.payload))
    return result.payload
