"""Where the database lives and where the receiver listens, from flags, environment, defaults.

Nothing here touches the disk: creating the data directory happens when the store opens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "Hindsight"
# Reverse-DNS id: the .desktop file, AppStream id, icon name and Wayland app id all use it.
APP_ID = "io.github.hindsight.Hindsight"
DEFAULT_PORT = 7341
DEFAULT_HOST = "127.0.0.1"
DB_ENV = "HINDSIGHT_DB"
PORT_ENV = "HINDSIGHT_PORT"
STALE_ENV = "HINDSIGHT_STALE_AFTER"
SPOOL_ENV = "HINDSIGHT_SPOOL_DIR"
DEFAULT_STALE_AFTER_HOURS = 24.0


class ConfigError(ValueError):
    """A flag or environment variable holds a value Hindsight cannot use."""


def user_data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def default_database_path() -> Path:
    return user_data_dir() / "history.db"


def spool_dir() -> Path:
    """Where reporters leave reports they could not deliver (the reporter reads the same)."""
    configured = os.environ.get(SPOOL_ENV)
    return Path(configured).expanduser() if configured else user_data_dir() / "spool"


@dataclass(frozen=True)
class Settings:
    db_path: Path
    host: str
    port: int
    stale_after_hours: float = DEFAULT_STALE_AFTER_HOURS

    @property
    def receiver_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _parse_port(raw: str | int, source: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{source} must be a port number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{source} must be between 0 and 65535, got {port}")
    return port


def _parse_hours(raw: str | float, source: str) -> float:
    try:
        hours = float(raw)
    except ValueError:
        raise ConfigError(f"{source} must be a number of hours, got {raw!r}") from None
    if not hours > 0 or hours == float("inf"):
        raise ConfigError(f"{source} must be a positive number of hours, got {raw!r}")
    return hours


def resolve_settings(
    db: str | None = None, port: int | None = None, stale_after: float | None = None
) -> Settings:
    """Flags win over environment variables, which win over the defaults."""
    env_db = os.environ.get(DB_ENV)
    if db:
        db_path = Path(db)
    elif env_db:
        db_path = Path(env_db)
    else:
        db_path = default_database_path()
    if port is not None:
        resolved_port = _parse_port(port, "--port")
    elif os.environ.get(PORT_ENV):
        resolved_port = _parse_port(os.environ[PORT_ENV], PORT_ENV)
    else:
        resolved_port = DEFAULT_PORT
    if stale_after is not None:
        hours = _parse_hours(stale_after, "--stale-after")
    elif os.environ.get(STALE_ENV):
        hours = _parse_hours(os.environ[STALE_ENV], STALE_ENV)
    else:
        hours = DEFAULT_STALE_AFTER_HOURS
    return Settings(
        db_path=db_path.expanduser(),
        host=DEFAULT_HOST,
        port=resolved_port,
        stale_after_hours=hours,
    )
