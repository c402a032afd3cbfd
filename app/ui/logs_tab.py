"""A run's log entries with level, node and text filters; the selected entry in full."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QColor, QFontDatabase
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.store import queries
from app.store.records import RunDetail, StoredLog
from app.store.status import Status
from app.ui.formatting import STATUS_COLOURS, counted, format_timestamp
from app.ui.plain_text import multi_line, one_line, tooltip
from app.ui.record_table import Index, RecordTableModel, record_view
from app.ui.run_tab import RunTab
from app.ui.runner import Runner, run_now

LOG_ROLE = Qt.ItemDataRole.UserRole + 1
LEVELS = ("debug", "info", "warn", "error")
LEVEL_CHOICES = (
    ("All levels", "debug"),
    ("Info and above", "info"),
    ("Warnings and errors", "warn"),
    ("Errors only", "error"),
)
ENTRY_CHARS = 200_000
_LEVEL_COLOURS = {
    "warn": QColor(STATUS_COLOURS[Status.INTERRUPTED]),
    "error": QColor(STATUS_COLOURS[Status.ERROR]),
}


def level_rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else 0


class LogTableModel(RecordTableModel[StoredLog]):
    COL_TIME, COL_LEVEL, COL_NODE, COL_MESSAGE = range(4)
    _HEADERS = ("Time", "Level", "Node", "Message")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entry = self.row_at(index)
        if entry is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                format_timestamp(entry.timestamp) if entry.timestamp is not None else "",
                entry.level,
                one_line(entry.node_id, 60),
                one_line(entry.message, 200),
            )[column]
        if role == LOG_ROLE:
            return entry
        if role == Qt.ItemDataRole.ToolTipRole and column == self.COL_MESSAGE:
            return tooltip(entry.message)
        if role == Qt.ItemDataRole.ForegroundRole and column == self.COL_LEVEL:
            return _LEVEL_COLOURS.get(entry.level)
        return None

    def set_logs(self, logs: Sequence[StoredLog]) -> None:
        self.beginResetModel()
        self._rows = list(logs)
        self.endResetModel()

    def node_ids(self) -> list[str]:
        return sorted({e.node_id for e in self._rows if e.node_id})


class LogFilter(QSortFilterProxyModel):
    """Entries at or above a level, of one node (or all), containing a text."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._min_rank = 0
        self._node_id: str | None = None
        self._needle = ""

    def set_filter(self, min_level: str, node_id: str | None, text: str) -> None:
        # Qt 6.10 replaced invalidateRowsFilter with begin/endFilterChange; support both.
        modern = hasattr(self, "beginFilterChange")
        if modern:
            self.beginFilterChange()
        self._min_rank = level_rank(min_level)
        self._node_id = node_id
        self._needle = text.casefold()
        if modern:
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        entry: StoredLog = model.index(source_row, 0, source_parent).data(LOG_ROLE)
        if level_rank(entry.level) < self._min_rank:
            return False
        if self._node_id is not None and entry.node_id != self._node_id:
            return False
        return not self._needle or self._needle in entry.message.casefold()


def _entry_text(entry: StoredLog) -> str:
    text = multi_line(entry.message, ENTRY_CHARS)
    if entry.data_json is not None:
        try:
            data = json.dumps(json.loads(entry.data_json), indent=2, ensure_ascii=False)
        except ValueError:
            data = entry.data_json
        text += "\n\ndata:\n" + multi_line(data, ENTRY_CHARS)
    return text


class LogsTab(RunTab):
    def __init__(self, runner: Runner = run_now, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self.model = LogTableModel(self)
        self.proxy = LogFilter(self)
        self.proxy.setSourceModel(self.model)
        self.view = record_view(self.proxy, LogTableModel.COL_MESSAGE)
        self.view.setColumnWidth(LogTableModel.COL_TIME, 160)
        self.view.setColumnWidth(LogTableModel.COL_LEVEL, 60)
        self.view.setColumnWidth(LogTableModel.COL_NODE, 120)
        self.view.selectionModel().currentRowChanged.connect(self._show_entry)

        self.level_box = QComboBox()
        for label, level in LEVEL_CHOICES:
            self.level_box.addItem(label, level)
        self.node_box = QComboBox()
        self.search_field = QLineEdit()
        self.search_field.setPlaceholderText("Search log messages")
        self.search_field.setClearButtonEnabled(True)
        self.count_label = QLabel()
        self.count_label.setTextFormat(Qt.TextFormat.PlainText)
        self.level_box.currentIndexChanged.connect(self._apply_filter)
        self.node_box.currentIndexChanged.connect(self._apply_filter)
        self.search_field.textChanged.connect(self._apply_filter)

        self.entry = QPlainTextEdit()
        self.entry.setReadOnly(True)
        self.entry.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.entry.setPlaceholderText("Select an entry to read it in full.")

        bar = QHBoxLayout()
        bar.addWidget(self.level_box)
        bar.addWidget(self.node_box)
        bar.addWidget(self.search_field, 1)
        bar.addWidget(self.count_label)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(self.entry)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self.show_empty()

    def read(self, detail: RunDetail) -> list[StoredLog]:
        return queries.list_logs(detail.summary.id)

    def show_loading(self) -> None:
        self.count_label.setText("loading…")

    def show_empty(self) -> None:
        self.model.set_logs([])
        self._refill_nodes()
        self.entry.clear()
        self.count_label.setText("")

    def show_failure(self, message: str) -> None:
        self.count_label.setText(f"could not read the logs: {message}")

    def show_result(self, result: object) -> None:
        logs: list[StoredLog] = result  # type: ignore[assignment]
        self.model.set_logs(logs)
        self._refill_nodes()
        self.entry.clear()
        self._apply_filter()

    def _refill_nodes(self) -> None:
        keep = self.node_box.currentData()
        self.node_box.blockSignals(True)
        self.node_box.clear()
        self.node_box.addItem("All nodes", None)
        for node_id in self.model.node_ids():
            self.node_box.addItem(one_line(node_id, 60), node_id)
        position = self.node_box.findData(keep) if keep is not None else 0
        self.node_box.setCurrentIndex(max(position, 0))
        self.node_box.blockSignals(False)

    def set_filter(
        self, min_level: str = "debug", node_id: str | None = None, text: str = ""
    ) -> None:
        """Set the controls (as a user would) and filter."""
        self.level_box.setCurrentIndex(self.level_box.findData(min_level))
        position = self.node_box.findData(node_id) if node_id is not None else 0
        self.node_box.setCurrentIndex(max(position, 0))
        self.search_field.setText(text)
        self._apply_filter()

    def _apply_filter(self) -> None:
        self.proxy.set_filter(
            self.level_box.currentData() or "debug",
            self.node_box.currentData(),
            self.search_field.text(),
        )
        total = self.model.rowCount()
        shown = self.proxy.rowCount()
        if total == 0:
            self.count_label.setText("no log entries")
        else:
            self.count_label.setText(
                counted(total, "entry", "entries")
                if shown == total
                else f"{shown:,} of {counted(total, 'entry', 'entries')}"
            )

    def shown_messages(self) -> list[str]:
        return [self.proxy.index(r, 0).data(LOG_ROLE).message for r in range(self.proxy.rowCount())]

    def _show_entry(self, current: QModelIndex | QPersistentModelIndex, previous: object) -> None:
        entry: StoredLog | None = current.data(LOG_ROLE) if current.isValid() else None
        self.entry.setPlainText(_entry_text(entry) if entry is not None else "")
