"""The main window composes the panes and wires them; the panes do the work."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QWidget,
)

from app.store import queries, writes
from app.store.records import RunDetail, RunSummary, WorkflowSummary
from app.ui.about import add_help_menu
from app.ui.background import BackgroundQueries
from app.ui.empty_state import EmptyState
from app.ui.node_inspector import plain_label
from app.ui.run_detail import RunDetailPane
from app.ui.run_table import RUN_ROLE, RunTableModel

RUN_PAGE = 500  # newest runs shown; lazy paging arrives with the viewer issue
LIVE_COALESCE_MS = 150  # a burst of reports becomes one refresh


class MainWindow(QMainWindow):
    runs_loaded = Signal(int)  # total number of runs, after each refresh lands

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
        self.queries = BackgroundQueries(self)
        self._pending_detail_refresh: set[str] = set()

        self.run_model = RunTableModel(self)
        self.run_view = self._build_run_view()
        self.detail = RunDetailPane(self.queries)
        self.empty_state = EmptyState()
        self.empty_state.set_receiver(receiver_url)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.run_view)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty_state)
        self.pages.addWidget(split)
        self.setCentralWidget(self.pages)

        self._build_actions()
        self._build_status_bar(db_path, receiver_url, receiver_problem)
        self._install_analysis()
        self.about_action = add_help_menu(self, db_path, receiver_url)  # Help stays last

        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_COALESCE_MS)
        self._live_timer.timeout.connect(self._apply_live_updates)
        self.refresh_runs()

    # -- construction ---------------------------------------------------------------
    def _build_run_view(self) -> QTableView:
        view = QTableView()
        view.setModel(self.run_model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.verticalHeader().hide()
        view.setShowGrid(False)
        view.setAlternatingRowColors(True)
        view.setWordWrap(False)
        header = view.horizontalHeader()
        header.setSectionResizeMode(RunTableModel.COL_WORKFLOW, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        for column, width in (
            (RunTableModel.COL_STATUS, 110),
            (RunTableModel.COL_STARTED, 170),
            (RunTableModel.COL_DURATION, 100),
            (RunTableModel.COL_NODES, 70),
            (RunTableModel.COL_FAILED, 200),
        ):
            view.setColumnWidth(column, width)
        view.selectionModel().currentRowChanged.connect(self._on_current_run_changed)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._show_run_menu)
        return view

    def _build_actions(self) -> None:
        self.delete_action = QAction("&Delete Selected Runs…", self)
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.delete_action.triggered.connect(self.delete_selected_runs)
        self.run_view.addAction(self.delete_action)

        self.clear_workflow_action = QAction("&Clear Workflow History…", self)
        self.clear_workflow_action.triggered.connect(self.choose_workflow_to_clear)

        refresh = QAction("&Refresh", self)
        refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        refresh.triggered.connect(self.refresh_runs)

        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        quit_action.triggered.connect(self.close)

        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(refresh)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        history_menu = self.menuBar().addMenu("&History")
        history_menu.addAction(self.delete_action)
        history_menu.addAction(self.clear_workflow_action)

    def _install_analysis(self) -> None:
        """Charts and failure groups docks, compare actions (app/ui/analysis.py)."""
        from app.ui.analysis import install_analysis

        self.analysis = install_analysis(self)

    def _build_status_bar(
        self, db_path: str, receiver_url: str | None, receiver_problem: str | None
    ) -> None:
        if receiver_url is not None:
            receiver_text = f"Receiving on {receiver_url}/api/executions"
        else:
            receiver_text = f"Receiver off: {receiver_problem or 'not started'}"
        self.receiver_label = plain_label(receiver_text)
        self.database_label = plain_label(f"Database: {db_path}")
        self.count_label = plain_label("")
        bar = self.statusBar()
        bar.addWidget(self.receiver_label)
        bar.addWidget(self.database_label, 1)
        bar.addPermanentWidget(self.count_label)

    # -- loading --------------------------------------------------------------------
    def refresh_runs(self) -> None:
        limit = max(RUN_PAGE, self.run_model.rowCount())
        self.queries.submit(
            lambda: (queries.list_runs(limit=limit), queries.count_runs()),
            self._on_runs_loaded,
            self._show_query_error,
        )

    def _on_runs_loaded(self, result: tuple[list[RunSummary], int]) -> None:
        runs, total = result
        self.run_model.set_runs(runs)
        self.pages.setCurrentIndex(0 if total == 0 else 1)
        shown = len(runs)
        self.count_label.setText(
            f"{total:,} runs" if shown >= total else f"{shown:,} newest of {total:,} runs"
        )
        if total and not self.run_view.selectionModel().hasSelection():
            self._select_row(0)
        elif not total:
            self.detail.clear()
        self.runs_loaded.emit(total)

    def _select_row(self, row: int) -> None:
        self.run_view.selectionModel().setCurrentIndex(
            self.run_model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )

    def select_run(self, run_id: str) -> bool:
        row = self.run_model.row_of(run_id)
        if row is None:
            return False
        self._select_row(row)
        return True

    def _on_current_run_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if not current.isValid():
            self.detail.clear()
            return
        run: RunSummary = current.data(RUN_ROLE)
        if run.id != self.detail.run_id_shown:
            self._load_detail(run.id)

    def _load_detail(self, run_id: str) -> None:
        self.queries.submit(
            lambda: queries.get_run(run_id),
            lambda detail: self._on_detail_loaded(run_id, detail),
            self._show_query_error,
        )

    def _on_detail_loaded(self, run_id: str, detail: RunDetail | None) -> None:
        current = self.run_view.currentIndex()
        if not current.isValid() or current.data(RUN_ROLE).id != run_id:
            return  # the user moved on while it loaded
        if detail is None:
            self.detail.clear()
        else:
            self.detail.show_run(detail)

    def _show_query_error(self, message: str) -> None:
        self.statusBar().showMessage(f"Could not read the history: {message}", 10_000)

    # -- live updates (called from the writer thread through a queued signal) --------
    def on_runs_committed(self, run_ids: list[str]) -> None:
        self._pending_detail_refresh.update(run_ids)
        if not self._live_timer.isActive():
            self._live_timer.start()

    def _apply_live_updates(self) -> None:
        changed, self._pending_detail_refresh = self._pending_detail_refresh, set()
        self.refresh_runs()
        shown = self.detail.run_id_shown
        if shown is not None and shown in changed:
            self._load_detail(shown)

    # -- deleting -------------------------------------------------------------------
    def selected_runs(self) -> list[RunSummary]:
        rows = self.run_view.selectionModel().selectedRows()
        return [self.run_model.run_at(index.row()) for index in rows]

    def delete_selected_runs(self) -> None:
        runs = self.selected_runs()
        if not runs:
            QMessageBox.information(self, "Delete runs", "Select the runs to delete first.")
            return
        what = (
            f"run “{runs[0].workflow_label}” of {runs[0].id}"
            if len(runs) == 1
            else f"{len(runs)} runs"
        )
        answer = QMessageBox.question(
            self,
            "Delete runs",
            f"Delete {what}? Their nodes, inputs, outputs and errors are removed from the "
            "history. This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        ids = [run.id for run in runs]
        self.queries.submit(
            lambda: writes.delete_runs(ids), self._after_delete, self._show_write_error
        )

    def choose_workflow_to_clear(self) -> None:
        self.queries.submit(
            queries.list_workflows, self._ask_workflow_to_clear, self._show_query_error
        )

    def _ask_workflow_to_clear(self, workflows: list[WorkflowSummary]) -> None:
        if not workflows:
            QMessageBox.information(self, "Clear workflow history", "The history is empty.")
            return
        labels = [f"{w.label} ({w.workflow_id}) — {w.run_count:,} runs" for w in workflows]
        current = self.run_view.currentIndex()
        preselect = 0
        if current.isValid():
            current_id = current.data(RUN_ROLE).workflow_id
            preselect = next((i for i, w in enumerate(workflows) if w.workflow_id == current_id), 0)
        label, ok = QInputDialog.getItem(
            self,
            "Clear workflow history",
            "Delete every run of this workflow:",
            labels,
            preselect,
            False,
        )
        if ok:
            self.confirm_clear_workflow(workflows[labels.index(label)])

    def confirm_clear_workflow(self, workflow: WorkflowSummary) -> None:
        answer = QMessageBox.question(
            self,
            "Clear workflow history",
            f"Delete all {workflow.run_count:,} runs of “{workflow.label}”? This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.queries.submit(
                lambda: writes.clear_workflow(workflow.workflow_id),
                self._after_delete,
                self._show_write_error,
            )

    def _after_delete(self, deleted: int) -> None:
        self.statusBar().showMessage(f"Deleted {deleted:,} runs.", 5000)
        self.detail.clear()
        self.run_view.selectionModel().clearSelection()
        self.refresh_runs()

    def _show_write_error(self, message: str) -> None:
        QMessageBox.warning(
            self,
            "Nothing was deleted",
            f"The history could not be changed: {message}\n\nTry again in a moment; if it "
            "keeps failing, check that the database file is writable.",
        )

    def _show_run_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction(self.delete_action)
        current = self.run_view.currentIndex()
        if current.isValid():
            run: RunSummary = current.data(RUN_ROLE)
            clear = menu.addAction(f"Clear History of “{run.workflow_label}”…")
            clear.triggered.connect(lambda: self._clear_workflow_of(run))
        menu.exec(self.run_view.viewport().mapToGlobal(position))

    def _clear_workflow_of(self, run: RunSummary) -> None:
        self.queries.submit(
            queries.list_workflows,
            lambda workflows: self._confirm_clear_of(run.workflow_id, workflows),
            self._show_query_error,
        )

    def _confirm_clear_of(self, workflow_id: str, workflows: list[WorkflowSummary]) -> None:
        match = next((w for w in workflows if w.workflow_id == workflow_id), None)
        if match is not None:  # None: its runs were deleted meanwhile
            self.confirm_clear_workflow(match)

    # -- shutdown -------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self._live_timer.stop()
        self.queries.wait_for_done()
        super().closeEvent(event)
