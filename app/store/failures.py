"""What kind of database trouble an error is, so callers can say something useful.

peewee re-raises the driver's exception as its own, keeping the original in the chain.
SQLite's result codes (Python 3.11+ exposes them as `sqlite_errorcode`) and PostgreSQL's
SQLSTATE (`pgcode`, `sqlstate`) tell locked, full and read-only apart without matching
message text.
"""

from __future__ import annotations

import enum
import os
import sqlite3
from pathlib import Path


class Trouble(enum.Enum):
    BUSY = "busy"  # another process holds the write lock past the busy timeout
    FULL = "full"  # the disk (or the database's size limit) is full
    READ_ONLY = "read-only"  # the file, its folder or the server refuses writes
    OTHER = "other"


_BY_VALUE = {trouble.value: trouble for trouble in Trouble}
# Primary result codes (the low byte of an extended code).
_SQLITE = {
    sqlite3.SQLITE_BUSY: Trouble.BUSY,
    sqlite3.SQLITE_LOCKED: Trouble.BUSY,
    sqlite3.SQLITE_FULL: Trouble.FULL,
    sqlite3.SQLITE_READONLY: Trouble.READ_ONLY,
    sqlite3.SQLITE_CANTOPEN: Trouble.READ_ONLY,  # cannot create the -wal or -journal file
}
# SQLSTATE classes and codes.
_POSTGRES = {
    "53100": Trouble.FULL,  # disk_full
    "55P03": Trouble.BUSY,  # lock_not_available
    "40001": Trouble.BUSY,  # serialization_failure
    "40P01": Trouble.BUSY,  # deadlock_detected
    "57014": Trouble.BUSY,  # query_canceled (statement or lock timeout)
    "25006": Trouble.READ_ONLY,  # read_only_sql_transaction (a standby)
}


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and the driver errors behind it (as an argument, cause or context)."""
    seen: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if any(current is known for known in seen):
            continue
        seen.append(current)
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
    return seen


def classify(exc: BaseException) -> Trouble:
    """The first recognised trouble anywhere in the chain.

    The whole chain counts: after SQLITE_FULL, SQLite has already rolled the transaction
    back, so the savepoint and transaction rollbacks that follow fail too ("no such
    savepoint") and the error that surfaces is theirs, with the real cause behind it.
    An error that was classified where it happened (in another process, whose chain did not
    come along) carries its trouble's value as `trouble`.
    """
    for error in _chain(exc):
        known = getattr(error, "trouble", None)
        if known in _BY_VALUE:
            return _BY_VALUE[known]
        code = getattr(error, "sqlite_errorcode", None)
        state = getattr(error, "pgcode", None) or getattr(error, "sqlstate", None)
        if isinstance(code, int):
            trouble = _SQLITE.get(code & 0xFF, Trouble.OTHER)
        elif isinstance(state, str):
            trouble = _POSTGRES.get(state, Trouble.OTHER)
        else:
            continue
        if trouble is not Trouble.OTHER:
            return trouble
    return Trouble.OTHER


def read_only_reason(path: Path) -> str | None:
    """Why reports could not be written to the SQLite file at `path`, or None if they can.

    Checked before serving so that a read-only history fails at start-up with one clear
    line, rather than every report later being refused.
    """
    path = path.expanduser()
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is read-only; make it writable or choose another file with --db"
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if folder is not None and not os.access(folder, os.W_OK | os.X_OK):
        return (
            f"the folder {folder} is read-only (SQLite keeps its -wal and -shm files beside "
            f"the database); make it writable or choose another file with --db"
        )
    return None
