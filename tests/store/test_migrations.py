"""A database written by an older Hindsight opens in this one without losing a row."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.store import queries, schema, writes
from app.store.connection import close_database, open_database
from app.store.models import NodeExecution, NodePayload, SchemaInfo, db
from app.store.schema import SCHEMA_VERSION
from app.store.search import search_hits

SKELETON_V1 = Path(__file__).parent / "fixtures" / "skeleton_v1.sql"


def _skeleton_database(path: Path) -> dict[str, int]:
    connection = sqlite3.connect(path)
    connection.executescript(SKELETON_V1.read_text())
    counts = {
        table: connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        for table in ("run", "run_payload", "node_execution", "node_payload")
    }
    connection.close()
    return counts


def test_skeleton_database_migrates_without_losing_a_row(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    before = _skeleton_database(path)
    assert before["run"] == 2 and before["node_execution"] == 4

    open_database(path)
    try:
        assert int(SchemaInfo.get(SchemaInfo.key == "schema_version").value) == SCHEMA_VERSION
        assert queries.count_runs() == before["run"]
        assert NodeExecution.select().count() == before["node_execution"]
        assert NodePayload.select().count() == before["node_payload"]
        failed = queries.get_run("v1-failed")
        assert failed is not None
        assert failed.summary.failed_node_name == "Parse total"
        node = failed.first_failed_node()
        assert node is not None and node.error_message == "ValueError: bad total"
        assert node.attempt == 1 and node.llm_model is None
        payload = queries.get_node_payload(failed.nodes[0].pk)
        assert payload is not None and payload.output_json == (
            '{"total": "19.99", "lines": [1, 2, 3]}'
        )
        assert failed.trigger_json == '{"invoice": 42}'
        assert queries.list_logs("v1-failed") == []
        hits = search_hits("bad total")  # old payloads are indexed by the migration
        assert {(h.run_id, h.node_id, h.field) for h in hits} == {("v1-failed", "parse", "error")}
        assert {h.run_id for h in search_hits("lines")} == {"v1-failed", "v1-ok"}
    finally:
        close_database()
    backup = tmp_path / "old.db.v1.bak"
    assert backup.exists(), "the file is copied before migrating"
    with sqlite3.connect(backup) as old:
        assert old.execute("SELECT value FROM hindsight_schema").fetchone()[0] == "1"


def test_repeated_node_ids_become_attempts(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _skeleton_database(path)
    with sqlite3.connect(path) as connection:  # a v1 run that ran one node twice
        connection.execute(
            "INSERT INTO node_execution (run_id, position, node_id, node_name, node_type, "
            "status) VALUES ('v1-ok', 2, 'parse', 'Parse total', 'code', 'success')"
        )
    open_database(path)
    try:
        detail = queries.get_run("v1-ok")
        assert detail is not None
        assert [(n.node_id, n.attempt) for n in detail.nodes] == [
            ("fetch", 1),
            ("parse", 1),
            ("parse", 2),
        ]
    finally:
        close_database()


def test_migrated_database_accepts_new_reports(tmp_path: Path) -> None:
    from app.ingest.report import decode_report
    from app.store import writes
    from tests.ingest.test_report import full_report_bytes

    path = tmp_path / "old.db"
    _skeleton_database(path)
    open_database(path)
    try:
        writes.replace_runs([decode_report(full_report_bytes())])
        assert queries.count_runs() == 3
    finally:
        close_database()


def _version_2_database(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The skeleton's database upgraded by the schema-2 Hindsight, then given a long
    payload and a log entry as schema 2 stored them (plain text)."""
    _skeleton_database(path)
    with monkeypatch.context() as patch:
        patch.setattr(schema, "SCHEMA_VERSION", 2)
        open_database(path)
        close_database()
    long_input = json.dumps({"text": "quarterly zebrafish ledger " * 200, "n": list(range(50))})
    with sqlite3.connect(path) as old:
        node = old.execute(
            "SELECT id FROM node_execution WHERE run_id = 'v1-ok' ORDER BY position LIMIT 1"
        ).fetchone()[0]
        old.execute("UPDATE node_payload SET input_json = ? WHERE node_id = ?", (long_input, node))
        old.execute(
            "INSERT INTO log_entry (id, run_id, node_id, sequence, level, message) "
            "VALUES (7, 'v1-ok', NULL, 0, 'warn', 'disk nearly full')"
        )
        old.execute("INSERT INTO log_payload (log_id, data_json) VALUES (7, '{\"free\": 3}')")
    old.close()
    return long_input


def test_schema_2_payloads_are_packed_and_reindexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v2.db"
    long_input = _version_2_database(path, monkeypatch)
    open_database(path)
    try:
        assert int(SchemaInfo.get(SchemaInfo.key == "schema_version").value) == 3
        run = queries.get_run("v1-ok")
        assert run is not None
        payload = queries.get_node_payload(run.nodes[0].pk)
        assert payload is not None and payload.input_json == long_input  # nothing truncated
        (log,) = queries.list_logs("v1-ok")
        assert (log.message, log.data_json) == ("disk nearly full", '{"free": 3}')
        stored = db.execute_sql(
            "SELECT typeof(input_json), length(input_json) FROM node_payload WHERE node_id = ?",
            [run.nodes[0].pk],
        ).fetchone()
        assert stored[0] == "blob" and stored[1] < len(long_input) / 5  # compressed
        assert {(h.run_id, h.field) for h in search_hits("zebrafish")} == {("v1-ok", "input")}
        assert {(h.run_id, h.field) for h in search_hits("nearly full")} == {("v1-ok", "log")}
        assert {h.run_id for h in search_hits("bad total")} == {"v1-failed"}
        writes.delete_runs(["v1-ok", "v1-failed"])
        assert db.execute_sql("SELECT COUNT(*) FROM search_index").fetchone()[0] == 0
        assert search_hits("zebrafish") == []
    finally:
        close_database()
    assert (tmp_path / "v2.db.v2.bak").exists()
