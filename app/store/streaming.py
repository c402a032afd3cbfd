"""Writes that add to a run while it is going on: node updates, log lines and LLM steps.

A full report replaces its run (`writes.replace_runs`); these change one run in place and
then bring its denormalised columns (node count, failed node, tokens, cost, received_at) and
the full-text index up to date, so the run list and search agree with what is stored.
Everything here is plain peewee so it runs on every backend the store supports; the search
index is reached only through `app.store.search`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from peewee import fn

from app.store.connection import write_transaction
from app.store.models import (
    LogEntry,
    LogPayload,
    NodeExecution,
    NodePayload,
    Run,
    RunPayload,
)

# Primary keys are allocated the way full reports allocate them (under the write lock), so
# both kinds of write agree on every backend, whatever it does with sequences.
from app.store.prepared import allocate_ids, node_columns, node_payload, node_search_entry
from app.store.records import LogRecord, NodeRecord
from app.store.rows import dict_rows
from app.store.search import SearchEntry, index_entries, log_entry, unindex_logs, unindex_nodes
from app.store.status import Status

# The trigger type of a run made of steps (`POST /api/steps`): only such runs take steps.
STEPS_TRIGGER = "steps"


class RunNotFound(LookupError):
    """Streamed data for a run that was never reported; the run must be posted first."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r}; post the run to /api/executions first")
        self.run_id = run_id

    def __reduce__(self) -> tuple[type[RunNotFound], tuple[str]]:
        # Rebuilt from the id, not the message (it crosses from the writer process).
        return RunNotFound, (self.run_id,)


class NotAStepRun(ValueError):
    """Steps for a run id that a whole report (POST /api/executions) already holds: they
    would rewrite that run's status and timing from steps it never had."""

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"run {run_id!r} was reported whole, not as steps; steps cannot join it "
            "(use another runId)"
        )
        self.run_id = run_id

    def __reduce__(self) -> tuple[type[NotAStepRun], tuple[str]]:
        return NotAStepRun, (self.run_id,)


@dataclass(frozen=True)
class StreamedLog:
    """A log line posted to a running run; `numbered` when the client gave its sequence."""

    record: LogRecord
    numbered: bool


@dataclass(frozen=True)
class StepRun:
    """The run that a group of LLM steps (seed 000's StepExecution) belongs to."""

    id: str
    workflow_id: str
    project_id: str


def _now_ms() -> int:
    return int(time.time() * 1000)


def _require_run(run_id: str) -> None:
    if not Run.select(Run.id).where(Run.id == run_id).exists():
        raise RunNotFound(run_id)


def _latest_per_key(nodes: Sequence[NodeRecord]) -> list[NodeRecord]:
    """One record per (node id, attempt): a later update in the same request wins."""
    return list({(node.node_id, node.attempt): node for node in nodes}.values())


def _upsert(run_id: str, nodes: Sequence[NodeRecord]) -> None:
    nodes = _latest_per_key(nodes)
    if not nodes:
        return
    stored = {
        (row.node_id, row.attempt): row.id
        for row in NodeExecution.select(
            NodeExecution.id, NodeExecution.node_id, NodeExecution.attempt
        ).where(
            (NodeExecution.run == run_id)
            & NodeExecution.node_id.in_(sorted({n.node_id for n in nodes}))
        )
    }
    rewritten = [stored[key] for key in ((n.node_id, n.attempt) for n in nodes) if key in stored]
    unindex_nodes(rewritten)
    highest = (
        NodeExecution.select(fn.MAX(NodeExecution.position))
        .where(NodeExecution.run == run_id)
        .scalar()
    )
    position = -1 if highest is None else int(highest)
    search_entries: list[SearchEntry] = []
    for node in nodes:
        pk = stored.get((node.node_id, node.attempt))
        payload = node_payload(node)
        if pk is None:
            position += 1
            (pk,) = allocate_ids(NodeExecution, 1)
            NodeExecution.insert(
                id=pk, run=run_id, position=position, **node_columns(node)
            ).execute()
            NodePayload.insert(node=pk, payload=payload).execute()
        else:  # an update keeps the node's place in the run
            NodeExecution.update(**node_columns(node)).where(NodeExecution.id == pk).execute()
            NodePayload.update(payload=payload).where(NodePayload.node == pk).execute()
        search_entries.append(node_search_entry(pk, run_id, node, payload))
    index_entries(search_entries)


def _refresh_run(run_id: str, from_steps: bool = False) -> None:
    """Recompute the run's denormalised columns from its stored nodes.

    For a run made of steps (`from_steps`), status, timing and error follow from the steps
    too: it failed when any step failed, and spans the first start to the last end.
    """
    nodes = NodeExecution.select(
        fn.COUNT(NodeExecution.id).alias("count"),
        fn.SUM(NodeExecution.total_tokens).alias("tokens"),
        fn.SUM(NodeExecution.cost_usd).alias("cost"),
        fn.MIN(NodeExecution.started_at).alias("first_start"),
        # A step without durationMs has no end: it still happened at its start, so the run
        # lasts at least until then (not until an earlier step's end).
        fn.MAX(fn.COALESCE(NodeExecution.completed_at, NodeExecution.started_at)).alias("last_end"),
    ).where(NodeExecution.run == run_id)
    totals = next(iter(dict_rows(nodes)))
    first_failed = (
        NodeExecution.select(
            NodeExecution.node_id, NodeExecution.node_name, NodeExecution.error_message
        )
        .where((NodeExecution.run == run_id) & (NodeExecution.status == Status.ERROR.value))
        .order_by(NodeExecution.position)
        .first()
    )
    run = Run.select(Run.status, Run.error_node_id).where(Run.id == run_id).get()
    changes: dict[Any, Any] = {
        Run.node_count: totals["count"],
        Run.total_tokens: totals["tokens"],
        Run.cost_usd: totals["cost"],
        Run.received_at: _now_ms(),
    }
    if from_steps:
        status = Status.ERROR if first_failed is not None else Status.SUCCESS
        started = totals["first_start"]
        ended = totals["last_end"]
        changes.update(
            {
                Run.status: status.value,
                Run.started_at: started,
                Run.completed_at: ended,
                Run.duration_ms: (
                    ended - started if ended is not None and started is not None else None
                ),
                Run.error_message: first_failed.error_message if first_failed else None,
                Run.error_node_id: first_failed.node_id if first_failed else None,
            }
        )
        error_node_id = first_failed.node_id if first_failed else None
    else:
        error_node_id = run.error_node_id if run.status == Status.ERROR.value else None
    if first_failed is not None:
        changes[Run.failed_node_name] = first_failed.node_name or first_failed.node_id
    elif error_node_id:
        named = (
            NodeExecution.select(NodeExecution.node_name, NodeExecution.node_id)
            .where((NodeExecution.run == run_id) & (NodeExecution.node_id == error_node_id))
            .order_by(NodeExecution.position)
            .first()
        )
        changes[Run.failed_node_name] = (
            (named.node_name or named.node_id) if named else error_node_id
        )
    else:
        changes[Run.failed_node_name] = None
    Run.update(changes).where(Run.id == run_id).execute()


def upsert_nodes(run_id: str, nodes: Sequence[NodeRecord]) -> None:
    """Add or update node executions of a stored run, keyed by node id and attempt.

    A new node goes after the ones already stored; an update keeps its place. Raises
    RunNotFound (nothing changed) when the run was never reported.
    """
    with write_transaction():
        _require_run(run_id)
        _upsert(run_id, nodes)
        _refresh_run(run_id)


def append_logs(run_id: str, logs: Sequence[StreamedLog]) -> None:
    """Append log lines to a stored run, in order.

    Lines without a sequence number
    continue after the highest one stored. A line that carries a sequence number already
    stored replaces that line, so a client that retries a post does not duplicate it.
    Raises RunNotFound (nothing changed) when the run was never reported.
    """
    with write_transaction():
        _require_run(run_id)
        highest = LogEntry.select(fn.MAX(LogEntry.sequence)).where(LogEntry.run == run_id).scalar()
        next_sequence = 0 if highest is None else int(highest) + 1
        search_entries: list[SearchEntry] = []
        for pk, entry in zip(allocate_ids(LogEntry, len(logs)), logs, strict=True):
            record = entry.record
            sequence = record.sequence if entry.numbered else next_sequence
            if entry.numbered:
                replaced = [
                    row.id
                    for row in LogEntry.select(LogEntry.id).where(
                        (LogEntry.run == run_id) & (LogEntry.sequence == sequence)
                    )
                ]
                if replaced:
                    unindex_logs(replaced)
                    LogEntry.delete().where(LogEntry.id.in_(replaced)).execute()
            next_sequence = max(next_sequence, sequence + 1)
            LogEntry.insert(
                id=pk,
                run=run_id,
                node_id=record.node_id,
                sequence=sequence,
                timestamp=record.timestamp,
                level=record.level,
                message=record.message,
            ).execute()
            if record.data_json is not None:
                LogPayload.insert(log=pk, data_json=record.data_json).execute()
            search_entries.append(log_entry(pk, run_id, record.node_id, record.message))
        index_entries(search_entries)
        Run.update(received_at=_now_ms()).where(Run.id == run_id).execute()


def record_steps(run: StepRun, steps: Sequence[NodeRecord]) -> None:
    """Store LLM steps as nodes of their run, creating the run with the first step.

    A step is identified by its step id and start time: posting the same step again
    updates it, while the same step id at another time is a new attempt (a retry or a loop).
    The run's status, timing and error then follow from all its steps.
    """
    with write_transaction():
        stored = Run.select(Run.trigger_type).where(Run.id == run.id).first()
        if stored is not None and stored.trigger_type != STEPS_TRIGGER:
            raise NotAStepRun(run.id)
        if stored is None:
            first = min(step.started_at or 0 for step in steps)
            Run.insert(
                id=run.id,
                workflow_id=run.workflow_id,
                workflow_name=run.workflow_id,
                project_id=run.project_id,
                status=Status.RUNNING.value,
                started_at=first,
                trigger_type=STEPS_TRIGGER,
                received_at=_now_ms(),
            ).execute()
            RunPayload.insert(run=run.id).execute()
        attempts: dict[tuple[str, int | None], int] = {
            (row.node_id, row.started_at): row.attempt
            for row in NodeExecution.select(
                NodeExecution.node_id, NodeExecution.started_at, NodeExecution.attempt
            ).where(
                (NodeExecution.run == run.id)
                & NodeExecution.node_id.in_(sorted({s.node_id for s in steps}))
            )
        }
        highest: dict[str, int] = {}
        for (node_id, _), attempt in attempts.items():
            highest[node_id] = max(highest.get(node_id, 0), attempt)
        placed: list[NodeRecord] = []
        for step in sorted(steps, key=lambda s: s.started_at or 0):
            key = (step.node_id, step.started_at)
            if key not in attempts:
                attempts[key] = highest.get(step.node_id, 0) + 1
                highest[step.node_id] = attempts[key]
            placed.append(_with_attempt(step, attempts[key]))
        _upsert(run.id, placed)
        _refresh_run(run.id, from_steps=True)


def _with_attempt(node: NodeRecord, attempt: int) -> NodeRecord:
    return replace(node, attempt=attempt)
