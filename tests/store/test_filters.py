from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.store import queries, writes
from app.store.filters import RunFilter
from app.store.status import Status
from tests.store.test_store import run_record


@pytest.fixture
def runs(database: Path) -> None:
    base = run_record("x")
    writes.replace_runs(
        [
            replace(
                base,
                id="a",
                workflow_id="etl",
                project_id="p1",
                user_id="ann",
                status=Status.SUCCESS,
                started_at=1_000,
                duration_ms=100,
                nodes=(),
                tags=(("env", "prod"),),
            ),
            replace(
                base,
                id="b",
                workflow_id="etl",
                project_id="p1",
                user_id="bob",
                status=Status.ERROR,
                started_at=2_000,
                duration_ms=5_000,
                tags=(("env", "dev"),),
            ),
            replace(
                base,
                id="c",
                workflow_id="agent",
                project_id="p2",
                user_id="ann",
                status=Status.RUNNING,
                started_at=3_000,
                duration_ms=None,
                nodes=(),
            ),
            replace(
                base,
                id="d",
                workflow_id="agent",
                project_id="p2",
                user_id="bob",
                status=Status.CANCELLED,
                started_at=4_000,
                duration_ms=900,
                nodes=(),
                error_node_id=None,
                tags=(("env", "prod"), ("owner", "ops")),
            ),
        ]
    )


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (RunFilter(), ["d", "c", "b", "a"]),
        (RunFilter(statuses=frozenset({Status.SUCCESS, Status.ERROR})), ["b", "a"]),
        (RunFilter(workflow_id="agent"), ["d", "c"]),
        (RunFilter(project_id="p1"), ["b", "a"]),
        (RunFilter(user_id="ann"), ["c", "a"]),
        (RunFilter(tag_key="env", tag_value="prod"), ["d", "a"]),
        (RunFilter(tag_key="owner"), ["d"]),
        (RunFilter(since=2_000, until=4_000), ["c", "b"]),
        (RunFilter(min_duration_ms=500), ["d", "b"]),
        (RunFilter(max_duration_ms=900), ["d", "a"]),
        (RunFilter(has_failed_node=True), ["b"]),
        (RunFilter(workflow_id="etl", user_id="bob", has_failed_node=True), ["b"]),
        (RunFilter(workflow_id="nope"), []),
        (RunFilter(run_ids=frozenset({"a", "c", "zz"})), ["c", "a"]),
        (RunFilter(run_ids=frozenset({"a", "c"}), workflow_id="agent"), ["c"]),
        (RunFilter(run_ids=frozenset()), []),
    ],
)
def test_filters_select_the_right_runs(runs: None, where: RunFilter, expected: list[str]) -> None:
    assert [r.id for r in queries.list_runs(where=where)] == expected
    assert queries.count_runs(where) == len(expected)


def test_filtered_pages_follow_the_keyset(runs: None) -> None:
    where = RunFilter(tag_key="env")
    first = queries.list_runs(limit=2, where=where)
    assert [r.id for r in first] == ["d", "b"]
    rest = queries.list_runs(limit=2, after=(first[-1].started_at, first[-1].id), where=where)
    assert [r.id for r in rest] == ["a"]


def test_run_ids_beyond_the_sqlite_parameter_limit(runs: None) -> None:
    """A failure group can be bigger than SQLite's 32,766 bound parameters."""
    many = frozenset({"b", "d"} | {f"missing-{i}" for i in range(40_000)})
    where = RunFilter(run_ids=many)
    assert [r.id for r in queries.list_runs(where=where)] == ["d", "b"]
    assert queries.count_runs(where) == 2
    assert writes.delete_matching(where) == 2
    assert [r.id for r in queries.list_runs()] == ["c", "a"]


def test_a_tag_alone_is_counted_from_the_tags(runs: None) -> None:
    """The count of a tag-only filter agrees with the list, with and without a value, and
    forgets the runs deleted since."""
    for where in (RunFilter(tag_key="env"), RunFilter(tag_key="env", tag_value="prod")):
        assert queries.count_runs(where) == len(queries.list_runs(where=where))
    writes.delete_runs(["d"])
    assert queries.count_runs(RunFilter(tag_key="env", tag_value="prod")) == 1
    assert queries.count_runs(RunFilter(tag_key="owner")) == 0
