"""Opening the history on a worker thread at start-up, and the upgrade window a slow open
(a migration) shows meanwhile."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer

from app.config import Settings
from app.store import queries
from app.store.connection import StoreError, open_database
from app.ui import application, database_opening
from app.ui.database_opening import DatabaseOpening
from app.ui.runner import alive
from app.ui.startup_problems import DatabaseChoice
from tests.store.test_migrations import _skeleton_database


class SlowOpen:
    """Opens the real database, but only when the test says so, reporting progress first:
    a migration that takes as long as the test wants, on the same code path."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.thread: str | None = None

    def __call__(self, target: Any, progress: Any = None) -> object:
        self.thread = threading.current_thread().name
        self.started.set()
        progress("Copying node payloads", 0, 4)
        assert self.release.wait(30), "the test never let the open finish"
        progress("Copying node payloads", 3, 4)
        return open_database(target)


def _old_file(path: Path) -> int:
    """A real history written by an older Hindsight (the skeleton's schema 1), so opening it
    runs every migration; returns how many runs it holds."""
    return _skeleton_database(path)["run"]


def test_a_slow_open_shows_the_upgrade_window_with_progress_and_backup(
    qtbot: Any, db_path: Path
) -> None:
    runs = _old_file(db_path)
    slow = SlowOpen()
    opening = DatabaseOpening(db_path, slow, delay_ms=50)
    opening.start()
    qtbot.waitUntil(lambda: opening.window is not None and opening.window.isVisible())
    window = opening.window
    assert window is not None
    assert window.title.text() == "Upgrading your history database…"
    assert str(db_path.resolve()) in window.location.text()
    backup = db_path.resolve().with_name(f"{db_path.name}.v1.bak")
    qtbot.waitUntil(lambda: str(backup) in window.backup.text())
    qtbot.waitUntil(lambda: window.bar.maximum() == 4)
    assert window.step.text() == "Copying node payloads" and window.bar.value() == 0
    assert slow.thread == "hindsight-open-database"  # never the GUI thread
    window.close()  # the user closes it: the upgrade goes on, and so does the window
    assert window.isVisible()

    with qtbot.waitSignal(opening.finished) as finished:
        slow.release.set()
    assert finished.args == [None] and opening.problem is None
    assert opening.window is None
    qtbot.waitUntil(lambda: not alive(window))  # closed and deleted
    assert queries.count_runs() == runs > 0  # migrated, bound and usable from this thread


def test_a_quick_open_never_shows_the_window(qtbot: Any, db_path: Path) -> None:
    opening = DatabaseOpening(db_path)
    with qtbot.waitSignal(opening.finished) as finished:
        opening.start()
    assert finished.args == [None]
    assert opening.window is None
    assert db_path.is_file() and queries.count_runs() == 0


def test_a_failed_open_reports_the_problem_and_closes_the_window(qtbot: Any, db_path: Path) -> None:
    release = threading.Event()

    def broken(target: Any, progress: Any = None) -> object:
        assert release.wait(30)
        raise StoreError(f"{target} is not a usable Hindsight database (file is not a database)")

    opening = DatabaseOpening(db_path, broken, delay_ms=10)
    opening.start()
    qtbot.waitUntil(lambda: opening.window is not None and opening.window.isVisible())
    window = opening.window
    assert window is not None
    with qtbot.waitSignal(opening.finished) as finished:
        release.set()
    assert "not a usable Hindsight database" in finished.args[0]
    qtbot.waitUntil(lambda: not alive(window))


def test_start_up_opens_on_a_worker_then_shows_the_main_window(
    qtbot: Any, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`open_session` (what `run_gui` calls) goes through the worker and the window."""
    slow = SlowOpen()
    monkeypatch.setattr(database_opening, "UPGRADE_WINDOW_DELAY_MS", 20)
    monkeypatch.setattr(database_opening.connection, "open_database", slow)
    seen: list[str] = []

    def watch() -> None:
        # Runs inside open_session's event loop: the GUI thread is not blocked.
        windows = [w for w in application.QApplication.topLevelWidgets() if w.isVisible()]
        upgrade = [w for w in windows if isinstance(w, database_opening.UpgradeWindow)]
        if upgrade:
            seen.append(upgrade[0].title.text())
            slow.release.set()
        else:
            QTimer.singleShot(5, watch)

    QTimer.singleShot(0, watch)
    session = application.open_session(Settings(db_path=db_path, host="127.0.0.1", port=0))
    assert session is not None
    try:
        qtbot.addWidget(session.window)
        assert seen == ["Upgrading your history database…"]
        assert slow.thread == "hindsight-open-database"
        session.window.show()
        qtbot.waitUntil(lambda: session.window.run_list.total is not None)
        assert session.window.run_list.total == 0
    finally:
        session.shutdown()


def test_start_up_problem_goes_to_the_database_dialog(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(target: Any, progress: Any = None) -> object:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(database_opening.connection, "open_database", denied)
    asked: list[str] = []

    def ask(path: Path, problem: str, parent: Any = None) -> DatabaseChoice:
        asked.append(problem)
        return DatabaseChoice.QUIT

    monkeypatch.setattr(application, "ask_about_database", ask)
    assert application.open_session(Settings(db_path=db_path, host="127.0.0.1", port=0)) is None
    assert asked == ["PermissionError: [Errno 13] Permission denied"]
