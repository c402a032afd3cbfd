"""Reporter resilience (issue 7, test 8), end to end with real receivers and real workflow
processes; the scripted-stub cases live in tests/test_reporter.py."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.ingest.admission import Admission
from app.ingest.auth import ensure_token
from app.ingest.server import Receiver
from app.ingest.writer import ReportWriter
from app.reporter import Reporter
from app.store import queries
from tests.conftest import wait_until
from tests.reliability.serve import serving

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_workflow(
    url: str, spool: Path, count: int, pause: float, payload: int, prefix: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.reliability.workflow_child",
            *(url, str(spool), str(count), str(pause), str(payload), prefix),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_line(process: subprocess.Popen[str], prefix: str) -> str:
    """Block until the child prints a line starting with `prefix` (its progress signal)."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(prefix):
            return line
    raise AssertionError(f"child ended before {prefix!r}: {process.communicate()[1]}")


def stored(db: Path) -> dict[str, tuple[str, int]]:
    """run id -> (status, nodes) read with plain sqlite3."""
    connection = sqlite3.connect(db)
    try:
        return {
            run_id: (status, nodes)
            for run_id, status, nodes in connection.execute(
                "SELECT r.id, r.status, (SELECT COUNT(*) FROM node_execution n "
                "WHERE n.run_id = r.id) FROM run r"
            )
        }
    finally:
        connection.close()


def test_receiver_down_then_up_delivers_every_run_exactly_once(tmp_path: Path) -> None:
    runs, spool, db = 40, tmp_path / "spool", tmp_path / "history.db"
    port = free_port()
    workflow = start_workflow(f"http://127.0.0.1:{port}", spool, runs, 0.05, 100, "outage")
    try:
        # Down: the first runs can only go to the spool.
        wait_for_line(workflow, "run 9")
        spooled_while_down = len(list(spool.glob("*.json")))
        # Up, on the same port; serve also picks the spool up itself: both deliver, racing.
        with serving(db, "--port", str(port), env={"HINDSIGHT_SPOOL_DIR": str(spool)}):
            assert workflow.wait(60) == 0, workflow.communicate()[1]
            assert wait_until(lambda: not list(spool.glob("*.json")), 30)
            assert wait_until(lambda: len(stored(db)) == runs, 30)
    finally:
        if workflow.poll() is None:
            workflow.kill()
        workflow.communicate()
    result = stored(db)
    print(
        f"\nreporter outage: {runs} runs, {spooled_while_down} spooled while the receiver was "
        f"down, {len(result)} stored, "
        f"{sum(1 for s in result.values() if s == ('success', 2))} complete and final"
    )
    assert spooled_while_down >= 5
    assert set(result) == {f"outage-{n}" for n in range(runs)}
    assert all(value == ("success", 2) for value in result.values()), result
    assert list(spool.iterdir()) == []  # no .rejected, no .tmp left behind


class RecordingAdmission(Admission):
    """The real gate, shut for the first `refuse` writes; records when each one came."""

    def __init__(self, refuse: int) -> None:
        super().__init__()
        self.refuse = refuse
        self.arrivals: list[float] = []

    def try_enter(self, size: int) -> bool:
        self.arrivals.append(time.monotonic())
        if len(self.arrivals) <= self.refuse:
            self.refused += 1
            return False
        return super().try_enter(size)


@pytest.fixture
def busy_receiver(database: Path) -> Iterator[tuple[Receiver, RecordingAdmission]]:
    admission = RecordingAdmission(refuse=2)
    writer = ReportWriter()
    receiver = Receiver(writer, port=0, admission=admission)
    receiver.start()
    writer.start()
    yield receiver, admission
    receiver.stop()
    writer.stop()


def test_503_retry_after_from_the_receiver_is_honoured(
    busy_receiver: tuple[Receiver, RecordingAdmission], tmp_path: Path
) -> None:
    receiver, admission = busy_receiver
    reporter = Reporter(receiver.url, spool_dir=tmp_path / "spool", retry_seconds=10)
    try:
        with reporter.run("wf", run_id="patient"), reporter.run("wf", run_id="unused"):
            pass
        assert reporter.flush(15)
    finally:
        reporter.close(timeout=5)
    gaps = [b - a for a, b in zip(admission.arrivals, admission.arrivals[1:], strict=False)]
    print(
        f"\nreporter 503: {admission.refused} refused with Retry-After: 1, retried after "
        f"{', '.join(f'{gap:.2f}' for gap in gaps[: admission.refuse])} s"
    )
    assert admission.refused == 2
    assert all(gap >= 0.95 for gap in gaps[: admission.refuse])  # Retry-After: 1, honoured
    assert {run.id for run in queries.list_runs()} == {"patient", "unused"}
    assert not (tmp_path / "spool").exists() or not list((tmp_path / "spool").iterdir())


def test_a_wrong_token_is_logged_kept_and_delivered_once_the_token_is_right(
    ingest: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = tmp_path / "spool"
    caplog.set_level(logging.WARNING, logger="hindsight.reporter")
    wrong = Reporter(ingest.url, token="not-the-token", spool_dir=spool)
    try:
        with wrong.run("wf", run_id="denied"):
            pass
        assert wrong.flush(10)
    finally:
        wrong.close(timeout=5)
    warnings = [r.getMessage() for r in caplog.records if r.name == "hindsight.reporter"]
    assert any("401" in w and "wrong token" in w for w in warnings), warnings
    assert queries.count_runs() == 0
    assert len(list(spool.glob("*.json"))) == 1  # not swallowed: waiting in the spool

    right = Reporter(ingest.url, token=ensure_token(), spool_dir=spool)
    try:
        assert right.flush(10)  # its start-up replay delivers the spooled report
    finally:
        right.close(timeout=5)
    assert [run.id for run in queries.list_runs()] == ["denied"]
    assert list(spool.iterdir()) == []


def test_a_receiver_that_requires_a_token_refuses_none_and_it_is_logged(
    database: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What `serve --listen 0.0.0.0` does: every request needs the token.
    writer = ReportWriter()
    receiver = Receiver(writer, port=0, token="secret", require_token=True)
    receiver.start()
    writer.start()
    caplog.set_level(logging.WARNING, logger="hindsight.reporter")
    reporter = Reporter(receiver.url, token="", spool_dir=tmp_path / "spool")
    try:
        with reporter.run("wf", run_id="anonymous"):
            pass
        assert reporter.flush(10)
    finally:
        reporter.close(timeout=5)
        receiver.stop()
        writer.stop()
    warnings = [r.getMessage() for r in caplog.records if r.name == "hindsight.reporter"]
    assert any("401" in w and "requires Authorization" in w for w in warnings), warnings
    assert queries.count_runs() == 0
    assert len(list((tmp_path / "spool").glob("*.json"))) == 1


def test_spool_survives_the_workflow_being_killed_mid_write(ingest: Any, tmp_path: Path) -> None:
    rng = random.Random(8)
    rounds, spool = 5, tmp_path / "spool"
    dead = f"http://127.0.0.1:{free_port()}"
    for round_number in range(rounds):
        # 300 KB reports: each spool write takes long enough to be caught in the middle.
        workflow = start_workflow(dead, spool, 10_000, 0, 300_000, f"killed{round_number}")
        already = len(list(spool.glob("*.json"))) if spool.exists() else 0
        target = already + rng.randint(2, 20)
        assert wait_until(lambda target=target: len(list(spool.glob("*.json"))) >= target, 60)
        time.sleep(rng.uniform(0, 0.05))  # a random moment: the kill is what is tested
        workflow.send_signal(signal.SIGKILL)
        workflow.communicate(timeout=10)
    complete = {}
    for path in spool.glob("*.json"):
        report = json.loads(path.read_bytes())  # every .json parses: no partial file
        complete[report["id"]] = report
    leftovers = [p.name for p in spool.iterdir() if not p.name.endswith(".json")]
    assert all(name.startswith(".") and name.endswith(".tmp") for name in leftovers), leftovers

    reporter = Reporter(ingest.url, spool_dir=spool)
    try:
        assert reporter.flush(60)  # replays every complete report
    finally:
        reporter.close(timeout=5)
    runs = {run.id: run for run in queries.list_runs(limit=100_000)}
    final = {run_id for run_id, report in complete.items() if report["status"] == "success"}
    print(
        f"\nreporter kill -9 x {rounds}: {len(complete)} complete spool files "
        f"({len(final)} final, {len(complete) - len(final)} running), {len(leftovers)} "
        f"half-written temp files ignored, {len(runs)} runs stored"
    )
    assert set(runs) == set(complete)
    assert all(runs[run_id].status.value == "success" for run_id in final)
    assert not list(spool.glob("*.json"))
