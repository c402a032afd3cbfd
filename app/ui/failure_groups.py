"""Failure groups: failed runs grouped by workflow + failing node + normalised error, so one
broken thing shows as one row with a count instead of a hundred red lines.

Selecting a group asks the run list to show exactly its runs; a group can be exported (JSON
in the report shape, re-importable) or deleted after a confirmation that names the count.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.store import export, stats, writes
from app.store.filters import RunFilter
from app.store.stats import FailureGroup
from app.store.status import Status
from app.ui.background import BackgroundQueries
from app.ui.formatting import STATUS_COLOURS, format_timestamp
from app.ui.record_table import Index, RecordTableModel, record_view

GROUP_ROLE = Qt.ItemDataRole.UserRole + 1  # the FailureGroup of a row
SORT_ROLE = Qt.ItemDataRole.UserRole + 2


def runs_of(group: FailureGroup) -> RunFilter:
    """The filter that selects exactly the runs of a group."""
    return RunFilter(run_ids=frozenset(group.run_ids))


def describe(group: FailureGroup) -> str:
    node = group.node_name or group.node_id or "(no failing node)"
    return f"{group.workflow_id} · {node} · {group.error or '(no message)'}"


class FailureGroupModel(RecordTableModel[FailureGroup]):
    COL_COUNT, COL_WORKFLOW, COL_NODE, COL_ERROR, COL_FIRST, COL_LAST = range(6)
    _HEADERS = ("Runs", "Workflow", "Failing node", "Error (normalised)", "First seen", "Last seen")

    def set_groups(self, groups: list[FailureGroup]) -> None:
        self.beginResetModel()
        self._rows = list(groups)
        self.endResetModel()

    def group_at(self, row: int) -> FailureGroup:
        return self._rows[row]

    def row_of(self, group_key: tuple[str, str | None, str]) -> int | None:
        return next((i for i, g in enumerate(self._rows) if _key(g) == group_key), None)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        group = self.row_at(index)
        if group is None:
            return None
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self._display(group, column)
        if role == GROUP_ROLE:
            return group
        if role == SORT_ROLE:
            return (
                group.count,
                group.workflow_id,
                group.node_id or "",
                group.error,
                group.first_seen,
                group.last_seen,
            )[column]
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.COL_COUNT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column == self.COL_NODE:
            return QColor(STATUS_COLOURS[Status.ERROR])
        return None

    def _display(self, group: FailureGroup, column: int) -> str:
        if column == self.COL_COUNT:
            return f"{group.count:,}"
        if column == self.COL_WORKFLOW:
            return group.workflow_id
        if column == self.COL_NODE:
            return group.node_name or group.node_id or "—"
        if column == self.COL_ERROR:
            return group.error or "(no message)"
        if column == self.COL_FIRST:
            return format_timestamp(group.first_seen)
        return format_timestamp(group.last_seen)


def _key(group: FailureGroup) -> tuple[str, str | None, str]:
    return (group.workflow_id, group.node_id, group.error)


def _export_group(run_filter: RunFilter, path: str) -> int:
    with export.replacing(Path(path)) as out:
        return export.export_json(run_filter, out)


class FailureGroupsPane(QWidget):
    filterRequested = Signal(object)  # a RunFilter selecting the chosen group's runs
    historyChanged = Signal(int)  # runs deleted from a group
    loaded = Signal()
    exported = Signal(str, int)  # path, runs written

    def __init__(self, queries: BackgroundQueries, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._queries = queries
        self._filter = RunFilter()
        self._generation = 0
        self._restoring = False
        self._stale = True
        self.model = FailureGroupModel(self)
        self.view = record_view(self.model, FailureGroupModel.COL_ERROR, fit_to_contents=True)
        self.view.setAlternatingRowColors(True)
        self.view.selectionModel().currentRowChanged.connect(self._on_current_changed)

        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.export_selected)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.delete_selected)
        self.show_all_button = QPushButton("Show All Runs")
        self.show_all_button.setToolTip("Back to the filter the groups were computed in")
        self.show_all_button.clicked.connect(lambda: self.filterRequested.emit(self._filter))
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.show_all_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    # -- loading ----------------------------------------------------------------------
    def set_filter(self, where: RunFilter) -> None:
        """Group the failures within this filter (the run list's)."""
        if where.run_ids is not None:
            return  # the list is showing one of our groups: keep the groups as they are
        self._filter = where
        self.refresh()

    def refresh(self) -> None:
        """Recompute the groups now if the pane is on screen, else when it is shown."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        self._generation += 1
        generation = self._generation
        self._queries.submit(
            partial(stats.failure_groups, self._filter),
            lambda groups: self._on_loaded(generation, groups),
            self._on_load_error,
        )

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def _on_loaded(self, generation: int, groups: list[FailureGroup]) -> None:
        if generation != self._generation:
            return  # a newer request is on its way
        selected = self.selected_group()
        self.model.set_groups(groups)
        failures = sum(g.count for g in groups)
        self.summary.setText(
            "No failed runs in the current filter."
            if not groups
            else f"{failures:,} failed runs in {len(groups):,} groups"
        )
        row = self.model.row_of(_key(selected)) if selected is not None else None
        if row is not None:
            # Same group, fresh counts: no new filter request, which would override a filter
            # the user may have set in the run list since.
            self._restoring = True
            self.select_row(row)
            self._restoring = False
        self._update_buttons()
        self.loaded.emit()

    def _on_load_error(self, message: str) -> None:
        self.summary.setText(f"Could not read the failures: {message}")
        self.loaded.emit()

    # -- selection --------------------------------------------------------------------
    def selected_group(self) -> FailureGroup | None:
        current = self.view.currentIndex()
        return self.model.group_at(current.row()) if current.isValid() else None

    def select_row(self, row: int) -> None:
        self.view.selectionModel().setCurrentIndex(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )

    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._update_buttons()
        group = self.selected_group()
        if group is not None and not self._restoring:
            self.filterRequested.emit(runs_of(group))

    def _update_buttons(self) -> None:
        has_group = self.selected_group() is not None
        self.export_button.setEnabled(has_group)
        self.delete_button.setEnabled(has_group)

    # -- actions ----------------------------------------------------------------------
    def delete_selected(self) -> None:
        group = self.selected_group()
        if group is None:
            return
        runs = "run" if group.count == 1 else f"{group.count:,} runs"
        answer = QMessageBox.question(
            self,
            "Delete failure group",
            f"Delete the {runs} of this failure group?\n\n{describe(group)}\n\nTheir nodes, "
            "inputs, outputs and logs are removed from the history. This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        ids = list(group.run_ids)
        self._queries.submit(
            partial(writes.delete_runs, ids), self._after_delete, self._show_delete_error
        )

    def _after_delete(self, deleted: int) -> None:
        self.summary.setText(f"Deleted {deleted:,} runs.")
        self.historyChanged.emit(deleted)
        self.filterRequested.emit(self._filter)
        self.refresh()

    def _show_delete_error(self, message: str) -> None:
        QMessageBox.warning(
            self,
            "Nothing was deleted",
            f"The history could not be changed: {message}\n\nTry again in a moment; if it "
            "keeps failing, check that the database file is writable.",
        )

    def export_selected(self) -> None:
        group = self.selected_group()
        if group is None:
            return
        suggested = str(Path.home() / f"failures-{group.workflow_id}-{group.count}.json")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export failure group", suggested, "JSON reports (*.json)"
        )
        if not path:
            return
        self._queries.submit(
            partial(_export_group, runs_of(group), path),
            lambda count: self._after_export(path, count),
            lambda message: self._show_export_error(path, message),
        )

    def _after_export(self, path: str, count: int) -> None:
        self.summary.setText(f"Exported {count:,} runs to {path}")
        self.exported.emit(path, count)

    def _show_export_error(self, path: str, message: str) -> None:
        QMessageBox.warning(
            self,
            "Export failed",
            f"Could not write {path}: {message}\n\nChoose a folder you can write to, with "
            "enough free space, and export again.",
        )
