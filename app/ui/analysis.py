"""Puts the charts, the failure groups and "compare runs" into the main window.

The main window calls `install_analysis(self)` once. Everything it needs from the window goes
through `WindowHooks`, which uses the run list's API where the window has it
(`current_filter`, `filterChanged`, `apply_filter`, `show_run`, `selected_run_ids`) and falls
back to what older windows offer (`select_run`, `selected_runs`) otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QMessageBox, QWidget

from app.store.filters import RunFilter
from app.ui.background import BackgroundQueries
from app.ui.compare import CompareDialog
from app.ui.failure_groups import FailureGroupsPane
from app.ui.long_lived import freeze_long_lived

if TYPE_CHECKING:
    from app.ui.charts_pane import ChartsPane

# History changes arrive in bursts while reports stream in; charts and groups follow at most
# this often, so a million-run history is not re-aggregated several times a second.
ANALYSIS_REFRESH_MS = 2000


class WindowHooks:
    """What the analysis panes use of the main window, whatever version of it this is."""

    def __init__(self, window: Any) -> None:
        self.window = window

    def current_filter(self) -> RunFilter:
        getter = getattr(self.window, "current_filter", None)
        return getter() if callable(getter) else RunFilter()

    def connect_filter_changed(self, slot: Callable[[RunFilter], None]) -> bool:
        signal = getattr(self.window, "filterChanged", None)
        if signal is None:
            return False
        signal.connect(slot)
        return True

    def selected_run_ids(self) -> list[str]:
        getter = getattr(self.window, "selected_run_ids", None)
        if callable(getter):
            return list(getter())
        return [run.id for run in self.window.selected_runs()]

    def show_run(self, run_id: str) -> None:
        shower = getattr(self.window, "show_run", None)
        if callable(shower):
            shower(run_id)
        elif not self.window.select_run(run_id):
            self.message(f"Run {run_id} is older than the runs loaded in the list.")

    def apply_filter(self, where: RunFilter) -> None:
        applier = getattr(self.window, "apply_filter", None)
        if callable(applier):
            applier(where)
        elif where.run_ids:
            # No filterable list in this window: at least open the group's newest loaded run.
            model = self.window.run_model
            for row in range(model.rowCount()):
                run_id = model.run_at(row).id
                if run_id in where.run_ids:
                    self.window.select_run(run_id)
                    return
            self.message("The runs of this group are older than the runs loaded in the list.")

    def message(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 8000)


@dataclass
class AnalysisPanes:
    failures: FailureGroupsPane
    charts_dock: QDockWidget
    failures_dock: QDockWidget
    compare_action: QAction
    compare_last_success_action: QAction
    hooks: WindowHooks
    refresh_timer: QTimer
    queries: BackgroundQueries
    _charts: ChartsPane | None = None
    _filter: RunFilter = field(default_factory=RunFilter)

    @property
    def charts(self) -> ChartsPane:
        """The charts pane, built the first time the dock is shown (or asked for): it pulls
        in pyqtgraph and numpy, which the first page of the run list should not wait for."""
        if self._charts is None:
            from app.ui.charts_pane import ChartsPane

            charts = ChartsPane(self.queries)
            charts.set_filter(self._filter)
            charts.runActivated.connect(self.hooks.show_run)
            self.charts_dock.setWidget(charts)
            self._charts = charts
            freeze_long_lived()  # pyqtgraph, if imported just now, stays for good
        return self._charts

    def build_charts_when_shown(self, visible: bool) -> None:
        if visible:
            self.charts  # noqa: B018 - builds the pane

    def refresh(self) -> None:
        """History changed: charts reload when shown, groups recompute (throttled)."""
        if not self.refresh_timer.isActive():
            self.refresh_timer.start()

    def _refresh_now(self) -> None:
        if self._charts is not None:
            self._charts.refresh()
        self.failures.refresh()

    def set_filter(self, where: RunFilter) -> None:
        self._filter = where
        if self._charts is not None:
            self._charts.set_filter(where)
        self.failures.set_filter(where)


def _dock(window: QMainWindow, title: str, name: str, widget: QWidget) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(name)  # saveState/restoreState find docks by name
    dock.setWidget(widget)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()

    def first_show(visible: bool) -> None:
        # A dock's first height is its size hint, which leaves the run list two rows;
        # give charts and groups 40 % of the window instead, once.
        if visible and not dock.property("sized"):
            dock.setProperty("sized", True)
            window.resizeDocks([dock], [int(window.height() * 0.4)], Qt.Orientation.Vertical)

    dock.visibilityChanged.connect(first_show)
    return dock


def _menu(window: QMainWindow, title: str) -> QMenu:
    """The window's menu of that title, created if it has none."""
    for action in window.menuBar().actions():
        menu = action.menu()
        if isinstance(menu, QMenu) and action.text().replace("&", "") == title.replace("&", ""):
            return menu
    return window.menuBar().addMenu(title)


def open_comparison(window: QWidget, queries: BackgroundQueries) -> CompareDialog:
    dialog = CompareDialog(queries, window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog


def install_analysis(window: Any) -> AnalysisPanes:
    queries: BackgroundQueries = window.queries
    hooks = WindowHooks(window)
    failures = FailureGroupsPane(queries)
    charts_dock = _dock(window, "Charts", "chartsDock", QWidget())  # the pane comes on show
    failures_dock = _dock(window, "Failure Groups", "failureGroupsDock", failures)
    window.tabifyDockWidget(charts_dock, failures_dock)

    def compare_selected() -> None:
        ids = hooks.selected_run_ids()
        if len(ids) != 2:
            QMessageBox.information(
                window, "Compare runs", "Select exactly two runs in the list to compare them."
            )
            return
        open_comparison(window, queries).compare(ids[0], ids[1])

    def compare_last_success() -> None:
        ids = hooks.selected_run_ids()
        if len(ids) != 1:
            QMessageBox.information(
                window,
                "Compare with last success",
                "Select one run; it is compared with the last successful run of its "
                "workflow before it.",
            )
            return
        open_comparison(window, queries).compare_with_last_success(ids[0])

    compare_action = QAction("&Compare Selected Runs", window)
    compare_action.setShortcut(QKeySequence("Ctrl+D"))
    compare_action.triggered.connect(compare_selected)
    last_success_action = QAction("Compare with &Last Success", window)
    last_success_action.setShortcut(QKeySequence("Ctrl+Shift+D"))
    last_success_action.triggered.connect(compare_last_success)
    history = _menu(window, "&History")
    history.addSeparator()
    history.addAction(compare_action)
    history.addAction(last_success_action)
    view = _menu(window, "&View")
    for dock in (charts_dock, failures_dock):
        view.addAction(dock.toggleViewAction())

    timer = QTimer(window)
    timer.setSingleShot(True)
    timer.setInterval(ANALYSIS_REFRESH_MS)
    panes = AnalysisPanes(
        failures,
        charts_dock,
        failures_dock,
        compare_action,
        last_success_action,
        hooks,
        timer,
        queries,
    )
    timer.timeout.connect(panes._refresh_now)
    charts_dock.visibilityChanged.connect(panes.build_charts_when_shown)
    failures.filterRequested.connect(hooks.apply_filter)
    failures.historyChanged.connect(lambda _: window.refresh_runs())
    window.runs_loaded.connect(lambda _: panes.refresh())
    hooks.connect_filter_changed(panes.set_filter)
    panes.set_filter(hooks.current_filter())
    return panes
