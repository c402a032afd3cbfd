"""Shared fixtures: every test gets its own data directory and database (a SQLite file, or
an empty PostgreSQL database for the `postgresql` variant of store tests)."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from app.ui.application import DesktopSession

# Tests never need a screen; set before Qt is imported by pytest-qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every per-user folder into tmp_path so no test touches the real data directory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("HINDSIGHT_DB", raising=False)
    monkeypatch.delenv("HINDSIGHT_PORT", raising=False)
    return home


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a receiver, writer or query thread running."""
    before = set(threading.enumerate())
    yield
    leaked = [
        t for t in threading.enumerate() if t not in before and t.name.startswith("hindsight-")
    ]
    for thread in leaked:
        thread.join(timeout=5)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"threads left running: {still}"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "history.db"


@pytest.fixture
def session(qtbot: Any, db_path: Path) -> Iterator[DesktopSession]:
    """The desktop app on a fresh file, its receiver on a free port, the window shown."""
    from app.config import Settings
    from app.ui.application import DesktopSession

    desktop = DesktopSession(Settings(db_path=db_path, host="127.0.0.1", port=0))
    qtbot.addWidget(desktop.window)
    desktop.window.show()
    yield desktop
    desktop.shutdown()


BACKENDS = ("sqlite", "postgresql")


# The store and the receiver (with its read API) hold every backend-specific line; the GUI,
# the CLI and the reliability tests drive them through the same functions, so they run on
# the default SQLite file only.
BOTH_BACKENDS_UNDER = ("store", "ingest")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every store and ingest test using the `database` fixture runs on SQLite and on
    PostgreSQL, unless it is marked `sqlite_only` (file backup, WAL, FTS5 syntax, the v1
    migration, a full disk)."""
    if "backend" in metafunc.fixturenames:
        folder = metafunc.definition.path.parent.name
        sqlite_only = (
            metafunc.definition.get_closest_marker("sqlite_only") is not None
            or folder not in BOTH_BACKENDS_UNDER
        )
        metafunc.parametrize("backend", BACKENDS[:1] if sqlite_only else BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A PostgreSQL server for the whole session (tests/postgres.py says where from).

    Without one the PostgreSQL tests skip, saying why; on CI (CI set) they fail instead, so
    a CI machine without a server can never pass by skipping them.
    """
    from tests.postgres import PostgresUnavailable, postgres_server

    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs PostgreSQL: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL server: {exc}")


@pytest.fixture(scope="session")
def postgres_session_database(postgres_server_url: str) -> Iterator[str]:
    from tests.postgres import fresh_database

    with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_session_database: str) -> str:
    """The URL of an empty PostgreSQL database (emptied for this test), not opened yet."""
    from tests.postgres import empty_database

    empty_database(postgres_session_database)
    return postgres_session_database


@pytest.fixture
def database(backend: str, db_path: Path, request: pytest.FixtureRequest) -> Iterator[Path | str]:
    """An open, empty history: a SQLite file, or a fresh PostgreSQL database (its URL)."""
    from app.store.connection import close_database, open_database

    if backend == "sqlite":
        open_database(db_path)
        yield db_path
        close_database()
        return
    from app.store.models import ALL_MODELS
    from app.store.schema import SCHEMA_VERSION
    from app.store.search_pg import SEARCH_TABLE
    from tests.postgres import empty_history

    url = request.getfixturevalue("postgres_session_database")
    tables = {model._meta.table_name for model in ALL_MODELS} | {SEARCH_TABLE}
    empty_history(url, tables, SCHEMA_VERSION)
    open_database(url)
    yield url
    close_database()
    # Every thread closes its own connection when done: one left open lingers in peewee's
    # thread-local storage until garbage collection, and psycopg then warns at random.
    from app.store.connection import threads_connected

    assert not threads_connected(), f"PostgreSQL connections left open on {threads_connected()}"


@pytest.fixture
def ingest(database: Path | str) -> Iterator[Any]:
    """A started receiver on a free loopback port, writing to the test database."""
    from app.ingest.service import IngestService

    service = IngestService("127.0.0.1", 0)
    service.start()
    yield service
    service.stop()


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll a condition that has no signal to wait on (another process, a background
    thread's effect on the database); True once it holds, False at the timeout."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.02)
    return True


def post_json(
    url: str,
    path: str,
    body: bytes | str | Any,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, dict[str, Any], http.client.HTTPResponse]:
    """Send one request over a real socket; return status, decoded JSON body and response."""
    host, port = url.removeprefix("http://").split(":")
    if isinstance(body, str):
        data = body.encode()
    elif isinstance(body, bytes):
        data = body
    else:
        data = json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"}
    all_headers.update(headers or {})
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw else {}), response
    finally:
        connection.close()


def make_report(run_id: str = "run-1", status: str = "error", **overrides: Any) -> dict[str, Any]:
    """A report in the shape the seed's generated Python sends."""
    report: dict[str, Any] = {
        "id": run_id,
        "workflowId": "wf-1",
        "workflowName": "Invoice triage",
        "status": status,
        "startedAt": "2026-11-22T09:00:00Z",
        "completedAt": "2026-11-22T09:00:02.500Z",
        "trigger": {"type": "http", "data": {"invoice": 42}},
        "nodeExecutions": [
            {
                "nodeId": "fetch",
                "nodeName": "Fetch",
                "nodeType": "http",
                "status": "success",
                "startedAt": "2026-11-22T09:00:00Z",
                "completedAt": "2026-11-22T09:00:01Z",
                "input": {"url": "https://example.invalid/invoices/42"},
                "output": {"total": "19.99", "lines": [1, 2, 3]},
            },
            {
                "nodeId": "parse",
                "nodeName": "Parse total",
                "nodeType": "code",
                "status": status,
                "durationMs": 12,
                "input": {"total": "19.99"},
                **(
                    {"error": {"message": "ValueError: bad total", "stack": "Traceback ...\n  x"}}
                    if status == "error"
                    else {"output": 19.99}
                ),
            },
        ],
    }
    if status == "error":
        report["error"] = {"message": "ValueError: bad total", "nodeId": "parse"}
    report.update(overrides)
    return report
