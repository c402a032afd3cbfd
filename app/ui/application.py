"""Starting the desktop app: one instance per database, then database, receiver and window."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QMessageBox

from app import __version__
from app.config import APP_ID, APP_NAME, Settings, spool_dir
from app.ingest.service import IngestService
from app.store.connection import StoreError, close_database, open_database
from app.ui.icons import app_icon
from app.ui.main_window import MainWindow
from app.ui.single_instance import InstanceError, SingleInstance, bring_to_front


class _CommitBridge(QObject):
    """Carries "these runs were stored" from the writer thread to the GUI thread."""

    committed = Signal(list)


class DesktopSession:
    """An open history: the database, the receiver thread and the window showing it."""

    def __init__(self, settings: Settings, spool: Path | None = None) -> None:
        open_database(settings.db_path)
        self._bridge = _CommitBridge()
        self.service: IngestService | None = IngestService(
            settings.host,
            settings.port,
            on_committed=self._bridge.committed.emit,
            stale_after_hours=settings.stale_after_hours,
            spool=spool if spool is not None else spool_dir(),
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
        receiver_url = self.service.url if self.service else None
        self.window = MainWindow(settings.database_label, receiver_url, receiver_problem=problem)
        self.window.setWindowIcon(app_icon())
        self.window.empty_state.set_demo_target(str(settings.db_path), receiver_url)
        # The demo writes to the database from its own process: no commit signal reaches us.
        self.window.empty_state.demo_finished.connect(lambda ok: self.window.refresh_runs())
        self._bridge.committed.connect(self.window.on_runs_committed)

    def shutdown(self) -> None:
        self.window.empty_state.stop_demo()
        if self.service is not None:
            self.service.stop()
            self.service = None
        self.window.queries.wait_for_done()
        close_database()


def _set_windows_taskbar_identity() -> None:
    """Started through pythonw (the wheel's launcher), Windows would group the window under
    Python's taskbar button and icon; an explicit AppUserModelID gives it Hindsight's own."""
    if sys.platform == "win32":
        import ctypes

        ctypes.windll.shell32.SetCurrentProcessExplicitAppUserModelID(APP_ID)


def application() -> QApplication:
    """The QApplication, named so settings, the taskbar and the desktop file agree."""
    _set_windows_taskbar_identity()
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)  # QSettings: ~/.config/Hindsight/Hindsight.conf etc.
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    # Wayland's app id and the taskbar grouping: must match the installed .desktop file.
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    return app


def run_gui(settings: Settings) -> int:
    app = application()
    instance = SingleInstance(settings.db_path)
    try:
        owner = instance.acquire()
    except InstanceError as exc:
        QMessageBox.critical(
            None, "Hindsight cannot start", f"{exc}.\n\nCheck the folder's permissions."
        )
        return 1
    if not owner:
        return _hand_over(instance, settings)
    try:
        session = DesktopSession(settings)
    except StoreError as exc:
        instance.release()
        QMessageBox.critical(None, "Hindsight cannot open its history", str(exc))
        return 1
    instance.activation_requested.connect(lambda: bring_to_front(session.window))
    session.window.show()
    try:
        return app.exec()
    finally:
        session.shutdown()
        instance.release()


def _hand_over(instance: SingleInstance, settings: Settings) -> int:
    """Another process has this database open: bring its window up instead of a second one."""
    answer = instance.hand_over()
    if answer.owner_pid is not None:
        print(
            f"Hindsight is already open on {settings.db_path} (process {answer.owner_pid}); "
            "brought its window to the front.",
            flush=True,
        )
        return 0
    if answer.delivered:
        print(
            f"Hindsight is still starting on {settings.db_path}; its window comes to the "
            "front when it is ready.",
            flush=True,
        )
        return 0
    owner = instance.owner_pid()
    message = (
        f"Another Hindsight (process {owner or 'unknown'}) has {settings.db_path} open but "
        "cannot be reached. Switch to its window, or end that process if it is stuck, then "
        "start Hindsight again."
    )
    print(f"hindsight: {message}", file=sys.stderr, flush=True)
    QMessageBox.warning(None, "Hindsight is already running", message)
    return 1
