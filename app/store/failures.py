"""What kind of database trouble an error is, so callers can say something useful.

peewee wraps the driver's exception and keeps it as the first argument. SQLite's result codes
(Python 3.11+ exposes them as `sqlite_errorcode`) and PostgreSQL's SQLSTATE (`pgcode`,
`sqlstate`) tell locked, full and read-only apart without matching message text.
"""

from __future__ import annotations

import enum
import sqlite3


class Trouble(enum.Enum):
    BUSY = "busy"  # another process holds the write lock past the busy timeout
    FULL = "full"  # the disk (or the database's size limit) is full
    READ_ONLY = "read-only"  # the file, its folder or the server refuses writes
    OTHER = "other"


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


def _driver_error(exc: BaseException) -> BaseException:
    if exc.args and isinstance(exc.args[0], BaseException):
        return exc.args[0]
    return exc.__cause__ or exc


def classify(exc: BaseException) -> Trouble:
    driver = _driver_error(exc)
    code = getattr(driver, "sqlite_errorcode", None)
    if isinstance(code, int):
        return _SQLITE.get(code & 0xFF, Trouble.OTHER)
    state = getattr(driver, "pgcode", None) or getattr(driver, "sqlstate", None)
    if isinstance(state, str):
        return _POSTGRES.get(state, Trouble.OTHER)
    return Trouble.OTHER
