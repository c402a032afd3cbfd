"""The nodes of one run, in the order the report listed them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.store.records import NodeSummary
from app.ui.formatting import STATUS_COLOURS, format_duration
from app.ui.record_table import Index, RecordTableModel

NODE_ROLE = Qt.ItemDataRole.UserRole + 1


class NodeTableModel(RecordTableModel[NodeSummary]):
    COL_STATUS, COL_NAME, COL_TYPE, COL_DURATION = range(4)
    _HEADERS = ("Status", "Node", "Type", "Duration")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        node = self.row_at(index)
        if node is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                node.status.value,
                node.label,
                node.node_type,
                format_duration(node.duration_ms),
            )[column]
        if role == NODE_ROLE:
            return node
        if role == Qt.ItemDataRole.DecorationRole and column == self.COL_STATUS:
            return QColor(STATUS_COLOURS[node.status])
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.COL_DURATION:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def node_at(self, row: int) -> NodeSummary:
        return self._rows[row]

    def row_of(self, node_pk: int) -> int | None:
        return next((i for i, n in enumerate(self._rows) if n.pk == node_pk), None)

    def set_nodes(self, nodes: Sequence[NodeSummary]) -> None:
        self.beginResetModel()
        self._rows = list(nodes)
        self.endResetModel()
