"""History statistics: how often workflows succeed, how long they and their nodes take, how
failures cluster, and what LLM calls cost. Every function takes the same RunFilter as the
run list, so a chart always agrees with the list beside it.

Days are UTC calendar days (epoch-day numbers rendered as ISO dates).
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from peewee import SQL, Case, NodeList, fn

from app.store.backend import is_postgres
from app.store.filters import RunFilter
from app.store.models import NodeExecution, Run
from app.store.rows import tuple_rows
from app.store.status import Status

DAY_MS = 86_400_000
# Upper bounds of the duration histogram, in ms; the last bucket is open-ended.
DURATION_BUCKETS_MS = (100, 500, 1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 1_800_000)


def percentile(sorted_values: list[int], fraction: float) -> int | None:
    """Nearest-rank percentile of an ascending list (p50 of [1, 2, 3, 4] is 2)."""
    if not sorted_values:
        return None
    rank = max(1, round(fraction * len(sorted_values) + 0.4999))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms // DAY_MS * 86_400, UTC).date().isoformat()


@dataclass(frozen=True)
class WorkflowStats:
    workflow_id: str
    workflow_name: str
    runs: int
    successes: int
    failures: int
    p50_ms: int | None
    p95_ms: int | None
    max_ms: int | None
    runs_per_day: tuple[tuple[str, int], ...]
    duration_buckets: tuple[tuple[int | None, int], ...]  # (upper bound or None, count)

    @property
    def success_rate(self) -> float | None:
        finished = self.successes + self.failures
        return self.successes / finished if finished else None


def _rank(fraction: float, count: int) -> int:
    """The 1-based nearest rank `percentile` reads (same formula)."""
    return min(max(1, round(fraction * count + 0.4999)), count)


def workflow_stats(where: RunFilter = RunFilter()) -> list[WorkflowStats]:  # noqa: B008
    """Per workflow, aggregated by the database: only a few rows per workflow (totals, days,
    buckets, the two percentile ranks) ever reach Python, however many runs there are."""

    def over_selected(*columns: Any) -> Any:
        return where.apply(Run.select(*columns))

    # One pass for the totals and the histogram: a row per workflow, a column per bucket.
    # The rows are read in table order and grouped by a sort, which is several times
    # quicker than walking an index by workflow and looking every run up (what SQLite
    # picks for a plain GROUP BY workflow_id since the duration index exists).
    def counted(condition: Any) -> Any:
        return fn.SUM(Case(None, [(condition, 1)], 0))

    bounds = (None, *DURATION_BUCKETS_MS, None)
    in_bucket = [
        counted(
            (Run.duration_ms > low if low is not None else Run.duration_ms.is_null(False))
            & (Run.duration_ms <= high if high is not None else Run.duration_ms.is_null(False))
        )
        for low, high in itertools.pairwise(bounds)
    ]
    group_key: Any = Run.workflow_id
    if not is_postgres():
        group_key = NodeList((SQL("+"), Run.workflow_id), glue="")  # no index: a table scan
    totals: dict[str, list[int]] = {}  # runs, successes, failures, timed, longest
    buckets: dict[str, list[int]] = {}
    for workflow_id, count, ok, bad, timed, longest, *counts in tuple_rows(
        over_selected(
            Run.workflow_id,
            fn.COUNT(SQL("*")),
            counted(Run.status == Status.SUCCESS.value),
            counted(Run.status == Status.ERROR.value),
            fn.COUNT(Run.duration_ms),
            fn.MAX(Run.duration_ms),
            *in_bucket,
        ).group_by(group_key)
    ):
        totals[workflow_id] = [count, int(ok or 0), int(bad or 0), timed, longest or 0]
        buckets[workflow_id] = [int(n or 0) for n in counts]
    if not totals:
        return []
    day = fn.FLOOR(Run.started_at / DAY_MS) if is_postgres() else Run.started_at / DAY_MS
    per_day: dict[str, dict[str, int]] = defaultdict(dict)
    for workflow_id, day_number, count in tuple_rows(
        over_selected(Run.workflow_id, day.alias("day"), fn.COUNT(SQL("*"))).group_by(
            Run.workflow_id, SQL("day")
        )
    ):
        per_day[workflow_id][_day(int(day_number) * DAY_MS)] = count
    percentiles = _duration_percentiles(over_selected, {w: t[3] for w, t in totals.items()})
    names = _latest_names(over_selected, totals)
    result = []
    for workflow_id, (runs, successes, failures, timed, longest) in sorted(totals.items()):
        result.append(
            WorkflowStats(
                workflow_id=workflow_id,
                workflow_name=names.get(workflow_id, ""),
                runs=runs,
                successes=successes,
                failures=failures,
                p50_ms=percentiles.get((workflow_id, _rank(0.50, timed))) if timed else None,
                p95_ms=percentiles.get((workflow_id, _rank(0.95, timed))) if timed else None,
                max_ms=longest if timed else None,
                runs_per_day=tuple(sorted(per_day[workflow_id].items())),
                duration_buckets=tuple(
                    zip((*DURATION_BUCKETS_MS, None), buckets[workflow_id], strict=True)
                ),
            )
        )
    return result


def _duration_percentiles(over_selected: Any, timed: dict[str, int]) -> dict[tuple[str, int], int]:
    """(workflow, rank) -> duration at that rank, for the p50 and p95 ranks only.

    Each value is one row read at an offset along the (workflow_id, duration_ms) index, so
    nothing is sorted: numbering every run's duration with ROW_NUMBER sorted the whole
    selection (125 ms of 300 for 100,000 runs).
    """
    found: dict[tuple[str, int], int] = {}
    for workflow_id, count in timed.items():
        for rank in sorted({_rank(f, count) for f in (0.50, 0.95)} if count else ()):
            query = (
                over_selected(Run.duration_ms)
                .where((Run.workflow_id == workflow_id) & Run.duration_ms.is_null(False))
                .order_by(Run.duration_ms)
                .limit(1)
                .offset(rank - 1)
            )
            row = next(iter(tuple_rows(query)), None)
            if row is not None:
                found[(workflow_id, rank)] = row[0]
    return found


def _latest_names(over_selected: Any, workflow_ids: Iterable[str]) -> dict[str, str]:
    """Each workflow's name as its newest run with a name gave it: one row per workflow
    from the (workflow_id, started_at) index (joining every run with its workflow's
    latest start read the whole table twice)."""
    names = {}
    for workflow_id in workflow_ids:
        query = (
            over_selected(Run.workflow_name)
            .where((Run.workflow_id == workflow_id) & (Run.workflow_name != ""))
            .order_by(Run.started_at.desc(), Run.id.desc())
            .limit(1)
        )
        row = next(iter(tuple_rows(query)), None)
        if row is not None:
            names[workflow_id] = row[0]
    return names


@dataclass(frozen=True)
class NodeStats:
    node_id: str
    node_name: str
    executions: int
    failures: int
    p50_ms: int | None
    p95_ms: int | None


def node_stats(where: RunFilter = RunFilter()) -> list[NodeStats]:  # noqa: B008
    """Per node id across the selected runs, slowest p95 first."""
    runs = where.apply(Run.select(Run.id))
    rows = tuple_rows(
        NodeExecution.select(
            NodeExecution.node_id,
            NodeExecution.node_name,
            NodeExecution.status,
            NodeExecution.duration_ms,
        ).where(NodeExecution.run.in_(runs))
    )
    grouped: dict[str, list[tuple[str, str, int | None]]] = defaultdict(list)
    for node_id, name, status, duration in rows:
        grouped[node_id].append((name, status, duration))
    result = []
    for node_id, executions in grouped.items():
        durations = sorted(d for _, _, d in executions if d is not None)
        result.append(
            NodeStats(
                node_id=node_id,
                node_name=next((n for n, _, _ in executions if n), ""),
                executions=len(executions),
                failures=sum(1 for _, s, _ in executions if s == Status.ERROR.value),
                p50_ms=percentile(durations, 0.50),
                p95_ms=percentile(durations, 0.95),
            )
        )
    return sorted(result, key=lambda s: (-(s.p95_ms or 0), s.node_id))


_VOLATILE = [
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<str>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalise_error(message: str | None) -> str:
    """An error message with its volatile parts (ids, numbers, quoted values) blanked, so
    that the same failure on different inputs falls into one group."""
    text = (message or "").strip()
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text[:300]


@dataclass(frozen=True)
class FailureGroup:
    workflow_id: str
    node_id: str | None
    node_name: str | None
    error: str  # normalised
    count: int
    first_seen: int
    last_seen: int
    run_ids: tuple[str, ...]  # newest first


def failure_groups(where: RunFilter = RunFilter()) -> list[FailureGroup]:  # noqa: B008
    """Failed runs grouped by workflow + first failing node + normalised error, biggest first."""
    failed = where.apply(
        Run.select(Run.id, Run.workflow_id, Run.started_at, Run.error_message)
        .where(Run.status == Status.ERROR.value)
        .order_by(Run.started_at.desc())
    )
    runs = list(tuple_rows(failed))
    first_failed: dict[str, tuple[str | None, str | None, str | None]] = {}
    ids = [run[0] for run in runs]
    for start in range(0, len(ids), 500):
        nodes = (
            NodeExecution.select(
                NodeExecution.run,
                NodeExecution.node_id,
                NodeExecution.node_name,
                NodeExecution.error_message,
            )
            .where(
                NodeExecution.run.in_(ids[start : start + 500])
                & (NodeExecution.status == Status.ERROR.value)
            )
            .order_by(NodeExecution.position.desc())
        )
        for run_id, node_id, name, message in tuple_rows(nodes):  # lowest position is written last
            first_failed[run_id] = (node_id, name, message)
    groups: dict[tuple[str, str | None, str], list[tuple[str, int]]] = defaultdict(list)
    names: dict[tuple[str, str | None, str], str | None] = {}
    for run_id, workflow_id, started_at, run_message in runs:
        node_id, name, message = first_failed.get(run_id) or (None, None, None)
        key = (workflow_id, node_id, normalise_error(message or run_message))
        groups[key].append((run_id, started_at))
        names.setdefault(key, name)
    result = [
        FailureGroup(
            workflow_id=key[0],
            node_id=key[1],
            node_name=names[key],
            error=key[2],
            count=len(members),
            first_seen=min(t for _, t in members),
            last_seen=max(t for _, t in members),
            run_ids=tuple(r for r, _ in members),
        )
        for key, members in groups.items()
    ]
    return sorted(result, key=lambda g: (-g.count, -g.last_seen))


@dataclass(frozen=True)
class UsageRow:
    day: str
    project_id: str | None
    workflow_id: str
    model: str | None
    calls: int
    tokens: int
    cost_usd: float


def llm_usage_by_day(where: RunFilter = RunFilter()) -> list[UsageRow]:  # noqa: B008
    """Tokens and cost of LLM calls per day, project, workflow and model."""
    epoch_day = (Run.started_at / DAY_MS).alias("epoch_day")  # integer division on both backends
    query = where.apply(
        NodeExecution.select(
            epoch_day,
            Run.project_id,
            Run.workflow_id,
            NodeExecution.llm_model,
            fn.COUNT(NodeExecution.id),
            fn.SUM(NodeExecution.total_tokens),
            fn.SUM(NodeExecution.cost_usd),
        ).join(Run)
    )
    rows = tuple_rows(
        query.where(
            NodeExecution.llm_model.is_null(False) | NodeExecution.total_tokens.is_null(False)
        )
        .group_by(SQL("epoch_day"), Run.project_id, Run.workflow_id, NodeExecution.llm_model)
        # No project / no model sorts first on both backends (PostgreSQL puts NULL last).
        .order_by(
            SQL("epoch_day"),
            Run.project_id.asc(nulls="first"),
            Run.workflow_id,
            NodeExecution.llm_model.asc(nulls="first"),
        )
    )
    return [
        UsageRow(
            day=_day(int(day) * DAY_MS),
            project_id=project,
            workflow_id=workflow,
            model=model,
            calls=calls,
            tokens=int(tokens or 0),
            cost_usd=float(cost or 0),
        )
        for day, project, workflow, model, calls, tokens, cost in rows
    ]
