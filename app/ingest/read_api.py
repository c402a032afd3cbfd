"""The read side of the HTTP API: the same queries the GUI and the CLI use, as JSON.

Handlers take the parsed query string and return plain JSON-ready data; the server owns
HTTP. Bad parameters raise QueryError naming the parameter.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from app.ingest.report import INT64_MAX
from app.store import queries, stats
from app.store.export import iso, run_to_report
from app.store.filters import RunFilter
from app.store.moments import to_millis
from app.store.records import RunSummary
from app.store.status import Status, normalise_status

MAX_LIMIT = 500
DEFAULT_LIMIT = 50

Params = dict[str, list[str]]


class QueryError(ValueError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


class NotFound(LookupError):
    pass


def _one(params: Params, name: str) -> str | None:
    values = params.get(name)
    if not values or values[-1] == "":
        return None
    return values[-1]


def _time(params: Params, name: str) -> int | None:
    raw = _one(params, name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(name, f"expected an ISO-8601 time, got {raw!r}") from None
    return to_millis(moment)  # naive: UTC


def _statuses(params: Params) -> frozenset[Status]:
    raw = _one(params, "status")
    if raw is None:
        return frozenset()
    try:
        return frozenset(normalise_status(part) for part in raw.split(",") if part.strip())
    except ValueError as error:
        raise QueryError("status", str(error)) from None


def run_filter(params: Params) -> RunFilter:
    return RunFilter(
        statuses=_statuses(params),
        workflow_id=_one(params, "workflowId"),
        project_id=_one(params, "projectId"),
        user_id=_one(params, "userId"),
        since=_time(params, "since"),
        until=_time(params, "until"),
        text=_one(params, "q"),
    )


def _limit(params: Params) -> int:
    raw = _one(params, "limit")
    if raw is None:
        return DEFAULT_LIMIT
    # ASCII digits ("²" is a digit to str.isdigit, not to int), few enough for int() to read
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not 1 <= int(raw) <= MAX_LIMIT:
        raise QueryError("limit", f"expected a whole number from 1 to {MAX_LIMIT}, got {raw!r}")
    return int(raw)


def _encode_cursor(run: RunSummary) -> str:
    return base64.urlsafe_b64encode(f"{run.started_at}:{run.id}".encode()).decode()


def _decode_cursor(params: Params) -> tuple[int, str] | None:
    raw = _one(params, "cursor")
    if raw is None:
        return None
    try:
        started_at, run_id = base64.urlsafe_b64decode(raw.encode()).decode().split(":", 1)
        moment = int(started_at)
        if not -INT64_MAX <= moment <= INT64_MAX:  # SQLite could not compare it with a time
            raise ValueError(started_at)
        return moment, run_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise QueryError("cursor", "not a cursor this API handed out") from None


def summary_json(run: RunSummary) -> dict[str, Any]:
    return {
        "id": run.id,
        "workflowId": run.workflow_id,
        "workflowName": run.workflow_name,
        "projectId": run.project_id,
        "status": run.status.value,
        "startedAt": iso(run.started_at),
        "completedAt": iso(run.completed_at),
        "durationMs": run.duration_ms,
        "nodeCount": run.node_count,
        "failedNode": run.failed_node_name,
        "totalTokens": run.total_tokens,
        "costUsd": run.cost_usd,
    }


def list_executions(params: Params) -> dict[str, Any]:
    where = run_filter(params)
    limit = _limit(params)
    page = queries.list_runs(limit=limit + 1, after=_decode_cursor(params), where=where)
    items, more = page[:limit], len(page) > limit
    return {
        "items": [summary_json(run) for run in items],
        "nextCursor": _encode_cursor(items[-1]) if more else None,
        "total": queries.count_runs(where),
    }


def get_execution(run_id: str) -> dict[str, Any]:
    detail = queries.get_run(run_id)
    if detail is None:
        raise NotFound(f"no run with id {run_id!r}")
    return run_to_report(detail)


def list_workflows(params: Params) -> dict[str, Any]:
    where = run_filter(params)
    items = []
    for workflow in stats.workflow_stats(where):
        newest = queries.list_runs(limit=1, where=RunFilter(workflow_id=workflow.workflow_id))
        items.append(
            {
                "workflowId": workflow.workflow_id,
                "workflowName": workflow.workflow_name,
                "runCount": workflow.runs,
                "successRate": workflow.success_rate,
                "lastRun": summary_json(newest[0]) if newest else None,
            }
        )
    return {"items": items}


def get_stats(params: Params) -> dict[str, Any]:
    where = run_filter(params)
    return {
        "workflows": [
            {
                "workflowId": w.workflow_id,
                "workflowName": w.workflow_name,
                "runs": w.runs,
                "successes": w.successes,
                "failures": w.failures,
                "successRate": w.success_rate,
                "p50Ms": w.p50_ms,
                "p95Ms": w.p95_ms,
                "maxMs": w.max_ms,
                "runsPerDay": [{"day": day, "runs": n} for day, n in w.runs_per_day],
                "durationBuckets": [
                    {"upToMs": bound, "runs": n} for bound, n in w.duration_buckets
                ],
            }
            for w in stats.workflow_stats(where)
        ],
        "nodes": [
            {
                "nodeId": n.node_id,
                "nodeName": n.node_name,
                "executions": n.executions,
                "failures": n.failures,
                "p50Ms": n.p50_ms,
                "p95Ms": n.p95_ms,
            }
            for n in stats.node_stats(where)
        ],
        "failureGroups": [
            {
                "workflowId": g.workflow_id,
                "nodeId": g.node_id,
                "nodeName": g.node_name,
                "error": g.error,
                "count": g.count,
                "firstSeen": iso(g.first_seen),
                "lastSeen": iso(g.last_seen),
                "runIds": list(g.run_ids[:20]),
            }
            for g in stats.failure_groups(where)
        ],
    }
