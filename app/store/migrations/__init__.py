"""Ordered schema migrations: `STEPS[n]` upgrades a database from version n to n + 1.

Each step uses frozen table definitions of its own, never the current models, so that a
later change to a model cannot change what an old migration does.
"""

from __future__ import annotations

from collections.abc import Callable

from peewee import Database

from app.store.migrations import v1_to_v2, v2_to_v3

STEPS: dict[int, Callable[[Database], None]] = {
    1: v1_to_v2.upgrade,
    2: v2_to_v3.upgrade,
}
