"""The nodes of one run, in the order the report listed them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from app.store.records import NodeSummary
from app.ui.formatting import STATUS_COLOURS, format_duration

NODE_ROLE = Qt.ItemDataRole.UserRole + 1

_Index = QModelIndex | QPersistentModelIndex


class NodeTableModel(QAbstractTableModel):
    COL_STATUS, COL_NAME, COL_TYPE, COL_DURATION = range(4)
    _HEADERS = ("Status", "Node", "Type", "Duration")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._nodes: list[NodeSummary] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._nodes)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._nodes):
            return None
        node = self._nodes[index.row()]
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
        return self._nodes[row]

    def row_of(self, node_pk: int) -> int | None:
        return next((i for i, n in enumerate(self._nodes) if n.pk == node_pk), None)

    def set_nodes(self, nodes: Sequence[NodeSummary]) -> None:
        self.beginResetModel()
        self._nodes = list(nodes)
        self.endResetModel()
