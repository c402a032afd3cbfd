"""Starting the desktop app: one instance per database, then database, receiver thread and
main window — and the dialogs that explain what went wrong when one of them cannot start,
instead of a traceback."""

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
from app.config import APP_ID, APP_NAME, Settings, spool_dir
from app.ingest.service import IngestService
from app.store.connection import StoreError, close_database, open_database
from app.ui import app_settings, long_lived
from app.ui.app_settings import StoredSettings
from app.ui.database_opening import open_in_background
from app.ui.icons import app_icon
from app.ui.long_lived import freeze_long_lived
from app.ui.main_window import MainWindow
from app.ui.single_instance import InstanceError, SingleInstance, bring_to_front
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

    def __init__(
        self, settings: Settings, spool: Path | None = None, database_open: bool = False
    ) -> None:
        """`database_open`: the store is already bound to `settings.db_path` (opened on a
        worker thread by `open_session`); otherwise it is opened here."""
        if not database_open:
            open_database(settings.db_path)
        self.settings = settings
        self._spool = spool if spool is not None else spool_dir()
        self._bridge = _CommitBridge()
        self.service: IngestService | None = None
        self.receiver_problem: str | None = None
        self.port_in_use = False
        self._start_receiver(settings)
        receiver_url = self.service.url if self.service else None
        self.window = MainWindow(
            settings.database_label, receiver_url, receiver_problem=self.receiver_problem
        )
        self.window.setWindowIcon(app_icon())
        self.window.settings = settings
        self.window.empty_state.set_demo_target(str(settings.db_path), receiver_url)
        # The demo writes to the database from its own process: no commit signal reaches us.
        self.window.empty_state.demo_finished.connect(lambda ok: self.window.refresh_runs())
        self._bridge.committed.connect(self.window.on_runs_committed)
        self.window.settingsChanged.connect(self.apply_settings)
        freeze_long_lived()  # the window and its modules stay: no full GC pass walks them

    def _start_receiver(self, settings: Settings) -> None:
        service = IngestService(
            settings.host,
            settings.port,
            on_committed=self._bridge.committed.emit,
            stale_after_hours=settings.stale_after_hours,
            spool=self._spool,
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
        if stored.database and stored.database != str(self.settings.db_path):
            self.window.statusBar().showMessage(
                "The new database is used when Hindsight starts again.", 10_000
            )

    def shutdown(self) -> None:
        self.window.empty_state.stop_demo()
        if self.service is not None:
            self.service.stop()
            self.service = None
        self.window.history.jobs.wait_for_done()
        self.window.run_list.close_queries()
        self.window.queries.close()
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
    """Open the history, offering a way out when the database cannot be opened.

    The database is opened (and migrated) on a worker thread; a slow open shows the
    upgrade window meanwhile (app/ui/database_opening.py)."""
    while True:
        problem = open_in_background(settings.db_path)
        if problem is None:
            try:
                return DesktopSession(settings, database_open=True)
            except StoreError as exc:
                problem = str(exc)
            except Exception as exc:  # a URL the store cannot use, a permission problem, …
                problem = f"{type(exc).__name__}: {exc}"
        close_database()
        choice = ask_about_database(settings.db_path, problem)
        if choice is DatabaseChoice.QUIT:
            return None
        if choice is DatabaseChoice.START_FRESH and isinstance(settings.db_path, Path):
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
    app = application()
    sys.excepthook = _show_unexpected_error
    settings = app_settings.apply_stored(settings, app_settings.load())
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
    long_lived.enable()
    session = open_session(settings)
    if session is None:
        instance.release()
        return 1
    instance.activation_requested.connect(lambda: bring_to_front(session.window))
    session.window.show()
    if session.port_in_use:
        QTimer.singleShot(0, session.window, lambda: _offer_another_port(session))
    _schedule_retention(session)
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
