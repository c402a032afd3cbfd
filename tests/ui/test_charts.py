"""The charts pane against a seeded database: what is drawn is what the store computes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPointF, Qt

from app.store import chart_data
from app.store.filters import RunFilter
from app.store.status import Status
from app.ui.background import BackgroundQueries
from app.ui.charts import Chart
from app.ui.charts_pane import ChartsPane
from app.ui.formatting import STATUS_COLOURS
from tests.store.history_seed import seed_history


@pytest.fixture
def pane(qtbot: Any, database: Path) -> Iterator[ChartsPane]:
    seed_history()
    queries = BackgroundQueries()
    widget = ChartsPane(queries)
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    yield widget
    queries.wait_for_done()


def _open(qtbot: Any, pane: ChartsPane, chart: Chart) -> None:
    with qtbot.waitSignal(chart.dataShown, timeout=5000):
        pane.show_chart(chart)
        pane.show()


def test_duration_scatter_matches_the_store(qtbot: Any, pane: ChartsPane) -> None:
    _open(qtbot, pane, pane.duration)
    expected = chart_data.duration_series()
    points = pane.duration.scatter.points()
    assert [p.data() for p in points] == [p.run_id for p in expected.points]
    assert [p.pos().x() for p in points] == [p.started_at / 1000 for p in expected.points]
    assert [round(10 ** p.pos().y()) for p in points] == [p.duration_ms for p in expected.points]
    error_brush = points[3].brush().color().name()  # e3 failed
    assert error_brush == STATUS_COLOURS[Status.ERROR]
    _, p95 = pane.duration.p95_line.getData()
    assert [round(10**y) for y in p95] == [b.p95_ms for b in expected.bands]
    assert "9 runs" in pane.duration.caption.text()
    picker = pane.duration.workflow_picker
    assert [picker.itemData(i) for i in range(picker.count())] == [None, "etl", "agent"]


def test_clicking_a_dot_opens_its_run(qtbot: Any, pane: ChartsPane) -> None:
    _open(qtbot, pane, pane.duration)
    qtbot.waitExposed(pane)
    plot = pane.duration.plot
    view_box = plot.getPlotItem().vb
    qtbot.waitUntil(lambda: view_box.viewRange()[0][0] > 1)  # auto-range lands on a repaint
    target = next(p for p in pane.duration.scatter.points() if p.data() == "a2")
    scene_pos = view_box.mapViewToScene(target.pos())
    view_pos = plot.mapFromScene(QPointF(scene_pos))
    with qtbot.waitSignal(pane.runActivated, timeout=2000) as opened:
        qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=view_pos)
    assert opened.args == ["a2"]


def test_picking_a_workflow_and_changing_the_filter_reload(qtbot: Any, pane: ChartsPane) -> None:
    _open(qtbot, pane, pane.duration)
    picker = pane.duration.workflow_picker
    with qtbot.waitSignal(pane.duration.dataShown):
        picker.setCurrentIndex(picker.findData("agent"))
        picker.activated.emit(picker.currentIndex())
    assert [p.data() for p in pane.duration.scatter.points()] == ["a1", "a2", "a3"]
    with qtbot.waitSignal(pane.duration.dataShown):
        pane.set_filter(RunFilter(workflow_id="nobody"))
    assert pane.duration.is_empty
    assert "No finished runs" in pane.duration.empty_label.text()


def test_histogram_bars_match_the_store(qtbot: Any, pane: ChartsPane) -> None:
    _open(qtbot, pane, pane.histogram)
    assert pane.histogram.counts == [c for _, c in chart_data.duration_histogram()]
    assert list(pane.histogram.bars.opts["height"]) == pane.histogram.counts
    ticks = pane.histogram.plot.getAxis("bottom")._tickLevels[0]
    assert ticks[0][1] == "≤ 100 ms" and ticks[-1][1].startswith("> 30 min")


def test_node_bars_show_p50_and_p95(qtbot: Any, pane: ChartsPane) -> None:
    _open(qtbot, pane, pane.nodes)
    expected = chart_data.slowest_nodes()
    assert list(pane.nodes.p95_bars.opts["width"]) == [n.p95_ms for n in expected]
    assert list(pane.nodes.p50_bars.opts["width"]) == [n.p50_ms for n in expected]
    labels = dict(pane.nodes.plot.getAxis("left")._tickLevels[0])
    assert labels[len(expected) - 1] == "Plan"  # the slowest node is drawn at the top


def test_success_rate_per_day(qtbot: Any, pane: ChartsPane) -> None:
    _open(qtbot, pane, pane.success)
    assert list(pane.success.bars.opts["height"]) == [100.0, 0.0, 100.0]
    assert "5 of 8 runs succeeded" in pane.success.caption.text()


def test_usage_stacks_by_model_then_by_project(qtbot: Any, pane: ChartsPane) -> None:
    _open(qtbot, pane, pane.usage)
    usage = pane.usage
    assert [list(item.opts["height"]) for item in usage.bar_items] == [
        [1000.0, 1000.0, 0.0],
        [200.0, 0.0, 200.0],
    ]
    assert list(usage.bar_items[1].opts["y0"]) == [1000.0, 1000.0, 0.0]  # stacked on gpt-4o
    usage.measure.setCurrentIndex(1)
    usage.measure.activated.emit(1)
    assert math.isclose(usage.bar_items[0].opts["height"][0], 0.01)
    with qtbot.waitSignal(usage.dataShown):
        usage.split.setCurrentIndex(1)
        usage.split.activated.emit(1)
    assert usage.series is not None and usage.series.keys == ("p2", "(no project)")
    with qtbot.waitSignal(usage.dataShown):
        pane.set_filter(RunFilter(workflow_id="etl"))
    assert usage.is_empty and "No LLM calls" in usage.empty_label.text()


def test_hidden_charts_load_only_when_opened(qtbot: Any, pane: ChartsPane) -> None:
    _open(qtbot, pane, pane.histogram)
    assert pane.usage.series is None  # never queried while its tab was closed
    pane.set_filter(RunFilter(workflow_id="agent"))
    _open(qtbot, pane, pane.usage)
    assert pane.usage.series is not None and pane.usage.series.keys == ("gpt-4o", "mini")


def test_log_duration_axis_labels_decades_as_durations(qtbot: Any) -> None:
    from app.ui.chart_style import LogDurationAxis

    axis = LogDurationAxis("left")
    major, minor = axis.tickValues(0, 3, 500)
    assert axis.tickStrings(major[1], 1, 1) == ["1 ms", "10 ms", "100 ms", "1.00 s"]
    assert axis.tickStrings(minor[1][:2], 1, 1) == ["2 ms", "5 ms"]
    ((_, narrow),) = axis.tickValues(2.1, 2.9, 500)  # less than a decade: label 1-2-5 steps
    assert axis.tickStrings(narrow, 1, 1) == ["200 ms", "500 ms"]
