"""The analysis panes inside the main window: menus, docks, compare and open-run wiring."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QMessageBox

from app.ui.compare import CompareDialog
from app.ui.main_window import MainWindow
from app.ui.run_table import RUN_ROLE
from tests.store.history_seed import seed_history


@pytest.fixture
def window(qtbot: Any, database: Path) -> Iterator[MainWindow]:
    seed_history()
    main = MainWindow(str(database), None)
    qtbot.addWidget(main)
    with qtbot.waitSignal(main.runs_loaded):
        main.show()
    yield main
    main.close()


def _menu_texts(window: MainWindow, title: str) -> list[str]:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == title)
    return [a.text() for a in menu.actions() if not a.isSeparator()]


def _select(window: MainWindow, *run_ids: str) -> None:
    selection = window.run_view.selectionModel()
    selection.clearSelection()
    for run_id in run_ids:
        row = window.run_model.row_of(run_id)
        assert row is not None
        selection.select(
            window.run_model.index(row, 0),
            QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows,
        )


def _current_run(window: MainWindow) -> str:
    return str(window.run_view.currentIndex().data(RUN_ROLE).id)


def test_menus_offer_the_docks_and_compare(window: MainWindow) -> None:
    assert _menu_texts(window, "&View")[-2:] == ["Charts", "Failure Groups"]
    assert _menu_texts(window, "&History")[-2:] == [
        "&Compare Selected Runs",
        "Compare with &Last Success",
    ]
    assert window.analysis.charts_dock.isHidden() and window.analysis.failures_dock.isHidden()


def test_a_click_on_the_duration_chart_opens_the_run(qtbot: Any, window: MainWindow) -> None:
    charts = window.analysis.charts
    with qtbot.waitSignal(charts.duration.dataShown):
        window.analysis.charts_dock.show()
    assert len(charts.duration.scatter.points()) == 9
    charts.runActivated.emit("a2")
    assert _current_run(window) == "a2"
    qtbot.waitUntil(lambda: window.detail.run_id_shown == "a2")


def test_the_charts_are_built_when_their_dock_is_first_shown(
    qtbot: Any, window: MainWindow
) -> None:
    analysis = window.analysis
    assert analysis._charts is None  # pyqtgraph waits until someone looks at a chart
    analysis.charts_dock.show()
    qtbot.waitUntil(lambda: analysis._charts is not None)
    charts = analysis.charts
    assert analysis.charts_dock.widget() is charts
    qtbot.waitUntil(lambda: len(charts.duration.scatter.points()) == 9)
    window.apply_filter(replace(window.current_filter(), workflow_id="etl"))
    assert charts.current_filter.workflow_id == "etl"


def test_compare_two_selected_runs(qtbot: Any, window: MainWindow) -> None:
    _select(window, "e3", "e1")
    window.analysis.compare_action.trigger()
    dialog = window.findChild(CompareDialog)
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.view.comparison is not None)
    assert dialog.view.comparison is not None
    assert (dialog.view.comparison.left.id, dialog.view.comparison.right.id) == ("e1", "e3")
    dialog.close()


def test_compare_with_last_success_needs_one_run(
    qtbot: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    told: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda parent, title, text: told.append(text))
    _select(window, "e3", "e1")
    window.analysis.compare_last_success_action.trigger()
    assert told and told[0].startswith("Select one run")
    _select(window, "e4")
    window.analysis.compare_last_success_action.trigger()
    dialog = window.findChild(CompareDialog)
    assert dialog is not None
    qtbot.waitUntil(lambda: dialog.view.comparison is not None)
    assert dialog.view.comparison is not None and dialog.view.comparison.left.id == "e2"


def _listed_ids(window: MainWindow) -> list[str]:
    model = window.run_list.model
    return [model.run_at(row).id for row in range(model.rowCount())]


def test_choosing_a_failure_group_lists_exactly_its_runs(qtbot: Any, window: MainWindow) -> None:
    failures = window.analysis.failures
    with qtbot.waitSignal(failures.loaded):
        window.analysis.failures_dock.show()
    failures.select_row(0)  # etl · load · timeouts: e4 and e3
    qtbot.waitUntil(lambda: _listed_ids(window) == ["e4", "e3"])
    assert window.current_filter().run_ids == frozenset({"e4", "e3"})
