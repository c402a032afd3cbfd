"""Full-text indexing just behind storing (SQLite): the marks say what is indexed, a search
never misses a stored run, and deletes, replacements and rollbacks keep index and marks
in step."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.ingest.report import decode_report
from app.store import queries, search
from app.store.connection import write_transaction
from app.store.filters import RunFilter
from app.store.models import SchemaInfo, db
from app.store.prepared import prepare_runs
from app.store.records import RunRecord
from app.store.search import SEARCH_TABLE
from app.store.search_marks import LOG_MARK, NODE_MARK, indexed_up_to, pending_entries
from app.store.writes import delete_runs, replace_runs, store_prepared
from tests.conftest import make_report

pytestmark = pytest.mark.sqlite_only


def _record(run_id: str, word: str) -> RunRecord:
    report = make_report(
        run_id,
        status="success",
        logs=[{"message": f"log line about {word}", "level": "info"}],
    )
    report["nodeExecutions"][0]["output"] = {"note": f"the {word} arrived"}
    return decode_report(json.dumps(report).encode())


def _store_deferred(*records: RunRecord) -> None:
    """As the receiver's writer stores: committed, not yet indexed."""
    with write_transaction():
        store_prepared([prepare_runs(records)])


def _in_index(word: str) -> list[int]:
    """The index's own rowids for a word, asked directly (no catching up first)."""
    sql = f'SELECT rowid FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ?'
    return [row[0] for row in db.execute_sql(sql, [word]).fetchall()]


def _found(word: str) -> set[str]:
    return {run.id for run in queries.list_runs(where=RunFilter(text=word))}


def test_deferred_rows_wait_above_the_marks_and_a_search_indexes_them_first(
    database: Path,
) -> None:
    replace_runs([_record("indexed", "walrus")])
    before = indexed_up_to()
    _store_deferred(_record("waiting", "narwhal"), _record("waiting-2", "narwhal"))
    assert indexed_up_to() == before
    assert pending_entries() == 6  # 2 runs x (2 nodes + 1 log line)
    assert _in_index("narwhal") == [] and _in_index("walrus") != []

    assert _found("narwhal") == {"waiting", "waiting-2"}  # the search caught up first
    assert pending_entries() == 0
    assert len(_in_index("narwhal")) == 4  # a node and a log line of each run
    assert [hit.run_id for hit in search.search_hits("arrived narwhal")] != []


def test_catch_up_indexes_oldest_first_a_chunk_at_a_time(database: Path) -> None:
    _store_deferred(*(_record(f"r{i}", f"word{i}") for i in range(5)))
    assert pending_entries() == 15
    with write_transaction():
        assert search.catch_up(limit=4) == 8  # 4 nodes and 4 log lines
    marks = indexed_up_to()
    assert (marks.node, marks.log) == (4, 4)
    assert pending_entries() == 7
    with write_transaction():
        assert search.catch_up(limit=None) == 7
    assert pending_entries() == 0
    with write_transaction():
        assert search.catch_up() == 0


def test_marks_move_only_with_the_index_rows(database: Path) -> None:
    _store_deferred(_record("r", "otter"))

    class Abandon(Exception):
        pass

    with pytest.raises(Abandon), write_transaction():
        search.catch_up(limit=None)
        raise Abandon
    assert _in_index("otter") == [] and pending_entries() == 3  # both rolled back together
    assert _found("otter") == {"r"}


def test_unindexed_runs_can_be_deleted_and_replaced(database: Path) -> None:
    replace_runs([_record("old", "badger")])
    _store_deferred(_record("new", "ferret"), _record("gone", "ferret"))
    assert delete_runs(["gone"]) == 1  # never indexed: nothing to remove from the index
    _store_deferred(_record("new", "stoat"))  # replaced before it was indexed
    assert _found("ferret") == set()
    assert _found("stoat") == {"new"}
    assert _found("badger") == {"old"}
    assert delete_runs(["old"]) == 1  # indexed: its entries go with it
    assert _found("badger") == set()


def test_keys_freed_below_the_marks_are_not_handed_out_again(database: Path) -> None:
    replace_runs([_record("a", "heron"), _record("b", "egret")])
    marks = indexed_up_to()
    assert delete_runs(["b"]) == 1  # frees the highest node and log keys, all indexed
    _store_deferred(_record("c", "crane"))
    stored = db.execute_sql("SELECT MIN(id) FROM node_execution WHERE run_id = 'c'").fetchone()[0]
    assert stored > marks.node  # above the mark: the catch-up will index it
    assert _found("crane") == {"c"}
    assert _found("egret") == set()


def test_a_database_without_marks_counts_as_fully_indexed(database: Path) -> None:
    """Files written before the marks existed indexed every row as it was stored."""
    replace_runs([_record("a", "lynx")])
    SchemaInfo.delete().where(SchemaInfo.key.in_([NODE_MARK, LOG_MARK])).execute()
    assert pending_entries() == 0
    _store_deferred(_record("b", "puma"))  # writes the marks before storing
    assert pending_entries() == 3
    assert _found("puma") == {"b"} and _found("lynx") == {"a"}


def test_a_search_that_cannot_write_answers_from_what_is_indexed(database: Path) -> None:
    replace_runs([_record("indexed", "gannet")])
    _store_deferred(_record("waiting", "gannet"))
    other = sqlite3.connect(database, isolation_level=None)
    timeout = db.execute_sql("PRAGMA busy_timeout").fetchone()[0]
    db.execute_sql("PRAGMA busy_timeout = 50")
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        assert _found("gannet") == {"indexed"}  # no error; the waiting run comes later
        assert pending_entries() == 3
    finally:
        other.execute("ROLLBACK")
        other.close()
        db.execute_sql(f"PRAGMA busy_timeout = {timeout}")
    assert _found("gannet") == {"indexed", "waiting"}
