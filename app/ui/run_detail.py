"""One run: its header, its nodes, and the inspector for the selected node."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.store import queries
from app.store.records import NodePayload, NodeSummary, RunDetail
from app.store.status import Status
from app.ui.background import BackgroundQueries
from app.ui.formatting import STATUS_COLOURS, format_duration, format_timestamp
from app.ui.node_inspector import NodeInspector, plain_label
from app.ui.node_table import NodeTableModel


def _header_text(detail: RunDetail) -> str:
    run = detail.summary
    parts = [
        run.status.value.upper(),
        run.workflow_label,
        f"started {format_timestamp(run.started_at)}",
        format_duration(run.duration_ms),
        f"{run.node_count} node" + ("" if run.node_count == 1 else "s"),
    ]
    if detail.trigger_type:
        parts.append(f"trigger: {detail.trigger_type}")
    return "  ·  ".join(parts)


class RunDetailPane(QWidget):
    def __init__(self, queries_runner: BackgroundQueries, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._queries = queries_runner
        self._detail: RunDetail | None = None
        self._shown_node_pk: int | None = None

        self.header = plain_label("Select a run.")
        self.header.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.run_error = plain_label()
        self.run_error.setWordWrap(True)
        self.run_error.setStyleSheet(f"color: {STATUS_COLOURS[Status.ERROR]};")
        self.run_error.hide()
        self.run_id = plain_label()
        self.run_id.setStyleSheet("color: #757575;")

        self.node_model = NodeTableModel(self)
        self.node_view = QTableView()
        self.node_view.setModel(self.node_model)
        self.node_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.node_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.node_view.verticalHeader().hide()
        self.node_view.setShowGrid(False)
        self.node_view.setWordWrap(False)
        header = self.node_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NodeTableModel.COL_NAME, QHeaderView.ResizeMode.Stretch)
        self.node_view.selectionModel().currentRowChanged.connect(self._on_node_changed)

        self.inspector = NodeInspector()
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.node_view)
        split.addWidget(self.inspector)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        split.setSizes([320, 900])

        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.run_error)
        layout.addWidget(self.run_id)
        layout.addWidget(split, 1)

    @property
    def run_id_shown(self) -> str | None:
        return self._detail.summary.id if self._detail else None

    def clear(self) -> None:
        self._detail = None
        self._shown_node_pk = None
        self.header.setText("Select a run.")
        self.run_error.hide()
        self.run_id.setText("")
        self.node_model.set_nodes([])
        self.inspector.clear()

    def show_run(self, detail: RunDetail) -> None:
        """Show a run; keep the selected node across a refresh of the same run.

        A run seen for the first time opens on its first failed node, else its first node.
        """
        previous = self._detail
        keep_node_id = None
        if previous is not None and previous.summary.id == detail.summary.id:
            current = self.node_view.currentIndex()
            if current.isValid():
                keep_node_id = self.node_model.node_at(current.row()).node_id
        self._detail = detail
        self._shown_node_pk = None
        self.header.setText(_header_text(detail))
        self.header.setStyleSheet(
            f"font-size: 13pt; font-weight: bold; color: {STATUS_COLOURS[detail.summary.status]};"
        )
        if detail.error_message:
            self.run_error.setText(detail.error_message)
            self.run_error.show()
        else:
            self.run_error.hide()
        self.run_id.setText(f"Run {detail.summary.id}  ·  workflow {detail.summary.workflow_id}")
        self.node_model.set_nodes(detail.nodes)
        self.inspector.clear()
        target = self._node_to_open(detail, keep_node_id)
        if target is not None:
            row = self.node_model.row_of(target.pk)
            if row is not None:
                self.node_view.selectionModel().setCurrentIndex(
                    self.node_model.index(row, 0),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect
                    | QItemSelectionModel.SelectionFlag.Rows,
                )

    @staticmethod
    def _node_to_open(detail: RunDetail, keep_node_id: str | None) -> NodeSummary | None:
        if keep_node_id is not None:
            kept = next((n for n in detail.nodes if n.node_id == keep_node_id), None)
            if kept is not None:
                return kept
        return detail.first_failed_node() or (detail.nodes[0] if detail.nodes else None)

    def selected_node(self) -> NodeSummary | None:
        current = self.node_view.currentIndex()
        return self.node_model.node_at(current.row()) if current.isValid() else None

    def _on_node_changed(self, current: object, previous: object) -> None:
        node = self.selected_node()
        if node is None:
            self.inspector.clear()
            return
        self._shown_node_pk = node.pk
        self._queries.submit(
            partial(queries.get_node_payload, node.pk), partial(self._on_payload, node)
        )

    def _on_payload(self, node: NodeSummary, payload: NodePayload | None) -> None:
        if node.pk != self._shown_node_pk:
            return  # the user moved on while it loaded
        self.inspector.show_node(node, payload)
