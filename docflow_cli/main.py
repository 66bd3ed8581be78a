"""docflow: process PDFs and images the way the deployed service does, on this machine."""

from __future__ import annotations

import argparse
import difflib
import functools
import importlib.metadata
import json
import logging
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from docflow.jobs import JOBS
from docflow.notifications import WEBHOOK_TYPES
from docflow.settings import Settings
from docflow.statuses import PRIORITIES, TERMINAL_BATCH_STATUSES, TERMINAL_STATUSES
from docflow_cli.batch import BatchFailed, InputFile, submit_batch, wait_for_batch
from docflow_cli.client import ApiClient, ApiError
from docflow_cli.dlq import DEAD_LETTER_QUEUES
from docflow_cli.output import summary_table, write_outputs
from docflow_cli.progress import ProgressBar

DEFAULT_OUT = Path("docflow-out")
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def collect_inputs(paths: list[Path]) -> list[InputFile]:
    """Files as given, and every file below each folder given (hidden ones left out), each
    named relative to the folder it was found in."""
    found: list[InputFile] = []
    for path in paths:
        if path.is_file():
            found.append(InputFile(path, path.name))
        elif path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = file.relative_to(path)
                if not any(part.startswith(".") for part in relative.parts):
                    found.append(InputFile(file, relative.as_posix()))
        else:
            raise UsageError(f"{path}: no such file or folder")
    if not found:
        raise UsageError("no files to process")
    return found


def check_out_dir(out_dir: Path) -> None:
    """--out must be a new or empty folder, or one a previous run wrote (its report.json
    beside thumbnails/ and text/, which this run replaces): never a file, nor a folder of
    files docflow would mix with or delete."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; give a folder for the results")
    if not out_dir.is_dir() or (out_dir / "report.json").is_file():
        return
    foreign = [path.name for path in sorted(out_dir.iterdir()) if path.name != ".local-cloud"]
    if foreign:
        raise UsageError(
            f"--out {out_dir} already holds files docflow did not write ({', '.join(foreign[:3])}"
            f"{', …' if len(foreign) > 3 else ''}); give a new or empty folder"
        )


def run(arguments: argparse.Namespace) -> int:
    from localcloud import LocalCloud  # moto is heavy: only the commands that need it load it

    inputs = collect_inputs(arguments.paths)
    out_dir: Path = arguments.out
    check_out_dir(out_dir)
    print(f"docflow: processing {len(inputs)} file(s) in the local cloud…", file=sys.stderr)
    started = time.monotonic()
    with LocalCloud(out_dir / ".local-cloud", concurrency=arguments.concurrency) as cloud:
        s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
        batch = submit_batch(s3, sfn, cloud.bucket, cloud.state_machines["batch"], inputs)
        progress = ProgressBar("processing")
        try:
            report = wait_for_batch(s3, sfn, cloud.bucket, batch, on_progress=progress.update)
        finally:
            progress.close()
        report = write_outputs(s3, cloud.bucket, report, out_dir)
    print(summary_table(report))
    print(
        f"\nreport: {out_dir / 'report.json'}  ({time.monotonic() - started:.1f} s; "
        f"function logs in {out_dir / '.local-cloud' / 'logs'})"
    )
    return EXIT_OK


def check_port_free(port: int) -> None:
    """Says at once, by its number, that the port is taken, rather than after the cloud starts."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise UsageError(
                f"port {port} on 127.0.0.1 is in use (another docflow serve?); choose another with --port"
            ) from None


def serve(arguments: argparse.Namespace) -> int:
    from docflow_console.local import attach_console
    from localcloud import LocalCloud
    from localcloud.api_gateway import LocalApiGateway, caller_for

    check_port_free(arguments.port)
    try:
        Settings.from_environment()  # the DOCFLOW_* settings given here win over the catalog's: check them first
    except ValueError as error:
        raise UsageError(str(error)) from None
    tokens = [token.strip() for token in os.environ.get("DOCFLOW_API_TOKEN", "").split(",") if token.strip()]
    if not tokens:
        tokens = [secrets.token_urlsafe(24)]
        print("DOCFLOW_API_TOKEN was not set; this run's token is printed below.", file=sys.stderr)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    print("docflow serve: starting the local cloud…", file=sys.stderr)
    workdir = arguments.workdir
    with LocalCloud(workdir, concurrency=arguments.concurrency) as cloud:
        invoke_api = lambda event: cloud.invoke("api", event)  # noqa: E731
        throttling = cloud.functions["api"].throttling
        with LocalApiGateway(invoke_api, tokens, throttling=throttling, port=arguments.port) as api:
            console = attach_console(cloud, api)
            sign_in = console.sessions.one_time_token(caller_for(tokens[0]))
            print(f"console    {api.url}/console?token={sign_in}   (opens signed in, once; then the token signs in)")
            print(f"API        {api.url}   (Swagger UI: {api.url}/docs, OpenAPI: {api.url}/docs?format=json)")
            print(f"S3         {cloud.s3_gateway.url}   (presigned uploads and downloads)")
            print(f"AWS        {cloud.endpoint_url}   (moto: S3, SQS, DynamoDB, Step Functions… for --endpoint-url)")
            print(f"token      {tokens[0]}")
            print(f"logs       {cloud.workdir / 'logs'}")
            print(f"\nexport DOCFLOW_API_URL={api.url} DOCFLOW_API_TOKEN={tokens[0]}")
            print("docflow serve: ready; Ctrl-C stops it", flush=True)
            stopped.wait()
    print("docflow serve: stopped", file=sys.stderr)
    return EXIT_OK


def console(arguments: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from docflow_console.deployed import ConsoleServer, console_for_stack

    check_port_free(arguments.port)
    token = secrets.token_urlsafe(24)
    try:
        found, api, caller = console_for_stack(arguments.stack, arguments.port, boto3.Session(), token)
    except (BotoCoreError, ClientError) as error:
        raise UsageError(f"cannot read stack {arguments.stack} with your AWS credentials: {error}") from None
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    with ConsoleServer(found, api, arguments.port) as server:
        print(
            f"console    {server.url}/console?token={found.sessions.one_time_token(caller)}   (opens signed in, once)"
        )
        print(f"token      {token}   (signs in a browser at {server.url}/console)")
        print(f"stack      {arguments.stack}, read as {caller}")
        print("docflow console: ready; Ctrl-C stops it", flush=True)
        stopped.wait()
    return EXIT_OK


def upload(arguments: argparse.Namespace) -> int:
    client = ApiClient.from_environment(arguments.api, arguments.token)
    files = collect_inputs(arguments.files)
    uploaded, refused = [], 0
    for file in files:
        try:
            document_id = client.upload(file.path, process_at=arguments.at, priority=arguments.priority)
        except ApiError as error:
            if error.status in (0, 401, 403):  # nothing else will get through either
                raise
            refused += 1
            print(f"docflow: {file.name}: {error}", file=sys.stderr)
            continue
        uploaded.append(document_id)
        print(f"{document_id}  {file.name}")
    if arguments.wait:
        for document_id in uploaded:
            _print_document(client.wait(functools.partial(client.document, document_id), TERMINAL_STATUSES))
    # Like run: documents that fail processing are reported, not fatal; refused uploads are.
    return EXIT_FAILED if refused else EXIT_OK


def status(arguments: argparse.Namespace) -> int:
    client = ApiClient.from_environment(arguments.api, arguments.token)
    try:
        found = client.document(arguments.id)
    except ApiError as error:
        if error.status != 404:
            raise
        try:
            found = client.batch(arguments.id)  # ids of both kinds look alike
        except ApiError as missing:
            if missing.status != 404:
                raise
            raise ApiError(404, "not_found", f"No document or batch {arguments.id} of yours.") from None
    print(json.dumps(found, indent=2, ensure_ascii=False))
    return EXIT_OK


def batch(arguments: argparse.Namespace) -> int:
    client = ApiClient.from_environment(arguments.api, arguments.token)
    batch_id = client.start_batch(arguments.document_ids, process_at=arguments.at, priority=arguments.priority)
    print(batch_id)
    if not arguments.wait:
        return EXIT_OK
    progress = ProgressBar("batch")
    try:
        ended = client.wait(
            lambda: client.batch(batch_id),
            TERMINAL_BATCH_STATUSES,
            on_update=lambda b: progress.update(b["progress"]["done"], b["progress"]["total"]),
        )
    finally:
        progress.close()
    print(json.dumps({name: ended[name] for name in ("status", "progress", "summary", "report_url")}, indent=2))
    return EXIT_OK if ended["status"] == "completed" else EXIT_FAILED


def cancel(arguments: argparse.Namespace) -> int:
    client = ApiClient.from_environment(arguments.api, arguments.token)
    print(client.cancel_batch(arguments.batch_id)["status"])
    return EXIT_OK


def run_job(arguments: argparse.Namespace) -> int:
    """A scheduled job, run now in the local cloud with the event its schedule sends."""
    from localcloud import LocalCloud

    event = {"job": arguments.job}
    if arguments.endpoint:  # the cloud of a running docflow serve, through Lambda's Invoke
        import boto3

        client = boto3.client(
            "lambda", endpoint_url=arguments.endpoint, region_name="us-east-1",
            aws_access_key_id="local", aws_secret_access_key="local",
        )  # fmt: skip
        response = client.invoke(FunctionName="docflow-jobs", Payload=json.dumps(event).encode())
        answer, failed = json.loads(response["Payload"].read()), "FunctionError" in response
    else:
        print(f"docflow: running {arguments.job} in a fresh local cloud…", file=sys.stderr)
        with LocalCloud(arguments.workdir) as cloud:
            result = cloud.invoke("jobs", event)
        answer, failed = json.loads(result.payload), bool(result.error)
    if failed:
        print(f"docflow: {arguments.job} failed: {answer.get('errorMessage', answer)}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(answer, indent=2))
    return EXIT_OK


def retry(arguments: argparse.Namespace) -> int:
    """Re-runs failed work: a document's workflow, or a batch's failed documents as a new batch."""
    client = ApiClient.from_environment(arguments.api, arguments.token)
    try:
        client.process(arguments.id)
        print(f"{arguments.id}  processing again")
        return EXIT_OK
    except ApiError as error:
        if error.status != 404:
            raise
    print(f"{client.retry_batch(arguments.id)}  new batch over the failed work of {arguments.id}")
    return EXIT_OK


def dlq(arguments: argparse.Namespace) -> int:
    import boto3

    from docflow_cli.dlq import count, dead_letter_queue_url, peek, redrive

    local = {"endpoint_url": arguments.endpoint, "region_name": "us-east-1", "aws_access_key_id": "local",
             "aws_secret_access_key": "local"} if arguments.endpoint else {}  # fmt: skip
    sqs = boto3.client("sqs", **local)
    queue = dead_letter_queue_url(
        sqs, None if local else boto3.client("cloudformation"), None if local else arguments.stack, arguments.queue
    )
    if arguments.dlq_command == "count":
        print(count(sqs, queue))
    elif arguments.dlq_command == "show":
        for body in peek(sqs, queue):
            print(body)
    else:
        moved = redrive(sqs, queue)
        print(f"{moved} message(s) moved back to the {DEAD_LETTER_QUEUES[arguments.queue][1]} queue")
    return EXIT_OK


def webhooks(arguments: argparse.Namespace) -> int:
    client = ApiClient.from_environment(arguments.api, arguments.token)
    if arguments.webhooks_command == "add":
        created = client.add_webhook(arguments.url, arguments.events)
        print(json.dumps(created, indent=2))
        print("docflow: keep the secret: it signs every delivery and is not shown again", file=sys.stderr)
    elif arguments.webhooks_command == "list":
        for webhook in client.webhooks():
            print(f"{webhook['webhook_id']}  {webhook['url']}  {','.join(webhook['events'])}")
    else:
        client.remove_webhook(arguments.webhook_id)
        print(f"{arguments.webhook_id}  removed")
    return EXIT_OK


def _print_document(document: dict) -> None:
    error = document.get("error")
    reason = f"  {error['code']}: {error['message']}" if error else ""
    print(f"{document['document_id']}  {document['status']:<10} {document['filename']}{reason}")


def when(text: str) -> str:
    """--at: an ISO 8601 time with its zone (2026-12-01T09:00:00Z), or one from now (+20s,
    +15m, +2h, +1d); as the API takes it."""
    match = re.fullmatch(r"\+(\d+)([smhd])", text.strip())
    if match:
        seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="seconds")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a time like 2026-12-01T09:00:00Z nor +20s, +15m, +2h, +1d"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, as in 2026-12-01T09:00:00Z")
    return moment.isoformat()


def _later_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--at", type=when, metavar="TIME",
        help="process then, not at once: 2026-12-01T09:00:00Z, or from now: +20s, +15m, +2h, +1d (a year at most)",
    )  # fmt: skip
    parser.add_argument(
        "--priority", choices=PRIORITIES, default="normal",
        help="low waits in its own lane, so a flood of it never holds up the rest (default: normal)",
    )  # fmt: skip


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


class Parser(argparse.ArgumentParser):
    """argparse's parser, which also suggests the nearest command for a mistyped one."""

    def error(self, message: str) -> NoReturn:
        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong:
            choices = re.findall(r"'?([\w-]+)'?", wrong.group(2))
            close = difflib.get_close_matches(wrong.group(1), choices, n=1)
            if close:
                message = f"{message}; did you mean '{close[0]}'?"
        super().error(message)


def version() -> str:
    try:
        return importlib.metadata.version("docflow")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="docflow",
        description="Serverless document processing: detect each file's type, extract PDF text, "
        "thumbnail images, analyse keywords and sentiment, and report on the batch.",
    )
    parser.add_argument("--version", action="version", version=f"docflow {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    run_parser = commands.add_parser(
        "run",
        help="process files locally, through the same state machines and handlers as on AWS",
        description="Uploads the files into a local cloud (moto, no AWS account needed), runs the batch "
        "workflow over them and writes the results to --out: report.json, thumbnails/ and text/. "
        "Exits 0 when the batch completed, even if some documents failed (the report says why); "
        "1 when the batch itself could not run; 2 on a usage error.",
        epilog="example: docflow run examples/ --out docflow-out",
    )
    run_parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="files, or folders to process recursively"
    )
    run_parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, metavar="DIR", help=f"where results go (default: ./{DEFAULT_OUT})"
    )
    run_parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=None,
        metavar="N",
        help="warm worker processes per function (default: the number of CPUs, at least 2)",
    )
    run_parser.set_defaults(handler=run)

    serve_parser = commands.add_parser(
        "serve",
        help="run the API, S3 and the pipeline on this machine (127.0.0.1 only)",
        description="Starts the local cloud and serves docflow's HTTP API on 127.0.0.1, with an S3 endpoint "
        "for the presigned URLs it hands out. Uploads start processing by themselves, through the same "
        "EventBridge, SQS and ingest path as on AWS. Requests need Authorization: Bearer <token>, where the "
        "token is DOCFLOW_API_TOKEN (comma-separate several for several callers) or, when it is unset, one "
        "generated and printed at start.",
        epilog="example: docflow serve --port 8000",
    )
    serve_parser.add_argument("--port", type=int, default=8000, help="the API's port (default: 8000)")
    serve_parser.add_argument(
        "--workdir", type=Path, default=None, metavar="DIR", help="keep logs here (default: a temporary folder)"
    )
    serve_parser.add_argument(
        "--concurrency",
        type=positive_int,
        default=None,
        metavar="N",
        help="warm worker processes per function (default: the number of CPUs, at least 2)",
    )
    serve_parser.set_defaults(handler=serve)

    console_parser = commands.add_parser(
        "console",
        help="watch and steer a deployed stack in the browser, with your AWS credentials",
        description="Serves the console of a deployed docflow stack on 127.0.0.1: documents, batches, "
        "failures, functions and queues, live. It reads the stack with your AWS credentials (CloudWatch, "
        "SQS, Step Functions) and calls its API signed with them. (docflow serve has the same console at "
        "/console.)",
        epilog="example: docflow console --stack Docflow",
    )
    console_parser.add_argument("--stack", required=True, metavar="NAME", help="the CloudFormation stack's name")
    console_parser.add_argument("--port", type=int, default=8001, help="the console's port (default: 8001)")
    console_parser.set_defaults(handler=console)

    client_options = Parser(add_help=False)
    client_options.add_argument(
        "--api", metavar="URL", help="the API's URL (default: $DOCFLOW_API_URL, else http://127.0.0.1:8000)"
    )
    client_options.add_argument(
        "--token",
        help="bearer token for docflow serve (default: $DOCFLOW_API_TOKEN); without one, requests are "
        "signed with your AWS credentials, as the deployed API requires",
    )
    upload_parser = commands.add_parser(
        "upload",
        parents=[client_options],
        help="upload files to docflow's API; processing starts by itself",
        epilog="example: docflow upload report.pdf photo.jpg --wait",
    )
    upload_parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="files, or folders of files")
    upload_parser.add_argument("--wait", action="store_true", help="wait until each document is processed")
    _later_options(upload_parser)
    upload_parser.set_defaults(handler=upload)

    status_parser = commands.add_parser("status", parents=[client_options], help="show a document or a batch, as JSON")
    status_parser.add_argument("id", metavar="ID", help="a document id or a batch id")
    status_parser.set_defaults(handler=status)

    batch_parser = commands.add_parser(
        "batch",
        parents=[client_options],
        help="process uploaded documents as one batch, with one report",
        description="Starts a batch over documents already uploaded; prints its id. With --wait, shows its "
        "progress and exits 0 when it completed, 1 when it failed or was cancelled.",
    )
    batch_parser.add_argument("document_ids", nargs="+", metavar="ID", help="document ids from docflow upload")
    batch_parser.add_argument("--wait", action="store_true", help="follow the batch to its end")
    _later_options(batch_parser)
    batch_parser.set_defaults(handler=batch)

    jobs_parser = commands.add_parser("jobs", help="the scheduled jobs (cleanup, usage report, health check)")
    jobs_commands = jobs_parser.add_subparsers(dest="jobs_command", required=True, metavar="COMMAND")
    job_parser = jobs_commands.add_parser(
        "run",
        help="run a scheduled job now, in a local cloud",
        description="Runs the jobs function in a fresh local cloud with the event its EventBridge schedule "
        "sends on AWS, and prints its result. cleanup expires documents past retention and fails those "
        "stuck in processing; usage-report counts documents by status, kind and error code; "
        "health-check sends a canary PDF through the whole pipeline.",
    )
    job_parser.add_argument("job", choices=JOBS)
    job_parser.add_argument(
        "--endpoint", metavar="URL",
        help="run it in the local cloud of a running `docflow serve` (the URL on its AWS line); "
        "without it, the job runs in a fresh, empty local cloud",
    )  # fmt: skip
    job_parser.add_argument("--workdir", type=Path, default=None, metavar="DIR", help="keep logs here")
    job_parser.set_defaults(handler=run_job)

    retry_parser = commands.add_parser(
        "retry", parents=[client_options], help="re-run failed work: a document, or a batch's failed documents",
        description="With a document id, runs the document's workflow again. With a batch id, starts a new batch "
        "over the batch's failed documents (or all of them, when the batch itself failed or was cancelled) "
        "and prints its id.",
    )  # fmt: skip
    retry_parser.add_argument("id", metavar="ID", help="a document id or a batch id")
    retry_parser.set_defaults(handler=retry)

    dlq_parser = commands.add_parser(
        "dlq", help="the dead-letter queues (uploads, webhook deliveries): count, show or redrive their messages"
    )
    dlq_parser.add_argument("dlq_command", choices=["count", "show", "redrive"], metavar="count|show|redrive")
    dlq_parser.add_argument(
        "--queue", choices=sorted(DEAD_LETTER_QUEUES), default="uploads",
        help="uploads: the upload events ingest gave up on (the default); webhooks: deliveries out of attempts",
    )  # fmt: skip
    where = dlq_parser.add_mutually_exclusive_group()
    where.add_argument("--stack", default="Docflow", help="the deployed stack whose queue it is (default: Docflow)")
    where.add_argument("--endpoint", metavar="URL", help="the local cloud of a running `docflow serve` (its AWS line)")
    dlq_parser.set_defaults(handler=dlq)

    webhooks_parser = commands.add_parser(
        "webhooks", help="the URLs your documents' and batches' events are posted to",
        epilog="example: docflow webhooks add https://example.com/hooks --events document.failed batch.completed",
    )  # fmt: skip
    webhooks_commands = webhooks_parser.add_subparsers(dest="webhooks_command", required=True, metavar="COMMAND")
    add_parser = webhooks_commands.add_parser(
        "add", parents=[client_options], help="register a URL; prints its id and the secret that signs deliveries"
    )
    add_parser.add_argument(
        "url", metavar="URL", help="https on a public address (docflow serve: also http://127.0.0.1)"
    )
    add_parser.add_argument(
        "--events", nargs="+", choices=WEBHOOK_TYPES, metavar="EVENT",
        help=f"the events to post (default: all): {', '.join(WEBHOOK_TYPES)}",
    )  # fmt: skip
    webhooks_commands.add_parser("list", parents=[client_options], help="your webhooks")
    remove_parser = webhooks_commands.add_parser("remove", parents=[client_options], help="remove a webhook")
    remove_parser.add_argument("webhook_id", metavar="ID")
    webhooks_parser.set_defaults(handler=webhooks)

    cancel_parser = commands.add_parser("cancel", parents=[client_options], help="cancel a running batch")
    cancel_parser.add_argument("batch_id", metavar="BATCH_ID")
    cancel_parser.set_defaults(handler=cancel)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except UsageError as error:
        print(f"docflow: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (BatchFailed, ApiError, TimeoutError) as error:
        print(f"docflow: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("docflow: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a system failure: one line, not a traceback
        print(f"docflow: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED


def entry() -> None:
    """The `docflow` command. After a local cloud has run, everything is written and
    closed, but Python's own teardown of moto's and botocore's objects would still take
    about a second: the process ends without it."""
    code = main()
    if "localcloud" in sys.modules:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
