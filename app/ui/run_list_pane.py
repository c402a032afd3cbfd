"""The run list pane: filter bar, the lazily paged table, and the "nothing matches" state.

It owns what the list shows (filter, order, match count) and keeps it current as reports
stream in: only the runs that changed are read back and merged, counts are refreshed at
most once a second, and the rows above the user's place shift the scroll position with
them so the runs being read stay where they are.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.store import queries
from app.store.filters import RunFilter
from app.store.records import RunSummary
from app.ui.background import BackgroundQueries, Ticket
from app.ui.filter_bar import FilterBar
from app.ui.run_table import RUN_ROLE, RunTableModel

COUNT_REFRESH_MS = 1000  # live updates recount at most this often
TICK_MS = 1000  # running runs' elapsed time


class RunListPane(QWidget):
    filterChanged = Signal(object)  # RunFilter now listed
    currentRunChanged = Signal(object)  # run id (str) or None
    countsChanged = Signal(int, int)  # runs matching the filter, runs stored in all
    firstPageShown = Signal(int)  # rows shown after a new query's first page

    def __init__(self, runner: BackgroundQueries, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        # Counting a big match set can take a while; it gets its own thread so it never
        # delays the first page of the next query or a run's detail.
        self._count_runner = BackgroundQueries(self, max_threads=1)
        self._count_ticket: Ticket | None = None
        self._merge_generation = 0
        self._wanted_run: str | None = None
        self.matches: int | None = None
        self.total: int | None = None

        self.filter_bar = FilterBar()
        self.model = RunTableModel(runner, self)
        self.view = self._build_view()

        self.no_matches = QWidget()
        message = QLabel("No runs match these filters.")
        message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        message.setStyleSheet("font-size: 13pt;")
        self.no_matches_hint = QLabel("Try fewer words, another time range, or more statuses.")
        self.no_matches_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reset_button = QPushButton("Reset filters")
        self.reset_button.clicked.connect(self.filter_bar.reset)
        empty = QVBoxLayout(self.no_matches)
        empty.addStretch(1)
        empty.addWidget(message)
        empty.addWidget(self.no_matches_hint)
        empty.addWidget(self.reset_button, 0, Qt.AlignmentFlag.AlignHCenter)
        empty.addStretch(2)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.no_matches)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.stack, 1)

        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_REFRESH_MS)
        self._count_timer.timeout.connect(self.refresh_counts)
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(TICK_MS)
        self._tick_timer.timeout.connect(self._tick)
        self._tick_timer.start()

        self.filter_bar.filterChanged.connect(self._on_filter)
        self.filter_bar.search.returnPressed.connect(self.filter_bar.flush)
        self.model.first_page_loaded.connect(self._on_first_page)
        self.model.query_failed.connect(self._on_query_failed)

    def _build_view(self) -> QTableView:
        view = QTableView()
        view.setModel(self.model)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 8)
        view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        view.setShowGrid(False)
        view.setAlternatingRowColors(True)
        view.setWordWrap(False)
        view.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = view.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        model = RunTableModel
        for column, width in (
            (model.COL_STATUS, 105),
            (model.COL_WORKFLOW, 220),
            (model.COL_PROJECT, 110),
            (model.COL_STARTED, 150),
            (model.COL_DURATION, 95),
            (model.COL_NODES, 55),
            (model.COL_FAILED, 170),
            (model.COL_TOKENS, 80),
            (model.COL_COST, 80),
        ):
            view.setColumnWidth(column, width)
        view.setSortingEnabled(True)
        header.setSortIndicator(model.COL_STARTED, Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self._on_sort_indicator)
        view.selectionModel().currentRowChanged.connect(self._on_current_changed)
        return view

    # -- public surface ------------------------------------------------------------
    def current_filter(self) -> RunFilter:
        return self.model.run_filter

    def apply_filter(self, where: RunFilter) -> None:
        self.filter_bar.set_filter(where)
        self.filter_bar.flush()

    def start(self) -> None:
        """The first query: everything, newest first."""
        self._on_filter(self.filter_bar.current_filter())

    def selected_runs(self) -> list[RunSummary]:
        rows = sorted(index.row() for index in self.view.selectionModel().selectedRows())
        return [self.model.run_at(row) for row in rows]

    def current_run(self) -> RunSummary | None:
        current = self.view.currentIndex()
        return current.data(RUN_ROLE) if current.isValid() else None

    def select_run(self, run_id: str) -> bool:
        row = self.model.row_of(run_id)
        if row is None:
            return False
        self.select_row(row)
        return True

    def select_row(self, row: int) -> None:
        index = self.model.index(row, 0)
        self.view.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.view.scrollTo(index)

    def copy_selection(self) -> int:
        """Selected runs as tab-separated text (with a header line) on the clipboard."""
        runs = self.selected_runs()
        if not runs:
            return 0
        columns = range(self.model.columnCount())
        lines = [
            "\t".join(
                ["Run id", *(self.model.headerData(c, Qt.Orientation.Horizontal) for c in columns)]
            )
        ]
        for run in runs:
            row = self.model.row_of(run.id)
            assert row is not None
            cells = [str(self.model.index(row, c).data() or "") for c in columns]
            lines.append("\t".join([run.id, *cells]))
        QGuiApplication.clipboard().setText("\n".join(lines) + "\n")
        return len(runs)

    # -- querying ------------------------------------------------------------------
    def _on_filter(self, where: RunFilter) -> None:
        current = self.current_run()
        self._wanted_run = current.id if current is not None else self._wanted_run
        self.model.set_query(where)
        self.refresh_counts()
        self.filterChanged.emit(where)

    def refresh_counts(self) -> None:
        """Count the matches (and everything, when filtered) off the GUI thread."""
        self._count_timer.stop()
        if self._count_ticket is not None:
            self._count_ticket.cancel()
        where = self.model.run_filter
        if self.matches is None or self._count_ticket is not None:
            self.filter_bar.set_match_count(None)

        def count() -> tuple[int, int]:
            matching = queries.count_runs(where)
            total = matching if where == RunFilter() else queries.count_runs()
            return matching, total

        ticket: Ticket | None = None

        def done(result: tuple[int, int]) -> None:
            if ticket is not self._count_ticket:
                return
            self._count_ticket = None
            self.matches, self.total = result
            self.filter_bar.set_match_count(self.matches)
            self._show_placeholder_if_empty()
            self.countsChanged.emit(*result)

        ticket = self._count_runner.submit(count, done, self._on_query_failed)
        self._count_ticket = ticket

    def _on_first_page(self) -> None:
        rows = self.model.rowCount()
        self._show_placeholder_if_empty()
        wanted, self._wanted_run = self._wanted_run, None
        if wanted is not None and self.select_run(wanted):
            pass
        elif rows:
            self.select_row(0)
        else:
            self.currentRunChanged.emit(None)
        self.firstPageShown.emit(rows)

    def _show_placeholder_if_empty(self) -> None:
        empty = self.model.rowCount() == 0 and not self.model.loading
        filtering = self.model.run_filter != RunFilter()
        self.stack.setCurrentWidget(self.no_matches if empty and filtering else self.view)

    def _on_query_failed(self, message: str) -> None:
        self._count_ticket = None
        self.filter_bar.match_count.setText("query failed")
        self.filter_bar.match_count.setToolTip(message)

    def _on_sort_indicator(self, column: int, order: Qt.SortOrder) -> None:
        if column not in RunTableModel.SORTABLE:
            # Only start and duration sort (in the store, over every run); put it back.
            shown, shown_order = self.model.sort_column()
            header = self.view.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(shown, shown_order)
            header.blockSignals(False)

    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        run = current.data(RUN_ROLE) if current.isValid() else None
        self.currentRunChanged.emit(run.id if run is not None else None)

    # -- live ----------------------------------------------------------------------
    def merge_changed(self, run_ids: list[str]) -> None:
        """Read back the runs that were stored or changed and merge them in place."""
        if not run_ids:
            return
        self._merge_generation += 1
        generation = self._merge_generation
        where = self.model.run_filter
        self._runner.submit(
            lambda: queries.runs_by_id(run_ids, where),
            lambda found: self._apply_merge(generation, where, run_ids, found),
            self._on_query_failed,
        )

    def _apply_merge(
        self, generation: int, where: RunFilter, run_ids: list[str], found: list[RunSummary]
    ) -> None:
        if where != self.model.run_filter or self.model.loading:
            return  # a new query is on its way and will include these runs
        anchor = self._top_visible_run()
        present = {run.id for run in found}
        self.model.remove_runs(run_id for run_id in run_ids if run_id not in present)
        self.model.merge_runs(found)
        self._keep_place(anchor)
        self._show_placeholder_if_empty()
        if not self._count_timer.isActive():
            self._count_timer.start()

    def forget_runs(self, run_ids: list[str]) -> None:
        """Runs deleted from this window: drop their rows now and recount soon."""
        anchor = self._top_visible_run()
        self.model.remove_runs(run_ids)
        self._keep_place(anchor)
        self.refresh_counts()

    def _top_visible_run(self) -> tuple[str, int] | None:
        bar = self.view.verticalScrollBar()
        if bar.value() == 0:
            return None  # at the top: new runs should appear in view
        row = self.view.rowAt(0)
        if row < 0:
            return None
        return self.model.run_at(row).id, self.view.rowViewportPosition(row)

    def _keep_place(self, anchor: tuple[str, int] | None) -> None:
        if anchor is None:
            return
        run_id, offset = anchor
        row = self.model.row_of(run_id)
        if row is None:
            return
        bar = self.view.verticalScrollBar()
        if self.view.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerItem:
            bar.setValue(row)
        else:
            bar.setValue(bar.value() + self.view.rowViewportPosition(row) - offset)

    def wait_for_done(self, msecs: int = 10_000) -> bool:
        return self._count_runner.wait_for_done(msecs)

    def close_queries(self) -> bool:
        """No more counting (see BackgroundQueries.close)."""
        self._tick_timer.stop()
        self._count_timer.stop()
        return self._count_runner.close()

    def _tick(self) -> None:
        first = self.view.rowAt(0)
        if first < 0:
            return
        last = self.view.rowAt(self.view.viewport().height() - 1)
        last = self.model.rowCount() - 1 if last < 0 else last
        rows = [row for row in range(first, last + 1) if self.model.run_at(row).duration_ms is None]
        self.model.tick(rows)
