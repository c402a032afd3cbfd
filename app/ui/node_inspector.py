"""What one node received, produced and raised."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.store.records import NodePayload, NodeSummary
from app.store.status import Status
from app.ui.formatting import STATUS_COLOURS, format_duration
from app.ui.json_tree import JsonTree


def plain_label(text: str = "") -> QLabel:
    """A label that never interprets report text as HTML."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class ErrorView(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Error", parent)
        self.message = plain_label()
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {STATUS_COLOURS[Status.ERROR]}; font-weight: bold;")
        self.stack = QPlainTextEdit()
        self.stack.setReadOnly(True)
        self.stack.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.stack.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.stack.setPlaceholderText("No stack trace was reported.")
        copy = QPushButton("Copy error")
        copy.clicked.connect(self._copy)
        top = QHBoxLayout()
        top.addWidget(self.message, 1)
        top.addWidget(copy, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack)

    def show_error(self, message: str | None, stack: str | None) -> None:
        self.message.setText(message or "(no message)")
        self.stack.setPlainText(stack or "")

    def _copy(self) -> None:
        text = self.message.text()
        if self.stack.toPlainText():
            text += "\n\n" + self.stack.toPlainText()
        QGuiApplication.clipboard().setText(text)


class NodeInspector(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = plain_label("Select a node to see its input, output and error.")
        self.title.setStyleSheet("font-weight: bold;")
        self.input_tree = JsonTree()
        self.output_tree = JsonTree()
        self.error_view = ErrorView()
        self.error_view.hide()

        trees = QSplitter(Qt.Orientation.Horizontal)
        trees.addWidget(self._boxed("Input", self.input_tree))
        trees.addWidget(self._boxed("Output", self.output_tree))
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(trees)
        body.addWidget(self.error_view)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(body, 1)

    @staticmethod
    def _boxed(title: str, widget: QWidget) -> QGroupBox:
        box = QGroupBox(title)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(widget)
        return box

    def clear(self) -> None:
        self.title.setText("Select a node to see its input, output and error.")
        self.input_tree.clear()
        self.output_tree.clear()
        self.error_view.hide()

    def show_node(self, node: NodeSummary, payload: NodePayload | None) -> None:
        kind = f" ({node.node_type})" if node.node_type else ""
        self.title.setText(
            f"{node.label}{kind} · {node.status.value} · {format_duration(node.duration_ms)}"
        )
        self.input_tree.set_json_text(payload.input_json if payload else None)
        self.output_tree.set_json_text(payload.output_json if payload else None)
        stack = payload.error_stack if payload else None
        if node.error_message or stack:
            self.error_view.show_error(node.error_message, stack)
            self.error_view.show()
        else:
            self.error_view.hide()
