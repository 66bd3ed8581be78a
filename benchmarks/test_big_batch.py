"""A batch of 10,000 documents through `docflow serve`, as a user runs one: start the
server, upload every document through a presigned POST, wait for the uploads' own
processing to end, then POST /batches with every id and follow GET /batches/{id} to its
report. The same is run first with a tenth as many documents, in a server of its own, so
that the two can be compared: the peak memory of the server's process tree (the serve
process and every process under it, RSS summed from /proc every 0.5 s) should not grow
with the batch (target: big/small <= 1.5), and documents/s is printed for both.

`DOCFLOW_BENCH_BIG_BATCH` sets the big batch's size (default 10000, the most the API takes
in one batch; "0" skips). A missed target prints MISS and fails nothing; wrong counts fail."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from samples import make_pdf

REPO = Path(__file__).resolve().parent.parent
DOCFLOW = REPO / ".venv" / "bin" / "docflow"
TOKEN = "bench-token-0123456789abcdef"
BIG = int(os.environ.get("DOCFLOW_BENCH_BIG_BATCH", "10000"))
SMALL = max(1, BIG // 10)
MAX_BATCH = 10_000  # docflow.service.MAX_BATCH_DOCUMENTS, the API's BatchRequest limit
UPLOAD_THREADS = 8
RSS_TARGET = 1.5  # peak RSS of the big run / that of the small run
SAMPLE_SECONDS = 0.5
TERMINAL_DOCUMENT = {"succeeded", "failed", "skipped"}
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

pytestmark = pytest.mark.skipif(BIG == 0, reason="DOCFLOW_BENCH_BIG_BATCH=0")


# -- the server's memory: its process tree, from /proc -------------------------------------------


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                # pid (comm) state ppid ...: comm may hold spaces and parentheses.
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked
        children.setdefault(ppid, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def _pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages (the workers are forked from one zygote) counted
    once across the tree, where summed RSS counts them in every process."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def tree_memory(root: int) -> tuple[int, int, int]:
    """(RSS summed, PSS summed, how many processes) of the process tree under `root`."""
    pids = _descendants(root)
    return sum(_rss_bytes(pid) for pid in pids), sum(_pss_bytes(pid) for pid in pids), len(pids)


class MemorySampler:
    """Samples the tree's RSS (and PSS) every 0.5 s in a thread; keeps each phase's peak."""

    def __init__(self, root: int, phase: str):
        self.root = root
        self.phase = phase
        self.peaks: dict[str, int] = {}
        self.pss_peak = 0
        self.processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        rss, pss, processes = tree_memory(self.root)
        self.peaks[self.phase] = max(self.peaks.get(self.phase, 0), rss)
        self.pss_peak = max(self.pss_peak, pss)
        self.processes = max(self.processes, processes)

    def enter(self, phase: str) -> None:
        self.sample()  # the end of the phase before
        self.phase = phase
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.sample()

    @property
    def peak(self) -> int:
        return max(self.peaks.values())


# -- the server and its API, as a user drives them ------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Serve:
    """`docflow serve` in a process of its own, on a free port, with our token."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        port = _free_port()
        environment = {**os.environ, "DOCFLOW_API_TOKEN": TOKEN}
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "DOCFLOW_BUCKET", "DOCFLOW_TABLE"):
            environment.pop(name, None)
        self.out, self.err = workdir / "serve.out", workdir / "serve.err"
        self.process = subprocess.Popen(
            [str(DOCFLOW), "serve", "--port", str(port), "--workdir", str(workdir / "cloud")],
            cwd=REPO, env=environment, stdout=open(self.out, "wb"), stderr=open(self.err, "wb"),
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while "ready" not in self.out.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"docflow serve did not start: {self.err.read_text()[-2000:]}")
            time.sleep(0.1)
        self.api = f"http://127.0.0.1:{port}"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {TOKEN}"
        self.throttled = 0
        self._lock = threading.Lock()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        """One API request; a 429 is waited out as its Retry-After says, then sent again."""
        while True:
            response = self.session.request(method, self.api + path, timeout=120, **kwargs)
            if response.status_code != 429:
                return response
            with self._lock:
                self.throttled += 1
            time.sleep(float(response.headers.get("Retry-After") or 1))

    def upload(self, number: int) -> str:
        """Presign, then the browser-form POST straight to S3: the form's fields, file last."""
        name = f"invoice-{number:05d}.pdf"
        created = self.call("POST", "/uploads", json={"filename": name, "content_type": "application/pdf"})
        assert created.status_code == 201, created.text
        body = created.json()
        data = make_pdf([f"Invoice {number}\nServerless document processing, one small page."])
        form = body["upload"]
        sent = requests.post(form["url"], data=form["fields"], files={"file": (name, data, "application/pdf")}, timeout=120)
        assert sent.status_code == 204, sent.text
        return body["document_id"]

    def wait_until_processed(self, ids: list[str], timeout: float) -> dict[str, str]:
        """Each document's status once it has ended. Documents end roughly in the order
        they were uploaded, so each round asks about the unfinished ones in that order and
        stops at the first still running: about one request per document in all."""
        ended: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while len(ended) < len(ids):
            for document_id in ids[len(ended):]:  # the ended ones are always the first
                response = self.call("GET", f"/documents/{document_id}")
                assert response.status_code == 200, response.text
                status = response.json()["status"]
                if status not in TERMINAL_DOCUMENT:
                    break
                ended[document_id] = status
            else:
                break
            assert time.monotonic() < deadline, f"{len(ids) - len(ended)} uploads still pending or processing"
            time.sleep(1)
        return ended


# -- one run ------------------------------------------------------------------------------------


@dataclass
class Result:
    documents: int
    seconds: dict[str, float] = field(default_factory=dict)  # per phase
    baseline_rss: int = 0
    peaks: dict[str, int] = field(default_factory=dict)
    peak_rss: int = 0
    baseline_pss: int = 0
    peak_pss: int = 0
    processes: int = 0
    throttled: int = 0
    polls: int = 0

    @property
    def wall(self) -> float:
        return sum(self.seconds.values())

    def rate(self, phase: str) -> float:
        return self.documents / self.seconds[phase] if self.seconds.get(phase) else 0.0


def _timeout(documents: int) -> float:
    return 300 + documents * 1.0  # generous: 5 to 10 documents/s on 2 cores


def run_batch(documents: int, workdir: Path) -> Result:
    result = Result(documents)
    started = time.monotonic()
    serve = Serve(workdir)
    result.seconds["start"] = time.monotonic() - started
    try:
        result.baseline_rss, result.baseline_pss, _ = tree_memory(serve.process.pid)
        with MemorySampler(serve.process.pid, "upload") as memory:
            phase_started = time.monotonic()

            def phase(name: str) -> None:
                nonlocal phase_started
                now = time.monotonic()
                result.seconds[memory.phase] = now - phase_started
                phase_started = now
                memory.enter(name)

            # 1. Uploads: presigned POSTs, 8 at a time. Each upload starts its own processing.
            with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
                ids = list(pool.map(serve.upload, range(documents)))
            assert len(set(ids)) == documents

            # 2. The uploads' own processing, to its end: a batch takes uploaded documents only.
            phase("processing")
            statuses = serve.wait_until_processed(ids, _timeout(documents))
            assert _count(statuses.values()) == {"succeeded": documents}, _count(statuses.values())

            # 3. The batch: one over the API's limit is refused; then every document in one.
            phase("batch")
            over = ids + [f"nosuchdocument{n:06d}" for n in range(MAX_BATCH + 1 - documents)]
            refused = serve.call("POST", "/batches", json={"document_ids": over})
            assert (refused.status_code, refused.json()["error"]["code"]) == (422, "invalid_request"), refused.text
            created = serve.call("POST", "/batches", json={"document_ids": ids})
            assert created.status_code == 202, created.text
            assert created.json()["total"] == documents
            batch_id = created.json()["batch_id"]
            done, deadline = 0, time.monotonic() + _timeout(documents)
            while True:
                response = serve.call("GET", f"/batches/{batch_id}")
                assert response.status_code == 200, response.text
                batch = response.json()
                result.polls += 1
                progress = batch["progress"]
                assert progress["total"] == documents, progress
                assert done <= progress["done"] <= documents, (done, progress)  # monotonic, never past total
                assert 0 <= progress["failed"] <= progress["done"], progress
                done = progress["done"]
                if batch["status"] != "running":
                    break
                assert time.monotonic() < deadline, f"the batch is still running: {progress}"
                time.sleep(0.5)
            phase("report")
            assert batch["status"] == "completed", batch
            assert batch["progress"] == {"total": documents, "done": documents, "failed": 0}
            report = requests.get(batch["report_url"], timeout=120)
            assert report.status_code == 200, report.text[:500]
            report = report.json()
            summary = report["summary"]
            assert (summary["total_documents"], summary["succeeded"], summary["failed"], summary["skipped"]) == (
                documents, documents, 0, 0,
            )  # fmt: skip
            assert summary["total_pages"] == documents
            assert len(report["documents"]) == documents
            assert {entry["document_id"] for entry in report["documents"]} == set(ids)
            assert batch["summary"] == summary
            phase("end")
            result.peaks = {name: peak for name, peak in memory.peaks.items() if name != "end"}
            result.peak_rss, result.peak_pss, result.processes = memory.peak, memory.pss_peak, memory.processes
        result.throttled = serve.throttled
    finally:
        serve.stop()
    assert serve.process.returncode == 0, serve.err.read_text()[-2000:]
    return result


def _count(statuses) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts


# -- the benchmark --------------------------------------------------------------------------------


def _mib(size: int) -> str:
    return f"{size / 2**20:,.0f}"


def _table(small: Result, big: Result) -> str:
    rows = [
        ("documents", f"{small.documents:,}", f"{big.documents:,}", ""),
        ("start serve (s)", f"{small.seconds['start']:.1f}", f"{big.seconds['start']:.1f}", ""),
        ("upload (s)", f"{small.seconds['upload']:.1f}", f"{big.seconds['upload']:.1f}", ""),
        ("  uploads/s", f"{small.rate('upload'):.1f}", f"{big.rate('upload'):.1f}", ""),
        ("  429s waited out", f"{small.throttled}", f"{big.throttled}", ""),
        ("uploads processed (s)", f"{small.seconds['processing']:.1f}", f"{big.seconds['processing']:.1f}", ""),
        ("batch (s)", f"{small.seconds['batch']:.1f}", f"{big.seconds['batch']:.1f}", ""),
        ("  batch documents/s", f"{small.rate('batch'):.2f}", f"{big.rate('batch'):.2f}",
         f"big/small {big.rate('batch') / small.rate('batch'):.2f}"),
        ("  progress polls (monotonic)", f"{small.polls}", f"{big.polls}", ""),
        ("wall, all phases (s)", f"{small.wall:.1f}", f"{big.wall:.1f}", ""),
        ("  documents/s overall", f"{small.documents / small.wall:.2f}", f"{big.documents / big.wall:.2f}", ""),
        ("RSS after start (MiB)", _mib(small.baseline_rss), _mib(big.baseline_rss), ""),
        ("peak RSS upload (MiB)", _mib(small.peaks.get("upload", 0)), _mib(big.peaks.get("upload", 0)), ""),
        ("peak RSS processing (MiB)", _mib(small.peaks.get("processing", 0)), _mib(big.peaks.get("processing", 0)), ""),
        ("peak RSS batch (MiB)", _mib(small.peaks.get("batch", 0)), _mib(big.peaks.get("batch", 0)),
         f"big/small {big.peaks['batch'] / small.peaks['batch']:.2f}"),
        ("peak RSS (MiB)", _mib(small.peak_rss), _mib(big.peak_rss), f"big/small {big.peak_rss / small.peak_rss:.2f}"),
        ("PSS after start (MiB)", _mib(small.baseline_pss), _mib(big.baseline_pss), ""),
        ("peak PSS (MiB)", _mib(small.peak_pss), _mib(big.peak_pss), f"big/small {big.peak_pss / small.peak_pss:.2f}"),
        ("processes in the tree", f"{small.processes}", f"{big.processes}", ""),
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"{'':{widths[0]}}  {'small':>{widths[1]}}  {'big':>{widths[2]}}"]
    lines += [f"{a:{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip() for a, b, c, d in rows]
    return "\n".join(lines)


def test_big_batch_through_serve(benchmark, tmp_path_factory):
    assert 0 < BIG <= MAX_BATCH, f"DOCFLOW_BENCH_BIG_BATCH must be 1 to {MAX_BATCH:,}: one batch takes at most that many"
    assert DOCFLOW.exists(), f"{DOCFLOW} is missing: run make setup"
    small = run_batch(SMALL, tmp_path_factory.mktemp(f"serve-{SMALL}"))
    print(f"\n{SMALL:,} documents: {small.wall:.1f} s, peak RSS {_mib(small.peak_rss)} MiB", file=sys.stderr)
    big = benchmark.pedantic(run_batch, args=(BIG, tmp_path_factory.mktemp(f"serve-{BIG}")), rounds=1, iterations=1)

    ratio = big.peak_rss / small.peak_rss
    verdict = "ok" if ratio <= RSS_TARGET else "MISS"
    print(f"\nbig batch through docflow serve: {SMALL:,} then {BIG:,} documents, one-page PDFs")
    print(_table(small, big))
    print(f"peak RSS big/small {ratio:.2f} (target <= {RSS_TARGET}): {verdict}")
    for name, run in (("small", small), ("big", big)):
        benchmark.extra_info[name] = {
            "documents": run.documents,
            "seconds": {phase: round(seconds, 2) for phase, seconds in run.seconds.items()},
            "wall_seconds": round(run.wall, 2),
            "upload_documents_per_second": round(run.rate("upload"), 2),
            "batch_documents_per_second": round(run.rate("batch"), 2),
            "documents_per_second": round(run.documents / run.wall, 2),
            "baseline_rss_mib": round(run.baseline_rss / 2**20, 1),
            "peak_rss_mib": round(run.peak_rss / 2**20, 1),
            "peak_rss_mib_by_phase": {phase: round(peak / 2**20, 1) for phase, peak in run.peaks.items()},
            "baseline_pss_mib": round(run.baseline_pss / 2**20, 1),
            "peak_pss_mib": round(run.peak_pss / 2**20, 1),
            "processes": run.processes,
            "throttled_requests": run.throttled,
            "progress_polls": run.polls,
        }
    benchmark.extra_info["peak_rss_ratio"] = round(ratio, 3)
    benchmark.extra_info["peak_rss_target"] = RSS_TARGET
    benchmark.extra_info["peak_rss_verdict"] = verdict
