"""Read-only queries shared by the GUI, the HTTP API and the CLI."""

from __future__ import annotations

import heapq
from dataclasses import replace
from enum import StrEnum
from typing import Any

from peewee import JOIN, Tuple, fn

from app.store import search
from app.store.backend import is_postgres
from app.store.filters import RunFilter
from app.store.models import (
    Artifact,
    ArtifactPayload,
    LogEntry,
    LogPayload,
    NodeExecution,
    NodePayload,
    Run,
    RunPayload,
    RunStatusChange,
    RunTag,
    db,
)
from app.store.records import (
    NodePayload as NodePayloadRecord,
)
from app.store.records import (
    NodeSummary,
    RunDetail,
    RunSummary,
    StatusChange,
    StoredArtifact,
    StoredLog,
    WorkflowSummary,
)
from app.store.rows import dict_rows, tuple_rows
from app.store.status import Status

ALL_RUNS = RunFilter()

_SUMMARY_FIELDS = (
    Run.id,
    Run.workflow_id,
    Run.workflow_name,
    Run.status,
    Run.started_at,
    Run.completed_at,
    Run.duration_ms,
    Run.node_count,
    Run.failed_node_name,
    Run.project_id,
    Run.total_tokens,
    Run.cost_usd,
    Run.trigger_type,
    Run.received_at,
)


def _summary(row: dict[str, Any]) -> RunSummary:
    return RunSummary(
        id=row["id"],
        workflow_id=row["workflow_id"],
        workflow_name=row["workflow_name"],
        status=Status(row["status"]),
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        duration_ms=row["duration_ms"],
        node_count=row["node_count"],
        failed_node_name=row["failed_node_name"],
        project_id=row["project_id"],
        total_tokens=row["total_tokens"],
        cost_usd=row["cost_usd"],
        trigger_type=row["trigger_type"],
        last_report_at=row["received_at"],
    )


class RunOrder(StrEnum):
    """How a run listing is sorted; each order pages by keyset over an index."""

    NEWEST = "newest"  # started_at descending
    OLDEST = "oldest"
    SLOWEST = "slowest"  # duration descending; runs without a duration (running) last
    FASTEST = "fastest"

    @property
    def by_duration(self) -> bool:
        return self in (RunOrder.SLOWEST, RunOrder.FASTEST)

    @property
    def descending(self) -> bool:
        return self in (RunOrder.NEWEST, RunOrder.SLOWEST)


Cursor = tuple[int | None, str]


def cursor_of(run: RunSummary, order: RunOrder = RunOrder.NEWEST) -> Cursor:
    """The keyset position of a run in a listing: pass it as `after` for the next page."""
    return (run.duration_ms if order.by_duration else run.started_at, run.id)


def _beyond(column: Any, cursor: Cursor, descending: bool) -> Any:
    # A row-value comparison is one index range on SQLite and PostgreSQL alike.
    key = Tuple(column, Run.id)
    return key < Tuple(*cursor) if descending else key > Tuple(*cursor)


def _ordered(query: Any, column: Any, descending: bool) -> Any:
    if descending:
        return query.order_by(column.desc(), Run.id.desc())
    return query.order_by(column.asc(), Run.id.asc())


def list_runs(
    limit: int = 200,
    after: Cursor | None = None,
    where: RunFilter = ALL_RUNS,
    order: RunOrder = RunOrder.NEWEST,
) -> list[RunSummary]:
    """Runs in `order` (newest first by default); pass `cursor_of(last row)` as `after` to
    get the next page.

    Keyset pagination: each page is an index range scan, however deep the user scrolls.
    Sorted by duration, runs that have none yet (still running) come after all the others,
    as a second keyset segment ordered by id, so NULLs never break the comparison.
    """
    if where.text and search.match_expression(where.text) is None:
        where = replace(where, text=None)  # no words (only punctuation): as count_runs, no filter
    if where.text and not is_postgres():
        return _list_matching(limit, after, where, order)
    if len(where.statuses) > 1:
        return _merged_by_status(limit, after, where, order)
    base = where.apply(Run.select(*_SUMMARY_FIELDS), first_rows=True, by_time=not order.by_duration)
    descending = order.descending
    if not order.by_duration:
        query = base if after is None else base.where(_beyond(Run.started_at, after, descending))
        query = _ordered(query, Run.started_at, descending).limit(limit)
        return [_summary(row) for row in dict_rows(query)]
    rows: list[RunSummary] = []
    if after is None or after[0] is not None:
        timed = base.where(Run.duration_ms.is_null(False))
        if after is not None:
            timed = timed.where(_beyond(Run.duration_ms, after, descending))
        timed = _ordered(timed, Run.duration_ms, descending).limit(limit)
        rows = [_summary(row) for row in dict_rows(timed)]
    if len(rows) < limit:
        untimed = base.where(Run.duration_ms.is_null())
        if after is not None and after[0] is None:
            untimed = untimed.where(Run.id < after[1] if descending else Run.id > after[1])
        by_id = Run.id.desc() if descending else Run.id.asc()
        untimed = untimed.order_by(by_id).limit(limit - len(rows))
        rows += [_summary(row) for row in dict_rows(untimed)]
    return rows


def _order_key(order: RunOrder) -> Any:
    """The sort key of a run in `order`'s direction (mirrors the keyset segments above)."""
    if not order.by_duration:
        return lambda run: (run.started_at, run.id)
    timed_first = 1 if order.descending else 0
    return lambda run: (
        timed_first if run.duration_ms is not None else 1 - timed_first,
        run.duration_ms or 0,
        run.id,
    )


def _merged_by_status(
    limit: int, after: Cursor | None, where: RunFilter, order: RunOrder
) -> list[RunSummary]:
    """A page for several statuses: one page per status, merged.

    `status IN (a, b)` cannot walk the (status, started_at) index in order, so the database
    would collect and sort every run with those statuses (all the running ones, say) for 50
    rows; one ordered index range per status is read up to `limit` rows instead.
    """
    key = _order_key(order)
    pages = [
        list_runs(limit, after, replace(where, statuses=frozenset({status})), order)
        for status in sorted(where.statuses)
    ]
    merged = heapq.merge(*pages, key=key, reverse=order.descending)
    return [run for _, run in zip(range(limit), merged, strict=False)]


# Runs checked for full-text hits by the first window of `_list_matching`, and how many
# index entries count as "few" (collected whole instead).
_FIRST_WINDOW = 100
_FEW_HITS = 5000
_MAX_WINDOW = 50_000


def _list_matching(
    limit: int, after: Cursor | None, where: RunFilter, order: RunOrder
) -> list[RunSummary]:
    """A page of runs with full-text hits, on SQLite.

    Collecting every run with a hit before ordering them costs as much as the hits: most of
    the history, for words most nodes carry. Instead the runs are read in the listing's
    order, a window at a time, and the window is checked against the index (a rowid range,
    see `search.runs_with_node_hits`) until the page is full; log lines are checked only for
    the runs that could still make the page. When the first window falls short the text is
    rare: if it has few index entries, the runs holding them are filtered as a set;
    otherwise windows grow until the page is full or the history ends.
    """
    rest = replace(where, text=None)
    text = where.text or ""
    found: list[RunSummary] = []
    window = first = max(_FIRST_WINDOW, 2 * limit)
    while len(found) < limit:
        page = list_runs(window, after, rest, order)
        ids = [run.id for run in page]
        matched = search.runs_with_node_hits(text, ids)
        unsure, certain = [], len(found)
        for run_id in ids:
            if run_id in matched:
                certain += 1
                if certain >= limit:
                    break
            else:
                unsure.append(run_id)
        if unsure and window == first and certain < limit:
            few = search.runs_with_few_hits(text, _FEW_HITS)
            if few is not None:
                if where.run_ids is not None:
                    few &= where.run_ids
                return found + list_runs(
                    limit - len(found), after, replace(rest, run_ids=frozenset(few)), order
                )
        if unsure:
            matched |= search.runs_with_log_hits(text, unsure)
        found += [run for run in page if run.id in matched]
        if len(page) < window:
            break
        after = cursor_of(page[-1], order)
        window = min(window * 8, _MAX_WINDOW)
    return found[:limit]


def runs_by_id(run_ids: list[str], where: RunFilter = ALL_RUNS) -> list[RunSummary]:
    """The listed runs that exist and match the filter (for merging live updates)."""
    found: list[RunSummary] = []
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start : start + 500]
        query = where.apply(Run.select(*_SUMMARY_FIELDS)).where(Run.id.in_(chunk))
        found += [_summary(row) for row in dict_rows(query)]
    return found


def count_runs(where: RunFilter = ALL_RUNS) -> int:
    if where.tag_key is not None and replace(where, tag_key=None, tag_value=None) == ALL_RUNS:
        # Only a tag: a run has at most one value per key (the primary key) and tag rows
        # cascade with their run, so the tag rows are the runs; counted from their
        # (key, value) index instead of looking every tagged run up by id.
        tagged = RunTag.select().where(RunTag.key == where.tag_key)
        if where.tag_value is not None:
            tagged = tagged.where(RunTag.value == where.tag_value)
        return int(tagged.count())
    return int(where.apply(Run.select()).count())


def get_run(run_id: str) -> RunDetail | None:
    row = (
        Run.select(
            *_SUMMARY_FIELDS,
            Run.error_message,
            Run.error_node_id,
            Run.workflow_version,
            Run.user_id,
            Run.exit_code,
            RunPayload.trigger_json,
            RunPayload.error_stack,
            RunPayload.params_json,
            RunPayload.output_json,
            RunPayload.metadata_json,
        )
        .join(RunPayload)
        .where(Run.id == run_id)
        .dicts()
        .first()
    )
    if row is None:
        return None
    nodes = _nodes_of(run_id)
    return RunDetail(
        summary=_summary(row),
        trigger_type=row["trigger_type"],
        trigger_json=row["trigger_json"],
        error_message=row["error_message"],
        error_stack=row["error_stack"],
        error_node_id=row["error_node_id"],
        nodes=nodes,
        workflow_version=row["workflow_version"],
        user_id=row["user_id"],
        params_json=row["params_json"],
        output_json=row["output_json"],
        metadata_json=row["metadata_json"],
        exit_code=row["exit_code"],
        tags=tuple(
            (t.key, t.value)
            for t in RunTag.select().where(RunTag.run == run_id).order_by(RunTag.key)
        ),
        # Only Hindsight makes a run interrupted: other runs have no changes to look up.
        status_changes=(
            tuple(status_changes(run_id)) if row["status"] == Status.INTERRUPTED.value else ()
        ),
    )


# NodeSummary's fields in its order, read straight from the cursor: peewee's per-column
# conversion of a 10,000-node run cost more than the query (every value is already the
# right Python type on both backends).
_NODE_COLUMNS = (
    NodeExecution.id,
    NodeExecution.position,
    NodeExecution.node_id,
    NodeExecution.node_name,
    NodeExecution.node_type,
    NodeExecution.status,
    NodeExecution.started_at,
    NodeExecution.completed_at,
    NodeExecution.duration_ms,
    NodeExecution.error_message,
    NodeExecution.attempt,
    NodeExecution.exec_group,
    NodeExecution.llm_model,
    NodeExecution.total_tokens,
    NodeExecution.cost_usd,
    NodeExecution.finish_reason,
    NodeExecution.prompt_tokens,
    NodeExecution.completion_tokens,
)


def _nodes_of(run_id: str) -> tuple[NodeSummary, ...]:
    query = (
        NodeExecution.select(*_NODE_COLUMNS)
        .where(NodeExecution.run == run_id)
        .order_by(NodeExecution.position)
    )
    cursor = db.execute_sql(*query.sql())
    return tuple(
        NodeSummary(pk, position, node_id, node_name, node_type, Status(status), *rest)
        for pk, position, node_id, node_name, node_type, status, *rest in cursor.fetchall()
    )


def get_node_payload(node_pk: int) -> NodePayloadRecord | None:
    query = NodePayload.select(NodePayload.payload).where(NodePayload.node == node_pk)
    row = next(iter(tuple_rows(query)), None)
    return None if row is None else row[0]


def get_run_payloads(run_id: str) -> dict[int, NodePayloadRecord]:
    """Every node payload of a run, by node pk, in one query (a run may have 50,000 nodes:
    one query per node took half a minute)."""
    rows = (
        NodePayload.select(NodePayload.node, NodePayload.payload)
        .join(NodeExecution, on=NodePayload.node == NodeExecution.id)
        .where(NodeExecution.run == run_id)
    )
    return dict(tuple_rows(rows))


def list_logs(run_id: str) -> list[StoredLog]:
    """A run's log entries in the order the workflow wrote them."""
    query = (
        LogEntry.select(LogEntry, LogPayload.data_json)
        .join(LogPayload, join_type=JOIN.LEFT_OUTER)
        .where(LogEntry.run == run_id)
        .order_by(LogEntry.sequence, LogEntry.id)
    )
    return [
        StoredLog(
            pk=r["id"],
            sequence=r["sequence"],
            level=r["level"],
            message=r["message"],
            timestamp=r["timestamp"],
            node_id=r["node_id"],
            data_json=r["data_json"],
        )
        for r in dict_rows(query)
    ]


def list_artifacts(run_id: str) -> list[StoredArtifact]:
    query = Artifact.select().where(Artifact.run == run_id).order_by(Artifact.key)
    return [
        StoredArtifact(
            pk=r["id"], key=r["key"], type=r["type"], size=r["size"], node_id=r["node_id"]
        )
        for r in dict_rows(query)
    ]


def get_artifact_data(artifact_pk: int) -> str | None:
    row = ArtifactPayload.get_or_none(ArtifactPayload.artifact == artifact_pk)
    return row.data_json if row else None


def list_workflows() -> list[WorkflowSummary]:
    """Every workflow with history, with its latest name and how many runs it has."""
    rows = dict_rows(
        Run.select(
            Run.workflow_id, fn.MAX(Run.workflow_name).alias("name"), fn.COUNT(Run.id).alias("runs")
        )
        .group_by(Run.workflow_id)
        .order_by(Run.workflow_id)
    )
    return [WorkflowSummary(r["workflow_id"], r["name"] or "", r["runs"]) for r in rows]


def status_changes(run_id: str) -> list[StatusChange]:
    """The status changes Hindsight made to a run, oldest first."""
    query = (
        RunStatusChange.select()
        .where(RunStatusChange.run == run_id)
        .order_by(RunStatusChange.at, RunStatusChange.id)
    )
    return [
        StatusChange(r["at"], r["from_status"], r["to_status"], r["reason"])
        for r in dict_rows(query)
    ]


def list_projects() -> list[str]:
    """Every project that has runs, for the project picker."""
    query = (
        Run.select(Run.project_id)
        .where(Run.project_id.is_null(False))
        .distinct()
        .order_by(Run.project_id)
    )
    return [row[0] for row in tuple_rows(query)]
