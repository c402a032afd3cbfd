"""Starting the desktop app: database, receiver thread, main window."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.config import APP_NAME, Settings, spool_dir
from app.ingest.service import IngestService
from app.store.connection import StoreError, close_database, open_database
from app.ui.main_window import MainWindow


class _CommitBridge(QObject):
    """Carries "these runs were stored" from the writer thread to the GUI thread."""

    committed = Signal(list)


class DesktopSession:
    """An open history: the database, the receiver thread and the window showing it."""

    def __init__(self, settings: Settings) -> None:
        open_database(settings.db_path)
        self._bridge = _CommitBridge()
        self.service: IngestService | None = IngestService(
            settings.host,
            settings.port,
            on_committed=self._bridge.committed.emit,
            stale_after_hours=settings.stale_after_hours,
            spool=spool_dir(),
        )
        problem = None
        try:
            self.service.start()
        except OSError as exc:
            self.service = None
            problem = (
                f"cannot listen on {settings.receiver_url} ({exc.strerror}); "
                "is another Hindsight running?"
            )
        self.window = MainWindow(
            settings.database_label,
            self.service.url if self.service else None,
            receiver_problem=problem,
        )
        self._bridge.committed.connect(self.window.on_runs_committed)

    def shutdown(self) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None
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


def run_gui(settings: Settings) -> int:
    app = _application()
    try:
        session = DesktopSession(settings)
    except StoreError as exc:
        QMessageBox.critical(None, "Hindsight cannot open its history", str(exc))
        return 1
    session.window.show()
    try:
        return app.exec()
    finally:
        session.shutdown()
