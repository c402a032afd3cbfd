"""Runs out of the store: JSON in the report shape (posting it back reproduces the run)
and CSV for spreadsheets, one row per run or per node."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from app.store import queries
from app.store.filters import RunFilter
from app.store.moments import from_millis
from app.store.records import NodePayload, NodeSummary, RunDetail


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = from_millis(ms)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Only fields that carry something are written, as a reporter would send them."""
    if value is not None and value != {} and value != []:
        target[key] = value


def _node(node: NodeSummary, payload: NodePayload | None) -> dict[str, Any]:
    out: dict[str, Any] = {"nodeId": node.node_id, "status": node.status.value}
    _put(out, "nodeName", node.node_name or None)
    _put(out, "nodeType", node.node_type or None)
    _put(out, "startedAt", iso(node.started_at))
    _put(out, "completedAt", iso(node.completed_at))
    _put(out, "durationMs", node.duration_ms)
    out["attempt"] = node.attempt
    _put(out, "group", node.group)
    if payload is not None:
        if payload.input_json is not None:
            out["input"] = json.loads(payload.input_json)
        if payload.output_json is not None:
            out["output"] = json.loads(payload.output_json)
        if payload.metrics_json is not None:  # `{}` or null as sent: posting back keeps it
            out["metrics"] = json.loads(payload.metrics_json)
    stack = payload.error_stack if payload else None
    if node.error_message is not None or stack is not None:
        error: dict[str, Any] = {"message": node.error_message or ""}
        _put(error, "stack", stack)
        out["error"] = error
    llm: dict[str, Any] = {}
    _put(llm, "model", node.llm_model)
    if payload is not None and payload.llm_prompt_json is not None:
        llm["prompt"] = json.loads(payload.llm_prompt_json)
    if payload is not None and payload.llm_response_json is not None:
        llm["response"] = json.loads(payload.llm_response_json)
    _put(llm, "promptTokens", node.prompt_tokens)
    _put(llm, "completionTokens", node.completion_tokens)
    _put(llm, "totalTokens", node.total_tokens)
    _put(llm, "costUsd", node.cost_usd)
    _put(llm, "finishReason", node.finish_reason)
    _put(out, "llm", llm)
    return out


def run_to_report(detail: RunDetail) -> dict[str, Any]:
    """A stored run in the report shape, camelCase, as `POST /api/executions` accepts it."""
    run = detail.summary
    out: dict[str, Any] = {"id": run.id, "workflowId": run.workflow_id}
    _put(out, "workflowName", run.workflow_name or None)
    _put(out, "workflowVersion", detail.workflow_version)
    _put(out, "projectId", run.project_id)
    _put(out, "userId", detail.user_id)
    out["status"] = run.status.value
    out["startedAt"] = iso(run.started_at)
    _put(out, "completedAt", iso(run.completed_at))
    _put(out, "durationMs", run.duration_ms)
    if detail.trigger_type is not None or detail.trigger_json is not None:
        trigger: dict[str, Any] = {}
        _put(trigger, "type", detail.trigger_type)
        if detail.trigger_json is not None:
            trigger["data"] = json.loads(detail.trigger_json)
        out["trigger"] = trigger
    if detail.params_json is not None:
        out["params"] = json.loads(detail.params_json)
    if detail.output_json is not None:
        out["output"] = json.loads(detail.output_json)
    if detail.error_message is not None or detail.error_stack or detail.error_node_id:
        error: dict[str, Any] = {"message": detail.error_message or ""}
        _put(error, "stack", detail.error_stack)
        _put(error, "nodeId", detail.error_node_id)
        out["error"] = error
    _put(out, "exitCode", detail.exit_code)
    _put(out, "tags", dict(detail.tags))
    if detail.metadata_json is not None:
        out["metadata"] = json.loads(detail.metadata_json)
    payloads = queries.get_run_payloads(run.id)
    out["nodeExecutions"] = [_node(node, payloads.get(node.pk)) for node in detail.nodes]
    logs = []
    for entry in queries.list_logs(run.id):
        log: dict[str, Any] = {
            "sequence": entry.sequence,
            "level": entry.level,
            "message": entry.message,
        }
        _put(log, "timestamp", iso(entry.timestamp))
        _put(log, "nodeId", entry.node_id)
        if entry.data_json is not None:
            log["data"] = json.loads(entry.data_json)
        logs.append(log)
    _put(out, "logs", logs)
    artifacts = []
    for artifact in queries.list_artifacts(run.id):
        item: dict[str, Any] = {"key": artifact.key, "type": artifact.type}
        _put(item, "nodeId", artifact.node_id)
        item["data"] = _loads(queries.get_artifact_data(artifact.pk))
        artifacts.append(item)
    _put(out, "artifacts", artifacts)
    return out


def iter_runs(where: RunFilter, page: int = 500) -> Iterator[RunDetail]:
    """Every selected run, newest first, a keyset page at a time."""
    after: tuple[int, str] | None = None
    while True:
        summaries = queries.list_runs(limit=page, after=after, where=where)
        for summary in summaries:
            detail = queries.get_run(summary.id)
            if detail is not None:
                yield detail
        if len(summaries) < page:
            return
        after = (summaries[-1].started_at, summaries[-1].id)


def iter_runs_by_id(run_ids: Iterable[str]) -> Iterator[RunDetail]:
    """The listed runs that still exist, in the order given."""
    for run_id in run_ids:
        detail = queries.get_run(run_id)
        if detail is not None:
            yield detail


def export_json(where: RunFilter, out: IO[str]) -> int:
    """Write a JSON array of reports (re-importable with `POST` or `runs import`)."""
    return write_json(iter_runs(where), out)


def write_json(runs: Iterable[RunDetail], out: IO[str]) -> int:
    """Write the runs as a JSON array of reports; return how many were written."""
    count = 0
    out.write("[")
    for detail in runs:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(run_to_report(detail), ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


RUN_CSV_COLUMNS = (
    "id",
    "workflowId",
    "workflowName",
    "projectId",
    "userId",
    "status",
    "startedAt",
    "completedAt",
    "durationMs",
    "nodeCount",
    "failedNode",
    "totalTokens",
    "costUsd",
    "errorMessage",
)
NODE_CSV_COLUMNS = (
    "runId",
    "workflowId",
    "position",
    "nodeId",
    "nodeName",
    "nodeType",
    "status",
    "attempt",
    "startedAt",
    "completedAt",
    "durationMs",
    "llmModel",
    "totalTokens",
    "costUsd",
    "errorMessage",
)


def export_csv(where: RunFilter, out: IO[str], per: str = "run") -> int:
    """One row per run (`per="run"`) or per node execution (`per="node"`)."""
    return write_csv(iter_runs(where), out, per)


def write_csv(runs: Iterable[RunDetail], out: IO[str], per: str = "run") -> int:
    """Write the runs as CSV, one row per run or per node; return the rows written."""
    writer = csv.writer(out)
    writer.writerow(RUN_CSV_COLUMNS if per == "run" else NODE_CSV_COLUMNS)
    rows = 0
    for detail in runs:
        run = detail.summary
        if per == "run":
            writer.writerow(
                [
                    run.id,
                    run.workflow_id,
                    run.workflow_name,
                    run.project_id,
                    detail.user_id,
                    run.status.value,
                    iso(run.started_at),
                    iso(run.completed_at),
                    run.duration_ms,
                    run.node_count,
                    run.failed_node_name,
                    run.total_tokens,
                    run.cost_usd,
                    detail.error_message,
                ]
            )
            rows += 1
            continue
        for node in detail.nodes:
            writer.writerow(
                [
                    run.id,
                    run.workflow_id,
                    node.position,
                    node.node_id,
                    node.node_name,
                    node.node_type,
                    node.status.value,
                    node.attempt,
                    iso(node.started_at),
                    iso(node.completed_at),
                    node.duration_ms,
                    node.llm_model,
                    node.total_tokens,
                    node.cost_usd,
                    node.error_message,
                ]
            )
            rows += 1
    return rows


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[IO[str]]:
    """A text file to write an export into: a temporary file beside `path`, moved into place
    when the block ends normally, removed when it raises (a failed, cancelled or interrupted
    export never leaves half a file under the chosen name)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
