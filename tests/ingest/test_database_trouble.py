"""Database trouble on a real socket: a lock held by another process, a full disk, a read-only
database. Never a 2xx for data not written; nothing partial stored; recovery afterwards."""

from __future__ import annotations

import contextlib
import random
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.store import queries
from app.store.models import db
from tests.conftest import make_report, post_json

# Locks, a full disk and read-only files are SQLite file troubles.
pytestmark = [pytest.mark.reliability, pytest.mark.sqlite_only]

HOLD_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


def _writer_pragma(ingest: Any, pragma: str) -> None:
    """Set a PRAGMA on the writer thread's own connection (they are per connection)."""
    ingest.writer.call(lambda: db.execute_sql(f"PRAGMA {pragma}"))


@contextlib.contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """Another process holds SQLite's write lock until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(10)
        holder.stdout.close()


def test_lock_held_past_busy_timeout_is_503_then_recovers(ingest: Any, database: Path) -> None:
    _writer_pragma(ingest, "busy_timeout = 200")
    with write_lock_held(database):
        status, body, response = post_json(ingest.url, "/api/executions", make_report())
        assert status == 503 and "locked" in body["error"]
        assert response.getheader("Retry-After") == "1"
        status, body, _ = post_json(ingest.url, "/api/steps", _step())
        assert status == 503
        # Readers are not blocked by a writer in WAL mode.
        assert post_json(ingest.url, "/api/executions", b"", method="GET")[0] == 200
    assert post_json(ingest.url, "/api/executions", make_report())[0] == 201
    assert [run.id for run in queries.list_runs()] == ["run-1"]


def _step() -> dict[str, Any]:
    return {
        "projectId": "p",
        "workflowId": "w",
        "runId": "r",
        "stepId": "s",
        "timestamp": "2026-11-22T09:00:00Z",
        "status": "success",
    }


def _big_batch(count: int, prefix: str = "big-") -> list[dict[str, Any]]:
    # Random text: compression must not let the batch fit in the few pages left.
    blob = random.Random(count).randbytes(10_000).hex()
    return [
        make_report(f"{prefix}{i}", status="success", output={"blob": blob}) for i in range(count)
    ]


def test_full_disk_is_507_stores_nothing_and_recovers(ingest: Any) -> None:
    assert post_json(ingest.url, "/api/executions", make_report("before"))[0] == 201
    page_count = db.execute_sql("PRAGMA page_count").fetchone()[0]
    # A database size limit just above what is stored fails writes with SQLITE_FULL, exactly
    # as a full disk does.
    _writer_pragma(ingest, f"max_page_count = {page_count + 3}")
    status, body, response = post_json(ingest.url, "/api/executions", _big_batch(20))
    assert status == 507 and "full" in body["error"]
    assert response.getheader("Retry-After") is None
    assert [run.id for run in queries.list_runs()] == ["before"]  # nothing of the batch
    _running = make_report("live", status="running", nodeExecutions=[])
    _writer_pragma(ingest, "max_page_count = 1073741823")
    assert post_json(ingest.url, "/api/executions", _running)[0] == 201
    _writer_pragma(ingest, f"max_page_count = {db.execute_sql('PRAGMA page_count').fetchone()[0]}")
    # Text that does not compress: the node's payload alone needs more pages than are left.
    node = {"nodeId": "n", "status": "running", "output": {"blob": random.randbytes(25_000).hex()}}
    status, _, _ = post_json(ingest.url, "/api/executions/live/nodes", node)
    assert status == 507
    detail = queries.get_run("live")
    assert detail is not None and detail.nodes == ()
    _writer_pragma(ingest, "max_page_count = 1073741823")  # space freed
    assert post_json(ingest.url, "/api/executions", _big_batch(20))[0] == 201
    assert post_json(ingest.url, "/api/executions/live/nodes", node)[0] == 200
    assert queries.count_runs() == 22


def test_read_only_database_is_503_per_request_and_recovers(ingest: Any) -> None:
    _writer_pragma(ingest, "query_only = 1")
    status, body, response = post_json(ingest.url, "/api/executions", make_report())
    assert status == 503 and "read-only" in body["error"]
    assert response.getheader("Retry-After") == "1"
    _writer_pragma(ingest, "query_only = 0")
    assert post_json(ingest.url, "/api/executions", make_report())[0] == 201


@contextlib.contextmanager
def small_filesystem(size: str) -> Iterator[Path]:
    """A fresh tmpfs of `size` on a new empty folder; skips where mounting is not allowed."""
    folder = Path(tempfile.mkdtemp(prefix="hindsight-fs-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip("cannot mount a small filesystem here")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=True)
        folder.rmdir()


def test_a_really_full_disk_is_507_and_recovers_once_space_is_freed() -> None:
    from app.ingest.service import IngestService
    from app.store.connection import close_database, open_database

    with small_filesystem("3m") as folder:
        filler = folder / "filler"
        filler.write_bytes(b"\0" * 1_200_000)  # what the user will delete to make room
        open_database(folder / "history.db")
        service = IngestService("127.0.0.1", 0)
        service.start()
        try:
            acknowledged: list[str] = []
            status = 201
            for batch in range(60):
                reports = _big_batch(5, prefix=f"b{batch}-")
                status, body, _ = post_json(service.url, "/api/executions", reports)
                if status != 201:
                    break
                acknowledged += body["ids"]
            assert status == 507 and "full" in body["error"]
            stored = {run.id for run in queries.list_runs(limit=1000)}
            assert stored == set(acknowledged)  # the refused batch left nothing behind
            filler.unlink()
            status, body, _ = post_json(service.url, "/api/executions", _big_batch(5, "after-"))
            assert status == 201
            assert queries.count_runs() == len(acknowledged) + 5
            integrity = db.execute_sql("PRAGMA integrity_check").fetchone()[0]
            assert integrity == "ok"
        finally:
            service.stop()
            close_database()


def test_serve_refuses_a_read_only_database_at_start() -> None:
    from app.store.connection import close_database, open_database

    with small_filesystem("2m") as folder:
        path = folder / "history.db"
        open_database(path)
        close_database()
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        before = path.read_bytes()
        result = subprocess.run(
            [sys.executable, "-m", "app", "serve", "--db", str(path), "--port", "0"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "read-only" in lines[0] and str(path) in lines[0]
        assert path.read_bytes() == before
