"""Retention: which old runs to delete, what that frees, and giving the space back.

A policy is a set of age rules ("successes older than 7 days", "failures older than 30
days") plus "always keep the newest N runs of every workflow", which no rule overrides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peewee import JOIN, SqliteDatabase, fn

from app.store.models import LogEntry, LogPayload, NodeExecution, NodePayload, Run, RunPayload, db
from app.store.rows import tuple_rows
from app.store.search import SEARCH_TABLE
from app.store.status import Status
from app.store.writes import delete_runs

DAY_MS = 86_400_000
_CHUNK = 500


@dataclass(frozen=True)
class AgeRule:
    older_than_ms: int
    statuses: frozenset[Status] = frozenset()  # empty: any status

    @classmethod
    def days(cls, days: float, *statuses: Status) -> AgeRule:
        return cls(int(days * DAY_MS), frozenset(statuses))


@dataclass(frozen=True)
class RetentionPolicy:
    rules: tuple[AgeRule, ...]
    keep_last: int = 0  # newest runs per workflow that are always kept


@dataclass(frozen=True)
class PurgePlan:
    run_ids: tuple[str, ...]
    nodes: int
    logs: int
    payload_bytes: int  # bytes of stored payload text the purge frees (before compaction)


def _ranked_runs() -> Any:
    """Every run with its rank among its workflow's runs, newest first (1 = newest)."""
    return Run.select(
        Run.id,
        Run.status,
        Run.started_at,
        fn.ROW_NUMBER()
        .over(partition_by=[Run.workflow_id], order_by=[Run.started_at.desc(), Run.id.desc()])
        .alias("rank"),
    )


def runs_to_purge(policy: RetentionPolicy, now_ms: int) -> list[str]:
    if not policy.rules:
        return []
    ranked = _ranked_runs().alias("ranked")
    query = Run.select(ranked.c.id).from_(ranked)
    matches = None
    for rule in policy.rules:
        condition = ranked.c.started_at < now_ms - rule.older_than_ms
        if rule.statuses:
            condition &= ranked.c.status.in_(sorted(s.value for s in rule.statuses))
        matches = condition if matches is None else (matches | condition)
    query = query.where(matches & (ranked.c.rank > policy.keep_last))
    # Oldest first, so an interrupted purge has removed the oldest runs.
    query = query.order_by(ranked.c.started_at, ranked.c.id)
    return [row[0] for row in tuple_rows(query)]


def _payload_bytes(run_ids: list[str]) -> int:
    total = 0
    for start in range(0, len(run_ids), _CHUNK):
        chunk = run_ids[start : start + _CHUNK]
        node_bytes = (
            NodePayload.select(fn.SUM(fn.LENGTH(NodePayload.payload)))
            .join(NodeExecution)
            .where(NodeExecution.run.in_(chunk))
            .scalar()
        )
        run_bytes = (
            RunPayload.select(
                fn.SUM(
                    fn.COALESCE(fn.LENGTH(RunPayload.trigger_json), 0)
                    + fn.COALESCE(fn.LENGTH(RunPayload.params_json), 0)
                    + fn.COALESCE(fn.LENGTH(RunPayload.output_json), 0)
                    + fn.COALESCE(fn.LENGTH(RunPayload.error_stack), 0)
                )
            )
            .where(RunPayload.run.in_(chunk))
            .scalar()
        )
        log_bytes = (
            LogEntry.select(
                fn.SUM(
                    fn.LENGTH(LogEntry.message) + fn.COALESCE(fn.LENGTH(LogPayload.data_json), 0)
                )
            )
            .join(LogPayload, on=(LogPayload.log == LogEntry.id), join_type=JOIN.LEFT_OUTER)
            .where(LogEntry.run.in_(chunk))
            .scalar()
        )
        total += int(node_bytes or 0) + int(run_bytes or 0) + int(log_bytes or 0)
    return total


def plan_purge(policy: RetentionPolicy, now_ms: int) -> PurgePlan:
    """What `purge` would delete, without deleting anything (the dry run)."""
    ids = runs_to_purge(policy, now_ms)
    nodes = logs = 0
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        nodes += NodeExecution.select().where(NodeExecution.run.in_(chunk)).count()
        logs += LogEntry.select().where(LogEntry.run.in_(chunk)).count()
    return PurgePlan(tuple(ids), nodes, logs, _payload_bytes(ids))


def purge(policy: RetentionPolicy, now_ms: int) -> int:
    """Delete what the policy selects, a chunk per transaction; return the runs deleted."""
    ids = runs_to_purge(policy, now_ms)
    deleted = 0
    for start in range(0, len(ids), _CHUNK):
        deleted += delete_runs(ids[start : start + _CHUNK])
    return deleted


def reclaim_space() -> None:
    """Give freed pages back to the file system.

    Databases created by Hindsight use incremental auto-vacuum, which returns pages in
    small steps without rewriting the file; older files fall back to a full VACUUM. On
    PostgreSQL a plain VACUUM (no exclusive lock, ingest goes on) makes the space reusable
    and hands emptied pages at the end of each table back.
    """
    if not isinstance(db.obj, SqliteDatabase):
        db.execute_sql("VACUUM")
        return
    # A contentless FTS5 index only marks deleted entries; merging its segments drops them,
    # so the pages they held become free too.
    db.execute_sql(f'INSERT INTO "{SEARCH_TABLE}" ("{SEARCH_TABLE}") VALUES (\'optimize\')')
    mode = db.execute_sql("PRAGMA auto_vacuum").fetchone()[0]
    if mode == 2:  # incremental
        # The pragma frees one page per step; executescript steps it to the end (the
        # cursor API would stop after the first page).
        db.connection().executescript("PRAGMA incremental_vacuum;")
    else:
        db.execute_sql("VACUUM")
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
