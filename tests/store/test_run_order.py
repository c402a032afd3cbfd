"""Listing runs by start or by duration, page by page, with the runs still running last."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.store import queries, writes
from app.store.filters import RunFilter
from app.store.queries import RunOrder, cursor_of
from app.store.status import Status
from tests.store.test_store import run_record

# id -> (started_at, duration_ms); ties on duration and on start are deliberate.
RUNS = {
    "a": (1_000, 300),
    "b": (2_000, 100),
    "c": (3_000, None),
    "d": (4_000, 300),
    "e": (5_000, 50),
    "f": (5_000, None),
    "g": (6_000, 900),
}


@pytest.fixture
def runs(database: Path) -> None:
    base = run_record("x")
    writes.replace_runs(
        [
            replace(
                base,
                id=run_id,
                started_at=started,
                duration_ms=duration,
                status=Status.RUNNING if duration is None else Status.SUCCESS,
                trigger_type="cron" if run_id == "a" else None,
            )
            for run_id, (started, duration) in RUNS.items()
        ]
    )


def _all_pages(order: RunOrder, size: int, where: RunFilter = queries.ALL_RUNS) -> list[str]:
    seen: list[str] = []
    after = None
    while True:
        page = queries.list_runs(limit=size, after=after, where=where, order=order)
        seen += [r.id for r in page]
        if len(page) < size:
            return seen
        after = cursor_of(page[-1], order)


EXPECTED = {
    RunOrder.NEWEST: ["g", "f", "e", "d", "c", "b", "a"],
    RunOrder.OLDEST: ["a", "b", "c", "d", "e", "f", "g"],
    RunOrder.SLOWEST: ["g", "d", "a", "b", "e", "f", "c"],
    RunOrder.FASTEST: ["e", "b", "a", "d", "g", "c", "f"],
}


@pytest.mark.parametrize("order", list(RunOrder))
@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_every_order_pages_through_each_run_once(runs: None, order: RunOrder, size: int) -> None:
    assert _all_pages(order, size) == EXPECTED[order]


def test_duration_order_respects_the_filter(runs: None) -> None:
    where = RunFilter(min_duration_ms=100)
    assert _all_pages(RunOrder.SLOWEST, 2, where) == ["g", "d", "a", "b"]
    running = RunFilter(statuses=frozenset({Status.RUNNING}))
    assert _all_pages(RunOrder.FASTEST, 1, running) == ["c", "f"]


def test_summary_carries_the_trigger(runs: None) -> None:
    triggers = {r.id: r.trigger_type for r in queries.list_runs()}
    assert triggers["a"] == "cron"
    assert triggers["b"] is None


def test_runs_by_id_applies_the_filter(runs: None) -> None:
    where = RunFilter(statuses=frozenset({Status.RUNNING}))
    found = queries.runs_by_id(["a", "c", "missing"], where)
    assert [r.id for r in found] == ["c"]


def test_existing_database_gains_the_duration_index(db_path: Path) -> None:
    from app.store.connection import close_database, open_database
    from app.store.models import db

    open_database(db_path)
    db.execute_sql("DROP INDEX run_duration_ms_id")
    close_database()
    open_database(db_path)
    try:
        names = {index.name for index in db.get_indexes("run")}
        assert "run_duration_ms_id" in names
    finally:
        close_database()


def test_list_projects_names_each_project_once(database: Path) -> None:
    base = run_record("x")
    writes.replace_runs(
        [
            replace(base, id="1", project_id="beta"),
            replace(base, id="2", project_id="alpha"),
            replace(base, id="3", project_id="beta"),
            replace(base, id="4", project_id=None),
        ]
    )
    assert queries.list_projects() == ["alpha", "beta"]


@pytest.mark.parametrize("order", list(RunOrder))
@pytest.mark.parametrize("size", [1, 2, 3, 50])
def test_several_statuses_page_in_order(runs: None, order: RunOrder, size: int) -> None:
    """Pages for a status set are merged from one page per status, in the same order."""
    both = RunFilter(statuses=frozenset({Status.RUNNING, Status.SUCCESS}))
    assert _all_pages(order, size, both) == EXPECTED[order]
    running = RunFilter(statuses=frozenset({Status.RUNNING, Status.ERROR}))
    assert _all_pages(order, size, running) == [r for r in EXPECTED[order] if r in "cf"]


def test_a_wide_duration_range_pages_in_start_order(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range holding many runs is read in start order (the duration index unused) and
    one holding few through the duration index: both give the same, correct pages."""
    from app.store import filters

    base = run_record("x")
    writes.replace_runs(
        [
            replace(base, id=f"r{i:02}", started_at=1_000 + i, duration_ms=i * 10, nodes=())
            for i in range(40)
        ]
    )
    where = RunFilter(min_duration_ms=100, max_duration_ms=300)
    expected = [f"r{i:02}" for i in range(30, 9, -1)]
    for wide in (1, 10_000):  # 21 runs in range: wide, then narrow
        monkeypatch.setattr(filters, "WIDE_RANGE", wide)
        assert _all_pages(RunOrder.NEWEST, 4, where) == expected
        assert queries.count_runs(where) == 21
