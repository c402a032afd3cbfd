"""The listing's read indexes: added to existing files without a schema bump, and planned
well whether or not the file was ANALYZEd."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.store import queries, writes
from app.store.connection import close_database, open_database
from app.store.filters import RunFilter
from app.store.models import Run, db
from app.store.status import Status
from tests.store.test_store import run_record

NEW_INDEXES = ("run_workflow_id_status_started_at", "run_project_id_status_started_at")

pytestmark = pytest.mark.sqlite_only  # index planning and sqlite_stat1 are SQLite's


def _seed() -> None:
    base = run_record("x")
    writes.replace_runs(
        [
            replace(
                base,
                id=f"r{i:04d}",
                workflow_id=f"wf-{i % 5}",
                project_id=f"p-{i % 4}",
                status=Status.CANCELLED if i % 10 == 9 else Status.SUCCESS,
                started_at=1_000 + i,
            )
            for i in range(400)
        ]
    )


def _plan(where: RunFilter) -> str:
    query = where.apply(Run.select(), first_rows=True, by_time=True)
    query = query.order_by(Run.started_at.desc(), Run.id.desc()).limit(50)
    sql, params = query.sql()
    rows = db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


def _index_names() -> set[str]:
    return {index.name for index in db.get_indexes(Run._meta.table_name)}


def test_a_picker_and_a_status_read_their_own_index(database: Path) -> None:
    _seed()
    where = RunFilter(project_id="p-2", statuses=frozenset({Status.CANCELLED}))
    assert "run_project_id_status_started_at" in _plan(where)
    where = RunFilter(workflow_id="wf-3", statuses=frozenset({Status.SUCCESS}))
    assert "run_workflow_id_status_started_at" in _plan(where)
    # i % 4 == 2 is even, i % 10 == 9 odd: none match, and the page says so.
    nothing = RunFilter(project_id="p-2", statuses=frozenset({Status.CANCELLED}))
    assert queries.list_runs(50, where=nothing) == []
    assert queries.count_runs(nothing) == 0


def test_an_analysed_file_gets_statistics_for_indexes_added_later(db_path: Path) -> None:
    open_database(db_path)
    _seed()
    for name in NEW_INDEXES:  # a file from before these indexes existed
        db.execute_sql(f'DROP INDEX "{name}"')
    db.execute_sql("ANALYZE")
    assert not set(NEW_INDEXES) & _index_names()
    close_database()

    open_database(db_path)
    try:
        assert set(NEW_INDEXES) <= _index_names()
        analysed = {row[0] for row in db.execute_sql("SELECT idx FROM sqlite_stat1").fetchall()}
        assert set(NEW_INDEXES) <= analysed
        # Without those statistics SQLite took the unanalysed index for a very selective
        # one and sorted every run of the workflow; the page walks (workflow, start) instead.
        assert "run_workflow_id_started_at" in _plan(RunFilter(workflow_id="wf-3"))
        assert "run_project_id_started_at" in _plan(RunFilter(project_id="p-1"))
    finally:
        close_database()


def test_a_file_never_analysed_stays_without_statistics(database: Path) -> None:
    _seed()
    assert not db.table_exists("sqlite_stat1")
    assert "run_workflow_id_started_at" in _plan(RunFilter(workflow_id="wf-3"))
