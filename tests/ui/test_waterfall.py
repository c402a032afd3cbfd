"""The waterfall's lane axis, its layout off the GUI thread, and pyqtgraph kept out of the
start-up path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from app.store.records import NodeSummary
from app.store.status import Status
from app.ui.run_detail import load_run
from app.ui.waterfall import Waterfall
from app.ui.waterfall_layout import layout_run
from tests.conftest import make_report
from tests.ui.detail_reports import parallel_report, store

ROOT = Path(__file__).resolve().parents[2]


def _node(pk: int, group: int | None, start: int) -> NodeSummary:
    return NodeSummary(
        pk=pk,
        position=pk,
        node_id=f"n{pk}",
        node_name=f"Step {pk}",
        node_type="code",
        status=Status.SUCCESS,
        started_at=start,
        completed_at=start + 10,
        duration_ms=10,
        error_message=None,
        group=group,
    )


def test_the_lane_axis_names_only_lanes_in_view_and_as_many_as_fit(qtbot: Any) -> None:
    # 3,000 groups of one node each: 3,000 lanes.
    nodes = [_node(i, i, 1_000 + i) for i in range(3_000)]
    waterfall = Waterfall()
    qtbot.addWidget(waterfall)
    waterfall.resize(600, 400)
    layout = waterfall.set_nodes(nodes, 1_000)
    assert len(layout.lanes) == 3_000
    axis = waterfall.plot.lane_axis
    levels = axis.tickValues(-0.5, 2_999.5, 400)
    shown = levels[0][1]
    assert len(shown) <= 400 // 16 + 1  # one name per 16 px at most
    # Lane 0 sits a fraction of a pixel from the top: its name would be cut, so it starts
    # with the first lane a whole name's height inside.
    assert shown[0] > 0 and all(0 < v < 3_000 for v in shown)
    names = axis.tickStrings(shown[:2], 1, levels[0][0])
    assert names == [layout.lanes[int(shown[0])], layout.lanes[int(shown[1])]]
    # A run with few lanes names every one of them, the first included.
    assert axis.tickValues(-0.5, 3.5, 400)[0][1] == [0.0, 1.0, 2.0, 3.0]
    # Zoomed to lanes 10..20 on the same height: every lane in view is named, none outside.
    assert axis.tickValues(9.6, 20.4, 400)[0][1] == [float(v) for v in range(10, 21)]


def test_an_empty_run_builds_no_plot(qtbot: Any) -> None:
    waterfall = Waterfall()
    qtbot.addWidget(waterfall)
    waterfall.set_nodes([], 0)
    assert waterfall._plot is None and waterfall.current_layout.bars == ()
    waterfall.set_nodes([_node(1, None, 5)], 0)
    assert waterfall._plot is not None and len(waterfall.current_layout.bars) == 1


def test_load_run_lays_the_waterfall_out_with_the_query(database: Path) -> None:
    store(parallel_report(), make_report("bad"))
    loaded = load_run("par")
    assert loaded is not None
    detail, layout = loaded
    assert layout == layout_run(detail)
    assert len(layout.lanes) > 1  # the parallel group has lanes of its own
    assert layout.bars[0].node == detail.nodes[0]
    assert load_run("missing") is None


def test_the_main_window_imports_no_pyqtgraph() -> None:
    """pyqtgraph and numpy are imported when the first chart or waterfall is drawn, not
    before the run list's first page (a few hundred milliseconds of start-up)."""
    probe = (
        "import sys\n"
        "import app.ui.application\n"
        "loaded = sorted(m for m in ('pyqtgraph', 'numpy') if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_bar_names_are_cut_to_their_bars_width_on_screen(qtbot: Any) -> None:
    """A name longer than its bar ends in an ellipsis instead of running over the next bar,
    and shows whole once the user zooms in on it."""
    from dataclasses import replace

    name = "Search the knowledge base"
    short = replace(_node(1, None, 0), node_name=name, completed_at=3_000, duration_ms=3_000)
    long = replace(
        _node(2, None, 3_000), node_name="Draft reply", completed_at=23_000, duration_ms=20_000
    )
    waterfall = Waterfall()
    qtbot.addWidget(waterfall)
    waterfall.resize(600, 200)
    waterfall.show()
    qtbot.waitExposed(waterfall)
    waterfall.set_nodes([short, long], 0)
    # The plot is made on the first draw and grows to the widget's width (a resize, after
    # which the names are fitted again).
    qtbot.waitUntil(lambda: waterfall.plot.width() > 500)
    first, second = waterfall.plot.labels
    view_box = waterfall.plot.getPlotItem().getViewBox()

    def shown(label: Any) -> str:
        return str(label.textItem.toPlainText()) if label.isVisible() else ""

    assert shown(first).startswith("Search") and shown(first).endswith("…")
    bar_px = 3.0 / view_box.viewPixelSize()[0]
    assert first.textItem.boundingRect().width() <= bar_px
    assert shown(second) == "Draft reply"
    view_box.setXRange(0, 3.5, padding=0)  # zoomed in on the first bar
    assert shown(first) == name
