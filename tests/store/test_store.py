from __future__ import annotations

import hashlib
import json
import logging
import socket
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.config import ConfigError, default_database_path, resolve_settings
from app.store import queries, writes
from app.store.connection import StoreError, close_database, open_database
from app.store.models import NodePayload, SchemaInfo, db
from app.store.records import NodeRecord, RunRecord
from app.store.schema import SCHEMA_VERSION
from app.store.status import Status, normalise_status
from tests.postgres import with_password


def run_record(
    run_id: str = "r1", started_at: int = 1_000, workflow: str = "wf", nodes: int = 2
) -> RunRecord:
    return RunRecord(
        id=run_id,
        workflow_id=workflow,
        workflow_name=f"{workflow} name",
        status=Status.ERROR,
        started_at=started_at,
        completed_at=started_at + 50,
        duration_ms=50,
        trigger_type="manual",
        trigger_json='{"by": "me"}',
        error_message="boom",
        error_stack="Traceback\n  boom",
        error_node_id="n1",
        nodes=tuple(
            NodeRecord(
                node_id=f"n{i}",
                status=Status.ERROR if i == 1 else Status.SUCCESS,
                node_name=f"Node {i}",
                node_type="code",
                started_at=started_at + i,
                duration_ms=i,
                input_json=json.dumps({"i": i}),
                output_json=None if i == 1 else "null",
                error_message="boom" if i == 1 else None,
                error_stack="stack" if i == 1 else None,
            )
            for i in range(nodes)
        ),
    )


def test_round_trip_keeps_every_field(database: Path) -> None:
    writes.replace_runs([run_record()])
    detail = queries.get_run("r1")
    assert detail is not None
    assert detail.summary.workflow_name == "wf name"
    assert detail.summary.status is Status.ERROR
    assert (detail.summary.started_at, detail.summary.duration_ms) == (1_000, 50)
    assert detail.summary.node_count == 2
    assert detail.summary.failed_node_name == "Node 1"
    assert detail.trigger_type == "manual" and detail.trigger_json == '{"by": "me"}'
    assert (detail.error_message, detail.error_stack, detail.error_node_id) == (
        "boom",
        "Traceback\n  boom",
        "n1",
    )
    assert [n.node_id for n in detail.nodes] == ["n0", "n1"]
    failed = detail.first_failed_node()
    assert failed is not None and failed.node_id == "n1" and failed.error_message == "boom"
    payload = queries.get_node_payload(failed.pk)
    assert payload is not None
    assert payload.input_json == '{"i": 1}'
    assert payload.output_json is None  # not reported is not the same as JSON null
    assert payload.error_stack == "stack"
    other = queries.get_node_payload(detail.nodes[0].pk)
    assert other is not None and other.output_json == "null"


def test_replacing_a_run_replaces_its_nodes(database: Path) -> None:
    writes.replace_runs([run_record(nodes=3)])
    writes.replace_runs([run_record(nodes=1)])
    detail = queries.get_run("r1")
    assert detail is not None and [n.node_id for n in detail.nodes] == ["n0"]
    assert NodePayload.select().count() == 1
    assert queries.count_runs() == 1


def test_list_runs_newest_first_with_keyset_pages(database: Path) -> None:
    writes.replace_runs([run_record(f"r{i}", started_at=i * 10) for i in range(7)])
    writes.replace_runs([run_record("tie", started_at=30)])  # same start as r3
    first = queries.list_runs(limit=4)
    assert [r.id for r in first] == ["r6", "r5", "r4", "tie"]
    last = first[-1]
    second = queries.list_runs(limit=4, after=(last.started_at, last.id))
    assert [r.id for r in second] == ["r3", "r2", "r1", "r0"]


def test_delete_runs_removes_nodes_and_payloads(database: Path) -> None:
    writes.replace_runs([run_record("a"), run_record("b"), run_record("c")])
    assert writes.delete_runs(["a", "c", "missing"]) == 2
    assert [r.id for r in queries.list_runs()] == ["b"]
    assert NodePayload.select().count() == 2


def test_clear_workflow_deletes_only_that_workflow(database: Path) -> None:
    writes.replace_runs(
        [
            run_record("a", workflow="x"),
            run_record("b", workflow="x"),
            run_record("c", workflow="y"),
        ]
    )
    assert [(w.workflow_id, w.run_count) for w in queries.list_workflows()] == [("x", 2), ("y", 1)]
    assert writes.clear_workflow("x") == 2
    assert [r.id for r in queries.list_runs()] == ["c"]


def test_new_database_records_schema_version(database: Path | str) -> None:
    version = SchemaInfo.get(SchemaInfo.key == "schema_version").value
    assert int(version) == SCHEMA_VERSION


@pytest.mark.sqlite_only
def test_new_sqlite_database_is_wal_with_foreign_keys(database: Path) -> None:
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_database_from_newer_hindsight_is_refused_untouched(db_path: Path) -> None:
    open_database(db_path)
    SchemaInfo.replace(key="schema_version", value=str(SCHEMA_VERSION + 1)).execute()
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    close_database()
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    with pytest.raises(StoreError, match="newer Hindsight"):
        open_database(db_path)
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before


def test_postgres_database_from_newer_hindsight_is_refused_untouched(postgres_url: str) -> None:
    open_database(postgres_url)
    writes.replace_runs([run_record()])
    SchemaInfo.update(value=str(SCHEMA_VERSION + 1)).execute()
    close_database()
    with pytest.raises(StoreError, match="newer Hindsight"):
        open_database(postgres_url)
    try:
        assert SchemaInfo.get().value == str(SCHEMA_VERSION + 1)
        assert [r.id for r in queries.list_runs()] == ["r1"]
    finally:
        close_database()


def test_postgres_database_with_foreign_tables_is_refused(postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as other:
        other.execute("CREATE TABLE invoices (id int PRIMARY KEY)")
    with pytest.raises(StoreError, match="not written by Hindsight"):
        open_database(postgres_url)
    with psycopg.connect(postgres_url) as other:
        tables = other.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert [row[0] for row in tables] == ["invoices"]


def test_rebinding_closes_every_threads_postgres_connection(
    postgres_url: str, db_path: Path
) -> None:
    """peewee keeps each thread's connection where only that thread can close it; one a
    thread left open would linger after the models move to another database (psycopg warns
    when the garbage collector finally frees it)."""
    import threading

    from app.store.connection import threads_connected
    from app.store.models import db

    read, rebound = threading.Event(), threading.Event()

    def read_then_linger() -> None:  # a server thread between two requests, say
        queries.count_runs()
        read.set()
        rebound.wait(10)

    open_database(postgres_url)
    reader = threading.Thread(target=read_then_linger, name="reader")
    reader.start()
    try:
        assert read.wait(10)
        assert threads_connected() == ["MainThread", "reader"]
        postgres = db.obj
        open_database(db_path)  # the models move to a SQLite file
        assert postgres.threads_connected() == []
    finally:
        rebound.set()
        reader.join(timeout=10)
        close_database()


def test_unreachable_postgres_server_is_a_clear_store_error() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://hindsight:s3cret@127.0.0.1:{port}/history"
    with pytest.raises(StoreError, match="cannot connect to the PostgreSQL history") as caught:
        open_database(url)
    assert "s3cret" not in str(caught.value)
    assert f"hindsight:***@127.0.0.1:{port}/history" in str(caught.value)


def test_open_logs_location_and_sqlite_version(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="app.store.connection"):
        open_database(db_path)
    close_database()
    (record,) = [r for r in caplog.records if r.name == "app.store.connection"]
    assert record.levelno == logging.INFO
    assert str(db_path.resolve()) in record.getMessage()
    assert f"SQLite {sqlite3.sqlite_version}" in record.getMessage()


def test_open_logs_postgres_location_without_password(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = with_password(postgres_url)
    with caplog.at_level(logging.INFO, logger="app.store.connection"):
        open_database(url)
    close_database()
    (record,) = [r for r in caplog.records if r.name == "app.store.connection"]
    message = record.getMessage()
    assert "PostgreSQL" in message and urlsplit(postgres_url).path in message
    password = urlsplit(url).password
    assert password and password not in message and ":***@" in message


def test_file_that_is_not_a_database_is_refused_untouched(db_path: Path) -> None:
    db_path.write_bytes(b"these are my notes, not a database\n" * 200)
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="not a usable Hindsight database"):
        open_database(db_path)
    assert db_path.read_bytes() == before


def test_default_database_lives_in_user_data_dir(isolated_user_dirs: Path) -> None:
    path = default_database_path()
    assert path.name == "history.db"
    assert path.is_relative_to(isolated_user_dirs)
    assert resolve_settings().db_path == path
    assert resolve_settings().port == 7341


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HINDSIGHT_DB", str(tmp_path / "env.db"))
    monkeypatch.setenv("HINDSIGHT_PORT", "9000")
    assert resolve_settings().db_path == tmp_path / "env.db"
    assert resolve_settings().port == 9000
    flagged = resolve_settings(db=str(tmp_path / "flag.db"), port=9100)
    assert (flagged.db_path, flagged.port) == (tmp_path / "flag.db", 9100)


def test_database_url_is_kept_and_shown_without_password(tmp_path: Path) -> None:
    url = "postgresql://team:pa%40ss@db.example.invalid:5433/history?sslmode=require"
    settings = resolve_settings(db=url)
    assert settings.db_path == url
    assert settings.database_label == (
        "postgresql://team:***@db.example.invalid:5433/history?sslmode=require"
    )
    assert resolve_settings(db=str(tmp_path / "h.db")).database_label == str(tmp_path / "h.db")
    with pytest.raises(ConfigError, match="file path or a postgresql:// URL"):
        resolve_settings(db="mysql://root@localhost/history")


def test_open_creates_missing_folders(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "history.db"
    open_database(target)
    close_database()
    assert target.exists()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Completed", Status.SUCCESS),
        ("FAILED", Status.ERROR),
        ("failure", Status.ERROR),
        ("notStarted", Status.PENDING),
        ("paused", Status.SUSPENDED),
        ("canceled", Status.CANCELLED),
        ("running", Status.RUNNING),
    ],
)
def test_status_spellings(raw: str, expected: Status) -> None:
    assert normalise_status(raw) is expected


def test_unknown_status_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="expected one of: pending, running"):
        normalise_status("exploded")


def test_full_report_round_trips_through_the_store(database: Path) -> None:
    from app.ingest.report import decode_report
    from tests.ingest.test_report import full_report_bytes

    writes.replace_runs([decode_report(full_report_bytes())])
    detail = queries.get_run("full")
    assert detail is not None
    assert detail.summary.project_id == "acme" and detail.user_id == "u-7"
    assert detail.summary.total_tokens == 250
    assert detail.tags == (("env", "prod"), ("team", "7"))
    assert json.loads(detail.metadata_json or "") == {"host": "runner-1"}
    llm = next(n for n in detail.nodes if n.node_id == "summarise" and n.attempt == 1)
    assert (llm.llm_model, llm.total_tokens, llm.finish_reason) == ("gpt-4o-mini", 150, "stop")
    payload = queries.get_node_payload(llm.pk)
    assert payload is not None
    assert json.loads(payload.llm_response_json or "") == "Invoice 42 totals 19.99 EUR."
    assert json.loads(payload.metrics_json or "") == {"retries": 0}
    logs = queries.list_logs("full")
    assert [(entry.level, entry.message) for entry in logs] == [
        ("info", "starting"),
        ("warn", "slow"),
    ]
    assert json.loads(logs[1].data_json or "") == {"ms": 900}
    (artifact,) = queries.list_artifacts("full")
    assert (artifact.key, artifact.type, artifact.size) == ("report.csv", "stage_output", 10)
    assert json.loads(queries.get_artifact_data(artifact.pk) or "") == "a,b\n1,2"
    # Deleting the run removes everything that hung off it.
    assert writes.delete_runs(["full"]) == 1
    assert queries.list_logs("full") == [] and queries.list_artifacts("full") == []


def test_concurrent_writers_of_the_same_run_queue_up_instead_of_failing(
    database: Path | str,
) -> None:
    """Two writers (each with its own connection) replace the same run over and over: the
    write lock (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL) serialises them,
    so neither sees the other's half-done replace, and node ids never collide."""
    import threading

    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(nodes: int) -> None:
        try:
            start.wait()
            for _ in range(25):
                writes.replace_runs([run_record("same", nodes=nodes), run_record(f"own-{nodes}")])
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)
        finally:
            close_database()

    threads = [threading.Thread(target=writer, args=(n,)) for n in (2, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    detail = queries.get_run("same")
    assert detail is not None and len(detail.nodes) in (2, 5)
    assert queries.count_runs() == 3
