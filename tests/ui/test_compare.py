"""The compare dialog on real runs in a real database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from app.store import writes
from app.store.compare import compare_runs
from app.store.records import LlmRecord
from app.store.status import Status
from app.ui.background import BackgroundQueries
from app.ui.compare import (
    DIVERGENCE_COLOUR,
    MINUS,
    PAIR_ROLE,
    CompareDialog,
    ComparisonModel,
)
from tests.store.history_seed import T0, node, run


@pytest.fixture
def queries(database: Path) -> Iterator[BackgroundQueries]:
    writes.replace_runs(
        [
            run(
                "good",
                T0,
                300,
                nodes=(
                    node("fetch", duration=100, input_={"id": 1}, output={"rows": 3}),
                    node("parse", duration=50, input_={"rows": 3}, output={"total": 10}),
                    node("llm", duration=100, llm=LlmRecord(model="m", total_tokens=100)),
                ),
            ),
            run(
                "bad",
                T0 + 1000,
                900,
                Status.ERROR,
                nodes=(
                    node("fetch", duration=400, input_={"id": 1}, output={"rows": 3}),
                    node("parse", duration=60, input_={"rows": 4}, output={"total": 11}),
                    node("llm", Status.ERROR, 20, error="boom", llm=LlmRecord(total_tokens=40)),
                ),
            ),
        ]
    )
    runner = BackgroundQueries()
    yield runner
    runner.wait_for_done()


def _dialog(qtbot: Any, queries: BackgroundQueries) -> CompareDialog:
    dialog = CompareDialog(queries)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_model_passes_the_model_tester(qtmodeltester: Any, queries: BackgroundQueries) -> None:
    model = ComparisonModel()
    model.set_comparison(compare_runs("good", "bad"))
    qtmodeltester.check(model)
    model.set_comparison(None)
    qtmodeltester.check(model)


def test_two_runs_open_on_the_first_divergence(qtbot: Any, queries: BackgroundQueries) -> None:
    dialog = _dialog(qtbot, queries)
    with qtbot.waitSignal(dialog.loaded):
        dialog.compare("bad", "good")  # picked in any order: the older run is A
    view = dialog.view
    assert view.comparison is not None and view.comparison.left.id == "good"
    model = view.model
    rows = [
        [model.index(r, c).data() for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]
    assert rows[0] == [
        "Fetch", "1", "success", "100 ms", "400 ms", "+300 ms", "—", "—", "—", "same", "same"
    ]  # fmt: skip
    assert rows[1][0] == "⚑ Parse" and rows[1][9:] == ["changed", "changed"]
    assert rows[2][2] == "success → error" and rows[2][6:9] == ["100", "40", MINUS + "60"]
    assert model.index(1, 3).data(Qt.ItemDataRole.BackgroundRole) == DIVERGENCE_COLOUR
    assert model.index(0, 3).data(Qt.ItemDataRole.BackgroundRole) is None
    selected = view.selected_pair()
    assert selected is not None and selected.node_id == "parse"
    output = view.output_diff.toPlainText()
    assert output.startswith("Differs at: $.total")
    assert '-  "total": 10' in output and '+  "total": 11' in output
    assert "$.rows" in view.input_diff.toPlainText()
    assert "first divergence: Parse" in view.totals.text()
    view.select_row(0)
    assert view.output_diff.toPlainText() == "The output is the same in both runs."
    assert model.index(0, 0).data(PAIR_ROLE).node_id == "fetch"


def test_compare_with_last_success(qtbot: Any, queries: BackgroundQueries) -> None:
    dialog = _dialog(qtbot, queries)
    with qtbot.waitSignal(dialog.loaded):
        dialog.compare_with_last_success("bad")
    assert dialog.view.comparison is not None
    assert (dialog.view.comparison.left.id, dialog.view.comparison.right.id) == ("good", "bad")
    assert dialog.view.run_a.text().startswith("A: ETL · success")


def test_no_earlier_success_is_explained(qtbot: Any, queries: BackgroundQueries) -> None:
    dialog = _dialog(qtbot, queries)
    with qtbot.waitSignal(dialog.loaded):
        dialog.compare_with_last_success("good")
    assert dialog.view.isHidden()
    assert dialog.status.text().startswith(
        "Cannot compare: no earlier successful run of this workflow to compare with."
    )
    with qtbot.waitSignal(dialog.loaded):
        dialog.compare("good", "deleted-meanwhile")
    assert "run deleted-meanwhile is not in the history" in dialog.status.text()
