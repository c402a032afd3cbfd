"""What one node received, produced and raised, and for LLM nodes what was said."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication, QResizeEvent
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.store.records import NodeSummary
from app.store.status import Status
from app.ui.formatting import STATUS_COLOURS, format_duration
from app.ui.json_payload import PayloadState
from app.ui.json_tree import JsonTree
from app.ui.llm_view import LlmView
from app.ui.node_payload import PreparedNode
from app.ui.plain_text import clip, one_line, visible
from app.ui.runner import Runner, run_now

ERROR_MESSAGE_CHARS = 2_000  # in the label; "Copy error" copies all of it
ERROR_MESSAGE_LINES = 6  # shown at most before the message scrolls, so the stack keeps room
ERROR_MESSAGE_MIN_LINES = 3  # shown however little room the inspector has


def plain_label(text: str = "") -> QLabel:
    """A label that never interprets report text as HTML."""
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class _MessageArea(QScrollArea):
    """The error message as tall as its wrapped lines, up to ERROR_MESSAGE_LINES; a longer
    one scrolls, so the stack trace below it keeps its room."""

    def __init__(self, label: QLabel) -> None:
        super().__init__()
        self._label = label
        self.setWidget(label)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.setMaximumHeight(label.fontMetrics().lineSpacing() * ERROR_MESSAGE_LINES)

    def _wrapped_height(self) -> int:
        return self._label.heightForWidth(max(self.viewport().width(), 100))

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), min(self._wrapped_height(), self.maximumHeight()))

    def minimumSizeHint(self) -> QSize:
        # Room for a message of up to three lines before the stack below gives up any.
        lines = self._label.fontMetrics().lineSpacing() * ERROR_MESSAGE_MIN_LINES
        return QSize(0, min(self._wrapped_height(), lines))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.updateGeometry()  # a new width wraps the message into more or fewer lines


class ErrorView(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Error", parent)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self._full_message = ""
        self._full_stack = ""
        self.message = plain_label()
        self.message.setWordWrap(True)
        self.message.setFont(fixed)
        self.message.setStyleSheet(f"color: {STATUS_COLOURS[Status.ERROR]}; font-weight: bold;")
        self.stack = QPlainTextEdit()
        self.stack.setReadOnly(True)
        self.stack.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.stack.setFont(fixed)
        self.stack.setPlaceholderText("No stack trace was reported.")
        self.copy_button = QPushButton("Copy error")
        self.copy_button.clicked.connect(self.copy)
        self._message_area = _MessageArea(self.message)
        top = QHBoxLayout()
        top.addWidget(self._message_area, 1)
        top.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack)

    def show_error(self, message: str | None, stack: str | None, stack_shown: str = "") -> None:
        """`stack_shown` is the stack already clipped for display (done off the GUI thread)."""
        self._full_message = message or ""
        self._full_stack = stack or ""
        # The label wraps, so newlines stay; control and bidi characters become visible.
        self.message.setText(
            visible(clip(message, ERROR_MESSAGE_CHARS)) if message else "(no message)"
        )
        self.stack.setPlainText(stack_shown or (stack or ""))
        self._message_area.verticalScrollBar().setValue(0)  # a new message from its start
        self._message_area.updateGeometry()

    def copy(self) -> None:
        text = self._full_message or "(no message)"
        if self._full_stack:
            text += "\n\n" + self._full_stack
        QGuiApplication.clipboard().setText(text)


def _boxed(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(widget)
    return box


def _shows_error(node: NodeSummary, stack: str | None = None) -> bool:
    """Whether the error view is shown for a node: the same answer while its payloads load
    (no stack known yet) as after, so the layout does not jump when they arrive."""
    return bool(node.error_message or stack) or node.status is Status.ERROR


class NodeInspector(QWidget):
    def __init__(self, runner: Runner = run_now, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = plain_label("Select a node to see its input, output and error.")
        self.title.setStyleSheet("font-weight: bold;")
        self.input_tree = JsonTree(runner, save_name="input")
        self.output_tree = JsonTree(runner, save_name="output")
        self.llm_view = LlmView()
        self.error_view = ErrorView()
        self.error_view.hide()

        trees = QSplitter(Qt.Orientation.Horizontal)
        trees.addWidget(_boxed("Input", self.input_tree))
        self.output_box = _boxed("Output", self.output_tree)
        trees.addWidget(self.output_box)
        self.sections = QTabWidget()
        self.sections.setDocumentMode(True)
        self.sections.addTab(trees, "Input && output")
        self.llm_tab = self.sections.addTab(self.llm_view, "LLM call")
        self.sections.setTabEnabled(self.llm_tab, False)
        # The error beside the payloads, not below them: below, its box and three lines of
        # stack made the inspector 318 px tall at least, and the split above gave way,
        # leaving the node table two rows and the waterfall no room to draw a bar. Beside,
        # the stack gets the inspector's full height.
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(self.sections)
        body.addWidget(self.error_view)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        body.setSizes([600, 400])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(body, 1)

    def clear(self) -> None:
        self.title.setText("Select a node to see its input, output and error.")
        self.input_tree.clear()
        self.output_tree.clear()
        self.llm_view.clear()
        self.sections.setTabEnabled(self.llm_tab, False)
        self.error_view.hide()
        self.output_box.show()

    def show_loading(self, node: NodeSummary) -> None:
        """Right away on selection: the title and error message, payloads to follow."""
        self._set_title(node)
        self.input_tree.clear("loading…")
        self.output_tree.clear("loading…")
        failed = _shows_error(node)
        if failed:  # its stack, if any, comes with the payloads
            self.error_view.show_error(node.error_message, None)
            self.error_view.show()
        else:
            self.error_view.hide()
        # A failed node seldom has an output; showing the box only once it does keeps the
        # common case from jumping when the payload arrives.
        self.output_box.setVisible(not failed)

    def _set_title(self, node: NodeSummary) -> None:
        kind = f" ({one_line(node.node_type, 40)})" if node.node_type else ""
        attempt = f" · attempt {node.attempt}" if node.attempt > 1 else ""
        self.title.setText(
            f"{one_line(node.label, 120)}{kind} · {node.status.value} · "
            f"{format_duration(node.duration_ms)}{attempt}"
        )

    def show_node(self, node: NodeSummary, prepared: PreparedNode | None) -> None:
        self._set_title(node)
        prepared = prepared or PreparedNode(node.pk)
        self.input_tree.set_prepared(prepared.input)
        self.output_tree.set_prepared(prepared.output)
        self.sections.setTabEnabled(self.llm_tab, prepared.has_llm)
        if prepared.has_llm:
            self.llm_view.show_call(node, prepared.prompt, prepared.response)
            self.sections.setCurrentIndex(self.llm_tab)
        else:
            self.llm_view.clear()
            self.sections.setCurrentIndex(0)
        if _shows_error(node, prepared.error_stack):
            self.error_view.show_error(
                node.error_message, prepared.error_stack, prepared.stack_shown
            )
            self.error_view.show()
        else:
            self.error_view.hide()
        # A node that failed before producing anything: its error takes the output's place.
        self.output_box.setVisible(
            self.error_view.isHidden() or prepared.output.state is not PayloadState.ABSENT
        )
