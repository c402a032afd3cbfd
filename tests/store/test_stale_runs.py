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


def _with_node_statuses(run_id: str, *statuses: Status) -> RunRecord:
    """A running run whose nodes have these statuses; the running ones reported no end."""
    record = _running(run_id)
    template = record.nodes[0]
    nodes = tuple(
        replace(
            template,
            node_id=f"n{i}",
            status=status,
            duration_ms=None if status is Status.RUNNING else template.duration_ms,
        )
        for i, status in enumerate(statuses)
    )
    return replace(record, nodes=nodes, completed_at=None, duration_ms=None)


def test_nodes_still_running_are_interrupted_with_their_run(database: Path) -> None:
    writes.replace_runs(
        [
            _with_node_statuses("stuck", Status.SUCCESS, Status.RUNNING, Status.PENDING),
            _with_node_statuses("live", Status.SUCCESS, Status.RUNNING),
        ]
    )
    Run.update(received_at=0).where(Run.id == "stuck").execute()
    assert writes.interrupt_stale_runs(HOUR_MS, now_ms=2 * HOUR_MS) == ["stuck"]
    stuck, live = queries.get_run("stuck"), queries.get_run("live")
    assert stuck is not None and live is not None
    # Only the node that was running changes: what finished, or never started, stays.
    assert [n.status for n in stuck.nodes] == [
        Status.SUCCESS,
        Status.INTERRUPTED,
        Status.PENDING,
    ]
    assert [n.status for n in live.nodes] == [Status.SUCCESS, Status.RUNNING]
    ((_at, _before, _after, reason),) = queries.status_changes("stuck")
    assert reason == "no report for 1 h while running; 1 node was still running"
    # The last sign of life stays readable: the waterfall draws the node up to it.
    assert stuck.last_report_at == 0


def test_the_reason_counts_several_running_nodes_and_omits_none(database: Path) -> None:
    writes.replace_runs(
        [
            _with_node_statuses("two", Status.RUNNING, Status.RUNNING),
            _with_node_statuses("none", Status.SUCCESS),
        ]
    )
    Run.update(received_at=0).execute()
    assert sorted(writes.interrupt_stale_runs(HOUR_MS, now_ms=2 * HOUR_MS)) == ["none", "two"]
    assert queries.status_changes("two")[0].reason.endswith("; 2 nodes were still running")
    assert queries.status_changes("none")[0].reason == "no report for 1 h while running"
