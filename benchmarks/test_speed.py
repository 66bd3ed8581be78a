"""How docflow's speed compares (issue 9): for each row, in one run and side by side, the
floor (benchmarks/floor.py: the same per-document work on 2 processes, no orchestration;
the mean of one run before docflow's and one after), the Celery + Redis system docflow
replaces (../shared/peers/celery, when present) and `docflow run` (wall time, as a user
sees it).

Rows: the shared corpus (skipped when absent), a holdout folder of other real documents
($DOCFLOW_BENCH_HOLDOUT, skipped when unset), 200 small generated documents and one small
image. Targets: corpus docflow/floor <= 1.3, 200 small docflow/celery <= 2, one image
<= 2 s. A missed target prints MISS and fails nothing: this reports, it does not gate.

Then each handler's cold import and, when built, each Lambda bundle's zipped size. The
table is printed at the end and written to benchmarks/results/latest.json."""

from __future__ import annotations

import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `benchmarks.floor` must import here and in the floor's pool
    sys.path.insert(0, str(REPO))

from benchmarks import costs, floor, speed  # noqa: E402
from samples import LOREM, make_image, make_pdf  # noqa: E402  (tests/, put on the path by conftest)

ROWS = ["corpus", "holdout", "small200", "one_image"]
SMALL_DOCUMENTS = 200


@pytest.fixture(scope="module")
def results():
    collected = {
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "rows": {},
    }
    yield collected
    collected["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    print(speed.format_table(collected))
    print(f"\nfigures: {speed.write_results(collected)}")


def _copy_files(source: Path, target: Path) -> None:
    """The files `docflow run` would take from `source` (hidden ones left out), same layout."""
    for path, name in floor.collect_files(source):
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


def prepare(row: str, folder: Path) -> str | None:
    """Fills `folder` with the row's documents; returns why the row is skipped, if it is."""
    folder.mkdir(parents=True)
    if row == "corpus":
        parts = [speed.CORPUS / part for part in ("pdf", "images") if (speed.CORPUS / part).is_dir()]
        if not parts:
            return f"the shared corpus is absent ({speed.CORPUS})"
        for part in parts:
            shutil.copytree(part, folder / part.name)
    elif row == "holdout":
        holdout = os.environ.get("DOCFLOW_BENCH_HOLDOUT")
        if not holdout:
            return "DOCFLOW_BENCH_HOLDOUT is not set"
        if not Path(holdout).is_dir():
            return f"DOCFLOW_BENCH_HOLDOUT={holdout} is not a folder"
        _copy_files(Path(holdout), folder)
    elif row == "small200":
        pdf, png = make_pdf([LOREM]), make_image("PNG", (640, 480))  # both are the same every call
        for number in range(SMALL_DOCUMENTS // 2):
            (folder / f"doc-{number:03}.pdf").write_bytes(pdf)
            (folder / f"image-{number:03}.png").write_bytes(png)
    elif row == "one_image":
        shutil.copy2(REPO / "examples" / "logo.png", folder / "logo.png")
    if not floor.collect_files(folder):
        return f"no files for {row}"
    return None


def _outcome(figures: dict) -> tuple:
    return figures.get("succeeded"), figures.get("failed"), figures.get("skipped")


@pytest.mark.parametrize("row", ROWS)
def test_speed(benchmark, results, tmp_path, row):
    folder = tmp_path / "documents"
    skipped = prepare(row, folder)
    if skipped:
        results["rows"][row] = {"skipped": skipped}
        pytest.skip(skipped)
    figures: dict = {"files": len(floor.collect_files(folder)), "load_before": round(os.getloadavg()[0], 2), "notes": []}

    # One after the other, on the same folder: the floor, the peer, docflow, the floor again.
    # The floor's figure is the mean of the two runs around docflow's: the same conditions.
    floor_run = floor.run(folder, processes=2)

    unavailable = speed.celery_available()
    if unavailable:
        figures["celery"] = {"skipped": unavailable}
        figures["celery_s"] = None
    else:
        celery = speed.run_celery(folder)
        figures["celery"] = celery
        figures["celery_s"] = celery.get("seconds")
        if "error" in celery:
            figures["notes"].append(f"celery failed: {celery['error'].splitlines()[-1] if celery['error'] else '?'}")
        elif celery.get("failed"):
            figures["notes"].append(f"celery: {celery['failed']} of {celery.get('files')} documents failed in the peer")

    out = tmp_path / "out"
    docflow = benchmark.pedantic(speed.run_docflow, args=(folder, out), rounds=1, iterations=1)
    figures["docflow"] = docflow
    floor_again = floor.run(folder, processes=2)
    figures["floor"], figures["floor_after"] = floor_run, floor_again
    figures["floor_s"] = round((floor_run["seconds"] + floor_again["seconds"]) / 2, 3)
    figures["docflow_s"] = docflow["seconds"] if docflow["exit_code"] == 0 else None
    figures["docflow/floor"] = speed.ratio(figures["docflow_s"], figures["floor_s"])
    figures["docflow/celery"] = speed.ratio(figures["docflow_s"], figures["celery_s"])
    figures["steps"] = speed.step_durations(out / ".local-cloud" / "logs")
    if row == "small200" and docflow["exit_code"] == 0:  # what this run would cost on AWS (benchmarks/costs.py)
        priced = costs.price_run(out)
        print("\n" + costs.format_costs(priced))
        figures["cost_per_1000"] = {"standard": round(priced.standard_total, 5), "express": round(priced.express_total, 5)}
    figures["load_after"] = round(os.getloadavg()[0], 2)

    if docflow["exit_code"] != 0:
        figures["notes"].append(f"docflow run exited {docflow['exit_code']}: {docflow.get('error', '').splitlines()[-1:]}")
    elif _outcome(docflow) != _outcome(floor_run):
        figures["notes"].append(
            "outcomes differ: docflow {}/{}/{} (succeeded/failed/skipped) {}, floor {}/{}/{} {}".format(
                *_outcome(docflow), docflow.get("errors_by_code") or "", *_outcome(floor_run), floor_run["errors_by_code"] or ""
            )
        )
    if docflow["exit_code"] == 0 and (docflow.get("total_pages"), docflow.get("total_words")) != (floor_run["pages"], floor_run["words"]):
        figures["notes"].append(
            f"text differs: docflow {docflow.get('total_pages')} pages, {docflow.get('total_words')} words; "
            f"floor {floor_run['pages']} pages, {floor_run['words']} words"
        )
    target, verdict = speed.verdict(row, figures)
    figures["target"], figures["result"] = target, verdict
    results["rows"][row] = figures
    benchmark.extra_info.update(
        {key: value for key, value in figures.items() if key in ("files", "floor_s", "celery_s", "docflow_s", "docflow/floor", "docflow/celery", "target", "result")}
    )
    print(
        f"\n{speed.ROW_TITLES[row]}: {figures['files']} files; floor {figures['floor_s']} s, celery {figures['celery_s']} s, "
        f"docflow {figures['docflow_s']} s; {target} {verdict}"
    )


def test_local_cloud_start(benchmark, results):
    """Not a target of its own: what the one-image row's 2 s must include before any work."""
    start = benchmark.pedantic(speed.start_times, kwargs={"repeats": 3}, rounds=1, iterations=1)
    results["local_cloud_start"] = start
    assert "error" not in start, start["error"]
    print(
        f"\nlocal cloud start (median of 3, fresh interpreter): import {start['import_ms']:,.0f} ms, "
        f"start {start['start_ms']:,.0f} ms"
    )


def test_handler_cold_imports(benchmark, results):
    started = time.perf_counter()
    imports = benchmark.pedantic(speed.import_times, kwargs={"repeats": 3}, rounds=1, iterations=1)
    results["imports"] = imports
    benchmark.extra_info.update({name: figures.get("median_ms") for name, figures in imports.items()})
    print(f"\nhandler imports measured in {time.perf_counter() - started:.1f} s")


def test_bundle_sizes(benchmark, results):
    if not speed.BUNDLES.is_dir():
        results["bundles"] = {"skipped": "build/bundles/ is not built (make bundles)"}
        pytest.skip("build/bundles/ is not built (make bundles)")
    sizes = benchmark.pedantic(speed.bundle_sizes, rounds=1, iterations=1)
    if sizes is None:
        results["bundles"] = {"skipped": "build/bundles/ holds no bundle (make bundles)"}
        pytest.skip("build/bundles/ holds no bundle (make bundles)")
    results["bundles"] = sizes
    benchmark.extra_info.update({name: figures["zipped_mib"] for name, figures in sizes.items()})
