"""The receiver acknowledges reports before indexing their text, and indexes it once idle or
as soon as the backlog passes its bound (SQLite; PostgreSQL indexes as it stores)."""

from __future__ import annotations

from typing import Any

import pytest

import app.ingest.store_worker
from app.ingest import search_backlog
from app.store.models import db
from app.store.search import SEARCH_TABLE
from app.store.search_marks import pending_entries
from tests.conftest import make_report, post_json, wait_until

pytestmark = pytest.mark.sqlite_only


def _in_index(word: str) -> list[int]:
    sql = f'SELECT rowid FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ?'
    return [row[0] for row in db.execute_sql(sql, [word]).fetchall()]


def _report(run_id: str, word: str) -> dict[str, Any]:
    report = make_report(run_id, status="success")
    report["nodeExecutions"][0]["output"] = {"note": f"{word} delivered"}
    return report


def test_reports_are_indexed_once_the_receiver_is_idle(ingest: Any) -> None:
    for i in range(3):
        assert post_json(ingest.url, "/api/executions", _report(f"r{i}", "quokka"))[0] == 201
    assert wait_until(lambda: pending_entries() == 0)
    assert len(_in_index("quokka")) == 3  # indexed by the writer, not by a search


def test_the_backlog_stays_bounded_while_reports_keep_coming(
    ingest: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.ingest.store_worker, "IDLE_S", 3600.0)  # never idle long enough
    monkeypatch.setattr(search_backlog, "MAX_BACKLOG", 5)
    for i in range(12):
        assert post_json(ingest.url, "/api/executions", _report(f"r{i}", "wombat"))[0] == 201
        # Each report adds 2 nodes; the writer indexes right after a group that passed 5.
        assert pending_entries() <= 5 + 2
    assert len(_in_index("wombat")) >= 12 - 3  # all but the last few, without any search
