"""Compare two runs: a table of aligned nodes with deltas, and the diff of the selected node's
output and input. The first node whose output (or status) diverges is marked and opened."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QTextCharFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.store import compare
from app.store.compare import JsonDiff, NodePair, RunComparison
from app.store.records import NodeSummary, RunSummary
from app.ui.background import BackgroundQueries
from app.ui.formatting import format_duration, format_timestamp
from app.ui.record_table import Index, RecordTableModel, record_view

PAIR_ROLE = Qt.ItemDataRole.UserRole + 1  # the NodePair of a row
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
# Translucent, so the mark reads on light and dark rows alike.
DIVERGENCE_COLOUR = QColor(239, 108, 0, 90)
MINUS = "\N{MINUS SIGN}"  # deltas read like arithmetic, not like hyphenated words


def _signed_duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    if ms == 0:
        return "±0"
    return ("+" if ms > 0 else MINUS) + format_duration(abs(ms))


def _signed(value: int | None) -> str:
    if value is None:
        return "—"
    return f"{value:+,}".replace("-", MINUS) if value else "±0"


def _tokens(node: NodeSummary | None) -> str:
    return "—" if node is None or node.total_tokens is None else f"{node.total_tokens:,}"


def _payload_state(pair: NodePair, diff: JsonDiff) -> str:
    if pair.left is None:
        return "only in B"
    if pair.right is None:
        return "only in A"
    return "same" if diff.equal else "changed"


class ComparisonModel(RecordTableModel[NodePair]):
    (
        COL_NODE,
        COL_ATTEMPT,
        COL_STATUS,
        COL_DURATION_A,
        COL_DURATION_B,
        COL_DURATION_DELTA,
        COL_TOKENS_A,
        COL_TOKENS_B,
        COL_TOKENS_DELTA,
        COL_INPUT,
        COL_OUTPUT,
    ) = range(11)
    _HEADERS = (
        "Node",
        "Attempt",
        "Status A → B",
        "Duration A",
        "Duration B",
        "Δ duration",
        "Tokens A",
        "Tokens B",
        "Δ tokens",
        "Input",
        "Output",
    )
    _NUMERIC = frozenset(
        {
            COL_ATTEMPT,
            COL_DURATION_A,
            COL_DURATION_B,
            COL_DURATION_DELTA,
            COL_TOKENS_A,
            COL_TOKENS_B,
            COL_TOKENS_DELTA,
        }
    )

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.first_divergence: int | None = None

    def set_comparison(self, comparison: RunComparison | None) -> None:
        self.beginResetModel()
        self._rows = list(comparison.pairs) if comparison else []
        self.first_divergence = comparison.first_divergence if comparison else None
        self.endResetModel()

    def pair_at(self, row: int) -> NodePair:
        return self._rows[row]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        pair = self.row_at(index)
        if pair is None:
            return None
        column = index.column()
        first = index.row() == self.first_divergence
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(pair, column, first)
        if role == PAIR_ROLE:
            return pair
        if role == SORT_ROLE:
            return index.row()
        if role == Qt.ItemDataRole.BackgroundRole and first:
            return DIVERGENCE_COLOUR
        if role == Qt.ItemDataRole.FontRole and first:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole and first:
            return "The first node whose output (or status) differs between the runs"
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, pair: NodePair, column: int, first: bool) -> str:
        a, b = pair.left, pair.right
        if column == self.COL_NODE:
            return ("⚑ " if first else "") + pair.label
        if column == self.COL_ATTEMPT:
            return str(pair.attempt)
        if column == self.COL_STATUS:
            left = a.status.value if a else "—"
            right = b.status.value if b else "—"
            return left if left == right else f"{left} → {right}"
        if column == self.COL_DURATION_A:
            return format_duration(a.duration_ms) if a else "—"
        if column == self.COL_DURATION_B:
            return format_duration(b.duration_ms) if b else "—"
        if column == self.COL_DURATION_DELTA:
            return _signed_duration(pair.duration_delta_ms)
        if column == self.COL_TOKENS_A:
            return _tokens(a)
        if column == self.COL_TOKENS_B:
            return _tokens(b)
        if column == self.COL_TOKENS_DELTA:
            return _signed(pair.tokens_delta)
        if column == self.COL_INPUT:
            return _payload_state(pair, pair.input)
        return _payload_state(pair, pair.output)


_MARKED_LINES = 5_000  # beyond this a diff is read by its paths, not its colours


def _line_format(foreground: str, background: QColor | None = None) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(foreground))
    if background is not None:
        fmt.setBackground(background)
    fmt.setProperty(QTextFormat.Property.FullWidthSelection, True)
    return fmt


_ADDED = _line_format("#2e7d32", QColor(46, 125, 50, 40))
_REMOVED = _line_format("#d32f2f", QColor(211, 47, 47, 40))
_HUNK = _line_format("#1e88e5")


def show_diff(editor: QPlainTextEdit, text: str) -> None:
    """Show a unified diff as plain text, its added and removed lines coloured.

    The colours are extra selections computed once, not a highlighter that runs Python for
    every block as the document lays out.
    """
    editor.setPlainText(text)
    selections: list[QTextEdit.ExtraSelection] = []
    block = editor.document().firstBlock()
    while block.isValid() and len(selections) < _MARKED_LINES:
        line = block.text()
        fmt = None
        if line.startswith(("+++", "---")):
            fmt = None
        elif line.startswith("+"):
            fmt = _ADDED
        elif line.startswith("-"):
            fmt = _REMOVED
        elif line.startswith("@@"):
            fmt = _HUNK
        if fmt is not None:
            selection = QTextEdit.ExtraSelection()
            selection.cursor = QTextCursor(block)
            selection.format = fmt
            selections.append(selection)
        block = block.next()
    editor.setExtraSelections(selections)


def _run_line(tag: str, run: RunSummary) -> str:
    return (
        f"{tag}: {run.workflow_label} · {run.status.value} · started "
        f"{format_timestamp(run.started_at)} · {format_duration(run.duration_ms)} · run {run.id}"
    )


def _diff_text(pair: NodePair, diff: JsonDiff, what: str) -> str:
    if pair.left is None or pair.right is None:
        side = "B" if pair.left is None else "A"
        return f"This node ran only in run {side}.\n\n{diff.text}"
    if diff.equal:
        return f"The {what} is the same in both runs."
    paths = ", ".join(diff.paths)
    return f"Differs at: {paths}\n\n{diff.text}"


class CompareView(QWidget):
    """The comparison itself; the dialog adds loading and a window around it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison: RunComparison | None = None
        self.run_a = QLabel()
        self.run_b = QLabel()
        self.totals = QLabel()
        for label in (self.run_a, self.run_b, self.totals):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = ComparisonModel(self)
        self.table = record_view(self.model, ComparisonModel.COL_NODE, fit_to_contents=True)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_selected())

        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.output_diff = QPlainTextEdit()
        self.input_diff = QPlainTextEdit()
        for editor in (self.output_diff, self.input_diff):
            editor.setReadOnly(True)
            editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            editor.setFont(fixed)
        self.diffs = QTabWidget()
        self.diffs.addTab(self.output_diff, "Output diff")
        self.diffs.addTab(self.input_diff, "Input diff")

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.diffs)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.run_a)
        layout.addWidget(self.run_b)
        layout.addWidget(self.totals)
        layout.addWidget(split, 1)

    def show_comparison(self, comparison: RunComparison) -> None:
        self.comparison = comparison
        self.run_a.setText(_run_line("A", comparison.left))
        self.run_b.setText(_run_line("B", comparison.right))
        first = comparison.first_divergence
        divergence = (
            "no node's output differs"
            if first is None
            else f"first divergence: {comparison.pairs[first].label} (marked ⚑)"
        )
        self.totals.setText(
            f"B {MINUS} A: duration {_signed_duration(comparison.duration_delta_ms)} · "
            f"tokens {_signed(comparison.tokens_delta)} · {len(comparison.pairs)} nodes · "
            + divergence
        )
        self.model.set_comparison(comparison)
        if comparison.pairs:
            self.select_row(first if first is not None else 0)

    def select_row(self, row: int) -> None:
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.table.scrollTo(self.model.index(row, 0))

    def selected_pair(self) -> NodePair | None:
        current = self.table.currentIndex()
        return self.model.pair_at(current.row()) if current.isValid() else None

    def _show_selected(self) -> None:
        pair = self.selected_pair()
        if pair is None:
            self.output_diff.clear()
            self.input_diff.clear()
            return
        show_diff(self.output_diff, _diff_text(pair, pair.output, "output"))
        show_diff(self.input_diff, _diff_text(pair, pair.input, "input"))


class CompareDialog(QDialog):
    """A window comparing two runs; it loads the comparison off the GUI thread."""

    loaded = Signal()  # the comparison (or the reason there is none) is shown

    def __init__(self, queries: BackgroundQueries, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare runs")
        self.resize(1100, 750)
        self._queries = queries
        self.status = QLabel("Loading the runs…")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.view = CompareView()
        self.view.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)

    def compare(self, run_a: str, run_b: str) -> None:
        """Two runs picked together: the older one is A."""
        self._load(partial(compare.compare_runs, run_a, run_b, older_first=True))

    def compare_with_last_success(self, run_id: str) -> None:
        self._load(partial(compare.compare_with_last_success, run_id))

    def _load(self, query: Callable[[], RunComparison]) -> None:
        self.status.setText("Loading the runs…")
        self.status.show()
        self._queries.submit(query, self._on_loaded, self._on_error)

    def _on_loaded(self, comparison: RunComparison) -> None:
        self.status.hide()
        self.view.show()
        self.view.show_comparison(comparison)
        self.loaded.emit()

    def _on_error(self, message: str) -> None:
        # LookupError text says which run is missing or that there is no earlier success.
        reason = message.removeprefix("LookupError: ")
        self.status.setText(
            f"Cannot compare: {reason}.\n\nPick two runs that are still in the history, or a "
            "run whose workflow has succeeded before."
        )
        self.status.show()
        self.view.hide()
        self.loaded.emit()
