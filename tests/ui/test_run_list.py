"""The run list pane against a real SQLite file: lazy pages, filters, sorting, live merges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt

from app.store import writes
from app.store.filters import RunFilter
from app.store.queries import RunOrder
from app.store.records import RunRecord
from app.store.status import Status
from app.ui.background import BackgroundQueries
from app.ui.run_list_pane import RunListPane
from app.ui.run_table import RunTableModel
from tests.store.test_store import run_record

BASE = 1_800_000_000_000


def record(i: int, **changes: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "workflow_id": "wf-even" if i % 2 == 0 else "wf-odd",
        "status": Status.ERROR if i % 3 == 0 else Status.SUCCESS,
        "started_at": BASE + i * 1000,
        "duration_ms": i * 10,
    }
    fields.update(changes)
    return replace(run_record(f"r{i:04d}"), **fields)


@pytest.fixture
def pane(qtbot: Any, database: Path) -> Iterator[RunListPane]:
    runner = BackgroundQueries()
    widget = RunListPane(runner)
    widget.model._page_size = 50
    widget.resize(1000, 600)
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    runner.wait_for_done()
    widget.wait_for_done()


def ids(pane: RunListPane) -> list[str]:
    return [pane.model.run_at(r).id for r in range(pane.model.rowCount())]


def start(qtbot: Any, pane: RunListPane) -> None:
    with qtbot.waitSignal(pane.firstPageShown, timeout=5000):
        pane.start()


def test_pages_load_lazily_and_pass_the_model_tester(
    qtbot: Any, qtmodeltester: Any, pane: RunListPane
) -> None:
    writes.replace_runs([record(i) for i in range(120)])
    start(qtbot, pane)
    assert pane.model.rowCount() == 50
    assert ids(pane)[:2] == ["r0119", "r0118"]
    assert pane.model.canFetchMore()
    pane.model.fetchMore()
    assert not pane.model.canFetchMore()  # one page at a time
    qtbot.waitUntil(lambda: pane.model.rowCount() == 100)
    pane.model.fetchMore()
    qtbot.waitUntil(lambda: pane.model.rowCount() == 120)
    assert not pane.model.canFetchMore()
    assert ids(pane) == [f"r{i:04d}" for i in reversed(range(120))]
    qtbot.waitUntil(lambda: pane.filter_bar.match_count.text() == "120 runs")
    qtmodeltester.check(pane.model)


def test_scrolling_the_view_fetches_more(qtbot: Any, pane: RunListPane) -> None:
    writes.replace_runs([record(i) for i in range(200)])
    start(qtbot, pane)
    pane.view.scrollToBottom()
    qtbot.waitUntil(lambda: pane.model.rowCount() > 50)


def test_search_and_status_toggles_filter_after_a_pause(qtbot: Any, pane: RunListPane) -> None:
    writes.replace_runs(
        [record(i) for i in range(10)]
        + [record(10, error_message="Quota exceeded", status=Status.ERROR)]
    )
    start(qtbot, pane)
    bar = pane.filter_bar
    with qtbot.waitSignal(pane.firstPageShown, timeout=5000):
        error_toggle = next(b for b, s in bar.status_buttons if s == {Status.ERROR})
        error_toggle.setChecked(True)
    assert ids(pane) == ["r0010", "r0009", "r0006", "r0003", "r0000"]
    qtbot.waitUntil(lambda: bar.match_count.text() == "5 runs")
    assert pane.current_filter().statuses == {Status.ERROR}

    # Typing waits for a pause: several keystrokes make one query.
    emitted: list[RunFilter] = []
    pane.filterChanged.connect(emitted.append)
    with qtbot.waitSignal(pane.firstPageShown, timeout=5000):
        qtbot.keyClicks(bar.search, "Fetch")
    assert len(emitted) == 1 and emitted[0].text == "Fetch"


def test_empty_result_shows_the_no_matches_state(qtbot: Any, pane: RunListPane) -> None:
    writes.replace_runs([record(i) for i in range(3)])
    start(qtbot, pane)
    pane.filter_bar.search.setText("nothing-has-this-word")
    qtbot.waitUntil(lambda: pane.stack.currentWidget() is pane.no_matches)
    qtbot.waitUntil(lambda: pane.filter_bar.match_count.text() == "0 runs")
    pane.reset_button.click()
    qtbot.waitUntil(lambda: pane.stack.currentWidget() is pane.view and len(ids(pane)) == 3)


def test_a_newer_query_supersedes_an_older_one(qtbot: Any, pane: RunListPane) -> None:
    writes.replace_runs([record(i) for i in range(20)])
    start(qtbot, pane)
    pane.model.set_query(RunFilter(workflow_id="wf-odd"))
    with qtbot.waitSignal(pane.model.first_page_loaded, timeout=5000):
        pane.model.set_query(RunFilter(workflow_id="wf-even"))
    qtbot.wait(100)  # let any late answer of the first query arrive
    assert ids(pane) and all(int(i[1:]) % 2 == 0 for i in ids(pane))


def test_sorting_by_duration_uses_the_store(qtbot: Any, pane: RunListPane) -> None:
    writes.replace_runs([record(i) for i in range(60)] + [record(60, duration_ms=None)])
    start(qtbot, pane)
    header = pane.view.horizontalHeader()
    with qtbot.waitSignal(pane.model.first_page_loaded, timeout=5000):
        header.setSortIndicator(RunTableModel.COL_DURATION, Qt.SortOrder.DescendingOrder)
    assert pane.model.order is RunOrder.SLOWEST
    assert ids(pane)[:3] == ["r0059", "r0058", "r0057"]
    with qtbot.waitSignal(pane.model.first_page_loaded, timeout=5000):
        header.setSortIndicator(RunTableModel.COL_DURATION, Qt.SortOrder.AscendingOrder)
    assert ids(pane)[:2] == ["r0000", "r0001"]
    # Columns the store cannot sort keep the current sort.
    header.setSortIndicator(RunTableModel.COL_WORKFLOW, Qt.SortOrder.AscendingOrder)
    assert header.sortIndicatorSection() == RunTableModel.COL_DURATION
    assert pane.model.order is RunOrder.FASTEST


def test_live_merge_keeps_selection_and_follows_the_filter(qtbot: Any, pane: RunListPane) -> None:
    writes.replace_runs([record(i, status=Status.RUNNING, duration_ms=None) for i in range(5)])
    start(qtbot, pane)
    with qtbot.waitSignal(pane.firstPageShown, timeout=5000):
        pane.apply_filter(RunFilter(statuses=frozenset({Status.RUNNING})))
    qtbot.waitUntil(lambda: pane.filter_bar.match_count.text() == "5 runs")
    pane.select_run("r0002")
    selected_before = pane.current_run()
    assert selected_before is not None and selected_before.id == "r0002"

    # r0004 finishes (leaves the "running" filter), r0009 starts, r0002 reports progress.
    writes.replace_runs(
        [
            record(4, status=Status.SUCCESS),
            record(9, status=Status.RUNNING, duration_ms=None),
            record(2, status=Status.RUNNING, duration_ms=None, workflow_name="Renamed"),
        ]
    )
    pane.merge_changed(["r0004", "r0009", "r0002"])
    qtbot.waitUntil(lambda: ids(pane) == ["r0009", "r0003", "r0002", "r0001", "r0000"])
    current = pane.current_run()
    assert current is not None and current.id == "r0002"
    assert current.workflow_name == "Renamed"
    assert [r.id for r in pane.selected_runs()] == ["r0002"]
    qtbot.waitUntil(lambda: pane.filter_bar.match_count.text() == "5 runs", timeout=3000)


def test_running_runs_show_elapsed_time(qtbot: Any, database: Path) -> None:
    model = RunTableModel(now_ms=lambda: BASE + 65_000)
    from app.store import queries

    writes.replace_runs([record(0, status=Status.RUNNING, duration_ms=None)])
    model.set_runs(queries.list_runs())
    text = model.index(0, RunTableModel.COL_DURATION).data()
    assert text == "1 min 05 s …"
    tip = model.index(0, RunTableModel.COL_STARTED).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("1 min ago")


def test_copy_puts_selected_runs_on_the_clipboard(qtbot: Any, pane: RunListPane) -> None:
    from PySide6.QtGui import QGuiApplication

    writes.replace_runs([record(i, project_id="acme") for i in range(3)])
    start(qtbot, pane)
    selection = pane.view.selectionModel()
    for row in (0, 2):
        selection.select(
            pane.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )
    selection.select(
        pane.model.index(1, 0),
        QItemSelectionModel.SelectionFlag.Deselect | QItemSelectionModel.SelectionFlag.Rows,
    )
    assert pane.copy_selection() == 2
    lines = QGuiApplication.clipboard().text().splitlines()
    assert lines[0].split("\t")[:3] == ["Run id", "Status", "Workflow"]
    assert [line.split("\t")[0] for line in lines[1:]] == ["r0002", "r0000"]
    assert lines[1].split("\t")[3] == "acme"


def test_merge_inserts_and_removes_in_blocks(qtbot: Any, qtmodeltester: Any) -> None:
    from app.store.records import RunSummary

    def summary(i: int) -> RunSummary:
        return RunSummary(
            id=f"s{i:03d}",
            workflow_id="wf",
            workflow_name="",
            status=Status.SUCCESS,
            started_at=i,
            completed_at=None,
            duration_ms=i,
            node_count=1,
            failed_node_name=None,
        )

    model = RunTableModel()
    model.set_runs([summary(i) for i in (10, 8, 6)])
    inserts: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _p, first, last: inserts.append((first, last)))
    model.merge_runs([summary(i) for i in (13, 12, 11, 9, 7)])
    assert [model.run_at(r).id for r in range(model.rowCount())] == [
        f"s{i:03d}" for i in (13, 12, 11, 10, 9, 8, 7, 6)
    ]
    assert inserts == [(2, 2), (1, 1), (0, 2)]  # last block first: positions stay valid
    removals: list[tuple[int, int]] = []
    model.rowsRemoved.connect(lambda _p, first, last: removals.append((first, last)))
    assert model.remove_runs(["s013", "s012", "s009", "s006"]) == 4
    assert removals == [(7, 7), (4, 4), (0, 1)]  # from the end, contiguous rows at once
    qtmodeltester.check(model)


def test_a_full_text_query_shows_one_screenful_first_then_full_pages(
    qtbot: Any, pane: RunListPane
) -> None:
    """A search's cost grows with the rows asked for, so its first page is one screenful
    (FIRST_SEARCH_PAGE); scrolling then fetches the usual pages."""
    from app.ui.run_table import FIRST_SEARCH_PAGE

    pane.model._page_size = 100
    writes.replace_runs([record(i) for i in range(150)])  # every run has a node error "boom"
    start(qtbot, pane)
    assert pane.model.rowCount() == 100
    with qtbot.waitSignal(pane.model.first_page_loaded, timeout=5000):
        pane.model.set_query(RunFilter(text="boom"))
    assert pane.model.rowCount() == FIRST_SEARCH_PAGE < 100
    assert pane.model.canFetchMore()
    pane.model.fetchMore()
    qtbot.waitUntil(lambda: pane.model.rowCount() == 150)
    assert not pane.model.canFetchMore()
    assert ids(pane) == [f"r{i:04d}" for i in reversed(range(150))]
