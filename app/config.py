"""Where the database lives and where the receiver listens, from flags, environment, defaults.

The database is a SQLite file path or a PostgreSQL URL. Nothing here touches the disk or
the network: creating the data directory or connecting happens when the store opens.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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
POSTGRES_SCHEMES = ("postgresql", "postgres")

# A SQLite file, or a PostgreSQL URL kept as the text the user gave.
DatabaseTarget = Path | str


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


def is_postgres_url(target: DatabaseTarget) -> bool:
    return isinstance(target, str) and urlsplit(target).scheme.lower() in POSTGRES_SCHEMES


def database_target(raw: str, source: str) -> DatabaseTarget:
    """A `--db`/`HINDSIGHT_DB` value as a PostgreSQL URL or an expanded file path."""
    if "://" in raw:
        if not is_postgres_url(raw):
            raise ConfigError(
                f"{source} must be a file path or a postgresql:// URL, got {describe_database(raw)}"
            )
        return raw
    return Path(raw).expanduser()


def describe_database(target: DatabaseTarget) -> str:
    """The target as shown to people and written to logs: a URL without its password."""
    if isinstance(target, Path) or "://" not in target:
        return str(target)
    parts = urlsplit(target)
    if parts.password is None:
        return target
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Settings:
    # The name predates PostgreSQL support; it holds a file path or a postgresql:// URL.
    db_path: DatabaseTarget
    host: str
    port: int
    stale_after_hours: float = DEFAULT_STALE_AFTER_HOURS

    @property
    def database_label(self) -> str:
        return describe_database(self.db_path)

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
    db_path: DatabaseTarget
    if db:
        db_path = database_target(db, "--db")
    elif env_db:
        db_path = database_target(env_db, DB_ENV)
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
        db_path=db_path,
        host=DEFAULT_HOST,
        port=resolved_port,
        stale_after_hours=hours,
    )
