"""The main window composes the panes and wires them; the panes do the work.

For other panes (charts, comparisons) the window offers a small surface: `current_filter()`
and `filterChanged(RunFilter)`, `selected_run_ids()`, and the slots `show_run(run_id)` and
`apply_filter(RunFilter)`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDialog, QMainWindow, QMenu, QSplitter, QStackedWidget, QWidget

from app.config import Settings, resolve_settings
from app.store import queries
from app.store.filters import RunFilter
from app.store.records import RunDetail, RunSummary, WorkflowSummary
from app.store.retention import PurgePlan
from app.ui import app_settings
from app.ui.about import add_help_menu
from app.ui.app_settings import qsettings
from app.ui.background import BackgroundQueries
from app.ui.empty_state import EmptyState
from app.ui.history_actions import HistoryActions
from app.ui.node_inspector import plain_label
from app.ui.progress_panel import ProgressPanel
from app.ui.retention_dialog import RetentionDialog
from app.ui.run_detail import RunDetailPane, load_run
from app.ui.run_list_pane import RunListPane
from app.ui.run_table import RunTableModel
from app.ui.settings_dialog import SettingsDialog
from app.ui.waterfall_layout import WaterfallLayout

LIVE_COALESCE_MS = 150  # a burst of reports becomes one refresh
# Run list : detail = 1 : 2 on first start (scaled to the window). At 2 : 3 a 740 px window
# left the detail's node table 90 px (two and a half rows) beside the inspector's minimum.
FIRST_SPLIT_UNIT = 1000


class MainWindow(QMainWindow):
    runs_loaded = Signal(int)  # runs stored in all, after each count lands
    filterChanged = Signal(object)  # the RunFilter the run list now shows
    settingsChanged = Signal(object)  # StoredSettings the user saved

    def __init__(
        self,
        db_path: str,
        receiver_url: str | None,
        receiver_problem: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Hindsight")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.queries = BackgroundQueries(self)
        self.settings: Settings | None = None  # what the session runs with, for the dialog
        self._pending_live: set[str] = set()
        self._detail_requested: str | None = None

        self.run_list = RunListPane(self.queries)
        self.run_model: RunTableModel = self.run_list.model
        self.run_view = self.run_list.view
        self.filter_bar = self.run_list.filter_bar
        self.detail = RunDetailPane(self.queries)
        self.empty_state = EmptyState()
        self.empty_state.set_receiver(receiver_url)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setObjectName("runSplitter")
        self.splitter.addWidget(self.run_list)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_state)
        self.pages.addWidget(self.splitter)
        self.setCentralWidget(self.pages)

        self.progress = ProgressPanel()
        self.history = HistoryActions(self, self.run_list, self.queries, self.progress)
        self._build_status_bar(db_path, receiver_url, receiver_problem)
        self._build_menus()
        self._install_analysis()
        self.about_action = add_help_menu(self, db_path, receiver_url)  # Help stays last

        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_COALESCE_MS)
        self._live_timer.timeout.connect(self._apply_live_updates)

        self.run_list.currentRunChanged.connect(self._on_current_run_changed)
        self.run_list.countsChanged.connect(self._on_counts)
        # Rows can land before the count does: any row means the history is not empty.
        self.run_model.rowsInserted.connect(self._leave_empty_state)
        self.run_model.modelReset.connect(self._leave_empty_state)
        self.run_list.filterChanged.connect(self.filterChanged)
        self.history.changed.connect(self._on_history_changed)
        self.history.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.run_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.run_view.customContextMenuRequested.connect(self._show_run_menu)

        self._restore_layout()
        self.run_list.start()
        self._load_pickers()

    # -- construction ---------------------------------------------------------------
    def _build_menus(self) -> None:
        history = self.history
        # Delete acts on the run list only, so Delete in the search field edits text.
        history.delete_selected.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.run_view.addAction(history.delete_selected)

        self.find_action = QAction("&Search Runs", self)
        self.find_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Find))
        self.find_action.triggered.connect(self.filter_bar.focus_search)
        self.copy_action = QAction("&Copy Selected Runs", self)
        self.copy_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.copy_action.triggered.connect(self._copy_runs)
        self.run_view.addAction(self.copy_action)
        refresh = QAction("&Refresh", self)
        refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        refresh.triggered.connect(self.refresh_runs)
        self.reset_filters_action = QAction("Reset &Filters", self)
        self.reset_filters_action.triggered.connect(self.filter_bar.reset)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.close)

        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(history.import_action)
        file_menu.addAction(history.export_selected)
        file_menu.addAction(history.export_filtered)
        file_menu.addSeparator()
        self.settings_action = QAction("&Settings…", self)
        preferences = QKeySequence(QKeySequence.StandardKey.Preferences)
        # Some platforms (X11 desktops) define no Preferences key; Ctrl+, is the common one.
        self.settings_action.setShortcut(
            preferences if not preferences.isEmpty() else QKeySequence("Ctrl+,")
        )
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.open_settings)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        self.file_menu = file_menu
        file_menu.addAction(quit_action)
        edit_menu = self.menuBar().addMenu("&Edit")
        edit_menu.addAction(self.copy_action)
        edit_menu.addAction(self.find_action)
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(refresh)
        view_menu.addAction(self.reset_filters_action)
        self.view_menu = view_menu
        history_menu = self.menuBar().addMenu("&History")
        history_menu.addAction(history.delete_selected)
        history_menu.addAction(history.delete_matching)
        history_menu.addAction(history.clear_workflow)
        history_menu.addAction(history.clear_all)
        history_menu.addSeparator()
        self.retention_action = QAction("&Retention Rules…", self)
        self.retention_action.triggered.connect(self.open_retention)
        history_menu.addAction(self.retention_action)
        self.history_menu = history_menu
        # Kept for callers that knew the old names.
        self.delete_action = history.delete_selected
        self.clear_workflow_action = history.clear_workflow

    def _install_analysis(self) -> None:
        """Charts and failure groups docks, compare actions (app/ui/analysis.py)."""
        from app.ui.analysis import install_analysis

        self.analysis = install_analysis(self)

    def _build_status_bar(
        self, db_path: str, receiver_url: str | None, receiver_problem: str | None
    ) -> None:
        self.receiver_label = plain_label()
        self.set_receiver(receiver_url, receiver_problem)
        self.database_label = plain_label(f"Database: {db_path}")
        self.database_label.setToolTip(db_path)
        self.count_label = plain_label("")
        bar = self.statusBar()
        bar.addWidget(self.receiver_label)
        bar.addWidget(self.database_label, 1)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.count_label)

    def set_receiver(self, receiver_url: str | None, problem: str | None = None) -> None:
        if receiver_url is not None:
            self.receiver_label.setText(f"Receiving on {receiver_url}/api/executions")
        else:
            self.receiver_label.setText(f"Receiver off: {problem or 'not started'}")
        self.empty_state.set_receiver(receiver_url)

    # -- the surface other panes use --------------------------------------------------
    def current_filter(self) -> RunFilter:
        return self.run_list.current_filter()

    def selected_run_ids(self) -> list[str]:
        return [run.id for run in self.run_list.selected_runs()]

    @Slot(object)
    def apply_filter(self, where: RunFilter) -> None:
        self.run_list.apply_filter(where)

    @Slot(str)
    def show_run(self, run_id: str) -> None:
        """Select the run in the list if it is loaded; show its detail either way."""
        if not self.run_list.select_run(run_id):
            self.run_view.selectionModel().clearSelection()
            self._load_detail(run_id)

    def select_run(self, run_id: str) -> bool:
        return self.run_list.select_run(run_id)

    def selected_runs(self) -> list[RunSummary]:
        return self.run_list.selected_runs()

    # -- loading --------------------------------------------------------------------
    def refresh_runs(self) -> None:
        self.run_model.reload()
        self.run_list.refresh_counts()
        self._load_pickers()

    def _load_pickers(self) -> None:
        self.queries.submit(
            lambda: (queries.list_workflows(), queries.list_projects()),
            self._on_pickers,
            self._show_query_error,
        )

    def _on_pickers(self, result: tuple[list[WorkflowSummary], list[str]]) -> None:
        workflows, projects = result
        self.filter_bar.set_workflows(workflows)
        self.filter_bar.set_projects(projects)

    def _leave_empty_state(self, *_args: object) -> None:
        if self.run_model.rowCount() and self.pages.currentIndex() == 0:
            self.pages.setCurrentIndex(1)

    def _on_counts(self, matching: int, total: int) -> None:
        self.pages.setCurrentIndex(0 if total == 0 else 1)
        self.count_label.setText(f"{total:,} runs stored")
        if total == 0:
            self.detail.clear()
        self.runs_loaded.emit(total)

    def _on_current_run_changed(self, run_id: str | None) -> None:
        if run_id is None:
            if self._detail_requested is None:
                self.detail.clear()
            return
        if run_id != self.detail.run_id_shown:
            self._load_detail(run_id)

    def _load_detail(self, run_id: str) -> None:
        self._detail_requested = run_id
        self.queries.submit(
            lambda: load_run(run_id),
            lambda loaded: self._on_detail_loaded(run_id, loaded),
            self._show_query_error,
        )

    def _on_detail_loaded(
        self, run_id: str, loaded: tuple[RunDetail, WaterfallLayout] | None
    ) -> None:
        if run_id != self._detail_requested:
            return  # the user moved on while it loaded
        self._detail_requested = None
        if loaded is None:
            self.detail.clear()
        else:
            self.detail.show_run(*loaded)

    def _show_query_error(self, message: str) -> None:
        self.statusBar().showMessage(f"Could not read the history: {message}", 10_000)

    # -- live updates (called from the writer thread through a queued signal) --------
    def on_runs_committed(self, run_ids: list[str]) -> None:
        self._pending_live.update(run_ids)
        if not self._live_timer.isActive():
            self._live_timer.start()

    def _apply_live_updates(self) -> None:
        changed, self._pending_live = self._pending_live, set()
        self.run_list.merge_changed(sorted(changed))
        if self.pages.currentIndex() == 0:
            self.run_list.refresh_counts()  # the first run leaves the empty state at once
        shown = self.detail.run_id_shown
        if shown is not None and shown in changed:
            self._load_detail(shown)

    # -- history changes made here ----------------------------------------------------
    def _on_history_changed(self, deleted: list[str] | None) -> None:
        shown = self.detail.run_id_shown
        if deleted is None:
            self.refresh_runs()
            if shown is not None:
                self._load_detail(shown)  # gone: the pane clears; still there: refreshed
            return
        if shown in deleted:
            self.detail.clear()
        self.run_list.forget_runs(deleted)
        self._load_pickers()

    def _copy_runs(self) -> None:
        copied = self.run_list.copy_selection()
        if copied:
            self.statusBar().showMessage(f"Copied {copied:,} runs as tab-separated text.", 4000)

    def _show_run_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction(self.copy_action)
        menu.addAction(self.history.export_selected)
        menu.addSeparator()
        menu.addAction(self.history.delete_selected)
        run = self.run_list.current_run()
        if run is not None:
            clear = menu.addAction(f"Clear History of “{run.workflow_label}”…")
            clear.triggered.connect(lambda: self.history.clear_workflow_of(run))
            only = menu.addAction(f"Show Only “{run.workflow_label}”")
            only.triggered.connect(
                lambda: self.apply_filter(_with_workflow(self.current_filter(), run.workflow_id))
            )
        menu.exec(self.run_view.viewport().mapToGlobal(position))

    # -- settings -------------------------------------------------------------------
    def open_settings(self) -> SettingsDialog:
        current = self.settings or resolve_settings()
        dialog = SettingsDialog(current, app_settings.load(), self)
        dialog.retentionRequested.connect(lambda: self._retention_from(dialog))
        dialog.finished.connect(lambda result: self._settings_done(dialog, result))
        dialog.open()
        return dialog

    def _settings_done(self, dialog: SettingsDialog, result: int) -> None:
        if result == QDialog.DialogCode.Accepted:
            chosen = dialog.chosen()
            app_settings.save(chosen)
            self.settingsChanged.emit(chosen)
        dialog.deleteLater()

    def _retention_from(self, settings_dialog: SettingsDialog) -> None:
        retention = self.open_retention()
        retention.finished.connect(lambda _result: settings_dialog.set_stored(app_settings.load()))

    def open_retention(self) -> RetentionDialog:
        dialog = RetentionDialog(self.queries, app_settings.load().retention, self)
        dialog.purgeRequested.connect(lambda plan: self._purge_from(dialog, plan))
        dialog.accepted.connect(lambda: app_settings.save_retention(dialog.chosen()))
        dialog.finished.connect(lambda _result: dialog.deleteLater())
        dialog.open()
        return dialog

    def _purge_from(self, dialog: RetentionDialog, plan: PurgePlan) -> None:
        app_settings.save_retention(dialog.chosen())
        dialog.done(QDialog.DialogCode.Accepted)
        self.history.confirm_purge(plan)

    # -- drag and drop import --------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_files(event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = _dropped_files(event.mimeData().urls())
        if paths:
            event.acceptProposedAction()
            self.history.import_files(paths)

    # -- remembering the layout ------------------------------------------------------
    def _restore_layout(self) -> None:
        settings = qsettings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:  # first start: most of the screen, so the list and the detail both have room
            screen = self.screen().availableGeometry()
            self.resize(int(screen.width() * 0.85), int(screen.height() * 0.85))
        splitter = settings.value("window/splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        else:  # the detail pane's size hint would otherwise leave the list three rows
            self.splitter.setSizes([FIRST_SPLIT_UNIT, 2 * FIRST_SPLIT_UNIT])
        self.detail.restore_layout(settings)
        header = settings.value("runList/header")
        if isinstance(header, QByteArray):
            self.run_view.horizontalHeader().restoreState(header)
            # The sort the store runs is always newest first at start-up.
            self.run_view.horizontalHeader().setSortIndicator(
                RunTableModel.COL_STARTED, Qt.SortOrder.DescendingOrder
            )

    # False for a window that is not the user's (the self-test's): closing it must not
    # overwrite the size and columns the user left.
    remembers_layout = True

    def save_layout(self) -> None:
        settings = qsettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/splitter", self.splitter.saveState())
        settings.setValue("runList/header", self.run_view.horizontalHeader().saveState())
        self.detail.save_layout(settings)

    # -- shutdown -------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.remembers_layout:
            self.save_layout()
        self._live_timer.stop()
        self.history.jobs.wait_for_done()
        self.run_list.wait_for_done()
        self.queries.wait_for_done()
        super().closeEvent(event)


def _with_workflow(where: RunFilter, workflow_id: str) -> RunFilter:
    return replace(where, workflow_id=workflow_id)


def _dropped_files(urls: list[QUrl]) -> list[Path]:
    return [Path(url.toLocalFile()) for url in urls if url.isLocalFile()]
