"""A database written by an older Hindsight opens in this one without losing a row."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from app.store import queries, schema, writes
from app.store.connection import close_database, open_database
from app.store.migrations.progress import MigrationProgress
from app.store.models import NodeExecution, NodePayload, SchemaInfo, db
from app.store.packed import pack, unpack
from app.store.schema import SCHEMA_VERSION
from app.store.search import search_hits
from tests.store.index_size import index_size

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
        assert int(SchemaInfo.get(SchemaInfo.key == "schema_version").value) == SCHEMA_VERSION
        run = queries.get_run("v1-ok")
        assert run is not None
        payload = queries.get_node_payload(run.nodes[0].pk)
        assert payload is not None and payload.input_json == long_input  # nothing truncated
        (log,) = queries.list_logs("v1-ok")
        assert (log.message, log.data_json) == ("disk nearly full", '{"free": 3}')
        stored = db.execute_sql(
            "SELECT typeof(payload), length(payload) FROM node_payload WHERE node_id = ?",
            [run.nodes[0].pk],
        ).fetchone()
        assert stored[0] == "blob" and stored[1] < len(long_input) / 5  # compressed
        assert {(h.run_id, h.field) for h in search_hits("zebrafish")} == {("v1-ok", "input")}
        assert {(h.run_id, h.field) for h in search_hits("nearly full")} == {("v1-ok", "log")}
        assert {h.run_id for h in search_hits("bad total")} == {"v1-failed"}
        writes.delete_runs(["v1-ok", "v1-failed"])
        assert index_size() == 0
        assert search_hits("zebrafish") == []
    finally:
        close_database()
    assert (tmp_path / "v2.db.v2.bak").exists()


def _version_3_database(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database as the schema-3 Hindsight left it: the skeleton's runs upgraded to 2, given
    every payload field, LLM text and log lines in schema 2's plain text, then upgraded to 3
    (which packs each field on its own and indexes it as one search row per field)."""
    _skeleton_database(path)
    with monkeypatch.context() as patch:
        patch.setattr(schema, "SCHEMA_VERSION", 2)
        open_database(path)
        close_database()
    with sqlite3.connect(path) as old:
        node = old.execute(
            "SELECT id FROM node_execution WHERE run_id = 'v1-ok' ORDER BY position LIMIT 1"
        ).fetchone()[0]
        old.execute(
            "UPDATE node_payload SET input_json = ?, metrics_json = ?, llm_prompt_json = ?, "
            "llm_response_json = ?, error_stack = '' WHERE node_id = ?",
            (
                json.dumps({"text": "quarterly zebrafish ledger " * 200}),
                '{"rows": 3}',
                '[{"role": "user", "content": "summarise the okapi report"}]',
                '"the narwhal figures look fine"',
                node,
            ),
        )
        old.executemany(
            "INSERT INTO log_entry (id, run_id, node_id, sequence, level, message) "
            "VALUES (?, 'v1-ok', ?, ?, 'info', ?)",
            [(7, None, 0, "disk nearly full"), (8, "fetch", 1, ""), (9, "fetch", 2, "platypus")],
        )
    old.close()
    with monkeypatch.context() as patch:
        patch.setattr(schema, "SCHEMA_VERSION", 3)
        open_database(path)
        close_database()


def _all_payloads() -> dict[int, object]:
    rows = NodeExecution.select(NodeExecution.id).order_by(NodeExecution.id)
    return {row.id: queries.get_node_payload(row.id) for row in rows}


def test_schema_3_keeps_every_row_packs_node_payloads_together_and_reports_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v3.db"
    _version_3_database(path, monkeypatch)
    with monkeypatch.context() as patch:  # what schema 3 read back, field by field
        patch.setattr(schema, "SCHEMA_VERSION", 3)
        with sqlite3.connect(path) as old:
            counts = {
                table: old.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
                for table in ("run", "node_execution", "node_payload", "log_entry", "run_tag")
            }
            columns = "input_json, output_json, error_stack, metrics_json, llm_prompt_json, "
            before = {
                pk: tuple(None if v is None else unpack(v) for v in values)
                for pk, *values in old.execute(
                    f"SELECT node_id, {columns} llm_response_json FROM node_payload"
                )
            }
        old.close()
    assert counts["node_payload"] == 4 and counts["log_entry"] == 3

    calls: list[tuple[str, int, int]] = []
    open_database(path, progress=lambda message, done, total: calls.append((message, done, total)))
    try:
        assert int(SchemaInfo.get(SchemaInfo.key == "schema_version").value) == SCHEMA_VERSION
        for table, count in counts.items():
            assert db.execute_sql(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] == count, table
        after = {
            pk: (
                p.input_json,
                p.output_json,
                p.error_stack,
                p.metrics_json,
                p.llm_prompt_json,
                p.llm_response_json,
            )
            for pk, p in _all_payloads().items()
            if p is not None
        }
        assert after == before  # every field of every node, "" and None kept apart
        assert [log.message for log in queries.list_logs("v1-ok")] == [
            "disk nearly full",
            "",
            "platypus",
        ]
        indexes = {row[1] for row in db.execute_sql("PRAGMA index_list('node_execution')")}
        assert "node_execution_run_id_position" not in indexes
        for text, expected in [
            ("zebrafish", {("v1-ok", "fetch", "input")}),
            ("okapi", {("v1-ok", "fetch", "prompt")}),
            ("narwhal", {("v1-ok", "fetch", "response")}),
            ("bad total", {("v1-failed", "parse", "error")}),
            ("nearly full", {("v1-ok", None, "log")}),
            ("platypus", {("v1-ok", "fetch", "log")}),
        ]:
            assert {(h.run_id, h.node_id, h.field) for h in search_hits(text)} == expected, text
        # The rebuilt index holds exactly the stored text: removing the runs empties it.
        writes.delete_runs(["v1-ok", "v1-failed"])
        assert index_size() == 0
    finally:
        close_database()

    messages = [message for message, _, _ in calls]
    for phase in (
        "Backing up the database before upgrading it",
        "Removing the old search index",
        "Repacking node payloads and rebuilding the search index",
        "Indexing log messages",
        "Removing the old node payloads",
        "Saving the upgrade",
    ):
        assert phase in messages
    assert messages[-1] == "Writing the upgraded database"
    assert all(0 <= done <= total or total == 0 for _, done, total in calls)
    assert (tmp_path / "v3.db.v3.bak").exists()

    calls.clear()  # an up-to-date database opens without a single progress call
    open_database(path, progress=lambda *args: calls.append(args))
    close_database()
    assert calls == []


def test_work_on_a_worker_thread_is_reported_until_it_ends() -> None:
    calls: list[tuple[str, int, int]] = []
    release = threading.Event()

    def callback(message: str, done: int, total: int) -> None:
        calls.append((message, done, total))
        if len(calls) >= 3:
            release.set()  # the work ends only once heartbeats have arrived

    reporter = MigrationProgress(callback)
    reporter.run("Saving the upgrade", lambda: release.wait(10))
    assert calls[0] == ("Saving the upgrade", 0, 1)
    assert calls[-1] == ("Saving the upgrade", 1, 1)
    assert len(calls) >= 4

    def fail() -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        reporter.run("Writing the upgraded database", fail)


def test_watching_nests_and_keeps_the_handler_until_the_outermost_ends(db_path: Path) -> None:
    database = open_database(db_path)
    try:
        reporter = MigrationProgress(lambda *_: None)
        beats: list[int] = []
        reporter.heartbeat = lambda: beats.append(1)  # type: ignore[method-assign]
        count = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
        count += "SELECT COUNT(*) FROM n"
        with reporter.watching(database):
            with reporter.watching(database):
                pass
            database.execute_sql(count).fetchone()  # still watched after the inner one ended
        assert beats
        beats.clear()
        database.execute_sql(count).fetchone()
        assert beats == []
    finally:
        close_database()


def test_postgres_schema_3_node_payloads_become_one_packed_value(postgres_url: str) -> None:
    """A PostgreSQL history at schema 3 (one bytea per payload field, each packed on its
    own) keeps every field and its search entries through the upgrade."""
    from app.ingest.report import decode_report
    from tests.ingest.test_report import full_report_bytes

    open_database(postgres_url)
    try:
        writes.replace_runs([decode_report(full_report_bytes())])
        expected = _all_payloads()
        hits_before = {(h.run_id, h.node_id, h.field) for h in search_hits("Traceback")}
        # Turn the tables back into schema 3's layout, the values into its format.
        columns = ("input_json", "output_json", "error_stack", "metrics_json")
        columns += ("llm_prompt_json", "llm_response_json")
        for column in columns:
            db.execute_sql(f'ALTER TABLE node_payload ADD COLUMN "{column}" BYTEA')
        for pk, payload in expected.items():
            assert payload is not None
            values = [getattr(payload, column) for column in columns]
            db.execute_sql(
                "UPDATE node_payload SET "
                + ", ".join(f'"{c}" = %s' for c in columns)
                + " WHERE node_id = %s",
                [None if v is None else pack(v) for v in values] + [pk],
            )
        db.execute_sql("ALTER TABLE node_payload DROP COLUMN payload")
        db.execute_sql(
            'CREATE UNIQUE INDEX "node_execution_run_id_position" '
            'ON "node_execution" ("run_id", "position")'
        )
        db.execute_sql("UPDATE hindsight_schema SET value = '3' WHERE key = 'schema_version'")
    finally:
        close_database()

    calls: list[str] = []
    open_database(postgres_url, progress=lambda message, done, total: calls.append(message))
    try:
        assert int(SchemaInfo.get(SchemaInfo.key == "schema_version").value) == SCHEMA_VERSION
        assert _all_payloads() == expected
        assert {(h.run_id, h.node_id, h.field) for h in search_hits("Traceback")} == hits_before
        assert "Repacking node payloads" in calls
    finally:
        close_database()
