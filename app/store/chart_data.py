"""What the charts plot, computed from the same RunFilter as the run list.

Every function here returns plain frozen data, so a chart query can run on a worker thread
and its answer can be handed to the GUI thread as is. Days are UTC calendar days, as in
`app.store.stats`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from peewee import SQL, Case, fn

from app.store.filters import RunFilter
from app.store.models import Run
from app.store.rows import tuple_rows
from app.store.stats import (
    DAY_MS,
    DURATION_BUCKETS_MS,
    NodeStats,
    llm_usage_by_day,
    node_stats,
    percentile,
)
from app.store.status import Status

ALL = RunFilter()
# The scatter shows at most this many runs (the newest): enough to see a trend, few enough
# to draw without stalling on a history of a million runs.
MAX_POINTS = 20_000
# Candidate widths of a percentile band; the narrowest that gives at most `max_bands` wins.
_BAND_WIDTHS_MS = (
    60_000,
    300_000,
    900_000,
    3_600_000,
    3 * 3_600_000,
    6 * 3_600_000,
    12 * 3_600_000,
    DAY_MS,
    7 * DAY_MS,
    30 * DAY_MS,
)


def day_start_ms(day: str) -> int:
    """Epoch ms of 00:00 UTC of an ISO day."""
    return (
        int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp()) * 1000
    )


@dataclass(frozen=True)
class WorkflowChoice:
    workflow_id: str
    label: str
    runs: int


def workflows_in(where: RunFilter = ALL) -> list[WorkflowChoice]:
    """The workflows the filter selects runs of, most runs first."""
    rows = tuple_rows(
        where.apply(
            Run.select(Run.workflow_id, fn.MAX(Run.workflow_name), fn.COUNT(Run.id))
        ).group_by(Run.workflow_id)
    )
    choices = [WorkflowChoice(wid, name or wid, count) for wid, name, count in rows]
    return sorted(choices, key=lambda c: (-c.runs, c.label.lower()))


@dataclass(frozen=True)
class DurationPoint:
    run_id: str
    workflow_id: str
    started_at: int
    duration_ms: int
    status: Status


@dataclass(frozen=True)
class PercentileBand:
    start_ms: int
    end_ms: int
    runs: int
    p50_ms: int
    p95_ms: int


@dataclass(frozen=True)
class DurationSeries:
    points: tuple[DurationPoint, ...]  # oldest first
    total: int  # runs with a duration in the filter; more than len(points) when capped
    bands: tuple[PercentileBand, ...]
    p50_ms: int | None  # over the points shown
    p95_ms: int | None
    workflows: tuple[WorkflowChoice, ...]  # what the filter selects, for the picker


def percentile_bands(
    points: tuple[DurationPoint, ...] | list[DurationPoint], max_bands: int = 40
) -> list[PercentileBand]:
    """p50 and p95 of the durations in consecutive time bands (UTC-aligned), so the lines
    show whether a workflow is getting slower. Bands without runs are left out."""
    if not points:
        return []
    first = min(p.started_at for p in points)
    last = max(p.started_at for p in points)
    width = next(
        (w for w in _BAND_WIDTHS_MS if (last // w - first // w) < max_bands), _BAND_WIDTHS_MS[-1]
    )
    grouped: dict[int, list[int]] = defaultdict(list)
    for point in points:
        grouped[point.started_at // width].append(point.duration_ms)
    bands = []
    for slot, durations in sorted(grouped.items()):
        durations.sort()
        bands.append(
            PercentileBand(
                start_ms=slot * width,
                end_ms=(slot + 1) * width,
                runs=len(durations),
                p50_ms=percentile(durations, 0.50) or 0,
                p95_ms=percentile(durations, 0.95) or 0,
            )
        )
    return bands


def duration_series(
    where: RunFilter = ALL, workflow_id: str | None = None, limit: int = MAX_POINTS
) -> DurationSeries:
    """Finished runs' durations over time, for one workflow (or all the filter selects)."""
    choices = tuple(workflows_in(where))

    def timed(query: Any) -> Any:
        query = where.apply(query).where(Run.duration_ms.is_null(False))
        # Within the filter: a filter on another workflow leaves nothing to plot.
        return query.where(Run.workflow_id == workflow_id) if workflow_id is not None else query

    total = int(timed(Run.select()).count())
    rows = tuple_rows(
        timed(Run.select(Run.id, Run.workflow_id, Run.started_at, Run.duration_ms, Run.status))
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(limit)
    )
    points = tuple(
        DurationPoint(run_id, wid, started, duration, Status(status))
        for run_id, wid, started, duration, status in reversed(list(rows))
    )
    durations = sorted(p.duration_ms for p in points)
    return DurationSeries(
        points=points,
        total=total,
        bands=tuple(percentile_bands(points)),
        p50_ms=percentile(durations, 0.50),
        p95_ms=percentile(durations, 0.95),
        workflows=choices,
    )


def duration_histogram(where: RunFilter = ALL) -> list[tuple[int | None, int]]:
    """(upper bound in ms or None for the open-ended last bucket, runs) over the filter, in
    the buckets of `stats.DURATION_BUCKETS_MS`; counted by the database in one pass."""
    bounds: list[tuple[int, int | None]] = []
    lower = -1
    for upper in DURATION_BUCKETS_MS:
        bounds.append((lower, upper))
        lower = upper
    bounds.append((lower, None))
    sums = []
    for low, high in bounds:
        condition = Run.duration_ms > low
        if high is not None:
            condition &= Run.duration_ms <= high
        sums.append(fn.SUM(Case(None, [(condition, 1)], 0)))
    row = next(iter(tuple_rows(where.apply(Run.select(*sums)))), None)
    counts = [int(value or 0) for value in row] if row else [0] * len(bounds)
    return [(high, count) for (_, high), count in zip(bounds, counts, strict=True)]


def slowest_nodes(where: RunFilter = ALL, limit: int = 20) -> list[NodeStats]:
    """The nodes with the highest p95 across the filter (the bars of the node chart)."""
    return [s for s in node_stats(where) if s.p95_ms is not None][:limit]


@dataclass(frozen=True)
class DayOutcome:
    day: str
    successes: int
    failures: int
    others: int  # running, cancelled, interrupted, …

    @property
    def success_rate(self) -> float | None:
        """Successes among runs that succeeded or failed (as in `WorkflowStats`)."""
        decided = self.successes + self.failures
        return self.successes / decided if decided else None


def outcomes_by_day(where: RunFilter = ALL) -> list[DayOutcome]:
    epoch_day = (Run.started_at / DAY_MS).alias("epoch_day")  # integer division
    rows = tuple_rows(
        where.apply(Run.select(epoch_day, Run.status, fn.COUNT(Run.id)))
        .group_by(SQL("epoch_day"), Run.status)
        .order_by(SQL("epoch_day"))
    )
    per_day: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for day, status, count in rows:
        slot = 0 if status == Status.SUCCESS.value else 1 if status == Status.ERROR.value else 2
        per_day[int(day)][slot] += count
    return [
        DayOutcome(datetime.fromtimestamp(day * 86_400, UTC).date().isoformat(), *counts)
        for day, counts in sorted(per_day.items())
    ]


@dataclass(frozen=True)
class UsageSeries:
    """Tokens and cost per day, split by project or by model (stacked bars)."""

    days: tuple[str, ...]
    keys: tuple[str, ...]  # series names, biggest token users first
    tokens: dict[str, tuple[int, ...]]  # per key, one value per day
    cost_usd: dict[str, tuple[float, ...]]


NO_PROJECT = "(no project)"
NO_MODEL = "(no model)"


def usage_by_day(where: RunFilter = ALL, by: str = "model") -> UsageSeries:
    """`by` is "project" or "model"."""
    if by not in ("project", "model"):
        raise ValueError(f"usage is split by 'project' or 'model', not {by!r}")
    tokens: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    cost: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    days: set[str] = set()
    for row in llm_usage_by_day(where):
        key = (row.project_id or NO_PROJECT) if by == "project" else (row.model or NO_MODEL)
        tokens[key][row.day] += row.tokens
        cost[key][row.day] += row.cost_usd
        days.add(row.day)
    ordered_days = tuple(sorted(days))
    keys = tuple(sorted(tokens, key=lambda k: (-sum(tokens[k].values()), k)))
    return UsageSeries(
        days=ordered_days,
        keys=keys,
        tokens={k: tuple(tokens[k].get(d, 0) for d in ordered_days) for k in keys},
        cost_usd={k: tuple(cost[k].get(d, 0.0) for d in ordered_days) for k in keys},
    )
