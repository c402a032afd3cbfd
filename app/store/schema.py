"""Schema version and migrations.

The version lives in the `hindsight_schema` table from the first release on. Each migration
runs in its own transaction, the SQLite file is copied before the first one runs, and a
database written by a newer Hindsight is refused without being touched.

PostgreSQL support arrived with schema 2: a PostgreSQL history is created at the latest
version, and the file backup is SQLite's alone (back a server up with its own tools).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from peewee import Database, SqliteDatabase

from app.store.migrations import STEPS
from app.store.migrations.progress import MigrationProgress, ProgressCallback
from app.store.models import ALL_MODELS, Run, SchemaInfo, db
from app.store.search import create_search_table

SCHEMA_VERSION = 4
_COPY_CHUNK = 16 * 1024 * 1024
_CHECKPOINT_BUSY_S = 5.0


class SchemaError(RuntimeError):
    """The database cannot be used by this version of Hindsight."""


def read_schema_version(database: Database) -> int | None:
    if not database.table_exists(SchemaInfo._meta.table_name):
        return None
    row = SchemaInfo.get_or_none(SchemaInfo.key == "schema_version")
    return int(row.value) if row else None


def _set_version(version: int) -> None:
    # An upsert both backends speak (SQLite's REPLACE does not exist on PostgreSQL).
    SchemaInfo.insert(key="schema_version", value=str(version)).on_conflict(
        conflict_target=[SchemaInfo.key], update={SchemaInfo.value: str(version)}
    ).execute()


def backup_path(sqlite_path: Path, version: int) -> Path:
    """Where the file is copied before it is migrated from schema `version`."""
    return sqlite_path.with_name(f"{sqlite_path.name}.v{version}.bak")


def _backup(source: Path, target: Path, progress: MigrationProgress) -> None:
    """shutil.copy2 in chunks, so a big file's copy reports progress as it goes."""
    progress.phase("Backing up the database before upgrading it", source.stat().st_size)
    with source.open("rb") as reader, target.open("wb") as writer:
        done = 0
        while chunk := reader.read(_COPY_CHUNK):
            writer.write(chunk)
            done += len(chunk)
            progress.advance(done)
    shutil.copystat(source, target)
    progress.finish_phase()


def ensure_schema(
    database: Database,
    sqlite_path: Path | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """Create or upgrade the schema; return the version the database now has.

    `progress(message, done, total)` is called on this thread, at least every half second,
    while a migration runs (never when none is needed).
    """
    version = read_schema_version(database)
    if version is None:
        if database.get_tables():
            raise SchemaError(
                "this database has tables but no Hindsight schema version; "
                "it was not written by Hindsight. Choose another file or database with --db."
            )
        with database.atomic():
            database.create_tables(ALL_MODELS)
            create_search_table(database)
            _set_version(SCHEMA_VERSION)
        return SCHEMA_VERSION
    if version == SCHEMA_VERSION:
        _add_missing_indexes()
        return version
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"this database uses schema version {version}, written by a newer Hindsight; "
            f"this version understands up to {SCHEMA_VERSION}. Upgrade Hindsight to open it "
            "(the database was not modified)."
        )
    reporter = MigrationProgress(progress)
    if version < SCHEMA_VERSION and sqlite_path is not None:
        backup = backup_path(sqlite_path, version)
        _checkpoint(sqlite_path, reporter, "Preparing the database for its backup")
        _backup(sqlite_path, backup, reporter)
    is_sqlite = isinstance(database, SqliteDatabase)
    if is_sqlite:
        # SQLite rebuilds a table to change a column; with foreign keys on, dropping the old
        # table would cascade-delete every child row. Keys are checked before each commit.
        database.execute_sql("PRAGMA foreign_keys = OFF")
        # A migration writes about the whole file again into the WAL. Syncing that at commit
        # and copying it back (the automatic checkpoint) would take seconds without a word
        # of progress, so both are left to `_checkpoint` afterwards, which reports. Until
        # then a power cut could only undo the migration (WAL mode never corrupts the file
        # with synchronous NORMAL), and the backup was taken before it began.
        restore = {
            pragma: database.execute_sql(f"PRAGMA {pragma}").fetchone()[0]
            for pragma in ("synchronous", "wal_autocheckpoint")
        }
        database.execute_sql("PRAGMA synchronous = NORMAL")
        database.execute_sql("PRAGMA wal_autocheckpoint = 0")
    try:
        while version < SCHEMA_VERSION:
            with database.atomic(), reporter.watching(database):
                STEPS[version](database, reporter)
                reporter.phase("Checking references between tables", 1)
                if is_sqlite and database.execute_sql("PRAGMA foreign_key_check").fetchone():
                    raise SchemaError(
                        f"migrating to schema version {version + 1} broke a foreign key; "
                        "the database was left at the previous version"
                    )
                version += 1
                _set_version(version)
                if is_sqlite:
                    _commit_reporting(database, reporter)
        with reporter.watching(database):
            _add_missing_indexes()
        if sqlite_path is not None:
            _checkpoint(sqlite_path, reporter, "Writing the upgraded database")
    finally:
        if is_sqlite:
            database.execute_sql("PRAGMA foreign_keys = ON")
            for pragma, value in restore.items():
                database.execute_sql(f"PRAGMA {pragma} = {int(value)}")
    return version


def _commit_reporting(database: Database, reporter: MigrationProgress) -> None:
    """Commit the step's transaction on a worker thread while this one reports: the commit
    writes out what the cache still holds, a second or more after a big step. A new, empty
    transaction is then begun for the enclosing `atomic()` block to commit on its exit."""
    connection = database.connection()
    reporter.run("Saving the upgrade", lambda: connection.execute("COMMIT"))
    connection.execute("BEGIN")


def _checkpoint(sqlite_path: Path, reporter: MigrationProgress, message: str) -> None:
    """Copy the WAL into the database file (PRAGMA wal_checkpoint(TRUNCATE)) on a
    connection of its own, while this thread keeps reporting: after a migration the WAL
    holds about the whole file, which takes seconds to copy back."""

    def checkpoint() -> None:
        connection = sqlite3.connect(sqlite_path, timeout=_CHECKPOINT_BUSY_S)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()

    reporter.run(message, checkpoint)


def _add_missing_indexes() -> None:
    """Indexes that only speed up reads are added to existing files without a version bump
    (IF NOT EXISTS: a no-op once present); older Hindsights simply ignore them.

    A file whose tables were ANALYZEd (sqlite_stat1) gets statistics for the new indexes
    too: SQLite takes an index without statistics for a very selective one and would pick
    it over a better, analysed one (a workflow's page sorting 40,000 runs for 200)."""
    table = Run._meta.table_name
    before = {index.name for index in db.get_indexes(table)}
    Run._schema.create_indexes(safe=True)  # type: ignore[attr-defined]
    if isinstance(db.obj, SqliteDatabase) and db.table_exists("sqlite_stat1"):
        analysed = db.execute_sql("SELECT 1 FROM sqlite_stat1 WHERE tbl = ?", (table,))
        if analysed.fetchone() is not None:
            for name in sorted({index.name for index in db.get_indexes(table)} - before):
                db.execute_sql(f'ANALYZE "{name}"')
