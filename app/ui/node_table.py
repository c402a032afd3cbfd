"""The nodes of one run, in the order the report listed them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.store.records import NodeSummary
from app.store.status import Status
from app.ui.formatting import STATUS_COLOURS, format_duration, format_offset
from app.ui.plain_text import one_line, tooltip
from app.ui.record_table import Index, RecordTableModel

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class NodeTableModel(RecordTableModel[NodeSummary]):
    (
        COL_STATUS,
        COL_NAME,
        COL_TYPE,
        COL_START,
        COL_DURATION,
        COL_ATTEMPT,
        COL_TOKENS,
    ) = range(7)
    _HEADERS = ("Status", "Node", "Type", "Start", "Duration", "Attempt", "Tokens")
    _NUMERIC = (COL_START, COL_DURATION, COL_ATTEMPT, COL_TOKENS)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._origin = 0
        self._by_pk: dict[int, int] = {}
        self._placed_ms: dict[int, int] = {}  # where the waterfall put nodes without a start
        self._now_ms: int | None = None  # while the run runs: running nodes' time so far

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self.row_at(index)
        if node is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(node, column)
        if role == NODE_ROLE:
            return node
        if role == SORT_ROLE:
            return self._sort_value(node, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in (self.COL_NAME, self.COL_TYPE):
            text = node.label if column == self.COL_NAME else node.node_type
            if column == self.COL_NAME and node.error_message:
                text = f"{text}\n\n{node.error_message}"
            return tooltip(text)
        if role == Qt.ItemDataRole.DecorationRole and column == self.COL_STATUS:
            return QColor(STATUS_COLOURS[node.status])
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._NUMERIC:
            return _RIGHT
        return None

    def _display(self, node: NodeSummary, column: int) -> str:
        if column == self.COL_STATUS:
            return node.status.value
        if column == self.COL_NAME:
            return one_line(node.label, 120)
        if column == self.COL_TYPE:
            return one_line(node.node_type, 60)
        if column == self.COL_START:
            if node.started_at is None and node.status is Status.PENDING:
                return "not started"  # not "≈+…": it never ran, wherever its bar sits
            if node.started_at is None and node.pk in self._placed_ms:
                # Not reported: placed after the previous node, as the waterfall draws it.
                return "≈" + format_offset(self._placed_ms[node.pk], 0)
            return format_offset(node.started_at, self._origin)
        if column == self.COL_DURATION:
            elapsed = self._elapsed_ms(node)
            if elapsed is not None:
                return format_duration(elapsed) + " …"
            return format_duration(node.duration_ms)
        if column == self.COL_ATTEMPT:
            return str(node.attempt)
        return f"{node.total_tokens:,}" if node.total_tokens is not None else ""

    def _sort_value(self, node: NodeSummary, column: int) -> Any:
        return (
            node.status.value,
            node.label.lower(),
            node.node_type,
            node.started_at if node.started_at is not None else -1,
            node.duration_ms if node.duration_ms is not None else -1,
            node.attempt,
            node.total_tokens or 0,
        )[column]

    def node_at(self, row: int) -> NodeSummary:
        return self._rows[row]

    def row_of(self, node_pk: int) -> int | None:
        return self._by_pk.get(node_pk)

    def _elapsed_ms(self, node: NodeSummary) -> int | None:
        """A running node's time so far, while its run runs (None otherwise)."""
        if (
            self._now_ms is None
            or node.status is not Status.RUNNING
            or node.duration_ms is not None
            or node.started_at is None
        ):
            return None
        return max(0, self._now_ms - node.started_at)

    def set_clock(self, now_ms: int | None) -> None:
        """Count running nodes' durations up to `now_ms` (None: the run is not running,
        show what was reported); repaints those cells."""
        self._now_ms = now_ms
        for row, node in enumerate(self._rows):
            if node.status is Status.RUNNING and node.duration_ms is None:
                cell = self.index(row, self.COL_DURATION)
                self.dataChanged.emit(cell, cell, [Qt.ItemDataRole.DisplayRole])

    def set_nodes(
        self,
        nodes: Sequence[NodeSummary],
        origin: int = 0,
        placed_ms: dict[int, int] | None = None,
    ) -> None:
        """Replace the rows; start offsets are measured from `origin` (epoch ms).

        `placed_ms` gives the offset the waterfall chose for nodes that reported no start.
        """
        self.beginResetModel()
        self._rows = list(nodes)
        self._origin = origin
        self._placed_ms = placed_ms or {}
        self._by_pk = {node.pk: row for row, node in enumerate(self._rows)}
        self.endResetModel()
