"""A PostgreSQL server for the tests and the benchmarks, and a fresh database on it.

`HINDSIGHT_TEST_PG_URL` names a server to use (a URL whose user may CREATE DATABASE; `.ci/run`
sets it up). Without it, a private throw-away server is started from the PostgreSQL
binaries on this machine (initdb into a temporary folder, on a free loopback port, run as
the `postgres` user when we are root, since PostgreSQL refuses to run as root) and stopped
again when the caller is done.

    with postgres_server() as server_url:
        with fresh_database(server_url) as url:   # CREATE DATABASE ... / DROP DATABASE
            open_database(url)
            ...
            empty_database(url)                   # as new again, for the next test
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PG_URL_ENV = "HINDSIGHT_TEST_PG_URL"
_names = itertools.count(1)


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be had; the message says why."""


def _binary(name: str) -> str | None:
    """A server binary: Debian keeps them in /usr/lib/postgresql/N/bin, off the PATH."""
    versioned = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return versioned[-1] if versioned else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _private_server() -> Iterator[str]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise PostgresUnavailable(
            f"no PostgreSQL server: {PG_URL_ENV} is not set and initdb/pg_ctl are not "
            "installed (apt-get install postgresql)"
        )
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable(
                f"{PG_URL_ENV} is not set and PostgreSQL cannot run as root; "
                "there is no 'postgres' user to run a private server as"
            ) from None
        run_as = ["runuser", "-u", "postgres", "--"]
    home = Path(tempfile.mkdtemp(prefix="hindsight-pg-"))
    if owner is not None:
        os.chown(home, owner.pw_uid, owner.pw_gid)
    data, port = home / "data", _free_port()
    try:
        subprocess.run(
            [*run_as, initdb, "-D", str(data), "-U", "postgres", "-A", "trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        # A throw-away server: durability settings off, so each test's commits cost nothing.
        options = (
            f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-l", str(home / "server.log"), "-w",
             "-o", options, "start"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        log = home / "server.log"
        detail = (exc.stderr or exc.stdout or "").strip()
        if log.exists():
            detail += "\n" + log.read_text(errors="replace")[-2000:]
        shutil.rmtree(home, ignore_errors=True)
        raise PostgresUnavailable(f"could not start a private PostgreSQL server: {detail}") from exc
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A URL of a server whose user may create databases; raises PostgresUnavailable."""
    configured = os.environ.get(PG_URL_ENV)
    if configured:
        _check_reachable(configured)
        yield configured
        return
    with _private_server() as url:
        yield url


def _check_reachable(url: str) -> None:
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=10).close()
    except psycopg.Error as exc:
        raise PostgresUnavailable(f"{PG_URL_ENV} names a server that refuses: {exc}") from exc


def with_password(url: str, password: str = "topsecret") -> str:
    """The URL with a password in it, unless it has one: a trust-auth test server ignores
    it, and tests check that it is never shown."""
    parts = urlsplit(url)
    if parts.password is not None:
        return url
    netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def with_database(url: str, name: str) -> str:
    """The same server URL, naming another database."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new empty database (its URL), dropped afterwards with any connection still on it.

    Creating a database costs a few hundred ms on a server that syncs to disk, so tests
    create one per session and `empty_database` it before each test.
    """
    import psycopg

    name = f"hindsight_test_{os.getpid()}_{next(_names)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    try:
        yield with_database(server_url, name)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _end_other_sessions(admin: Any) -> None:
    """End our own role's other connections to this database (a previous test's threads).
    Only client backends of our role: autovacuum workers are the server's, and ending
    them needs a superuser."""
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND usename = current_user AND backend_type = 'client backend'"
    )


def empty_history(url: str, tables: set[str], version: int) -> None:
    """Like `empty_database`, but when the database holds exactly a history of this schema
    version (the previous test's), delete its rows instead and restart its sequences: the
    same result for ~10 ms, where recreating the schema (or TRUNCATE, which makes new files)
    costs 100-200 ms on a server that syncs to disk."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        _end_other_sessions(admin)
        present = {
            row[0]
            for row in admin.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        if present == tables:
            stored = admin.execute(
                "SELECT value FROM hindsight_schema WHERE key = 'schema_version'"
            ).fetchone()
            if stored is not None and stored[0] == str(version):
                with admin.transaction():
                    for table in sorted(tables - {"hindsight_schema"}):
                        admin.execute(f'DELETE FROM "{table}"')
                    sequences = admin.execute(
                        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
                    ).fetchall()
                    for (sequence,) in sequences:
                        admin.execute(f'ALTER SEQUENCE "{sequence}" RESTART')
                return
    empty_database(url)


def empty_database(url: str) -> None:
    """Make the database at `url` empty again, as a new one would be: end other sessions on
    it (a previous test's threads), then drop and recreate the public schema."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        _end_other_sessions(admin)
        admin.execute("DROP SCHEMA IF EXISTS public CASCADE")
        admin.execute("CREATE SCHEMA public")
