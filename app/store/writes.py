"""Everything that changes the history: storing reports and deleting runs."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from app.store.connection import write_transaction
from app.store.models import NodeExecution, NodePayload, Run, RunPayload
from app.store.records import RunRecord
from app.store.status import Status

# SQLite limits bound parameters per statement; stay well under the old 999 default.
_CHUNK = 500


def _now_ms() -> int:
    return int(time.time() * 1000)


def _failed_node_name(record: RunRecord) -> str | None:
    for node in record.nodes:
        if node.status is Status.ERROR:
            return node.node_name or node.node_id
    if record.error_node_id:
        match = next((n for n in record.nodes if n.node_id == record.error_node_id), None)
        return (match.node_name or match.node_id) if match else record.error_node_id
    return None


def _insert_run(record: RunRecord, received_at: int) -> None:
    Run.insert(
        id=record.id,
        workflow_id=record.workflow_id,
        workflow_name=record.workflow_name,
        status=record.status.value,
        started_at=record.started_at,
        completed_at=record.completed_at,
        duration_ms=record.duration_ms,
        trigger_type=record.trigger_type,
        error_message=record.error_message,
        error_node_id=record.error_node_id,
        node_count=len(record.nodes),
        failed_node_name=_failed_node_name(record),
        received_at=received_at,
    ).execute()
    RunPayload.insert(
        run=record.id, trigger_json=record.trigger_json, error_stack=record.error_stack
    ).execute()
    for position, node in enumerate(record.nodes):
        node_pk = NodeExecution.insert(
            run=record.id,
            position=position,
            node_id=node.node_id,
            node_name=node.node_name,
            node_type=node.node_type,
            status=node.status.value,
            started_at=node.started_at,
            completed_at=node.completed_at,
            duration_ms=node.duration_ms,
            error_message=node.error_message,
        ).execute()
        NodePayload.insert(
            node=node_pk,
            input_json=node.input_json,
            output_json=node.output_json,
            error_stack=node.error_stack,
        ).execute()


def replace_runs(records: Sequence[RunRecord]) -> None:
    """Store the reports in one transaction; a report whose id exists replaces that run.

    Workflows post a run as `running` first and again when it finishes, so the latest report
    for an id is the truth. Either every record is stored or none is.
    """
    received_at = _now_ms()
    with write_transaction():
        ids = [record.id for record in records]
        for start in range(0, len(ids), _CHUNK):
            Run.delete().where(Run.id.in_(ids[start : start + _CHUNK])).execute()
        for record in records:
            _insert_run(record, received_at)


def delete_runs(run_ids: Iterable[str]) -> int:
    """Delete the runs (their nodes and payloads cascade); return how many were deleted."""
    ids = list(run_ids)
    deleted = 0
    with write_transaction():
        for start in range(0, len(ids), _CHUNK):
            deleted += Run.delete().where(Run.id.in_(ids[start : start + _CHUNK])).execute()
    return deleted


def clear_workflow(workflow_id: str) -> int:
    """Delete every run of one workflow; return how many were deleted."""
    with write_transaction():
        return int(Run.delete().where(Run.workflow_id == workflow_id).execute())
