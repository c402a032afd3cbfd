from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.ingest.report import decode_report
from app.store import writes
from app.store.filters import RunFilter
from app.store.stats import (
    failure_groups,
    llm_usage_by_day,
    node_stats,
    normalise_error,
    percentile,
    workflow_stats,
)
from tests.conftest import make_report
from tests.ingest.test_report import full_report


def _store(report: dict[str, object]) -> None:
    writes.replace_runs([decode_report(json.dumps(report).encode())])


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 1.0)) == (
        50,
        95,
        100,
    )
    assert percentile([7], 0.95) == 7 and percentile([], 0.5) is None


def test_workflow_stats(database: Path) -> None:
    for i, (status, duration) in enumerate(
        [("success", 100), ("success", 200), ("error", 300), ("running", None)]
    ):
        _store(
            make_report(
                f"r{i}",
                status=status,
                durationMs=duration,
                completedAt=None,
                startedAt=f"2026-11-2{i % 2}T10:00:00Z",
            )
        )
    (stats,) = workflow_stats()
    assert (stats.runs, stats.successes, stats.failures) == (4, 2, 1)
    assert stats.success_rate == pytest.approx(2 / 3)
    assert (stats.p50_ms, stats.p95_ms, stats.max_ms) == (200, 300, 300)
    assert stats.runs_per_day == (("2026-11-20", 2), ("2026-11-21", 2))
    assert dict(stats.duration_buckets)[100] == 1 and dict(stats.duration_buckets)[500] == 2
    assert workflow_stats(RunFilter(workflow_id="none")) == []


def test_node_stats(database: Path) -> None:
    _store(make_report("a"))
    _store(make_report("b", status="success"))
    by_id = {s.node_id: s for s in node_stats()}
    assert by_id["parse"].executions == 2 and by_id["parse"].failures == 1
    assert by_id["fetch"].p50_ms == 1000 and by_id["fetch"].failures == 0


def test_failure_groups_merge_the_same_error_on_different_values(database: Path) -> None:
    for i in range(3):
        report = make_report(f"f{i}", startedAt=f"2026-11-2{i}T10:00:00Z")
        report["nodeExecutions"][1]["error"]["message"] = f"KeyError: 'invoice-{i}' at row {i}"
        _store(report)
    other = make_report("g", workflowId="wf-2")
    _store(other)
    groups = failure_groups()
    assert [(g.workflow_id, g.node_id, g.count) for g in groups] == [
        ("wf-1", "parse", 3),
        ("wf-2", "parse", 1),
    ]
    assert groups[0].error == "KeyError: <str> at row <n>"
    assert groups[0].run_ids == ("f2", "f1", "f0")
    assert groups[0].first_seen < groups[0].last_seen


def test_normalise_error() -> None:
    assert normalise_error("Timeout after 30.5 s on 0xdeadbeef") == "Timeout after <n> s on <hex>"
    assert normalise_error(None) == ""


def test_llm_usage_by_day(database: Path) -> None:
    _store(full_report())
    rows = llm_usage_by_day()
    assert [(r.model, r.calls, r.tokens) for r in rows] == [(None, 1, 100), ("gpt-4o-mini", 1, 150)]
    row = rows[1]
    assert (row.day, row.project_id, row.workflow_id, row.model) == (
        "2026-11-22",
        "acme",
        "wf-1",
        "gpt-4o-mini",
    )
    assert (row.calls, row.tokens) == (1, 150)
    assert row.cost_usd == pytest.approx(0.0004)


def test_workflow_stats_agree_with_nearest_rank_over_many_runs(database: Path) -> None:
    """The database's percentile rows and histogram match `percentile` over the same
    durations; the name is the newest named run's."""
    import random
    from dataclasses import replace

    from app.store.stats import DURATION_BUCKETS_MS
    from tests.store.test_store import run_record

    rng = random.Random(7)
    base = run_record("x")
    durations = {"a": [rng.randint(1, 40_000) for _ in range(37)], "b": [5, 5, 9]}
    records = [
        replace(
            base,
            id=f"{w}{i}",
            workflow_id=w,
            workflow_name=f"{w} v{i}",
            started_at=i,
            duration_ms=d,
            nodes=(),
        )
        for w, values in durations.items()
        for i, d in enumerate(values)
    ]
    writes.replace_runs(
        [
            *records,
            replace(
                base,
                id="b-running",
                workflow_id="b",
                workflow_name="",
                started_at=99,
                duration_ms=None,
                nodes=(),
            ),
        ]
    )
    by_id = {s.workflow_id: s for s in workflow_stats()}
    for workflow_id, values in durations.items():
        got = by_id[workflow_id]
        ordered = sorted(values)
        assert (got.p50_ms, got.p95_ms, got.max_ms) == (
            percentile(ordered, 0.5),
            percentile(ordered, 0.95),
            ordered[-1],
        )
        assert sum(n for _, n in got.duration_buckets) == len(values)
        assert dict(got.duration_buckets)[None] == sum(
            1 for d in values if d > DURATION_BUCKETS_MS[-1]
        )
        assert got.workflow_name == f"{workflow_id} v{len(values) - 1}"
    assert by_id["b"].runs == 4
