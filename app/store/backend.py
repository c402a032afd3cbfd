"""Which database engine the models are bound to, for the few places that differ."""

from __future__ import annotations

from peewee import Database, PostgresqlDatabase

from app.store.models import db


def is_postgres(database: Database | None = None) -> bool:
    """Whether `database` (default: the one the models are bound to) is PostgreSQL."""
    return isinstance(db.obj if database is None else database, PostgresqlDatabase)
