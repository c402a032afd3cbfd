"""What the desktop app remembers between sessions: the user's settings (port, database,
stale-run timeout, retention) and the window's layout.

Stored with QSettings in an INI file in the user config folder, so it reads the same on
every platform, can be inspected by hand, and follows XDG_CONFIG_HOME (tests get their
own file by pointing it elsewhere).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import platformdirs
from PySide6.QtCore import QSettings

from app.config import (
    APP_NAME,
    DB_ENV,
    DEFAULT_PORT,
    PORT_ENV,
    STALE_ENV,
    Settings,
    default_database_path,
)
from app.store.retention import AgeRule, RetentionPolicy
from app.store.status import Status


def settings_path() -> Path:
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "hindsight.ini"


def qsettings() -> QSettings:
    return QSettings(str(settings_path()), QSettings.Format.IniFormat)


@dataclass(frozen=True)
class RetentionSettings:
    """Days to keep successes and failures (0: forever), and the newest runs per workflow
    that are always kept; `automatic` applies it at start-up and once a day."""

    success_days: int = 0
    failure_days: int = 0
    other_days: int = 0
    keep_last: int = 10
    automatic: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.success_days or self.failure_days or self.other_days)

    def policy(self) -> RetentionPolicy:
        rules = []
        if self.success_days:
            rules.append(AgeRule.days(self.success_days, Status.SUCCESS))
        if self.failure_days:
            rules.append(AgeRule.days(self.failure_days, Status.ERROR, Status.INTERRUPTED))
        if self.other_days:
            others = set(Status) - {
                Status.SUCCESS,
                Status.ERROR,
                Status.INTERRUPTED,
                Status.RUNNING,
            }
            rules.append(AgeRule.days(self.other_days, *sorted(others)))
        return RetentionPolicy(tuple(rules), keep_last=self.keep_last)


@dataclass(frozen=True)
class StoredSettings:
    port: int | None = None  # None: the built-in default
    database: str | None = None  # a SQLite path or a database URL
    stale_after_hours: float | None = None
    retention: RetentionSettings = RetentionSettings()


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def load() -> StoredSettings:
    store = qsettings()
    port = store.value("receiver/port")
    database = store.value("database/location")
    stale = store.value("receiver/staleAfterHours")
    try:
        stale_hours = float(str(stale)) if stale not in (None, "") else None
    except ValueError:
        stale_hours = None
    defaults = RetentionSettings()
    retention = RetentionSettings(
        success_days=_int(store.value("retention/successDays"), defaults.success_days),
        failure_days=_int(store.value("retention/failureDays"), defaults.failure_days),
        other_days=_int(store.value("retention/otherDays"), defaults.other_days),
        keep_last=_int(store.value("retention/keepLast"), defaults.keep_last),
        automatic=str(store.value("retention/automatic", "false")).lower() == "true",
    )
    return StoredSettings(
        port=_int(port, DEFAULT_PORT) if port not in (None, "") else None,
        database=str(database) if database else None,
        stale_after_hours=stale_hours,
        retention=retention,
    )


def save(stored: StoredSettings) -> None:
    store = qsettings()
    for key, value in (
        ("receiver/port", stored.port),
        ("database/location", stored.database),
        ("receiver/staleAfterHours", stored.stale_after_hours),
    ):
        if value is None:
            store.remove(key)
        else:
            store.setValue(key, value)
    save_retention(stored.retention, store)
    store.sync()


def save_retention(retention: RetentionSettings, store: QSettings | None = None) -> None:
    target = store or qsettings()
    target.setValue("retention/successDays", retention.success_days)
    target.setValue("retention/failureDays", retention.failure_days)
    target.setValue("retention/otherDays", retention.other_days)
    target.setValue("retention/keepLast", retention.keep_last)
    target.setValue("retention/automatic", "true" if retention.automatic else "false")
    target.sync()


def apply_stored(settings: Settings, stored: StoredSettings) -> Settings:
    """Stored choices fill in what neither a flag nor an environment variable decided.

    A flag that equals the built-in default cannot be told apart from no flag; it loses
    to a stored choice, which is what the user last picked in the Settings dialog.
    """
    changes: dict[str, object] = {}
    if stored.port is not None and settings.port == DEFAULT_PORT and not os.environ.get(PORT_ENV):
        changes["port"] = stored.port
    if (
        stored.database
        and "://" not in stored.database  # database URLs are opened by the store's URL support
        and settings.db_path == default_database_path()
        and not os.environ.get(DB_ENV)
    ):
        changes["db_path"] = Path(stored.database).expanduser()
    if stored.stale_after_hours and not os.environ.get(STALE_ENV):
        from app.config import DEFAULT_STALE_AFTER_HOURS

        if settings.stale_after_hours == DEFAULT_STALE_AFTER_HOURS:
            changes["stale_after_hours"] = stored.stale_after_hours
    return replace(settings, **changes)  # type: ignore[arg-type]
