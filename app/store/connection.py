"""Opening the history database and binding the models to it."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from peewee import DatabaseError, SqliteDatabase

from app.store.models import db
from app.store.schema import SchemaError, ensure_schema

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


class StoreError(RuntimeError):
    """The history database cannot be opened; the message says why and what to do."""


def open_database(path: Path) -> SqliteDatabase:
    """Open (creating if needed) the SQLite history at `path` and bind the models to it."""
    path = path.expanduser().resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder for {path}: {exc.strerror}") from exc
    if isinstance(db.obj, SqliteDatabase) and db.obj.database == str(path):
        database = db.obj  # already bound in this process: keep other threads' connections
    else:
        database = SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, check_same_thread=False)
        db.initialize(database)
    is_new = not path.exists() or path.stat().st_size == 0
    try:
        if is_new:
            # Only a new file can get incremental auto-vacuum (freed pages given back in
            # steps), and only before its first table and before WAL mode is set.
            with sqlite3.connect(path) as bootstrap:
                bootstrap.execute("PRAGMA auto_vacuum = incremental")
                bootstrap.execute("VACUUM")
            bootstrap.close()
        database.connect(reuse_if_open=True)
        ensure_schema(database, sqlite_path=path)
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


def close_database() -> None:
    """Close this thread's connection, if the proxy is bound."""
    if db.obj is not None and not db.is_closed():
        db.close()


def write_transaction() -> AbstractContextManager[Any]:
    """A transaction that takes the write lock up front.

    On SQLite a deferred transaction that reads and then writes can fail with "database is
    locked" on the upgrade; BEGIN IMMEDIATE waits for the lock (busy_timeout) instead.
    """
    if isinstance(db.obj, SqliteDatabase):
        return db.obj.atomic(lock_type="IMMEDIATE")
    return db.atomic()
