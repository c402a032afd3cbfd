"""Hostile report text (HTML, control characters, bidi overrides, 10 MB strings) is shown
literally and clipped everywhere in the run detail: labels, tables, trees, tooltips."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import Qt as GuiQt  # mightBeRichText lives in QtGui's Qt namespace
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import QLabel

from app.store import queries
from app.store.connection import close_database, open_database
from app.ui.background import BackgroundQueries
from app.ui.json_model import JsonTreeModel
from app.ui.logs_tab import LogTableModel
from app.ui.node_table import NodeTableModel
from app.ui.plain_text import one_line, tooltip, visible
from app.ui.run_detail import RunDetailPane
from tests.ui.detail_reports import HOSTILE, HUGE_CHARS, hostile_report, store

SHOWN = "<b>x</b><img src=http://example.invalid/p.png>⟨U+001B⟩[31m⟨U+202E⟩evil⟨U+202C⟩⟨U+0000⟩"


def rendered(tooltip_text: str) -> str:
    """What Qt shows for a tooltip: it renders rich text, so render it the same way."""
    document = QTextDocument()
    if GuiQt.mightBeRichText(tooltip_text):
        document.setHtml(tooltip_text)
    else:
        document.setPlainText(tooltip_text)
    return document.toPlainText()


def test_visible_and_tooltip_helpers_keep_text_literal() -> None:
    assert visible(HOSTILE) == SHOWN
    assert one_line("a\nb\tc") == "a⏎b⇥c"
    assert one_line("z" * 1000, 10) == "zzzzzzzzzz… (1,000 chars)"
    assert rendered(tooltip(HOSTILE)) == SHOWN
    assert rendered(tooltip("line 1\nline 2 <i>")) == "line 1\nline 2 <i>"


@pytest.fixture(scope="module")
def hostile_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile run (about 50 MB of text) is ingested once; each test gets a copy."""
    path = tmp_path_factory.mktemp("hostile") / "history.db"
    open_database(path)
    try:
        store(hostile_report())
    finally:
        close_database()
    return path


@pytest.fixture
def db_path(tmp_path: Path, hostile_history: Path) -> Path:
    copy = tmp_path / "history.db"
    shutil.copyfile(hostile_history, copy)
    return copy


@pytest.fixture
def hostile_pane(qtbot: Any, database: Path) -> Iterator[RunDetailPane]:
    runner = BackgroundQueries()
    pane = RunDetailPane(runner)
    qtbot.addWidget(pane)
    pane.resize(1300, 850)
    pane.show()
    detail = queries.get_run("hostile")
    assert detail is not None
    with qtbot.waitSignal(pane.node_shown, timeout=20_000):
        pane.show_run(detail)
    yield pane
    runner.wait_for_done()


def _plain_labels(pane: RunDetailPane) -> list[QLabel]:
    return [pane.header, pane.facts, pane.run_error, pane.run_id, pane.inspector.title]


def test_labels_show_markup_literally(hostile_pane: RunDetailPane) -> None:
    pane = hostile_pane
    for label in _plain_labels(pane):
        assert label.textFormat() == Qt.TextFormat.PlainText
    assert pane.header.text() == f"ERROR  ·  {SHOWN}"
    assert f"trigger: {SHOWN}" in pane.facts.text()
    assert pane.run_error.text() == SHOWN
    assert pane.inspector.title.text().startswith(f"{SHOWN} (<script>) · error")
    error = pane.inspector.error_view
    assert error.message.textFormat() == Qt.TextFormat.PlainText
    assert error.message.text().startswith(SHOWN)
    assert len(error.message.text()) < 2_100  # 100,000 chars reported, label clipped
    stack = error.stack.toPlainText()
    assert stack.startswith(SHOWN + "\n") and len(stack) < 210_000


def test_node_table_and_tooltips_are_plain_and_clipped(
    hostile_pane: RunDetailPane, qtmodeltester: Any
) -> None:
    model = hostile_pane.node_model
    qtmodeltester.check(model, force_py=True)
    name = model.index(0, NodeTableModel.COL_NAME)
    assert name.data() == SHOWN
    tip = name.data(Qt.ItemDataRole.ToolTipRole)
    assert rendered(tip).startswith(SHOWN)
    assert "<b>" not in tip.removeprefix("<qt>")  # only escaped markup inside


def test_json_trees_show_keys_and_huge_values_clipped(hostile_pane: RunDetailPane) -> None:
    inspector = hostile_pane.inspector
    tree: JsonTreeModel = inspector.input_tree.model
    key = tree.index(0, 0)
    assert key.data() == SHOWN
    # Values are shown as JSON, so control characters read as JSON escapes.
    escaped = SHOWN.replace("⟨U+001B⟩", "\\u001b").replace("⟨U+0000⟩", "\\u0000")
    assert tree.index(0, 1).data() == f'"{escaped}"'
    assert rendered(tree.index(0, 1).data(Qt.ItemDataRole.ToolTipRole)) == SHOWN
    assert rendered(key.data(Qt.ItemDataRole.ToolTipRole)).startswith('$["<b>x</b>')
    big = tree.index(1, 1).data()
    assert big.endswith(f'…" ({HUGE_CHARS:,} chars)') and len(big) < 400
    assert len(tree.index(1, 1).data(Qt.ItemDataRole.ToolTipRole)) < 2_200
    assert inspector.input_tree.size_badge.text() == "10.0 MB · preview"
    output = inspector.output_tree.model
    assert len(output.index(0, 1).data()) < 400


def test_llm_transcript_is_literal_and_clipped(hostile_pane: RunDetailPane) -> None:
    view = hostile_pane.inspector.llm_view
    assert view.summary.textFormat() == Qt.TextFormat.PlainText
    assert view.summary.text().startswith(f"Model: {SHOWN}")
    text = view.transcript.toPlainText()
    assert text.startswith(f"PROMPT\n{SHOWN}\n\n── Response ──\nRESPONSE\nyyyy")
    assert len(text) < 110_000


def test_logs_and_waterfall_show_text_literally(qtbot: Any, hostile_pane: RunDetailPane) -> None:
    pane = hostile_pane
    logs = pane.logs_tab
    pane.tabs.setCurrentWidget(logs)
    qtbot.waitUntil(lambda: logs.model.rowCount() == 1, timeout=10_000)
    message = logs.model.index(0, LogTableModel.COL_MESSAGE).data()
    assert message.startswith(SHOWN) and len(message) < 300
    assert logs.model.index(0, LogTableModel.COL_NODE).data() == SHOWN
    assert rendered(logs.model.index(0, 3).data(Qt.ItemDataRole.ToolTipRole)).startswith(SHOWN)
    assert logs.node_box.itemText(1) == SHOWN
    logs.view.selectRow(0)
    assert len(logs.entry.toPlainText()) < 210_000

    bar = pane.waterfall.current_layout.bars[0]
    assert pane.waterfall.hover_text(bar).startswith(f"{SHOWN} (<script>)")
    labels = [label.textItem.toPlainText() for label in pane.waterfall._labels]
    assert labels == [one_line(HOSTILE, 40)]
