"""When the usual start fails: unreadable database, port taken, stored settings."""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Any

import pytest

from app.config import DEFAULT_PORT, Settings, default_database_path
from app.store import queries
from app.ui import app_settings, application
from app.ui.app_settings import RetentionSettings, StoredSettings
from app.ui.startup_problems import DatabaseChoice, free_port_near


def settings_for(path: Path, port: int = 0) -> Settings:
    return Settings(db_path=path, host="127.0.0.1", port=port)


def test_unreadable_database_is_backed_up_and_a_fresh_one_started(
    qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "history.db"
    broken.write_bytes(b"this is not a database" * 100)
    asked: list[str] = []

    def ask(path: Path, problem: str, parent: Any = None) -> DatabaseChoice:
        asked.append(problem)
        return DatabaseChoice.START_FRESH

    monkeypatch.setattr(application, "ask_about_database", ask)
    session = application.open_session(settings_for(broken))
    assert session is not None
    try:
        qtbot.addWidget(session.window)
        assert "not a usable Hindsight database" in asked[0]
        backups = list(tmp_path.glob("history.db.broken-*"))
        assert len(backups) == 1
        assert backups[0].read_bytes().startswith(b"this is not a database")
        assert queries.count_runs() == 0
    finally:
        session.shutdown()


def test_quitting_from_the_database_dialog_touches_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "history.db"
    broken.write_bytes(b"garbage" * 100)
    monkeypatch.setattr(application, "ask_about_database", lambda *a: DatabaseChoice.QUIT)
    assert application.open_session(settings_for(broken)) is None
    assert broken.read_bytes() == b"garbage" * 100
    assert not list(tmp_path.glob("history.db*.broken*"))


def test_port_in_use_offers_a_free_port_and_remembers_it(
    qtbot: Any, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        session = application.DesktopSession(settings_for(db_path, port))
        qtbot.addWidget(session.window)
        try:
            assert session.port_in_use and session.service is None
            offered: list[tuple[int, int | None]] = []

            def ask(busy: int, suggestion: int | None, parent: Any = None) -> int | None:
                offered.append((busy, suggestion))
                return suggestion

            monkeypatch.setattr(application, "ask_about_port", ask)
            application._offer_another_port(session)
            assert offered and offered[0][0] == port and offered[0][1] not in (None, port)
            assert session.service is not None
            assert session.service.receiver.port == offered[0][1]
            assert app_settings.load().port == offered[0][1]
            assert "Receiving on" in session.window.receiver_label.text()
        finally:
            session.shutdown()


def test_free_port_near_skips_a_taken_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with socket.socket() as next_one:
            with contextlib.suppress(OSError):  # taken already: just as good
                next_one.bind(("127.0.0.1", port + 1))
            found = free_port_near(port)
            assert found is not None and found > port + 1


def test_stored_settings_round_trip_and_fill_in_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stored = StoredSettings(
        port=7400,
        database=str(tmp_path / "mine.db"),
        stale_after_hours=3.0,
        retention=RetentionSettings(success_days=7, failure_days=30, keep_last=5, automatic=True),
    )
    app_settings.save(stored)
    assert app_settings.load() == stored
    assert app_settings.settings_path().is_file()

    defaults = Settings(db_path=default_database_path(), host="127.0.0.1", port=DEFAULT_PORT)
    applied = app_settings.apply_stored(defaults, stored)
    assert (applied.port, applied.db_path, applied.stale_after_hours) == (
        7400,
        tmp_path / "mine.db",
        3.0,
    )
    # A flag or variable that chose something else wins over the stored choice.
    flagged = Settings(db_path=tmp_path / "flag.db", host="127.0.0.1", port=9000)
    kept = app_settings.apply_stored(flagged, stored)
    assert (kept.port, kept.db_path) == (9000, tmp_path / "flag.db")
    monkeypatch.setenv("HINDSIGHT_PORT", str(DEFAULT_PORT))
    assert app_settings.apply_stored(defaults, stored).port == DEFAULT_PORT

    rules = stored.retention.policy()
    assert len(rules.rules) == 2 and rules.keep_last == 5
