"""Opening the history at start-up without freezing: the database is opened (and migrated,
which can take minutes on a big file) on a worker thread while the GUI thread keeps
painting; if it takes longer than a moment, a small window says what is happening, how far
it is and where the copy of the old file is kept."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from app.config import DatabaseTarget, is_postgres_url
from app.store import connection
from app.store.connection import StoreError, close_database
from app.store.models import SchemaInfo
from app.store.schema import SCHEMA_VERSION, backup_path

log = logging.getLogger(__name__)

# Opening an up-to-date file takes a few milliseconds; only a slower one (a migration, new
# indexes on a big file) gets the window, so a normal start never flashes it.
UPGRADE_WINDOW_DELAY_MS = 300

Opener = Callable[..., object]  # open_database(target, progress=...)


def _pending_backup(target: DatabaseTarget) -> Path | None:
    """The copy a migration of this SQLite file will make, if it needs one (read-only)."""
    if is_postgres_url(target):
        return None  # a server is backed up with its own tools
    path = Path(target).expanduser().resolve()
    if not path.is_file():
        return None
    table = SchemaInfo._meta.table_name
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as probe:
            row = probe.execute(
                f'SELECT value FROM "{table}" WHERE key = ?', ("schema_version",)
            ).fetchone()
        probe.close()
    except sqlite3.Error:
        return None  # not readable here: opening it will say why
    if row is None or int(row[0]) >= SCHEMA_VERSION:
        return None
    return backup_path(path, int(row[0]))


class UpgradeWindow(QWidget):
    """Says "Upgrading your history database…", with a progress bar and the backup's path."""

    def __init__(self, target: DatabaseTarget, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Dialog)
        self.setWindowTitle("Hindsight")
        self.title = _plain("Upgrading your history database…")
        self.title.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.location = _plain(str(target))
        self.location.setStyleSheet("color: #757575;")
        self.step = _plain("Working…")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the first progress report
        self.bar.setTextVisible(True)
        self.backup = _plain("")
        self.backup.setWordWrap(True)
        self.backup.hide()
        self.note = _plain(
            "This happens once after an update and can take a few minutes for a large "
            "history. Hindsight opens when it is done."
        )
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 18)
        layout.setSpacing(8)
        for widget in (self.title, self.location, self.step, self.bar, self.backup, self.note):
            layout.addWidget(widget)
        self.setMinimumWidth(460)
        self.finished = False  # set by DatabaseOpening once the open is over

    def closeEvent(self, event: QCloseEvent) -> None:
        # Stopping a migration half-way helps nobody (each step is one transaction; the
        # next start would redo it): the window stays until the database is open.
        if self.finished:
            super().closeEvent(event)
        else:
            event.ignore()

    def set_backup(self, path: Path) -> None:
        self.backup.setText(f"A copy of the file as it was is kept at:\n{path}")
        self.backup.setToolTip(str(path))
        self.backup.show()

    def set_progress(self, message: str, done: int, total: int) -> None:
        if message:
            self.step.setText(message)
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)


def _plain(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class DatabaseOpening(QObject):
    """Opens `target` on a worker thread. `finished` carries None once the store is bound,
    or the problem (plain text) for the start-up problems dialog.

    The worker only talks to the GUI thread through these signals (queued by Qt); it closes
    its own connection when done, so the pool threads and the GUI thread open theirs.
    """

    progress = Signal(str, int, int)  # message, done, total: from the migration
    backupKnown = Signal(object)  # Path of the copy a migration makes
    finished = Signal(object)  # None, or the problem as text

    def __init__(
        self,
        target: DatabaseTarget,
        opener: Opener | None = None,
        delay_ms: int | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.target = target
        self._opener = opener
        self.window: UpgradeWindow | None = None
        self.problem: str | None = None
        self.done = False
        self._thread: threading.Thread | None = None
        self._backup: Path | None = None
        self._last_progress: tuple[str, int, int] | None = None  # for a window shown later
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(UPGRADE_WINDOW_DELAY_MS if delay_ms is None else delay_ms)
        self._timer.timeout.connect(self._show_window)
        self.progress.connect(self._on_progress)
        self.backupKnown.connect(self._on_backup)
        self.finished.connect(self._on_finished)

    def start(self) -> None:
        self._timer.start()
        self._thread = threading.Thread(
            target=self._open, name="hindsight-open-database", daemon=True
        )
        self._thread.start()

    def _open(self) -> None:  # on the worker thread
        problem: str | None = None
        try:
            backup = _pending_backup(self.target)
            if backup is not None:
                self.backupKnown.emit(backup)
            opener = self._opener or connection.open_database
            opener(self.target, progress=self.progress.emit)
        except StoreError as exc:
            problem = str(exc)
        except Exception as exc:  # a URL the store cannot use, a permission problem, …
            log.exception("opening %s failed", self.target)
            problem = f"{type(exc).__name__}: {exc}"
        finally:
            close_database()  # this thread's connection; the others open their own
        self.finished.emit(problem)

    # -- on the GUI thread -----------------------------------------------------------------
    def _show_window(self) -> None:
        if self.done:
            return
        self.window = UpgradeWindow(self.target)
        if self._backup is not None:
            self.window.set_backup(self._backup)
        if self._last_progress is not None:
            self.window.set_progress(*self._last_progress)
        self.window.adjustSize()
        screen = self.window.screen().availableGeometry()
        self.window.move(screen.center() - self.window.rect().center())
        self.window.show()

    def _on_backup(self, path: Path) -> None:
        self._backup = path
        if self.window is not None:
            self.window.set_backup(path)

    def _on_progress(self, message: str, done: int, total: int) -> None:
        self._last_progress = (message, done, total)
        if self.window is not None:
            self.window.set_progress(message, done, total)

    def _on_finished(self, problem: str | None) -> None:
        self._timer.stop()
        if self._thread is not None:
            self._thread.join()  # it has emitted its last signal: returns at once
        self.problem = problem
        self.done = True
        if self.window is not None:
            self.window.finished = True
            self.window.close()
            self.window.deleteLater()
            self.window = None


def open_in_background(target: DatabaseTarget, opener: Opener | None = None) -> str | None:
    """Open the history on a worker thread while the GUI thread keeps running its events
    (and shows the upgrade window if it takes a while); None once open, else the problem."""
    opening = DatabaseOpening(target, opener)
    loop = QEventLoop()
    opening.finished.connect(lambda _problem: loop.quit())
    opening.start()
    loop.exec()
    opening.deleteLater()
    return opening.problem
