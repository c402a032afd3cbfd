"""Starting the desktop app: database, receiver thread, main window — and the dialogs that
explain what went wrong when one of them cannot start, instead of a traceback."""

from __future__ import annotations

import logging
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.config import APP_NAME, Settings, spool_dir
from app.ingest.service import IngestService
from app.store.connection import StoreError, close_database, open_database
from app.ui import app_settings
from app.ui.app_settings import StoredSettings
from app.ui.main_window import MainWindow
from app.ui.startup_problems import (
    DatabaseChoice,
    ask_about_database,
    ask_about_port,
    backup_broken_database,
    choose_database_file,
    free_port_near,
)

log = logging.getLogger(__name__)
RETENTION_INTERVAL_MS = 24 * 3_600_000


class _CommitBridge(QObject):
    """Carries "these runs were stored" from the writer thread to the GUI thread."""

    committed = Signal(list)


class DesktopSession:
    """An open history: the database, the receiver thread and the window showing it."""

    def __init__(self, settings: Settings) -> None:
        open_database(settings.db_path)
        self.settings = settings
        self._bridge = _CommitBridge()
        self.service: IngestService | None = None
        self.receiver_problem: str | None = None
        self.port_in_use = False
        self._start_receiver(settings)
        self.window = MainWindow(
            str(settings.db_path),
            self.service.url if self.service else None,
            receiver_problem=self.receiver_problem,
        )
        self.window.settings = settings
        self._bridge.committed.connect(self.window.on_runs_committed)
        self.window.settingsChanged.connect(self.apply_settings)

    def _start_receiver(self, settings: Settings) -> None:
        service = IngestService(
            settings.host,
            settings.port,
            on_committed=self._bridge.committed.emit,
            stale_after_hours=settings.stale_after_hours,
            spool=spool_dir(),
        )
        try:
            service.start()
        except OSError as exc:
            self.service = None
            self.port_in_use = True
            self.receiver_problem = (
                f"cannot listen on {settings.receiver_url} ({exc.strerror}); "
                "is another Hindsight running?"
            )
            return
        self.service = service
        self.port_in_use = False
        self.receiver_problem = None

    def restart_receiver(self, settings: Settings) -> bool:
        """Listen with new settings (port, stale timeout); True when it is receiving."""
        if self.service is not None:
            self.service.stop()
            self.service = None
        self.settings = settings
        self.window.settings = settings
        self._start_receiver(settings)
        self.window.set_receiver(self.service.url if self.service else None, self.receiver_problem)
        return self.service is not None

    def apply_settings(self, stored: StoredSettings) -> None:
        wanted = replace(
            self.settings,
            port=stored.port or self.settings.port,
            stale_after_hours=stored.stale_after_hours or self.settings.stale_after_hours,
        )
        changed = (wanted.port, wanted.stale_after_hours) != (
            self.settings.port,
            self.settings.stale_after_hours,
        )
        if (changed or self.service is None) and not self.restart_receiver(wanted):
            QMessageBox.warning(
                self.window,
                "Port already in use",
                f"Hindsight cannot receive on port {wanted.port}: another program uses "
                "it. Choose another port in Settings.",
            )
        if stored.database and Path(stored.database).expanduser() != self.settings.db_path:
            self.window.statusBar().showMessage(
                "The new database is used when Hindsight starts again.", 10_000
            )

    def shutdown(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None
        self.window.history.jobs.wait_for_done()
        self.window.run_list.wait_for_done()
        self.window.queries.wait_for_done()
        close_database()


def _application() -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    return app


def _show_unexpected_error(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """A bug must not pass silently nor kill the window: log it and say so plainly."""
    log.error("unexpected error:\n%s", "".join(traceback.format_exception(kind, error, trace)))
    if QApplication.instance() is None:
        return
    box = QMessageBox(
        QMessageBox.Icon.Critical, "Something went wrong", str(error) or kind.__name__
    )
    box.setInformativeText(
        "Hindsight hit an unexpected problem and kept running. Your stored history is not "
        "affected. If it happens again, please report it with the details below."
    )
    box.setDetailedText("".join(traceback.format_exception(kind, error, trace)))
    box.exec()


def open_session(settings: Settings) -> DesktopSession | None:
    """Open the history, offering a way out when the database cannot be opened."""
    while True:
        try:
            return DesktopSession(settings)
        except StoreError as exc:
            close_database()
            choice = ask_about_database(settings.db_path, str(exc))
        except Exception as exc:  # a URL the store cannot use, a permission problem, …
            close_database()
            choice = ask_about_database(settings.db_path, f"{type(exc).__name__}: {exc}")
        if choice is DatabaseChoice.QUIT:
            return None
        if choice is DatabaseChoice.START_FRESH:
            try:
                backup = backup_broken_database(settings.db_path)
            except OSError as exc:
                QMessageBox.critical(
                    None,
                    "Cannot move the file aside",
                    f"{settings.db_path} could not be renamed: {exc.strerror}. "
                    "Choose another file instead.",
                )
                continue
            log.warning("moved the unreadable database to %s", backup)
            continue
        chosen = choose_database_file(settings.db_path)
        if chosen is None:
            return None
        settings = replace(settings, db_path=chosen)
        app_settings.save(replace(app_settings.load(), database=str(chosen)))


def _offer_another_port(session: DesktopSession) -> None:
    settings = session.settings
    port = ask_about_port(settings.port, free_port_near(settings.port), session.window)
    if port is not None and session.restart_receiver(replace(settings, port=port)):
        app_settings.save(replace(app_settings.load(), port=port))
        session.window.statusBar().showMessage(
            f"Receiving on port {port} from now on (change it in Settings).", 10_000
        )


def _schedule_retention(session: DesktopSession) -> None:
    def apply() -> None:
        rules = app_settings.load().retention
        if rules.automatic and rules.enabled:
            session.window.history.apply_retention(rules.policy())

    timer = QTimer(session.window)
    timer.setInterval(RETENTION_INTERVAL_MS)
    timer.timeout.connect(apply)
    timer.start()
    QTimer.singleShot(5_000, session.window, apply)  # after the first page is on screen


def run_gui(settings: Settings) -> int:
    app = _application()
    sys.excepthook = _show_unexpected_error
    settings = app_settings.apply_stored(settings, app_settings.load())
    session = open_session(settings)
    if session is None:
        return 1
    session.window.show()
    if session.port_in_use:
        QTimer.singleShot(0, session.window, lambda: _offer_another_port(session))
    _schedule_retention(session)
    try:
        return app.exec()
    finally:
        session.shutdown()
