"""The `hindsight` command as a user runs it: real processes, real signals."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app import __version__
from app.cli import build_parser
from tests.conftest import post_json

README = Path(__file__).resolve().parents[1] / "README.md"


def _hindsight(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", *args]


def test_version() -> None:
    result = subprocess.run(_hindsight("--version"), capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"hindsight {__version__}"


def test_serve_accepts_db_and_port_like_the_gui() -> None:
    args = build_parser().parse_args(["serve", "--db", "/tmp/h.db", "--port", "9999"])
    assert (args.command, args.db, args.port) == ("serve", "/tmp/h.db", 9999)
    gui = build_parser().parse_args(["--db", "/tmp/h.db"])
    assert gui.command is None and gui.db == "/tmp/h.db"


def _readme_curl_body() -> str:
    """The JSON of the first curl example in the README, exactly as a user would paste it."""
    text = README.read_text()
    block = re.search(r"```(?:sh|bash|console)\n(curl -X POST.*?)```", text, re.S)
    assert block, "README has no curl example"
    words = shlex.split(block.group(1).replace("\\\n", " "))
    return words[words.index("-d") + 1]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serve_stores_the_readme_example_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    db = tmp_path / "x.db"
    process = subprocess.Popen(
        _hindsight("serve", "--db", str(db), "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)/api/executions", first_line)
        assert match, first_line
        status, body, _ = post_json(match.group(1), "/api/executions", _readme_curl_body())
        assert status == 201, body
        stored_id = json.loads(_readme_curl_body())["id"]
        assert body == {"id": stored_id}
        process.send_signal(stop_signal)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out
    from app.store import queries
    from app.store.connection import close_database, open_database

    open_database(db)
    try:
        detail = queries.get_run(stored_id)
        assert detail is not None
        failed = detail.first_failed_node()
        assert failed is not None and failed.error_message
    finally:
        close_database()


def test_serve_reports_an_unusable_database(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("not a database " * 100)
    result = subprocess.run(
        _hindsight("serve", "--db", str(bad), "--port", "0"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "not a usable Hindsight database" in result.stderr
    assert bad.read_text() == "not a database " * 100


def test_bad_port_environment_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HINDSIGHT_PORT", "seventy")
    result = subprocess.run(_hindsight("serve"), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "HINDSIGHT_PORT must be a port number" in result.stderr


def test_serve_stores_into_postgresql_and_never_prints_the_password(postgres_url: str) -> None:
    from urllib.parse import urlsplit

    from app.store import queries
    from app.store.connection import close_database, open_database
    from tests.postgres import with_password

    url = with_password(postgres_url)
    process = subprocess.Popen(
        _hindsight("serve", "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "HINDSIGHT_DB": url},
    )
    try:
        assert process.stdout is not None
        match = re.search(r"(http://127\.0\.0\.1:\d+)/api/executions", process.stdout.readline())
        assert match
        # Read here: communicate() below skips what readline() has already buffered.
        database_line = process.stdout.readline()
        status, body, _ = post_json(match.group(1), "/api/executions", _readme_curl_body())
        assert status == 201, body
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    password = urlsplit(url).password
    assert password and password not in database_line + out + err
    assert database_line.strip() == f"Database: {url.replace(password, '***')}"
    open_database(url)
    try:
        assert queries.get_run(json.loads(_readme_curl_body())["id"]) is not None
    finally:
        close_database()
