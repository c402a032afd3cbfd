from __future__ import annotations

import json
import random
from pathlib import Path

from app.ingest.report import decode_report
from app.store import queries, writes
from app.store.models import db
from app.store.retention import (
    DAY_MS,
    AgeRule,
    RetentionPolicy,
    plan_purge,
    purge,
    reclaim_space,
    runs_to_purge,
)
from app.store.status import Status
from tests.conftest import make_report

NOW = 1_800_000_000_000  # 2027-01-15


def _store(run_id: str, status: str, age_days: float, workflow: str = "wf") -> None:
    started = NOW - int(age_days * DAY_MS)
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(started / 1000, UTC).isoformat()
    report = make_report(
        run_id,
        status=status,
        workflowId=workflow,
        startedAt=stamp,
        completedAt=None,
        logs=[{"message": "hello", "data": {"x": 1}}],
    )
    writes.replace_runs([decode_report(json.dumps(report).encode())])


POLICY = RetentionPolicy(
    rules=(AgeRule.days(7, Status.SUCCESS), AgeRule.days(30, Status.ERROR)), keep_last=1
)


def test_rules_by_status_and_age(database: Path) -> None:
    _store("new-ok", "success", 1)
    _store("old-ok", "success", 10)
    _store("older-ok", "success", 20)
    _store("old-bad", "error", 10)
    _store("ancient-bad", "error", 40)
    assert runs_to_purge(POLICY, NOW) == ["ancient-bad", "older-ok", "old-ok"]


def test_keep_last_per_workflow_overrides_rules(database: Path) -> None:
    _store("a-old", "success", 100, workflow="a")
    _store("a-older", "success", 200, workflow="a")
    _store("b-old", "success", 100, workflow="b")
    assert runs_to_purge(POLICY, NOW) == ["a-older"]
    keep_none = RetentionPolicy(rules=POLICY.rules, keep_last=0)
    assert sorted(runs_to_purge(keep_none, NOW)) == ["a-old", "a-older", "b-old"]


def test_dry_run_reports_without_deleting(database: Path) -> None:
    _store("keep", "success", 1)
    _store("go-1", "success", 10)
    _store("go-2", "success", 11)
    plan = plan_purge(POLICY, NOW)
    assert plan.run_ids == ("go-2", "go-1")
    assert (plan.nodes, plan.logs) == (4, 2)
    assert plan.payload_bytes > 200
    assert queries.count_runs() == 3  # nothing deleted
    assert purge(POLICY, NOW) == 2
    assert [r.id for r in queries.list_runs()] == ["keep"]
    assert plan_purge(POLICY, NOW).run_ids == ()


def _stored_bytes(database: Path | str) -> int:
    """What the history takes on disk: the SQLite file, or PostgreSQL's payload table with
    its TOAST and indexes (the rest of a PostgreSQL database is the server's own)."""
    if isinstance(database, Path):
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return database.stat().st_size
    return int(db.execute_sql("SELECT pg_total_relation_size('node_payload')").fetchone()[0])


def test_reclaim_space_gives_space_back(database: Path | str) -> None:
    if isinstance(database, Path):
        assert db.execute_sql("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    for i in range(20):
        report = make_report(
            f"r{i}", status="success", completedAt=None, startedAt="2020-01-01T00:00:00Z"
        )
        # Random text, so that no compression shrinks it before it is stored.
        report["nodeExecutions"][0]["output"] = {"blob": random.Random(i).randbytes(100_000).hex()}
        writes.replace_runs([decode_report(json.dumps(report).encode())])
    before = _stored_bytes(database)
    assert purge(RetentionPolicy(rules=(AgeRule.days(1),)), NOW) == 20
    reclaim_space()
    after = _stored_bytes(database)
    assert after < before / 4, (before, after)
