"""Opening the history for a command: reading needs an existing file, writing may create it."""

from __future__ import annotations

from pathlib import Path

from app.commands.errors import CommandFailed, UsageError
from app.config import DB_ENV
from app.store.connection import StoreError, open_database


def open_existing(path: Path | str) -> None:
    """Open a history that must already exist: a typo in --db must not create an empty file.

    A PostgreSQL URL names a server database, which must exist already anyway.
    """
    if isinstance(path, Path) and not path.expanduser().exists():
        raise UsageError(
            f"no history database at {path}; choose one with --db or ${DB_ENV} "
            "(`hindsight demo` fills one with sample runs)"
        )
    open_or_create(path)


def open_or_create(path: Path | str) -> None:
    try:
        open_database(path)
    except StoreError as exc:
        raise CommandFailed(str(exc)) from None
