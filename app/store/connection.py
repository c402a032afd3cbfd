"""Opening the history database and binding the models to it.

The history is a SQLite file by default, or a PostgreSQL database named by a
`postgresql://` URL (teams sharing one history).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from peewee import Database, DatabaseError, OperationalError, PostgresqlDatabase, SqliteDatabase

from app.config import DatabaseTarget, describe_database, is_postgres_url
from app.store.migrations.progress import ProgressCallback
from app.store.models import db
from app.store.schema import SchemaError, ensure_schema

log = logging.getLogger(__name__)

# Long enough to ride out a checkpoint or another process's write; short enough that an
# HTTP client gets a timely 503 instead of hanging when the file stays locked.
BUSY_TIMEOUT_MS = 5000

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    # FULL: a commit is on disk before the receiver answers 2xx, even across power loss.
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": BUSY_TIMEOUT_MS,
}

# Pages of new files: a node's packed payload (~700 bytes) left a fifth of each 4 KiB page
# unused; 8 KiB pages halve that waste and write a little faster.
PAGE_SIZE = 8192

# Key of the transaction-level advisory lock every PostgreSQL write takes, so writers from
# several processes queue up as they do on SQLite's single write lock ("hindsight" in hex).
PG_WRITE_LOCK_KEY = 0x68696E6473696768


class StoreError(RuntimeError):
    """The history database cannot be opened; the message says why and what to do."""


class _PostgresDatabase(PostgresqlDatabase):
    """A PostgreSQL database that remembers the connection each thread opened, so that
    rebinding the models can close them all: peewee keeps them in thread-local storage,
    where only their own thread can reach them."""

    def __init__(self, conninfo: str) -> None:
        # prefer_psycopg3: psycopg 3 is the driver Hindsight installs (see pyproject.toml).
        super().__init__(conninfo, prefer_psycopg3=True)
        self._opened: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def _connect(self) -> Any:
        connection = super()._connect()  # type: ignore[misc]  # peewee's stubs omit it
        self._opened[connection] = threading.current_thread().name
        return connection

    def threads_connected(self) -> list[str]:
        """The names of the threads whose connection is still open."""
        return sorted(name for conn, name in list(self._opened.items()) if not conn.closed)

    def close_all(self) -> None:
        """Close every thread's connection (for a database nothing uses any more)."""
        for connection in list(self._opened):
            connection.close()


def _bind(database: Database) -> None:
    """Point the models at `database`, closing the connections to the one before: once
    unbound nobody would close them, and they would linger until garbage collection."""
    previous = db.obj
    close_database()
    if isinstance(previous, _PostgresDatabase):
        previous.close_all()  # other threads' (a server's readers, a writer): idle by now
    db.initialize(database)


def open_database(target: DatabaseTarget, progress: ProgressCallback | None = None) -> Database:
    """Open the history at `target` (a SQLite path or a PostgreSQL URL), creating or
    upgrading its schema, and bind the models to it.

    An upgrade of a big history can take minutes: `progress(message, done, total)` is then
    called on this thread at least every half second (never when no upgrade is needed).
    """
    if is_postgres_url(target):
        return _open_postgres(str(target), progress)
    return _open_sqlite(Path(target), progress)


def opened_target() -> DatabaseTarget | None:
    """The database the models are bound to (a resolved file path, or a PostgreSQL URL),
    for telling people where reports go; None before any was opened."""
    bound = db.obj
    if bound is None:
        return None
    return bound.database if isinstance(bound, PostgresqlDatabase) else Path(bound.database)


def _open_sqlite(path: Path, progress: ProgressCallback | None = None) -> SqliteDatabase:
    path = path.expanduser().resolve()
    log.info("Opening history %s with SQLite %s", path, sqlite3.sqlite_version)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder for {path}: {exc.strerror}") from exc
    if isinstance(db.obj, SqliteDatabase) and db.obj.database == str(path):
        database = db.obj  # already bound in this process: keep other threads' connections
    else:
        database = SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, check_same_thread=False)
        _bind(database)
    is_new = not path.exists() or path.stat().st_size == 0
    try:
        if is_new:
            # Only a new file can get incremental auto-vacuum (freed pages given back in
            # steps) and a page size of its own, and only before its first table and
            # before WAL mode is set.
            with sqlite3.connect(path) as bootstrap:
                bootstrap.execute(f"PRAGMA page_size = {PAGE_SIZE}")
                bootstrap.execute("PRAGMA auto_vacuum = incremental")
                bootstrap.execute("VACUUM")
            bootstrap.close()
        database.connect(reuse_if_open=True)
        ensure_schema(database, sqlite_path=path, progress=progress)
    except SchemaError as exc:
        database.close()
        raise StoreError(f"{path}: {exc}") from exc
    except (DatabaseError, sqlite3.DatabaseError) as exc:
        database.close()
        raise StoreError(
            f"{path} is not a usable Hindsight database ({exc}). "
            "It was left untouched; choose another file with --db."
        ) from exc
    return database


def _open_postgres(url: str, progress: ProgressCallback | None = None) -> PostgresqlDatabase:
    shown = describe_database(url)
    # psycopg takes the URL as a libpq connection string, which spells the scheme either way.
    conninfo = "postgresql://" + url.split("://", 1)[1]
    if isinstance(db.obj, PostgresqlDatabase) and db.obj.database == conninfo:
        database = db.obj  # already bound in this process: keep other threads' connections
    else:
        database = _PostgresDatabase(conninfo)
        _bind(database)
    try:
        database.connect(reuse_if_open=True)
    except OperationalError as exc:
        raise StoreError(
            f"cannot connect to the PostgreSQL history {shown}: {str(exc).strip()}. "
            "Check that the server runs, that the database exists and that the user may "
            "log in (README: 'Storage: PostgreSQL')."
        ) from exc
    version = database.server_version
    log.info("Opening history %s on PostgreSQL %d.%d", shown, version // 10000, version % 10000)
    try:
        ensure_schema(database, progress=progress)
    except SchemaError as exc:
        database.close()
        raise StoreError(f"{shown}: {exc}") from exc
    except DatabaseError as exc:
        database.close()
        raise StoreError(
            f"{shown} is not a usable Hindsight database ({str(exc).strip()}). "
            "It was left untouched; the user needs the right to create tables in it."
        ) from exc
    return database


def close_database() -> None:
    """Close this thread's connection, if the proxy is bound."""
    if db.obj is not None and not db.is_closed():
        db.close()


def threads_connected() -> list[str]:
    """The threads, by name, holding an open connection to the bound PostgreSQL database
    (none known for SQLite, whose connections close themselves when freed)."""
    if isinstance(db.obj, _PostgresDatabase):
        return db.obj.threads_connected()
    return []


def write_transaction() -> AbstractContextManager[Any]:
    """A transaction that takes the write lock up front.

    On SQLite a deferred transaction that reads and then writes can fail with "database is
    locked" on the upgrade; BEGIN IMMEDIATE waits for the lock (busy_timeout) instead. On
    PostgreSQL an advisory lock gives the same one-writer-at-a-time order, so replacing a
    run never races another process replacing the same run.
    """
    if isinstance(db.obj, SqliteDatabase):
        return db.obj.atomic(lock_type="IMMEDIATE")
    if isinstance(db.obj, PostgresqlDatabase):
        return _postgres_write_transaction()
    return db.atomic()


@contextmanager
def _postgres_write_transaction() -> Iterator[Any]:
    with db.atomic() as transaction:
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (PG_WRITE_LOCK_KEY,))
        yield transaction
