"""Ingest benchmark (issue 4, "Performance"): prints every figure and its target.

    .venv/bin/python tests/benchmarks/ingest_bench.py [--runs 3000] [--overload-seconds 60]

Starts `hindsight serve` on a temporary database and drives it from this process (a
separate one) with 8 concurrent keep-alive clients posting the store benchmark's runs:
- one report per request: runs/s acknowledged, p50/p99 latency, server RSS, and the
  ceiling of a bare stdlib ThreadingHTTPServer (its own process) that only parses the same
  JSON and answers 200 (sent BARE_PASSES times over, so that it is measured for as long);
- batches of 50 reports per request: runs/s;
- overload: twice the sustainable rate, open loop (new requests keep coming whether or not
  earlier ones were answered), for `--overload-seconds`: RSS growth, answers by status, and
  a check that every run acknowledged with 2xx is in the database afterwards;
- the reporter: µs per node on the workflow's thread (p50), receiver up and down.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a plain script

from tests.benchmarks.generator import RunGenerator  # noqa: E402

CLIENTS = 8
BATCH = 50
# The bare server answers the same bodies ~3 times as fast as Hindsight stores them: it
# gets them 3 times over, so its phase lasts about as long as the receiver's (one pass of
# 3,000 took 0.7 s, and its rate then swung between 2,963 and 4,523 from run to run).
BARE_PASSES = 3


def line(label: str, value: str, target: str = "", ok: bool | None = None) -> None:
    mark = "" if ok is None else ("  ok" if ok else "  MISSED")
    suffix = f"  (target {target}){mark}" if target else ""
    print(f"  {label:<44} {value:>16}{suffix}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name (which may hold spaces): state is field 0."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """The process and its children (`hindsight serve` stores reports in a child process,
    and the resource tracker multiprocessing may start): what the server costs is theirs
    together."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == pid:
                    children.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    return [pid, *children]


def rss_mb(pid: int) -> float:
    """Resident memory of the server: the process and its children."""
    total = 0
    for member in process_tree(pid):
        try:
            for text in Path(f"/proc/{member}/status").read_text().splitlines():
                if text.startswith("VmRSS:"):
                    total += int(text.split()[1])
        except OSError:
            continue
    return total / 1024


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children (Linux /proc)."""
    ticks = 0
    for member in process_tree(pid):
        try:
            fields = _stat_fields(member)
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    """(all, idle) CPU ticks of the machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values), values[3] + values[4]  # idle + iowait


class CpuUse:
    """What a phase cost the server in CPU, and how busy the whole machine was meanwhile.

    Tells a server bound by its own GIL (about one core busy, the others idle) from a
    machine out of cores (every core busy, the client's included)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self) -> CpuUse:
        self._cpu = _process_cpu_s(self.pid)
        self._ticks = _machine_ticks()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu_s = _process_cpu_s(self.pid) - self._cpu
        self.wall_s = time.perf_counter() - self._wall
        total, idle = (now - then for now, then in zip(_machine_ticks(), self._ticks, strict=True))
        self.machine_busy = 1 - idle / total if total else float("nan")

    def report(self, runs: int) -> None:
        line(
            "server CPU per run (cores busy)",
            f"{self.cpu_s * 1000 / runs:.2f} ms ({self.cpu_s / self.wall_s:.2f})",
        )
        line("machine busy", f"{self.machine_busy * 100:.0f} % of {os.cpu_count()} cores")


# -- a minimal keep-alive HTTP/1.1 client ---------------------------------------------------
class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            sock = self.writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            self.close()
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length, close = 0, False
        while (header := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        answer = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def closed_loop(port: int, bodies: list[bytes], path: str) -> tuple[float, list[float]]:
    """CLIENTS connections, each posting its share back to back; (elapsed s, latencies ms)."""
    latencies: list[float] = []
    queue = list(reversed(bodies))

    async def client() -> None:
        connection = Connection(port)
        while queue:
            body = queue.pop()
            start = time.perf_counter()
            status, answer = await connection.post(path, body)
            latencies.append((time.perf_counter() - start) * 1000)
            if status not in (200, 201):
                raise RuntimeError(f"unexpected {status}: {answer[:200]!r}")
        connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return time.perf_counter() - start, latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- servers --------------------------------------------------------------------------------
class _BareHandler(BaseHTTPRequestHandler):
    """The ceiling: parse the JSON, answer 200 in one write, keep the connection."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()  # buffered with the body below, one write
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


def bare_server(port: int) -> None:
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), _BareHandler).serve_forever()


def stub_store_server(port: int, folder: Path) -> None:
    """The real receiver (HTTP, checks, decoding, writer thread and its transactions) with
    the insert stubbed out (`store_prepared`): what the receiver costs outside the write
    transaction. The store stays on the writer thread, so packing rows is counted here as
    before `serve` moved it to a process of its own. Benchmark only."""
    import threading

    import app.ingest.store_worker
    from app.ingest.service import IngestService
    from app.store.connection import open_database

    open_database(folder / "stub.db")
    app.ingest.store_worker.store_prepared = lambda batches: None
    IngestService("127.0.0.1", port).start()
    threading.Event().wait()


def wait_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def server_env(folder: Path) -> dict[str, str]:
    """The server's environment: its own home, data directory (token file) and spool."""
    env = dict(os.environ)
    env.update(
        HOME=str(folder),
        XDG_DATA_HOME=str(folder / "data"),
        HINDSIGHT_SPOOL_DIR=str(folder / "spool"),
    )
    return env


def server_token(folder: Path) -> str:
    """The token in the file the server reads (resolved in the server's environment, so the
    reporter phase sends the right one rather than this user's own)."""
    found = subprocess.run(
        [sys.executable, "-c", "from app.ingest.auth import ensure_token; print(ensure_token())"],
        cwd=ROOT,
        env=server_env(folder),
        check=True,
        capture_output=True,
        text=True,
    )
    return found.stdout.strip()


def start_hindsight(folder: Path, port: int) -> subprocess.Popen[bytes]:
    env = server_env(folder)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "serve",
            "--db",
            str(folder / "bench.db"),
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    wait_listening(port, process)
    return process


def bench_store_alone(bodies: list[bytes], group: int) -> None:
    """What a request thread spends decoding one report, and what the writer thread spends
    in app/store per run: preparing its rows, then inserting them (one transaction per
    `group` reports, synchronous=FULL), and indexing their text for search (which the
    receiver does after acknowledging, see search_backlog, but must do all the same)."""
    from app.ingest.fast_report import decode_reports_fast
    from app.ingest.report import decode_reports
    from app.store import search
    from app.store.connection import close_database, open_database, write_transaction
    from app.store.prepared import prepare_runs
    from app.store.writes import store_prepared

    start = time.perf_counter()
    records = [decode_reports(body)[0] for body in bodies]
    decode_ms = (time.perf_counter() - start) * 1000 / len(bodies)
    start = time.perf_counter()
    fast = [decode_reports_fast(body, batch=False) for body in bodies]
    fast_ms = (time.perf_counter() - start) * 1000 / len(bodies)
    taken = sum(result is not None for result in fast)
    line("decode + validate + convert, msgspec path", f"{fast_ms:.2f} ms/run")
    line("  reports it took (the rest go to pydantic)", f"{taken} / {len(bodies)}")
    line("decode + validate + convert, pydantic path", f"{decode_ms:.2f} ms/run")
    start = time.perf_counter()
    prepared = [prepare_runs(records[i : i + group]) for i in range(0, len(records), group)]
    prepare_ms = (time.perf_counter() - start) * 1000 / len(records)
    line("prepare rows + pack payloads (writer thread)", f"{prepare_ms:.2f} ms/run")
    with tempfile.TemporaryDirectory(prefix="hindsight-store-") as name:
        open_database(Path(name) / "store.db")
        insert_ms: dict[str, float] = {}
        for label in ("new runs", "replacing runs"):
            start = time.perf_counter()
            for batch in prepared:
                with write_transaction():
                    store_prepared([batch])
            insert_ms[label] = (time.perf_counter() - start) * 1000 / len(records)
            line(f"insert prepared, {label} ({group} per txn)", f"{insert_ms[label]:.2f} ms/run")
            line(f"  writer ceiling, {label}", f"{1000 / insert_ms[label]:,.0f} runs/s")
        # What the writer owes for each run later, in idle time or under sustained load (the
        # backlog is the replacing pass's rows: the first pass's were replaced unindexed).
        start = time.perf_counter()
        search.catch_up_now()
        index_ms = (time.perf_counter() - start) * 1000 / len(records)
        line("full-text indexing, behind storing", f"{index_ms:.2f} ms/run")
        sustained = 1000 / (prepare_ms + insert_ms["new runs"] + index_ms)
        line("  writer ceiling, sustained (prepare+insert+index)", f"{sustained:,.0f} runs/s")
        close_database()


# -- phases ---------------------------------------------------------------------------------
def bench_single(port: int, bodies: list[bytes], label: str, pid: int) -> float:
    with CpuUse(pid) as cpu:
        elapsed, latencies = asyncio.run(closed_loop(port, bodies, "/api/executions"))
    rate = len(bodies) / elapsed
    line(f"{label}: runs/s", f"{rate:,.0f}")
    line(
        f"{label}: latency p50 / p99",
        f"{percentile(latencies, 0.5):.1f} / {percentile(latencies, 0.99):.1f} ms",
    )
    cpu.report(len(bodies))
    return rate


async def open_loop(
    port: int, bodies: list[bytes], rate: float, seconds: float, on_tick: Callable[[], None]
) -> tuple[Counter[int], list[str], int]:
    """Post at `rate`/s whatever the answers; idle connections are reused, new ones opened
    when all are busy (as many independent workflows would)."""
    statuses: Counter[int] = Counter()
    acknowledged: list[str] = []
    idle: list[Connection] = []
    tasks: set[asyncio.Task[None]] = set()
    opened = 0

    async def send(index: int) -> None:
        nonlocal opened
        connection = idle.pop() if idle else None
        if connection is None:
            connection = Connection(port)
            opened += 1
        body = bodies[index % len(bodies)]
        try:
            status, answer = await connection.post("/api/executions", body)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            statuses[-1] += 1
            connection.close()
            return
        statuses[status] += 1
        if 200 <= status < 300:
            acknowledged.append(json.loads(answer)["id"])
        if connection.writer is not None:
            idle.append(connection)

    start = time.perf_counter()
    sent = 0
    next_tick = start
    while (now := time.perf_counter()) - start < seconds:
        due = int((now - start) * rate)
        while sent < due:
            task = asyncio.create_task(send(sent))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        if now >= next_tick:
            on_tick()
            next_tick = now + 1
        await asyncio.sleep(0.002)
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    for connection in idle:
        connection.close()
    return statuses, acknowledged, opened


def bench_overload(
    folder: Path,
    port: int,
    process: subprocess.Popen[bytes],
    generator: RunGenerator,
    rate: float,
    seconds: float,
) -> None:
    target = 2 * rate
    print(f"\nOverload: {target:,.0f} runs/s (twice the sustainable rate) for {seconds:.0f} s")
    count = int(target * seconds)
    # Distinct runs, so each acknowledged id must be found; reports are reused cyclically
    # beyond what is pre-generated, replacing the same ids (idempotent re-posts).
    bodies = [
        json.dumps(generator.report(100_000 + i), separators=(",", ":")).encode()
        for i in range(min(count, 20_000))
    ]
    before = rss_mb(process.pid)
    peak = [before]

    def sample() -> None:
        peak[0] = max(peak[0], rss_mb(process.pid))

    statuses, acknowledged, opened = asyncio.run(open_loop(port, bodies, target, seconds, sample))
    sample()
    answered = sum(n for s, n in statuses.items() if s > 0)
    line("requests sent / answered", f"{sum(statuses.values()):,} / {answered:,}")
    for status, n in sorted(statuses.items()):
        line(f"  answered {status}" if status > 0 else "  connection failed", f"{n:,}")
    line("connections opened", f"{opened:,}")
    line("acknowledged runs/s", f"{len(acknowledged) / seconds:,.0f}")
    growth = peak[0] - before
    line("server RSS before / peak", f"{before:.0f} / {peak[0]:.0f} MB")
    line("server RSS growth", f"{growth:.0f} MB", "≤ 200 MB", growth <= 200)
    line(
        "excess requests answered 503",
        f"{statuses.get(503, 0):,}",
        "> 0 under overload",
        statuses.get(503, 0) > 0,
    )
    stop(process)
    missing = missing_ids(folder / "bench.db", set(acknowledged))
    line("2xx runs missing from the database", f"{missing:,}", "0", missing == 0)


def missing_ids(path: Path, ids: set[str]) -> int:
    import sqlite3

    connection = sqlite3.connect(path)
    stored: set[str] = set()
    id_list = sorted(ids)
    for start in range(0, len(id_list), 500):
        chunk = id_list[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        stored.update(
            row[0] for row in connection.execute(f"SELECT id FROM run WHERE id IN ({marks})", chunk)
        )
    connection.close()
    return len(ids - stored)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(30)


def bench_reporter(port: int, folder: Path, nodes: int = 2000) -> None:
    from app.reporter import Reporter

    print("\nReporter: time per node on the workflow's thread")
    token = server_token(folder)
    generator = RunGenerator(seed=11, total_runs=100)
    report = generator.report(1)
    payload_in = report["nodeExecutions"][0]["input"]
    payload_out = report["nodeExecutions"][0]["output"]
    for label, url in (
        ("receiver up", f"http://127.0.0.1:{port}"),
        ("receiver down", f"http://127.0.0.1:{free_port()}"),
    ):
        reporter = Reporter(url=url, token=token, spool_dir=folder / f"spool-{label.split()[1]}")
        timings = []
        for run_index in range(nodes // 10):
            with reporter.run(f"bench-{label.split()[1]}", name="Reporter bench") as run:
                for position in range(10):
                    start = time.perf_counter()
                    with run.node(
                        f"n{position}", name="Step", type="code", input=payload_in
                    ) as node:
                        node.output = payload_out
                    timings.append((time.perf_counter() - start) * 1e6)
            del run_index
        reporter.close(timeout=10)
        p50 = statistics.median(timings)
        line(
            f"{label}: per node p50 / p99",
            f"{p50:.0f} / {percentile(timings, 0.99):.0f} µs",
            "p50 ≤ 50 µs",
            p50 <= 50,
        )
    runs = nodes // 10
    delivered = count_runs(port, "bench-up")
    line("receiver up: runs delivered", f"{delivered} / {runs}", str(runs), delivered == runs)
    spooled = len(list((folder / "spool-down").glob("*.json")))
    line("receiver down: runs spooled", f"{spooled} / {runs}", str(runs), spooled == runs)


def count_runs(port: int, workflow_id: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", f"/api/executions?workflowId={workflow_id}&limit=1")
    answer = connection.getresponse()
    total = int(json.loads(answer.read())["total"]) if answer.status == 200 else -answer.status
    connection.close()
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3000, help="runs per throughput phase")
    parser.add_argument("--overload-seconds", type=float, default=60)
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stub-store-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.bare_server:
        bare_server(args.bare_server)
        return 0
    if args.stub_store_server:
        stub_store_server(args.stub_store_server, args.folder)
        return 0
    print(f"Hindsight ingest benchmark — {CLIENTS} keep-alive clients, {os.cpu_count()} cores")
    generator = RunGenerator(seed=5, total_runs=1_000_000)
    reports = [generator.report(i) for i in range(args.runs)]
    bodies = [json.dumps(r, separators=(",", ":")).encode() for r in reports]
    line("report size (mean)", f"{statistics.mean(map(len, bodies)):,.0f} B")

    print("\nBare stdlib ThreadingHTTPServer (parse JSON, answer 200)")
    port = free_port()
    bare = subprocess.Popen([sys.executable, __file__, "--bare-server", str(port)])
    try:
        wait_listening(port, bare)
        ceiling = bench_single(port, bodies * BARE_PASSES, "one report per request", bare.pid)
    finally:
        stop(bare)

    print("\nReceiver without the store (store_prepared stubbed out; everything else real)")
    with tempfile.TemporaryDirectory(prefix="hindsight-stub-") as name:
        port = free_port()
        stub = subprocess.Popen(
            [sys.executable, __file__, "--stub-store-server", str(port), "--folder", name],
            env=server_env(Path(name)),
        )
        try:
            wait_listening(port, stub)
            outside = bench_single(port, bodies, "one report per request", stub.pid)
            line("share of the bare-server ceiling", f"{outside / ceiling * 100:.0f} %")
        finally:
            stop(stub)

    print("\nThe store alone, in this process (the writer's share of each run)")
    bench_store_alone(bodies, group=32)

    with tempfile.TemporaryDirectory(prefix="hindsight-ingest-") as name:
        folder = Path(name)
        port = free_port()
        server = start_hindsight(folder, port)
        try:
            print("\nhindsight serve, one report per request")
            rate = bench_single(port, bodies, "one report per request", server.pid)
            line("runs/s", f"{rate:,.0f}", "≥ 1,000", rate >= 1000)
            share = rate / ceiling * 100
            line("share of the bare-server ceiling", f"{share:.0f} %", "≥ 40 %", share >= 40)
            _, latencies = asyncio.run(
                closed_loop(port, bodies[: len(bodies) // 2], "/api/executions")
            )
            p99 = percentile(latencies, 0.99)
            line("p99 latency (re-posting: replaces runs)", f"{p99:.1f} ms", "≤ 50 ms", p99 <= 50)
            line("server RSS", f"{rss_mb(server.pid):.0f} MB")

            print(f"\nhindsight serve, batches of {BATCH} reports per request")
            batch_reports = [generator.report(10_000 + i) for i in range(args.runs)]
            batches = [
                json.dumps(batch_reports[i : i + BATCH], separators=(",", ":")).encode()
                for i in range(0, len(batch_reports), BATCH)
            ]
            with CpuUse(server.pid) as cpu:
                elapsed, latencies = asyncio.run(closed_loop(port, batches, "/api/executions"))
            batch_rate = len(batch_reports) / elapsed
            line("runs/s", f"{batch_rate:,.0f}", "≥ 3,000", batch_rate >= 3000)
            line(
                "latency per batch p50 / p99",
                f"{percentile(latencies, 0.5):.0f} / {percentile(latencies, 0.99):.0f} ms",
            )
            cpu.report(len(batch_reports))
            line("server RSS", f"{rss_mb(server.pid):.0f} MB")

            bench_reporter(port, folder)
            bench_overload(folder, port, server, generator, rate, args.overload_seconds)
        finally:
            stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
