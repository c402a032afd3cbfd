"""Which runs a listing, a count or a bulk action is about."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from peewee import SQL, NodeList, Select, SqliteDatabase, fn

from app.store.models import Run, RunTag, db
from app.store.search import matching_runs_sql
from app.store.status import Status


@dataclass(frozen=True)
class RunFilter:
    """Every field narrows the selection; the empty filter selects every run.

    Times are epoch milliseconds; `since` is inclusive and `until` exclusive, so adjacent
    ranges never count a run twice.
    """

    statuses: frozenset[Status] = frozenset()
    workflow_id: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    tag_key: str | None = None
    tag_value: str | None = None  # only with tag_key
    since: int | None = None
    until: int | None = None
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    has_failed_node: bool = False
    text: str | None = None  # full-text: every word must occur in the run's data
    # Exactly these runs (a failure group, a saved selection); None means no such limit.
    run_ids: frozenset[str] | None = None

    def apply(self, query: Any, first_rows: bool = False, by_time: bool = False) -> Any:
        """Add this filter's conditions to a query over `Run`.

        `first_rows`: the query reads a first page newest first (LIMIT), so a tag is checked
        per run by primary key; otherwise (counts, statistics, deletes) the tagged runs are
        collected once from the (key, value) index, far cheaper over every run.
        `by_time`: the page is read in start-time order, so a wide duration range is checked
        on the rows that order's index yields rather than read and sorted in full (below).
        """
        if self.statuses:
            query = query.where(Run.status.in_(sorted(s.value for s in self.statuses)))
        if self.workflow_id is not None:
            query = query.where(Run.workflow_id == self.workflow_id)
        if self.project_id is not None:
            query = query.where(Run.project_id == self.project_id)
        if self.user_id is not None:
            query = query.where(Run.user_id == self.user_id)
        if self.tag_key is not None:
            if first_rows:
                tagged = RunTag.select(SQL("1")).where(
                    (RunTag.run == Run.id) & (RunTag.key == self.tag_key)
                )
            else:
                tagged = RunTag.select(RunTag.run).where(RunTag.key == self.tag_key)
            if self.tag_value is not None:
                tagged = tagged.where(RunTag.value == self.tag_value)
            query = query.where(fn.EXISTS(tagged) if first_rows else Run.id.in_(tagged))
        if self.since is not None:
            query = query.where(Run.started_at >= self.since)
        if self.until is not None:
            query = query.where(Run.started_at < self.until)
        duration: Any = Run.duration_ms
        if by_time and first_rows and self._duration_range_is_wide():
            # Unary plus: the same value, but no longer a column the planner may range-scan,
            # so it walks the start-time index and stops after the page.
            duration = NodeList((SQL("+"), Run.duration_ms), glue="")
        if self.min_duration_ms is not None:
            query = query.where(duration >= self.min_duration_ms)
        if self.max_duration_ms is not None:
            query = query.where(duration <= self.max_duration_ms)
        if self.has_failed_node:
            query = query.where(Run.failed_node_name.is_null(False))
        if self.run_ids is not None:
            query = query.where(_id_is_one_of(self.run_ids))
        if self.text:
            matching = matching_runs_sql(self.text)
            if matching is not None:
                query = query.where(Run.id.in_(SQL(*matching)))
        return query

    def _duration_range_is_wide(self) -> bool:
        """Whether the duration bounds alone hold WIDE_RANGE runs or more (counted on the
        duration index, at most WIDE_RANGE entries read)."""
        if self.min_duration_ms is None and self.max_duration_ms is None:
            return False
        probe = Run.select(SQL("1")).where(_duration_range(self)).limit(WIDE_RANGE)
        counted = Select([probe.alias("probe")], [fn.COUNT(SQL("*"))]).bind(db)
        return int(counted.scalar()) >= WIDE_RANGE


# A duration range holding at least this many runs is scanned in start-time order: a page
# of 50 then costs about 50 x runs / WIDE_RANGE rows, while range-scanning the duration
# index means sorting every run in the range (950 ms for 3.6% of a million runs).
WIDE_RANGE = 5000


def _duration_range(where: RunFilter) -> Any:
    condition = Run.duration_ms.is_null(False)
    if where.min_duration_ms is not None:
        condition &= Run.duration_ms >= where.min_duration_ms
    if where.max_duration_ms is not None:
        condition &= Run.duration_ms <= where.max_duration_ms
    return condition


def _id_is_one_of(run_ids: frozenset[str]) -> Any:
    """`Run.id IN (...)` for any number of ids.

    SQLite caps bound parameters (32,766), and a failure group can hold more runs than that,
    so on SQLite the ids travel as one JSON array parameter that `json_each` unpacks.
    """
    ids = sorted(run_ids)
    if isinstance(db.obj, SqliteDatabase):
        return Run.id.in_(SQL("(SELECT value FROM json_each(?))", [json.dumps(ids)]))
    return Run.id.in_(ids)
