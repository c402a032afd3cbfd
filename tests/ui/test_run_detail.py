"""The run detail pane against a real SQLite file: nodes, waterfall, inspector and tabs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QGuiApplication

from app.store import queries, writes
from app.store.models import Run
from app.ui.background import BackgroundQueries
from app.ui.logs_tab import LogTableModel
from app.ui.node_table import NodeTableModel
from app.ui.run_detail import RunDetailPane
from tests.conftest import make_report
from tests.ui.detail_reports import llm_report, parallel_report, store


@pytest.fixture
def pane(qtbot: Any, database: Path) -> Iterator[RunDetailPane]:
    runner = BackgroundQueries()
    widget = RunDetailPane(runner)
    qtbot.addWidget(widget)
    widget.resize(1300, 850)
    widget.show()
    yield widget
    runner.wait_for_done()


def _open(qtbot: Any, pane: RunDetailPane, run_id: str) -> None:
    detail = queries.get_run(run_id)
    assert detail is not None
    with qtbot.waitSignal(pane.node_shown):
        pane.show_run(detail)


def test_failed_run_opens_on_failed_node_with_header_and_error(
    qtbot: Any, pane: RunDetailPane, qtmodeltester: Any
) -> None:
    store(make_report("bad", projectId="billing"))
    _open(qtbot, pane, "bad")
    qtmodeltester.check(pane.node_model, force_py=True)
    assert pane.header.text() == "ERROR  ·  Invoice triage"
    facts = pane.facts.text()
    assert "2.50 s" in facts and "2 nodes" in facts and "trigger: http" in facts
    assert "project: billing" in facts
    node = pane.selected_node()
    assert node is not None and node.node_id == "parse"
    assert pane.waterfall.selected_pk == node.pk
    assert pane.waterfall.current_layout.span == 2.5  # the run's end, after the last node
    error = pane.inspector.error_view
    assert error.isVisible()
    assert error.message.text() == "ValueError: bad total"
    assert error.stack.toPlainText() == "Traceback ...\n  x"
    fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont).family()
    assert error.message.font().family() == error.stack.font().family() == fixed
    error.copy_button.click()
    assert QGuiApplication.clipboard().text() == "ValueError: bad total\n\nTraceback ...\n  x"
    row = [pane.node_model.index(1, c).data() for c in range(pane.node_model.columnCount())]
    assert row == ["error", "Parse total", "code", "≈+1.00 s", "12 ms", "1", ""]


def test_an_interrupted_run_opens_on_the_node_that_was_running(
    qtbot: Any, pane: RunDetailPane
) -> None:
    report = make_report("stuck", status="running", completedAt=None)
    del report["nodeExecutions"][1]["durationMs"]  # the node never reported its end
    store(report)
    started = queries.get_run("stuck").summary.started_at  # type: ignore[union-attr]
    Run.update(received_at=started + 4_000).execute()  # the last report came 4 s in
    hour = 3_600_000
    assert writes.interrupt_stale_runs(hour, now_ms=started + 3 * hour) == ["stuck"]
    _open(qtbot, pane, "stuck")
    node = pane.selected_node()
    assert node is not None and (node.node_id, node.status.value) == ("parse", "interrupted")
    assert "1 node was still running" in pane.facts.text()
    bars = {bar.node.node_id: bar for bar in pane.waterfall.current_layout.bars}
    assert (bars["parse"].start, bars["parse"].end) == (1.0, 4.0)
    assert bars["parse"].open_end is not None and bars["fetch"].open_end is None


def test_waterfall_puts_parallel_groups_on_their_own_lanes(qtbot: Any, pane: RunDetailPane) -> None:
    store(parallel_report())
    _open(qtbot, pane, "par")
    layout = pane.waterfall.current_layout
    lanes = {bar.node.node_id: layout.lanes[bar.lane] for bar in layout.bars}
    assert lanes == {
        "fetch": "main",
        "geo": "group 1",
        "company": "group 1 · 2",
        "social": "group 1 · 3",
        "save": "main",
    }
    starts = {bar.node.node_id: (bar.start, bar.end) for bar in layout.bars}
    assert starts["social"] == (2.5, 5.0) and starts["save"] == (8.0, 10.0)
    assert layout.span == 10.0
    geo = next(b for b in layout.bars if b.node.node_id == "geo")
    tip = pane.waterfall.hover_text(geo)
    assert tip.splitlines()[:3] == ["Geo (code)", "success · 4.00 s", "starts +2.00 s"]


def test_clicking_a_bar_selects_its_node_and_the_table_highlights_bars(
    qtbot: Any, pane: RunDetailPane
) -> None:
    store(parallel_report())
    _open(qtbot, pane, "par")
    company = next(n for n in pane.node_model._rows if n.node_id == "company")
    point = pane.waterfall.scene_point_of(company.pk)
    assert point is not None
    plot = pane.waterfall.plot
    with qtbot.waitSignal(pane.node_shown) as shown:
        qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=plot.mapFromScene(point))
    assert shown.args == [company.pk]
    selected = pane.selected_node()
    assert selected is not None and selected.node_id == "company"
    assert pane.waterfall.selected_pk == company.pk
    assert pane.inspector.title.text().startswith("Company (code) · success")

    pane.node_view.selectRow(4)
    save = pane.node_model.node_at(4)
    assert save.node_id == "save" and pane.waterfall.selected_pk == save.pk
    save_bar = pane.waterfall.bar_of(save.pk)
    assert save_bar is not None
    assert pane.waterfall.bar_at(9.0, save_bar.lane) == save_bar
    assert pane.waterfall.bar_at(9.0, save_bar.lane + 1) is None


def test_llm_node_shows_the_conversation_response_and_numbers(
    qtbot: Any, pane: RunDetailPane
) -> None:
    store(llm_report())
    _open(qtbot, pane, "llm")
    inspector = pane.inspector
    assert inspector.sections.currentIndex() == inspector.llm_tab
    summary = inspector.llm_view.summary.text()
    assert summary == (
        "Model: gpt-4o-mini  ·  tokens: 120 prompt + 30 completion = 150  ·  "
        "cost: $0.0012  ·  finish reason: stop"
    )
    transcript = inspector.llm_view.transcript.toPlainText()
    assert transcript == (
        "SYSTEM\nYou are terse.\n\n"
        "USER\nSummarise <b>this</b> invoice\n\n"
        "── Response ──\n"
        "ASSISTANT\nPaid in full."
    )
    assert "150 tokens" in pane.facts.text() and "$0.0012" in pane.facts.text()
    assert pane.node_model.index(0, NodeTableModel.COL_TOKENS).data() == "150"


def test_logs_tab_filters_by_level_node_and_text(
    qtbot: Any, pane: RunDetailPane, qtmodeltester: Any
) -> None:
    store(llm_report())
    _open(qtbot, pane, "llm")
    logs = pane.logs_tab
    pane.tabs.setCurrentWidget(logs)
    qtbot.waitUntil(lambda: logs.model.rowCount() == 4)
    qtmodeltester.check(logs.model, force_py=True)
    qtmodeltester.check(logs.proxy, force_py=True)
    assert logs.count_label.text() == "4 entries"
    assert [logs.node_box.itemText(i) for i in range(logs.node_box.count())] == [
        "All nodes",
        "ask",
    ]
    logs.set_filter("warn")
    assert logs.shown_messages() == ["slow answer <i>3 s</i>", "retry budget low"]
    assert logs.count_label.text() == "2 of 4 entries"
    logs.set_filter("debug", node_id="ask")
    assert logs.shown_messages() == ["starting", "prompt built", "slow answer <i>3 s</i>"]
    logs.set_filter("debug", text="PROMPT")
    assert logs.shown_messages() == ["prompt built"]
    assert logs.count_label.text() == "1 of 4 entries"
    logs.view.selectRow(0)
    assert logs.entry.toPlainText() == 'prompt built\n\ndata:\n{\n  "n": 2\n}'
    level = logs.proxy.index(0, LogTableModel.COL_LEVEL)
    assert level.data() == "debug"


def test_trigger_and_params_tab(qtbot: Any, pane: RunDetailPane) -> None:
    store(llm_report())
    _open(qtbot, pane, "llm")
    info = pane.info_tab
    pane.tabs.setCurrentWidget(info)
    qtbot.waitUntil(lambda: info.params_tree.model.rowCount() == 2)
    assert info.facts.text() == "trigger: schedule"
    trigger = info.trigger_tree.model
    assert (trigger.index(0, 0).data(), trigger.index(0, 1).data()) == ("cron", '"0 9 * * *"')
    assert info.params_tree.model.index(1, 0).data() == "maxWords"
    assert info.output_tree.note.text() == "(not reported)"


def test_artifacts_tab_lists_previews_and_saves(
    qtbot: Any, pane: RunDetailPane, qtmodeltester: Any, tmp_path: Path
) -> None:
    store(llm_report())
    _open(qtbot, pane, "llm")
    artifacts = pane.artifacts_tab
    pane.tabs.setCurrentWidget(artifacts)
    qtbot.waitUntil(lambda: artifacts.model.rowCount() == 2)
    qtmodeltester.check(artifacts.model, force_py=True)
    rows = [
        [artifacts.model.index(r, c).data() for c in range(4)]
        for r in range(artifacts.model.rowCount())
    ]
    assert rows == [
        ["raw", "artifact", "", "10 bytes"],
        ["summary", "stage_output", "ask", "12 bytes"],
    ]
    assert artifacts.status.text() == "2 artifacts, 22 bytes"
    preview = artifacts.preview
    qtbot.waitUntil(lambda: preview.model.rowCount() == 2)
    assert [preview.model.index(i, 1).data() for i in range(2)] == ['"a"', '"b"']
    artifacts.view.selectRow(1)
    qtbot.waitUntil(lambda: preview.model.index(0, 0).data() == "words")
    target = tmp_path / "summary.json"
    with qtbot.waitSignal(preview.saved):
        preview.save_to(str(target))
    assert json.loads(target.read_text()) == {"words": 3}


def test_a_run_without_artifacts_says_how_to_attach_them(qtbot: Any, pane: RunDetailPane) -> None:
    store(make_report("plain"))
    _open(qtbot, pane, "plain")
    artifacts = pane.artifacts_tab
    pane.tabs.setCurrentWidget(artifacts)
    qtbot.waitUntil(lambda: artifacts.status.text().startswith("No artifacts"))
    assert "run.artifact(key, data)" in artifacts.status.text()
    assert not artifacts.split.isVisible()  # no empty table and empty preview beneath it
    store(llm_report())
    _open(qtbot, pane, "llm")
    qtbot.waitUntil(lambda: artifacts.model.rowCount() == 2)
    assert artifacts.split.isVisible()


def test_raw_json_tab_shows_the_run_in_report_shape(qtbot: Any, pane: RunDetailPane) -> None:
    store(llm_report())
    _open(qtbot, pane, "llm")
    raw = pane.raw_tab
    pane.tabs.setCurrentWidget(raw)
    qtbot.waitUntil(lambda: raw.tree.raw.toPlainText().startswith("{"))
    report = json.loads(raw.tree.raw.toPlainText())
    assert report["id"] == "llm" and report["workflowId"] == "summarise"
    assert report["nodeExecutions"][0]["llm"]["model"] == "gpt-4o-mini"
    assert len(report["logs"]) == 4 and len(report["artifacts"]) == 2
    assert "report shape" in raw.status.text()


def test_tabs_load_only_when_shown_and_follow_the_run(qtbot: Any, pane: RunDetailPane) -> None:
    store(llm_report(), make_report("bad"))
    _open(qtbot, pane, "llm")
    assert pane.logs_tab.model.rowCount() == 0  # not read while hidden
    pane.tabs.setCurrentWidget(pane.logs_tab)
    qtbot.waitUntil(lambda: pane.logs_tab.model.rowCount() == 4)
    bad = queries.get_run("bad")
    assert bad is not None
    pane.show_run(bad)
    qtbot.waitUntil(lambda: pane.logs_tab.count_label.text() == "no log entries")
    pane.clear()
    assert pane.header.text() == "Select a run." and pane.node_model.rowCount() == 0
    assert pane.waterfall.current_layout.bars == ()


def test_the_status_column_fits_the_longest_status(pane: RunDetailPane) -> None:
    view = pane.node_view
    icon = view.style().pixelMetric(view.style().PixelMetric.PM_SmallIconSize)
    needed = view.fontMetrics().horizontalAdvance("interrupted") + icon
    assert view.columnWidth(NodeTableModel.COL_STATUS) > needed


def test_the_time_columns_fit_an_estimated_start_and_a_running_time(pane: RunDetailPane) -> None:
    view = pane.node_view
    metrics = view.fontMetrics()
    assert view.columnWidth(NodeTableModel.COL_START) > metrics.horizontalAdvance("≈+1 min 35 s")
    running = metrics.horizontalAdvance("59 min 59 s …")
    assert view.columnWidth(NodeTableModel.COL_DURATION) > running


def test_the_node_name_keeps_its_room_and_the_waterfall_takes_the_rest(
    qtbot: Any, pane: RunDetailPane
) -> None:
    """The time columns are sized to their longest texts; the node name still gets room on
    a small window, and a larger window widens the waterfall, not the table."""
    from app.ui.run_detail import NODE_NAME_WIDTH

    widths = {}
    for width in (1160, 1600):
        pane.resize(width, 850)
        qtbot.waitUntil(lambda width=width: pane.width() == width)
        widths[width] = (
            pane.node_view.columnWidth(NodeTableModel.COL_NAME),
            pane.waterfall.width(),
        )
    small_name, small_waterfall = widths[1160]
    large_name, large_waterfall = widths[1600]
    assert small_name >= NODE_NAME_WIDTH - 20
    assert large_name == small_name
    assert large_waterfall - small_waterfall >= 400


def test_a_long_facts_line_wraps_instead_of_widening_the_window(pane: RunDetailPane) -> None:
    assert pane.facts.wordWrap()
    pane.facts.setText("interrupted by Hindsight: " + "no report for a long time; " * 20)
    assert pane.facts.minimumSizeHint().width() < 600


def test_an_error_message_shows_whole_up_to_six_lines_then_scrolls(qtbot: Any) -> None:
    from app.ui.node_inspector import ERROR_MESSAGE_LINES, ErrorView

    view = ErrorView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    qtbot.waitExposed(view)
    line = view.message.fontMetrics().lineSpacing()
    area = view.message.parentWidget().parentWidget()  # label, viewport, scroll area
    stack = view.stack

    view.show_error("ValueError: bad total", "Traceback ...\n  x")
    qtbot.waitUntil(lambda: line <= area.height() < 2 * line)  # one line, no more
    qtbot.waitUntil(lambda: stack.height() > 200)  # laid out
    short_stack = stack.height()

    view.show_error("ValueError: " + "the total could not be parsed " * 60, "Traceback ...\n  x")
    qtbot.waitUntil(lambda: area.height() == ERROR_MESSAGE_LINES * line)
    assert area.verticalScrollBar().maximum() > 0  # the rest scrolls into view
    # The stack gave up only the message's five extra lines (uncapped: all but 70 px).
    assert stack.height() >= short_stack - (ERROR_MESSAGE_LINES - 1) * line - 2
    area.verticalScrollBar().setValue(area.verticalScrollBar().maximum())
    view.show_error("KeyError: next", None)
    assert area.verticalScrollBar().value() == 0  # a new message shows from its start


def test_counts_take_the_singular_for_one() -> None:
    from app.ui.formatting import counted
    from app.ui.json_model import summarise

    assert counted(1, "entry", "entries") == "1 entry"
    assert counted(1_200, "entry", "entries") == "1,200 entries"
    assert counted(0, "run") == "0 runs"
    assert (summarise({"a": 1}), summarise([1, 2])) == ("{…} 1 key", "[…] 2 items")
