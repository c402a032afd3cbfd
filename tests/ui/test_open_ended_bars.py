"""A node that reported no end (still running, or cut off by an interrupted run) is drawn up
to the last moment known, with a dashed outline, instead of as a bar of no width."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.store.records import NodeSummary, RunDetail, RunSummary
from app.store.status import Status
from app.ui import run_detail
from app.ui.background import BackgroundQueries
from app.ui.run_detail import RunDetailPane, facts_text
from app.ui.waterfall import Waterfall
from app.ui.waterfall_layout import describe, layout_run

START = 1_000_000


def _node(pk: int, status: Status, started: int, completed: int | None) -> NodeSummary:
    return NodeSummary(
        pk=pk,
        position=pk,
        node_id=f"n{pk}",
        node_name=f"Step {pk}",
        node_type="code",
        status=status,
        started_at=started,
        completed_at=completed,
        duration_ms=None if completed is None else completed - started,
        error_message=None,
    )


def _run(
    status: Status, *nodes: NodeSummary, last_report_at: int | None = None, start: int = START
) -> RunDetail:
    summary = RunSummary(
        id="r",
        workflow_id="wf",
        workflow_name="wf",
        status=status,
        started_at=start,
        completed_at=None,
        duration_ms=None,
        node_count=len(nodes),
        failed_node_name=None,
        last_report_at=last_report_at,
    )
    return RunDetail(
        summary=summary,
        trigger_type=None,
        trigger_json=None,
        error_message=None,
        error_stack=None,
        error_node_id=None,
        nodes=nodes,
    )


def test_a_running_node_of_a_running_run_reaches_now() -> None:
    done = _node(1, Status.SUCCESS, START, START + 2_000)
    running = _node(2, Status.RUNNING, START + 2_000, None)
    layout = layout_run(_run(Status.RUNNING, done, running), now_ms=START + 5_000)
    first, second = layout.bars
    assert (first.start, first.end, first.open_end) == (0.0, 2.0, None)
    assert (second.start, second.end) == (2.0, 5.0)
    assert layout.span == 5.0
    assert describe(second, layout.origin).endswith("still running: drawn up to the last refresh")


def test_an_interrupted_runs_unfinished_nodes_reach_its_last_report() -> None:
    detail = _run(
        Status.INTERRUPTED,
        _node(1, Status.SUCCESS, START, START + 1_000),
        _node(2, Status.INTERRUPTED, START + 1_000, None),
        # Stored before Hindsight marked the nodes too: still `running`, drawn the same.
        _node(3, Status.RUNNING, START + 1_500, None),
        last_report_at=START + 4_000,
    )
    layout = layout_run(detail, now_ms=START + 3_600_000)  # "now" is not the end here
    ends = [(bar.end, bool(bar.open_end)) for bar in layout.bars]
    assert ends == [(1.0, False), (4.0, True), (4.0, True)]
    assert "drawn to the run's last report" in describe(layout.bars[1], layout.origin)


def test_finished_runs_and_nodes_with_a_duration_are_drawn_as_reported() -> None:
    # A finished run says nothing about "now": a node left running in it keeps no width.
    left_running = _node(1, Status.RUNNING, START, None)
    finished = layout_run(_run(Status.SUCCESS, left_running), now_ms=START + 9_000)
    assert (finished.bars[0].end, finished.bars[0].open_end) == (0.0, None)
    # In a running run, a node that reported its duration ends where that says; a failed
    # node without an end is not stretched either.
    timed = replace(_node(2, Status.RUNNING, START, None), duration_ms=500)
    failed = _node(3, Status.ERROR, START + 600, None)
    layout = layout_run(_run(Status.RUNNING, timed, failed), now_ms=START + 9_000)
    assert [(bar.end, bar.open_end) for bar in layout.bars] == [(0.5, None), (0.6, None)]


def test_open_ended_bars_are_outlined_dashed(qtbot: Any) -> None:
    waterfall = Waterfall()
    qtbot.addWidget(waterfall)
    detail = _run(
        Status.RUNNING,
        _node(1, Status.SUCCESS, START, START + 1_000),
        _node(2, Status.RUNNING, START + 1_000, None),
    )
    waterfall.show_layout(layout_run(detail, now_ms=START + 3_000))
    pens = waterfall.plot.bars.opts["pens"]
    assert [pen.style() for pen in pens] == [Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine]


@pytest.fixture
def live_pane(qtbot: Any, database: Path, monkeypatch: Any) -> Iterator[RunDetailPane]:
    monkeypatch.setattr(run_detail, "LIVE_REFRESH_MS", 20)
    runner = BackgroundQueries()
    pane = RunDetailPane(runner)
    qtbot.addWidget(pane)
    pane.resize(1200, 700)
    pane.show()
    yield pane
    runner.wait_for_done()


def test_a_shown_running_runs_bars_grow_with_the_clock_until_it_ends(
    qtbot: Any, live_pane: RunDetailPane
) -> None:
    started = int(time.time() * 1000) - 2_000
    done = _node(1, Status.SUCCESS, started, started + 1_000)
    running = _node(2, Status.RUNNING, started + 1_000, None)
    live_pane.show_run(_run(Status.RUNNING, done, running, start=started))
    waterfall = live_pane.waterfall
    assert live_pane.bars_growing
    first_end = waterfall.bar_of(2).end  # type: ignore[union-attr]
    live_pane.select_node(running)
    # The user zooms in on the first second (what a mouse wheel over the plot does).
    view_box = waterfall.plot.getPlotItem().getViewBox()
    view_box.setXRange(0.0, 1.0, padding=0)
    view_box.sigRangeChangedManually.emit([True, False])

    shown_facts = live_pane.facts.text()
    assert "running for 2" in shown_facts  # started 2 s before it was shown
    qtbot.waitUntil(lambda: waterfall.bar_of(2).end > first_end + 0.05)  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: live_pane.facts.text() != shown_facts)  # the time so far, too
    model = live_pane.node_model
    running_duration = model.index(1, model.COL_DURATION)
    shown_duration = running_duration.data()
    assert shown_duration.endswith(" …") and shown_duration.startswith("1.")  # ran ~1 s
    qtbot.waitUntil(lambda: running_duration.data() != shown_duration)  # and counts on
    assert model.index(0, model.COL_DURATION).data() == "1.00 s"  # as reported
    detail = _run(Status.RUNNING, done, running, start=started)
    assert "running for 1 min 35 s" in facts_text(detail, now_ms=started + 95_000)
    assert waterfall.bar_of(1).end == 1.0  # type: ignore[union-attr]  # a finished node stays
    assert waterfall.selected_pk == 2  # the selection stays
    assert view_box.viewRange()[0] == pytest.approx([0.0, 1.0])  # and so does the zoom

    ended = replace(running, status=Status.SUCCESS, completed_at=started + 3_000, duration_ms=2_000)
    live_pane.show_run(_run(Status.SUCCESS, done, ended, start=started))
    assert not live_pane.bars_growing
    assert waterfall.bar_of(2).end == 3.0  # type: ignore[union-attr]
    assert model.index(1, model.COL_DURATION).data() == "2.00 s"


def test_a_finished_or_interrupted_runs_bars_do_not_grow(live_pane: RunDetailPane) -> None:
    started = int(time.time() * 1000) - 2_000
    cut_off = _node(1, Status.INTERRUPTED, started, None)
    live_pane.show_run(
        _run(Status.INTERRUPTED, cut_off, last_report_at=started + 500, start=started)
    )
    assert live_pane.waterfall.bar_of(1).end == 0.5  # type: ignore[union-attr]
    assert not live_pane.bars_growing
    # A running run whose nodes all reported their end has nothing to grow either.
    timed = _node(2, Status.SUCCESS, started, started + 700)
    live_pane.show_run(_run(Status.RUNNING, timed, start=started))
    assert not live_pane.bars_growing


def test_a_node_that_never_started_says_so_wherever_its_bar_sits() -> None:
    """A pending node after an open-ended bar is drawn at that bar's end, but it never ran:
    its start reads "not started", not an estimate like a node that did not report one."""
    from app.ui.node_table import NodeTableModel

    cut_off = _node(1, Status.INTERRUPTED, START, None)
    never = replace(_node(2, Status.PENDING, START, None), started_at=None)
    unreported = replace(_node(3, Status.SUCCESS, START, None), started_at=None, duration_ms=10)
    detail = _run(Status.INTERRUPTED, cut_off, never, unreported, last_report_at=START + 95_000)
    layout = layout_run(detail)
    placed = {b.node.pk: round(b.start * 1000) for b in layout.bars if b.node.started_at is None}
    model = NodeTableModel()
    model.set_nodes(detail.nodes, layout.origin, placed)
    starts = [model.index(row, NodeTableModel.COL_START).data() for row in range(3)]
    assert starts == ["+0 ms", "not started", "≈+1 min 35 s"]
    assert "not started" in describe(layout.bars[1], layout.origin)
    assert "after the previous node" in describe(layout.bars[2], layout.origin)
