"""The run list: newest first, merged in place so live updates keep selection and scroll."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor

from app.store.records import RunSummary
from app.ui.formatting import STATUS_COLOURS, format_duration, format_timestamp
from app.ui.record_table import Index, RecordTableModel

RUN_ROLE = Qt.ItemDataRole.UserRole + 1  # the RunSummary of a row
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # the raw value a column sorts by


def _order_key(run: RunSummary) -> tuple[int, str]:
    return (run.started_at, run.id)


class RunTableModel(RecordTableModel[RunSummary]):
    COL_STATUS, COL_WORKFLOW, COL_STARTED, COL_DURATION, COL_NODES, COL_FAILED = range(6)
    _HEADERS = ("Status", "Workflow", "Started", "Duration", "Nodes", "Failed node")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        run = self.row_at(index)
        if run is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(run, column)
        if role == RUN_ROLE:
            return run
        if role == SORT_ROLE:
            return self._sort_value(run, column)
        if role == Qt.ItemDataRole.DecorationRole and column == self.COL_STATUS:
            return QColor(STATUS_COLOURS[run.status])
        if role == Qt.ItemDataRole.ForegroundRole and column == self.COL_FAILED:
            return QColor(STATUS_COLOURS[run.status])
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (
            self.COL_DURATION,
            self.COL_NODES,
        ):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, run: RunSummary, column: int) -> str:
        if column == self.COL_STATUS:
            return run.status.value
        if column == self.COL_WORKFLOW:
            return run.workflow_label
        if column == self.COL_STARTED:
            return format_timestamp(run.started_at)
        if column == self.COL_DURATION:
            return format_duration(run.duration_ms)
        if column == self.COL_NODES:
            return str(run.node_count)
        return run.failed_node_name or ""

    def _sort_value(self, run: RunSummary, column: int) -> Any:
        return (
            run.status.value,
            run.workflow_label.lower(),
            run.started_at,
            run.duration_ms if run.duration_ms is not None else -1,
            run.node_count,
            run.failed_node_name or "",
        )[column]

    # -- updates ------------------------------------------------------------------------
    def run_at(self, row: int) -> RunSummary:
        return self._rows[row]

    def row_of(self, run_id: str) -> int | None:
        return next((i for i, run in enumerate(self._rows) if run.id == run_id), None)

    def set_runs(self, runs: Sequence[RunSummary]) -> None:
        """Merge a fresh newest-first list into the model row by row.

        Removals, inserts and in-place changes (rather than a reset) let the view keep the
        selection, the current row and the scroll position while reports stream in.
        """
        wanted = {run.id: _order_key(run) for run in runs}
        for row in reversed(range(len(self._rows))):
            current = self._rows[row]
            if wanted.get(current.id) != _order_key(current):
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
        for row, run in enumerate(runs):
            if row < len(self._rows) and self._rows[row].id == run.id:
                if self._rows[row] != run:
                    self._rows[row] = run
                    self.dataChanged.emit(
                        self.index(row, 0), self.index(row, self.columnCount() - 1)
                    )
                continue
            self.beginInsertRows(QModelIndex(), row, row)
            self._rows.insert(row, run)
            self.endInsertRows()
