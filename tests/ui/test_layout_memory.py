"""The window comes back as the user left it: size, run list split, columns, and the run
view's node splits."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.ui.main_window import MainWindow
from tests.store.history_seed import seed_history

WindowFactory = Callable[[], MainWindow]


@pytest.fixture
def open_window(qtbot: Any, database: Path) -> Iterator[WindowFactory]:
    """Opens main windows on the test's database (and its own settings file); closing one
    saves its layout, as quitting the app does."""
    windows: list[MainWindow] = []

    def open_one() -> MainWindow:
        window = MainWindow(str(database), None)
        qtbot.addWidget(window)
        window.resize(1180, 740)
        with qtbot.waitSignal(window.runs_loaded):
            window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield open_one
    for window in windows:
        window.close()


def _near(sizes: list[int], expected: list[int]) -> bool:
    return all(abs(a - b) <= 2 for a, b in zip(sizes, expected, strict=True))


def test_a_run_starts_with_room_for_its_nodes(qtbot: Any, open_window: WindowFactory) -> None:
    seed_history()
    window = open_window()
    window.run_view.selectRow(0)
    qtbot.waitUntil(lambda: window.detail.run_id_shown is not None)
    table_area, inspector = window.detail.nodes_split.sizes()
    # Before, on this 1,180 x 740 window: 90 px for the table (two and a half rows), 208
    # for the inspector.
    assert table_area >= 0.45 * (table_area + inspector), (table_area, inspector)
    rows_shown = window.detail.node_view.viewport().height() / window.detail.node_view.rowHeight(0)
    assert rows_shown >= 4.5, rows_shown  # was 2.4


def test_splits_come_back_as_they_were_left(qtbot: Any, open_window: WindowFactory) -> None:
    first = open_window()
    detail = first.detail
    list_and_detail = sum(first.splitter.sizes())
    nodes = sum(detail.nodes_split.sizes())
    top = sum(detail.nodes_top_split.sizes())
    first.splitter.setSizes([list_and_detail // 4, list_and_detail - list_and_detail // 4])
    detail.nodes_split.setSizes([nodes - 120, 120])
    detail.nodes_top_split.setSizes([top - 200, 200])
    left = (
        first.splitter.sizes(),
        detail.nodes_split.sizes(),
        detail.nodes_top_split.sizes(),
    )
    first.close()  # saves the layout

    again = open_window()
    assert _near(again.splitter.sizes(), left[0])
    assert _near(again.detail.nodes_split.sizes(), left[1])
    assert _near(again.detail.nodes_top_split.sizes(), left[2])


def test_a_failed_node_leaves_the_nodes_and_the_waterfall_their_room(
    qtbot: Any, open_window: WindowFactory
) -> None:
    seed_history()
    window = open_window()
    detail = window.detail
    inspector = detail.inspector
    assert window.select_run("e2")
    qtbot.waitUntil(lambda: inspector.title.text().startswith("Fetch"))
    qtbot.waitUntil(lambda: inspector.output_box.height() > 30)  # laid out
    list_height = window.run_view.viewport().height()
    assert window.select_run("e4")  # its failed "load" node opens, with error and no output
    qtbot.waitUntil(lambda: inspector.title.text().startswith("Load"))
    stack = inspector.error_view.stack
    # Laid out: a new child is 30 px tall until its layout gives it a size.
    qtbot.waitUntil(lambda: stack.height() >= 3 * stack.fontMetrics().height())

    def room() -> tuple[int, float, float]:
        table_area, inspector_height = detail.nodes_split.sizes()
        plot = detail.waterfall.plot.getPlotItem().getViewBox().height()
        return (
            window.run_view.viewport().height(),
            table_area / sum((table_area, inspector_height)),
            plot,
        )

    # With the error below the payloads, the inspector needed 318 px at least: the run list
    # gave up two rows (61 px against 137), the node table showed two and the waterfall's
    # plot a sliver (42 px: the bar cut in half, no lane name).
    qtbot.waitUntil(lambda: room()[0] == list_height and room()[1] >= 0.45 and room()[2] >= 80)
    # The error beside the input, in the place of an output the node never produced.
    error_box = inspector.error_view.geometry()
    assert error_box.left() > inspector.sections.geometry().right()
    assert not inspector.output_box.isVisible()

    assert window.select_run("e2")  # a successful run: its output is back
    qtbot.waitUntil(lambda: detail.run_id_shown == "e2")
    qtbot.waitUntil(lambda: inspector.output_box.isVisible())
    assert not inspector.error_view.isVisible()
