from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from app.config import ConfigError, resolve_settings
from app.ingest.service import IngestService
from app.store import queries, writes
from app.store.models import Run
from app.store.records import RunRecord
from app.store.status import Status
from tests.store.test_store import run_record

HOUR_MS = 3_600_000


def _running(run_id: str) -> RunRecord:
    return replace(run_record(run_id), status=Status.RUNNING)


def test_only_running_runs_past_the_timeout_are_interrupted(database: Path) -> None:
    writes.replace_runs([_running("old"), _running("fresh"), run_record("done")])
    Run.update(received_at=0).where(Run.id.in_(["old", "done"])).execute()
    changed = writes.interrupt_stale_runs(24 * HOUR_MS, now_ms=25 * HOUR_MS)
    assert changed == ["old"]
    statuses = {r.id: r.status for r in queries.list_runs()}
    assert statuses == {"old": Status.INTERRUPTED, "fresh": Status.RUNNING, "done": Status.ERROR}
    ((at, before, after, reason),) = queries.status_changes("old")
    assert (at, before, after) == (25 * HOUR_MS, "running", "interrupted")
    assert "24 h" in reason
    assert writes.interrupt_stale_runs(24 * HOUR_MS, now_ms=25 * HOUR_MS) == []


def test_a_later_report_wins_over_interrupted(database: Path) -> None:
    writes.replace_runs([_running("r")])
    Run.update(received_at=0).execute()
    writes.interrupt_stale_runs(HOUR_MS, now_ms=2 * HOUR_MS)
    writes.replace_runs([run_record("r")])
    detail = queries.get_run("r")
    assert detail is not None and detail.summary.status is Status.ERROR


def test_service_interrupts_stale_runs_at_start(database: Path) -> None:
    writes.replace_runs([_running("stuck")])
    Run.update(received_at=0).execute()
    seen: list[str] = []
    done = threading.Event()

    def committed(ids: list[str]) -> None:
        seen.extend(ids)
        done.set()

    service = IngestService("127.0.0.1", 0, on_committed=committed, stale_after_hours=1)
    service.start()
    try:
        assert done.wait(10)
    finally:
        service.stop()
    assert seen == ["stuck"]
    detail = queries.get_run("stuck")
    assert detail is not None and detail.summary.status is Status.INTERRUPTED


def test_stale_after_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_settings().stale_after_hours == 24
    monkeypatch.setenv("HINDSIGHT_STALE_AFTER", "2.5")
    assert resolve_settings().stale_after_hours == 2.5
    assert resolve_settings(stale_after=1).stale_after_hours == 1
    monkeypatch.setenv("HINDSIGHT_STALE_AFTER", "-1")
    with pytest.raises(ConfigError, match="positive number of hours"):
        resolve_settings()
