"""Measurements behind benchmarks/test_speed.py: docflow run, the Celery peer and the floor
on the same folder, per-step durations from docflow's logs, handlers' cold imports, bundle
sizes, and the table that puts them side by side.

The machine is shared and noisy, so every comparison is a ratio of figures measured in the
same run, one right after the other; only the one-image row has an absolute target."""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
CORPUS = Path(os.environ.get("DOCFLOW_CORPUS", SHARED / "corpus"))
CELERY = SHARED / "peers" / "celery" / "run.sh"
RESULTS = REPO / "benchmarks" / "results" / "latest.json"
BUNDLES = REPO / "build" / "bundles"
INVOCATIONS_LOG = "invocations.jsonl"  # under OUT/.local-cloud/logs/

# row -> (figure, most it may be, how the figure is shown)
TARGETS = {
    "corpus": ("docflow/floor", 1.3),
    "small200": ("docflow/celery", 2.0),
    "one_image": ("docflow_s", 2.0),
}
ROW_TITLES = {
    "corpus": "corpus (shared)",
    "holdout": "holdout",
    "small200": "200 small",
    "one_image": "one image",
}


def docflow_command() -> list[str]:
    local = REPO / ".venv" / "bin" / "docflow"
    if local.exists():
        return [str(local)]
    found = shutil.which("docflow") or str(Path(sys.executable).parent / "docflow")
    return [found]


def run_docflow(folder: Path, out: Path, timeout: float = 3600) -> dict:
    """`docflow run FOLDER --out OUT` as a user runs it; its wall time and report's summary."""
    started = time.perf_counter()
    completed = subprocess.run(
        [*docflow_command(), "run", str(folder), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    result = {"seconds": round(seconds, 3), "exit_code": completed.returncode}
    report = out / "report.json"
    if completed.returncode == 0 and report.exists():
        summary = json.loads(report.read_text())["summary"]
        result.update(
            {key: summary.get(key) for key in ("total_documents", "succeeded", "failed", "skipped", "total_pages", "total_words")},
            errors_by_code=summary.get("errors_by_code", {}),
        )
    else:
        result["error"] = (completed.stderr or completed.stdout).strip()[-800:]
    return result


def celery_available() -> str | None:
    """None when the Celery peer can run; otherwise why not."""
    if not CELERY.exists():
        return f"{CELERY.parent} is absent"
    return None


def run_celery(folder: Path, concurrency: int = 2, timeout: float = 3600) -> dict:
    """The Celery + Redis peer over FOLDER: its own JSON line ("seconds" runs from
    submitting the chord to the report, workers already started)."""
    completed = subprocess.run(
        [str(CELERY), str(folder), str(concurrency)], capture_output=True, text=True, timeout=timeout
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        return {"error": f"exit {completed.returncode}: {(completed.stderr or completed.stdout).strip()[-800:]}"}
    return json.loads(lines[-1])


# -- per-step durations ----------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value at least `fraction` of them are <=."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def read_invocations(logs: Path) -> list[dict]:
    """Every invocation record docflow run left in its logs.

    The format is one JSON line per invocation in OUT/.local-cloud/logs/invocations.jsonl:

        {"function": "extract", "request_id": "…", "started_at": 1795627614.93,
         "duration_ms": 812.4, "init_ms": 1430.2, "wait_ms": 3.1, "status": "ok"}

    duration_ms (required): the invocation, from handing the event to the worker to its
    answer; init_ms: the worker's cold start (importing the handler), on the first
    invocation a worker serves, else null or absent; wait_ms: time spent waiting for a
    free worker; status: ok, error, timeout or crash. Lines of the functions' own logs that
    carry a numeric duration_ms (with function or function_name) are read instead when
    there is no invocations.jsonl."""
    records: list[dict] = []
    if not logs.is_dir():
        return records
    dedicated = logs / INVOCATIONS_LOG
    for path in [dedicated] if dedicated.exists() else sorted(logs.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"duration_ms"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or not isinstance(record.get("duration_ms"), (int, float)):
                continue
            function = record.get("function") or str(record.get("function_name") or path.stem)
            records.append({**record, "function": function.removeprefix("docflow-")})
    return records


def step_durations(logs: Path) -> dict:
    """p50 and p95 per function of invocation time (and of cold starts), or why there are none."""
    records = read_invocations(logs)
    if not records:
        return {"unavailable": f"no per-invocation duration_ms in {logs} (expected {INVOCATIONS_LOG})"}
    by_function: dict[str, dict] = {}
    for function in sorted({record["function"] for record in records}):
        mine = [record for record in records if record["function"] == function]
        durations = [float(record["duration_ms"]) for record in mine]
        inits = [float(record["init_ms"]) for record in mine if isinstance(record.get("init_ms"), (int, float))]
        waits = [float(record["wait_ms"]) for record in mine if isinstance(record.get("wait_ms"), (int, float))]
        figures = {
            "invocations": len(mine),
            "p50_ms": round(percentile(durations, 0.50), 1),
            "p95_ms": round(percentile(durations, 0.95), 1),
            "max_ms": round(max(durations), 1),
            "not_ok": sum(1 for record in mine if record.get("status", "ok") != "ok"),
        }
        if inits:
            figures.update(cold_starts=len(inits), init_p50_ms=round(percentile(inits, 0.5), 1), init_max_ms=round(max(inits), 1))
        if waits:
            figures.update(wait_p50_ms=round(percentile(waits, 0.5), 1), wait_p95_ms=round(percentile(waits, 0.95), 1))
        by_function[function] = figures
    return by_function


# -- cold imports ----------------------------------------------------------------------------

_IMPORT_PROBE = """
import json, sys, time
from pathlib import Path
from localcloud.worker import load_handler
started = time.perf_counter()
load_handler(Path(sys.argv[1]), sys.argv[2])
print(json.dumps({"ms": (time.perf_counter() - started) * 1000}))
"""


def _dummy_value(placeholder: str) -> str:
    if placeholder.endswith("Arn"):
        return f"arn:aws:states:us-east-1:123456789012:stateMachine:bench-{placeholder.lower()}"
    return f"bench-{placeholder.lower()}"


def function_environment(spec) -> dict[str, str]:
    """What the local cloud gives a function (localcloud.cloud's _function_environment),
    with made-up resource names and credentials: importing a handler needs no network."""
    from infra.catalog import deployed_name, placeholders, service_name, substitute

    environment = {}
    for key, value in spec.environment.items():
        environment[key] = substitute(value, {name: _dummy_value(name) for name in placeholders(value)})
    environment.update({key: os.environ[key] for key in ("PATH", "LANG", "TZ", "TMPDIR", "LD_LIBRARY_PATH", "MAGIC") if key in os.environ})
    environment.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_LAMBDA_FUNCTION_NAME=deployed_name(spec.name),
        DOCFLOW_FUNCTION_ARN=f"arn:aws:lambda:us-east-1:123456789012:function:{deployed_name(spec.name)}",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(spec.memory_mb),
        POWERTOOLS_SERVICE_NAME=service_name(spec),
        POWERTOOLS_TRACE_DISABLED="true",
        PYTHONPATH=str(REPO),
    )
    return environment


def python_command() -> str:
    local = REPO / ".venv" / "bin" / "python"
    return str(local) if local.exists() else sys.executable


_START_PROBE = """
import json, sys, tempfile, time
started = time.perf_counter()
from localcloud import LocalCloud
imported = time.perf_counter()
with tempfile.TemporaryDirectory() as workdir:
    cloud = LocalCloud(workdir)
    cloud.start()
    ready = time.perf_counter()
    cloud.stop()
print(json.dumps({"import_ms": (imported - started) * 1000, "start_ms": (ready - imported) * 1000}))
"""


def start_times(repeats: int = 3) -> dict:
    """What a `docflow run` pays before its first document: importing the local cloud
    (moto's interpreter among it) and starting it (moto's backends, the functions, the
    state machines, the warm workers), in a fresh interpreter, in ms; median of `repeats`."""
    samples: dict[str, list[float]] = {"import_ms": [], "start_ms": []}
    for _ in range(repeats):
        completed = subprocess.run(
            [python_command(), "-c", _START_PROBE], cwd=REPO, capture_output=True, text=True, timeout=120
        )
        lines = [line for line in completed.stdout.splitlines() if line.startswith('{"import_ms"')]
        if completed.returncode != 0 or not lines:
            return {"error": (completed.stderr or completed.stdout).strip()[-400:]}
        for name, value in json.loads(lines[-1]).items():
            samples[name].append(value)
    return {name: round(statistics.median(values), 1) for name, values in samples.items()}


def import_times(repeats: int = 3) -> dict:
    """Each handler's import in a fresh interpreter (load_handler, as the local cloud's
    worker and Lambda do), in ms: median of `repeats`, taken round-robin over functions so a
    burst of noise does not land on one function alone."""
    from infra.catalog import load_catalog

    specs = load_catalog()
    samples: dict[str, list[float]] = {spec.name: [] for spec in specs}
    errors: dict[str, str] = {}
    for _ in range(repeats):
        for spec in specs:
            if spec.name in errors:
                continue
            completed = subprocess.run(
                [python_command(), "-c", _IMPORT_PROBE, str(spec.code_dir), spec.handler],
                cwd=REPO, env=function_environment(spec), capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            lines = [line for line in completed.stdout.splitlines() if line.startswith('{"ms"')]
            if completed.returncode != 0 or not lines:
                errors[spec.name] = (completed.stderr or completed.stdout).strip()[-400:]
                continue
            samples[spec.name].append(json.loads(lines[-1])["ms"])
    figures = {}
    for name, values in samples.items():
        if name in errors:
            figures[name] = {"error": errors[name]}
        else:
            figures[name] = {"median_ms": round(statistics.median(values), 1), "min_ms": round(min(values), 1), "max_ms": round(max(values), 1)}
    return figures


# -- bundle sizes ----------------------------------------------------------------------------


def bundle_sizes(root: Path = BUNDLES) -> dict | None:
    """{"<architecture>-py<version>/<function>": {zipped_mib, unzipped_mib, files}} for each
    bundle infra/bundles.py built, zipped as Lambda takes it; None when none is built."""
    bundles = sorted(path for path in root.glob("*/*") if path.is_dir()) if root.is_dir() else []
    if not bundles:
        return None
    sizes = {}
    for bundle in bundles:
        files = sorted(path for path in bundle.rglob("*") if path.is_file())
        with tempfile.TemporaryFile() as archive:
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
                for path in files:
                    zipped.write(path, path.relative_to(bundle).as_posix())
            zipped_bytes = archive.tell()
        sizes[bundle.relative_to(root).as_posix()] = {
            "zipped_mib": round(zipped_bytes / 2**20, 2),
            "unzipped_mib": round(sum(path.stat().st_size for path in files) / 2**20, 2),
            "files": len(files),
        }
    return sizes


# -- the table -------------------------------------------------------------------------------


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)


def verdict(row: str, figures: dict) -> tuple[str, str]:
    """(the target as text, PASS/MISS/n/a) for a row's figures."""
    if row not in TARGETS:
        return "-", ""
    name, limit = TARGETS[row]
    value = figures.get(name)
    shown = f"{name.replace('_s', ' s')} <= {limit:g}"
    if value is None:
        return shown, "n/a"
    return shown, "PASS" if value <= limit else "MISS"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def format_table(results: dict) -> str:
    lines = ["", "docflow against the floor and the Celery peer (ratios from one run; machine shared, figures noisy)"]
    header = f"{'row':<16} {'files':>5} {'floor s':>8} {'celery s':>9} {'docflow s':>10} {'docflow/floor':>13} {'docflow/celery':>14}  {'target':<22} result"
    lines += [header, "-" * len(header)]
    notes = []
    for row, figures in results.get("rows", {}).items():
        title = ROW_TITLES.get(row, row)
        if "skipped" in figures:
            lines.append(f"{title:<16} skipped: {figures['skipped']}")
            continue
        target, result = verdict(row, figures)
        lines.append(
            f"{title:<16} {figures['files']:>5} {_seconds(figures.get('floor_s')):>8} {_seconds(figures.get('celery_s')):>9} "
            f"{_seconds(figures.get('docflow_s')):>10} {_times(figures.get('docflow/floor')):>13} "
            f"{_times(figures.get('docflow/celery')):>14}  {target:<22} {result}"
        )
        notes += [f"  {title}: {note}" for note in figures.get("notes", [])]
    if notes:
        lines += ["notes:", *notes]
    for row, figures in results.get("rows", {}).items():
        steps = figures.get("steps")
        if not steps:
            continue
        lines.append(f"\nper step, {ROW_TITLES.get(row, row)} (docflow run's invocations):")
        if "unavailable" in steps:
            lines.append(f"  {steps['unavailable']}")
            continue
        lines.append(f"  {'function':<10} {'calls':>6} {'not ok':>6} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9} {'cold':>5} {'init p50':>9} {'wait p95':>9}")
        for function, step in steps.items():
            lines.append(
                f"  {function:<10} {step['invocations']:>6} {step['not_ok']:>6} {step['p50_ms']:>9.1f} {step['p95_ms']:>9.1f} "
                f"{step['max_ms']:>9.1f} {step.get('cold_starts', '-'):>5} {step.get('init_p50_ms', '-'):>9} {step.get('wait_p95_ms', '-'):>9}"
            )
    imports = results.get("imports")
    if imports:
        lines.append("\nhandler cold import (load_handler in a fresh interpreter, median of 3):")
        for name, figures in imports.items():
            if "error" in figures:
                lines.append(f"  {name:<10} error: {figures['error'].splitlines()[-1] if figures['error'] else '?'}")
            else:
                lines.append(f"  {name:<10} {figures['median_ms']:>7.0f} ms  (min {figures['min_ms']:.0f}, max {figures['max_ms']:.0f})")
    bundles = results.get("bundles")
    if bundles is not None:
        lines.append("\nLambda bundles (build/bundles, zipped with deflate):")
        if "skipped" in bundles:
            lines.append(f"  {bundles['skipped']}")
        else:
            for name, figures in bundles.items():
                lines.append(f"  {name:<28} {figures['zipped_mib']:>7.2f} MiB zipped  {figures['unzipped_mib']:>7.2f} MiB unzipped  {figures['files']:>5} files")
    return "\n".join(lines)


def write_results(results: dict, path: Path = RESULTS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
