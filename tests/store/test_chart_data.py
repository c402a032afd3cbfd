from __future__ import annotations

from pathlib import Path

import pytest

from app.store.chart_data import (
    DurationPoint,
    day_start_ms,
    duration_histogram,
    duration_series,
    outcomes_by_day,
    percentile_bands,
    slowest_nodes,
    usage_by_day,
    workflows_in,
)
from app.store.filters import RunFilter
from app.store.stats import workflow_stats
from app.store.status import Status
from tests.store.history_seed import DAY, T0, seed_history


@pytest.fixture
def history(database: Path) -> None:
    seed_history()


def test_duration_series_is_oldest_first_with_percentiles(history: None) -> None:
    series = duration_series()
    assert [p.run_id for p in series.points] == [
        "e1", "e2", "a1", "e3", "a2", "e4", "e5", "e7", "a3"
    ]  # fmt: skip
    assert series.total == 9  # the running run has no duration yet
    assert (series.p50_ms, series.p95_ms) == (3_000, 500_000)
    assert [(w.workflow_id, w.runs) for w in series.workflows] == [("etl", 7), ("agent", 3)]
    # three days of runs fall into 3-hour bands, one per day here
    assert [(b.start_ms - T0, b.runs, b.p50_ms, b.p95_ms) for b in series.bands] == [
        (0, 3, 400, 9_000),
        (DAY, 3, 3_000, 12_000),
        (2 * DAY, 3, 40_000, 500_000),
    ]


def test_duration_series_caps_to_the_newest_and_scopes_to_one_workflow(history: None) -> None:
    capped = duration_series(limit=4)
    assert [p.run_id for p in capped.points] == ["e4", "e5", "e7", "a3"]
    assert capped.total == 9
    agent = duration_series(workflow_id="agent")
    assert [p.run_id for p in agent.points] == ["a1", "a2", "a3"]
    assert agent.points[1].status is Status.ERROR
    assert len(agent.workflows) == 2  # the picker still offers every workflow in the filter
    outside = duration_series(RunFilter(workflow_id="etl"), workflow_id="agent")
    assert (outside.points, outside.total) == ((), 0)  # the picker narrows, never widens
    within = duration_series(RunFilter(statuses=frozenset({Status.ERROR})))
    assert [p.run_id for p in within.points] == ["e3", "a2", "e4"]
    assert [w.workflow_id for w in workflows_in(RunFilter(project_id="p2"))] == ["agent"]


def test_percentile_bands_pick_a_width_that_fits() -> None:
    points = [
        DurationPoint(f"r{i}", "w", T0 + i * 60_000, 100 + i, Status.SUCCESS) for i in range(30)
    ]
    bands = percentile_bands(points, max_bands=40)
    assert len(bands) == 30 and bands[0].end_ms - bands[0].start_ms == 60_000
    wide = percentile_bands(points, max_bands=5)
    assert [b.runs for b in wide] == [15, 15]  # 15-minute bands
    assert wide[1].p95_ms == 129 and percentile_bands([]) == []


def test_histogram_counts_agree_with_workflow_stats(history: None) -> None:
    histogram = duration_histogram()
    assert histogram == [
        (100, 1), (500, 1), (1_000, 1), (5_000, 2), (10_000, 1),
        (30_000, 1), (60_000, 1), (300_000, 0), (1_800_000, 1), (None, 0),
    ]  # fmt: skip
    per_workflow = [dict(s.duration_buckets) for s in workflow_stats()]
    assert histogram == [(b, sum(w[b] for w in per_workflow)) for b, _ in histogram]
    assert sum(c for _, c in duration_histogram(RunFilter(workflow_id="nope"))) == 0


def test_slowest_nodes_by_p95(history: None) -> None:
    nodes = slowest_nodes()
    assert [(n.node_id, n.p50_ms, n.p95_ms) for n in nodes] == [
        ("plan", 11_000, 400_000),
        ("fetch", 600, 2_500),
        ("act", 900, 900),
        ("load", 90, 450),
    ]
    assert [n.node_id for n in slowest_nodes(limit=2)] == ["plan", "fetch"]


def test_outcomes_by_day(history: None) -> None:
    days = outcomes_by_day()
    day0 = day_start_ms(days[0].day)
    assert day0 == T0
    assert [(d.successes, d.failures, d.others) for d in days] == [(3, 0, 0), (0, 3, 0), (2, 0, 2)]
    assert [d.success_rate for d in days] == [1.0, 0.0, 1.0]
    assert outcomes_by_day(RunFilter(workflow_id="agent"))[1].failures == 1


def test_usage_by_model_and_by_project(history: None) -> None:
    by_model = usage_by_day(by="model")
    assert by_model.keys == ("gpt-4o", "mini")
    assert by_model.tokens == {"gpt-4o": (1000, 1000, 0), "mini": (200, 0, 200)}
    assert by_model.cost_usd["gpt-4o"] == pytest.approx((0.01, 0.01, 0.0))
    by_project = usage_by_day(by="project")
    assert by_project.keys == ("p2", "(no project)")
    assert by_project.tokens["p2"] == (1200, 0, 200)
    assert usage_by_day(RunFilter(workflow_id="etl")).days == ()
    with pytest.raises(ValueError, match="project"):
        usage_by_day(by="user")
