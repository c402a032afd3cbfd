"""Ordered schema migrations: `STEPS[n]` upgrades a database from version n to n + 1.

Each step uses frozen table definitions of its own, never the current models, so that a
later change to a model cannot change what an old migration does. Every step gets the
migration's `MigrationProgress` (the early, quick ones ignore it).
"""

from __future__ import annotations

from collections.abc import Callable

from peewee import Database

from app.store.migrations import v1_to_v2, v2_to_v3, v3_to_v4
from app.store.migrations.progress import MigrationProgress

STEPS: dict[int, Callable[[Database, MigrationProgress], None]] = {
    1: lambda database, _: v1_to_v2.upgrade(database),
    2: lambda database, _: v2_to_v3.upgrade(database),
    3: v3_to_v4.upgrade,
}
