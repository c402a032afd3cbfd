"""Deleting many runs: chunks sized to a time budget, disk work kept out of the lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.ingest.report import decode_report
from app.store import queries, writes
from app.store.connection import SQLITE_PRAGMAS
from app.store.models import db
from app.store.search import search_hits
from tests.conftest import make_report
from tests.store.index_size import index_size


def test_chunks_follow_the_pace_of_the_last_one() -> None:
    budget = writes.DELETE_HOLD_BUDGET_S
    low, high = writes._DELETE_CHUNK_RANGE
    assert writes._next_chunk_size(20, 20, budget / 2) == 40  # twice as fast: twice as many
    assert writes._next_chunk_size(20, 20, budget / 100) == 40  # but at most double
    assert writes._next_chunk_size(40, 40, budget * 2) == 20  # too slow: fewer
    assert writes._next_chunk_size(40, 40, budget * 1000) == low
    assert writes._next_chunk_size(high, high, budget / 100) == high
    assert writes._next_chunk_size(40, 3, budget * 1000) == 40  # the last, short chunk


def test_delete_matching_empties_the_history_and_its_index_in_many_chunks(
    database: Path | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = [make_report(f"r{i:03}") for i in range(120)]
    writes.replace_runs([decode_report(json.dumps(r).encode()) for r in reports])
    monkeypatch.setattr(writes, "_FIRST_DELETE_CHUNK", 7)
    monkeypatch.setattr(writes, "DELETE_HOLD_BUDGET_S", 0.0)  # every chunk the smallest
    totals: list[int] = []
    assert writes.delete_all(lambda done: totals.append(done) is None) == 120
    assert len(totals) >= 120 // 7 and totals == sorted(totals) and totals[-1] == 120
    assert queries.count_runs() == 0
    assert search_hits("ValueError") == []
    assert index_size() == 0


def test_bulk_delete_restores_the_connection_settings(db_path: Path) -> None:
    from app.store.connection import close_database, open_database

    open_database(db_path)
    try:
        writes.replace_runs([decode_report(json.dumps(make_report("r")).encode())])
        seen: list[tuple[int, int]] = []

        def during(_: int) -> bool:
            seen.append(
                (
                    db.execute_sql("PRAGMA synchronous").fetchone()[0],
                    db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0],
                )
            )
            return True

        writes.delete_all(during)
        assert seen == [(1, 0)]  # NORMAL, no automatic checkpoint, while deleting
        full = {"off": 0, "normal": 1, "full": 2}[str(SQLITE_PRAGMAS["synchronous"])]
        assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == full
        assert db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    finally:
        close_database()
