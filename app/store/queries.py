"""Read-only queries shared by the GUI, the HTTP API and the CLI."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from peewee import JOIN, Tuple, fn

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
)
from app.store.records import (
    NodePayload as NodePayloadRecord,
)
from app.store.records import (
    NodeSummary,
    RunDetail,
    RunSummary,
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
    base = where.apply(Run.select(*_SUMMARY_FIELDS), first_rows=True)
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


def runs_by_id(run_ids: list[str], where: RunFilter = ALL_RUNS) -> list[RunSummary]:
    """The listed runs that exist and match the filter (for merging live updates)."""
    found: list[RunSummary] = []
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start : start + 500]
        query = where.apply(Run.select(*_SUMMARY_FIELDS)).where(Run.id.in_(chunk))
        found += [_summary(row) for row in dict_rows(query)]
    return found


def count_runs(where: RunFilter = ALL_RUNS) -> int:
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
    nodes = tuple(
        NodeSummary(
            pk=n["id"],
            position=n["position"],
            node_id=n["node_id"],
            node_name=n["node_name"],
            node_type=n["node_type"],
            status=Status(n["status"]),
            started_at=n["started_at"],
            completed_at=n["completed_at"],
            duration_ms=n["duration_ms"],
            error_message=n["error_message"],
            attempt=n["attempt"],
            group=n["exec_group"],
            llm_model=n["llm_model"],
            total_tokens=n["total_tokens"],
            cost_usd=n["cost_usd"],
            finish_reason=n["finish_reason"],
            prompt_tokens=n["prompt_tokens"],
            completion_tokens=n["completion_tokens"],
        )
        for n in dict_rows(
            NodeExecution.select()
            .where(NodeExecution.run == run_id)
            .order_by(NodeExecution.position)
        )
    )
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
    )


def get_node_payload(node_pk: int) -> NodePayloadRecord | None:
    row = NodePayload.get_or_none(NodePayload.node == node_pk)
    return None if row is None else _payload_record(row)


def get_run_payloads(run_id: str) -> dict[int, NodePayloadRecord]:
    """Every node payload of a run, by node pk, in one query (a run may have 50,000 nodes:
    one query per node took half a minute)."""
    rows = (
        NodePayload.select(
            NodePayload.node,
            NodePayload.input_json,
            NodePayload.output_json,
            NodePayload.error_stack,
            NodePayload.metrics_json,
            NodePayload.llm_prompt_json,
            NodePayload.llm_response_json,
        )
        .join(NodeExecution, on=NodePayload.node == NodeExecution.id)
        .where(NodeExecution.run == run_id)
    )
    return {node_pk: NodePayloadRecord(*columns) for node_pk, *columns in tuple_rows(rows)}


def _payload_record(row: NodePayload) -> NodePayloadRecord:
    return NodePayloadRecord(
        input_json=row.input_json,
        output_json=row.output_json,
        error_stack=row.error_stack,
        metrics_json=row.metrics_json,
        llm_prompt_json=row.llm_prompt_json,
        llm_response_json=row.llm_response_json,
    )


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


def status_changes(run_id: str) -> list[tuple[int, str, str, str]]:
    """(at, from, to, reason) of the status changes Hindsight made to a run, oldest first."""
    query = (
        RunStatusChange.select()
        .where(RunStatusChange.run == run_id)
        .order_by(RunStatusChange.at, RunStatusChange.id)
    )
    return [(r["at"], r["from_status"], r["to_status"], r["reason"]) for r in dict_rows(query)]


def list_projects() -> list[str]:
    """Every project that has runs, for the project picker."""
    query = (
        Run.select(Run.project_id)
        .where(Run.project_id.is_null(False))
        .distinct()
        .order_by(Run.project_id)
    )
    return [row[0] for row in tuple_rows(query)]
