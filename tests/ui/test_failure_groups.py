"""The failure groups pane on a seeded database: groups, filter requests, export, delete."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.store import queries, writes
from app.store.filters import RunFilter
from app.store.stats import failure_groups
from app.store.status import Status
from app.ui.background import BackgroundQueries
from app.ui.failure_groups import GROUP_ROLE, FailureGroupModel, FailureGroupsPane
from tests.store.history_seed import T0, node, run, seed_history


@pytest.fixture
def pane(qtbot: Any, database: Path) -> Iterator[FailureGroupsPane]:
    seed_history()
    runner = BackgroundQueries()
    widget = FailureGroupsPane(runner)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.loaded):
        widget.show()  # a pane computes its groups when it is first shown
    yield widget
    runner.wait_for_done()


def _table(pane: FailureGroupsPane) -> list[list[str]]:
    model = pane.model
    return [[model.index(r, c).data() for c in range(3)] for r in range(model.rowCount())]


def test_model_passes_the_model_tester(qtmodeltester: Any, database: Path) -> None:
    seed_history()
    model = FailureGroupModel()
    model.set_groups(failure_groups())
    qtmodeltester.check(model)


def test_groups_match_the_store(qtbot: Any, pane: FailureGroupsPane) -> None:
    # e3 and e4 failed at "load" with timeouts that differ only in the number
    assert _table(pane) == [["2", "etl", "Load"], ["1", "agent", "Plan"]]
    assert pane.model.index(0, 3).data() == "Timeout after <n> s"
    assert pane.model.index(0, 0).data(GROUP_ROLE).run_ids == ("e4", "e3")
    assert pane.summary.text() == "3 failed runs in 2 groups"
    assert not pane.delete_button.isEnabled()


def test_selecting_a_group_filters_the_run_list(qtbot: Any, pane: FailureGroupsPane) -> None:
    with qtbot.waitSignal(pane.filterRequested) as requested:
        pane.select_row(0)
    (where,) = requested.args
    assert where == RunFilter(run_ids=frozenset({"e3", "e4"}))
    assert [r.id for r in queries.list_runs(where=where)] == ["e4", "e3"]
    assert pane.delete_button.isEnabled()
    with qtbot.waitSignal(pane.filterRequested) as back:
        pane.show_all_button.click()
    assert back.args == [RunFilter()]


def test_groups_follow_the_filter(qtbot: Any, pane: FailureGroupsPane) -> None:
    with qtbot.waitSignal(pane.loaded):
        pane.set_filter(RunFilter(workflow_id="agent"))
    assert _table(pane) == [["1", "agent", "Plan"]]
    with qtbot.waitSignal(pane.loaded):
        pane.set_filter(RunFilter(workflow_id="nobody"))
    assert pane.model.rowCount() == 0
    assert pane.summary.text() == "No failed runs in the current filter."


def test_delete_a_group_after_confirming_the_exact_count(
    qtbot: Any, pane: FailureGroupsPane, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def answer(parent: Any, title: str, text: str, *args: Any) -> QMessageBox.StandardButton:
        asked.append(text)
        return (
            QMessageBox.StandardButton.Cancel if len(asked) == 1 else QMessageBox.StandardButton.Yes
        )

    monkeypatch.setattr(QMessageBox, "question", answer)
    pane.select_row(0)
    pane.delete_button.click()  # cancelled
    assert asked[0].startswith("Delete the 2 runs of this failure group?")
    assert queries.count_runs() == 10
    with qtbot.waitSignal(pane.historyChanged) as deleted, qtbot.waitSignal(pane.loaded):
        pane.delete_button.click()
    assert deleted.args == [2]
    assert queries.get_run("e3") is None and queries.get_run("e4") is None
    assert queries.count_runs() == 8
    assert _table(pane) == [["1", "agent", "Plan"]]


def test_export_a_group_as_reimportable_reports(
    qtbot: Any, pane: FailureGroupsPane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "group.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(target), ""))
    pane.select_row(0)
    with qtbot.waitSignal(pane.exported) as exported:
        pane.export_button.click()
    assert exported.args == [str(target), 2]
    reports = json.loads(target.read_text(encoding="utf-8"))
    assert [r["id"] for r in reports] == ["e4", "e3"]
    assert reports[0]["nodeExecutions"][1]["error"]["message"] == "Timeout after 31 s"
    assert [p.name for p in tmp_path.iterdir() if "group" in p.name] == ["group.json"]
    assert "Exported 2 runs" in pane.summary.text()


def test_a_failed_export_says_what_to_do(
    qtbot: Any, pane: FailureGroupsPane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "missing-folder" / "group.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warnings.append(text))
    pane.select_row(1)
    pane.export_button.click()
    qtbot.waitUntil(lambda: bool(warnings))
    assert warnings[0].startswith(f"Could not write {target}")
    assert "Choose a folder you can write to" in warnings[0]


def test_new_failures_show_after_a_refresh(qtbot: Any, pane: FailureGroupsPane) -> None:
    pane.select_row(1)
    writes.replace_runs(
        [
            run(
                "a4",
                T0 + 5_000,
                100,
                Status.ERROR,
                workflow="agent",
                nodes=(node("plan", Status.ERROR, 100, error="KeyError: 'y'"),),
            )
        ]
    )
    with qtbot.assertNotEmitted(pane.filterRequested), qtbot.waitSignal(pane.loaded):
        pane.refresh()
    assert _table(pane) == [["2", "etl", "Load"], ["2", "agent", "Plan"]]
    selected = pane.selected_group()
    assert selected is not None and selected.workflow_id == "agent"  # kept across the refresh


def test_a_hidden_pane_waits_until_shown(qtbot: Any, database: Path) -> None:
    seed_history()
    runner = BackgroundQueries()
    widget = FailureGroupsPane(runner)
    qtbot.addWidget(widget)
    widget.set_filter(RunFilter(workflow_id="etl"))
    widget.refresh()
    assert runner.pending() == 0 and widget.model.rowCount() == 0
    with qtbot.waitSignal(widget.loaded):
        widget.show()
    assert _table(widget) == [["2", "etl", "Load"]]
    runner.wait_for_done()
