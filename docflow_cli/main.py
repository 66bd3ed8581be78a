"""docflow: process PDFs and images the way the deployed service does, on this machine."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from docflow_cli.batch import BatchFailed, InputFile, submit_batch, wait_for_batch
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


def run(arguments: argparse.Namespace) -> int:
    from localcloud import LocalCloud  # moto is heavy: only the commands that need it load it

    inputs = collect_inputs(arguments.paths)
    out_dir: Path = arguments.out
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


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docflow",
        description="Serverless document processing: detect each file's type, extract PDF text, "
        "thumbnail images, analyse keywords and sentiment, and report on the batch.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_parser = commands.add_parser(
        "run",
        help="process files locally, through the same state machines and handlers as on AWS",
        description="Uploads the files into a local cloud (moto, no AWS account needed), runs the batch "
        "workflow over them and writes the results to --out: report.json, thumbnails/ and text/. "
        "Exits 0 when the batch completed, even if some documents failed (the report says why); "
        "1 when the batch itself could not run; 2 on a usage error.",
        epilog="example: docflow run examples/ --out docflow-out",
    )
    run_parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files, or folders to process recursively")
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    try:
        return arguments.handler(arguments)
    except UsageError as error:
        print(f"docflow: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BatchFailed as error:
        print(f"docflow: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("docflow: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a system failure: one line, not a traceback
        print(f"docflow: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
