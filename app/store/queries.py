"""Read-only queries shared by the GUI, the HTTP API and the CLI."""

from __future__ import annotations

from typing import Any

from peewee import JOIN, fn

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
    )


def list_runs(
    limit: int = 200,
    after: tuple[int, str] | None = None,
    where: RunFilter = ALL_RUNS,
) -> list[RunSummary]:
    """Runs newest first; pass the (started_at, id) of the last row seen to get the next page.

    Keyset pagination: each page is an index range scan, however deep the user scrolls.
    """
    query = where.apply(Run.select(*_SUMMARY_FIELDS))
    if after is not None:
        started_at, run_id = after
        query = query.where(
            (Run.started_at < started_at) | ((Run.started_at == started_at) & (Run.id < run_id))
        )
    query = query.order_by(Run.started_at.desc(), Run.id.desc()).limit(limit)
    return [_summary(row) for row in dict_rows(query)]


def count_runs(where: RunFilter = ALL_RUNS) -> int:
    return int(where.apply(Run.select()).count())


def get_run(run_id: str) -> RunDetail | None:
    row = (
        Run.select(
            *_SUMMARY_FIELDS,
            Run.trigger_type,
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
