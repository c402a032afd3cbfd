"""Run detail responsiveness: opening a run (read and laid out on a pool thread, as the main
window does) or selecting a node, to the pane painted, and the longest GUI-thread stall
meanwhile, for a 20-node run, a 10,000-node run and a hostile run whose
node carries 10 MB strings (input, output, stack, LLM response) and HTML/bidi text.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m tests.benchmarks.run_detail_bench

Targets (issue 5): 20-node run ≤ 50 ms, 10,000-node run ≤ 500 ms to detail painted.
"""

from __future__ import annotations

import copy
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
from PySide6.QtWidgets import QApplication

from app.store import queries
from app.store.connection import close_database, open_database
from app.ui.background import BackgroundQueries
from app.ui.run_detail import RunDetailPane, load_run
from tests.conftest import make_report
from tests.ui.detail_reports import hostile_report, store

REPEATS = 5


def _many_nodes(run_id: str, count: int) -> dict[str, Any]:
    report = make_report(run_id, status="success")
    template = report["nodeExecutions"][0]
    nodes = []
    for i in range(count):
        node = copy.deepcopy(template)
        node["nodeId"] = f"n{i}"
        node["nodeName"] = f"Step {i}"
        node.pop("startedAt")
        node.pop("completedAt")
        node["durationMs"] = 5 + i % 40
        node["group"] = i // 4 if i % 10 < 4 else None
        nodes.append(node)
    report["nodeExecutions"] = nodes
    return report


def _hostile_with_neighbour() -> dict[str, Any]:
    report = hostile_report("hostile")
    small = {"nodeId": "ok", "nodeName": "Small", "status": "success", "input": {"a": 1}}
    report["nodeExecutions"].insert(0, small)
    return report


class StallProbe:
    """A 1 ms timer on the GUI thread; the longest gap between its ticks is the stall."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.clock = QElapsedTimer()
        self.longest = 0

    def _tick(self) -> None:
        self.longest = max(self.longest, self.clock.restart())

    def start(self) -> None:
        self.longest = 0
        self.clock.start()
        self.timer.start()

    def stop(self) -> int:
        self.timer.stop()
        self.longest = max(self.longest, self.clock.elapsed())
        return self.longest


def _wait_shown(pane: RunDetailPane, pk: int) -> None:
    loop = QEventLoop()

    def done(shown: int) -> None:
        if shown == pk:
            loop.quit()

    pane.node_shown.connect(done)
    QTimer.singleShot(60_000, loop.quit)
    loop.exec()
    pane.node_shown.disconnect(done)


def select_to_painted(pane: RunDetailPane, row: int, probe: StallProbe) -> tuple[float, int]:
    node = pane.node_model.node_at(row)
    probe.start()
    started = time.perf_counter()
    pane.node_view.selectRow(row)
    _wait_shown(pane, node.pk)
    pane.repaint()  # paint synchronously: the figure includes drawing the inspector
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, probe.stop()


def open_to_painted(
    pane: RunDetailPane, runner: BackgroundQueries, run_id: str, probe: StallProbe
) -> tuple[float, int]:
    """From asking for the run, as the main window does (the run read and its waterfall
    laid out on a pool thread), to the pane painted with its first node's payload."""
    detail = queries.get_run(run_id)
    assert detail is not None
    target = detail.first_failed_node() or detail.nodes[0]
    probe.start()
    started = time.perf_counter()
    runner.submit(lambda: load_run(run_id), lambda loaded: pane.show_run(*loaded))
    _wait_shown(pane, target.pk)
    pane.repaint()
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, probe.stop()


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as folder:
        open_database(Path(folder) / "bench.db")
        t0 = time.perf_counter()
        store(_many_nodes("twenty", 20), _many_nodes("tenk", 10_000), _hostile_with_neighbour())
        print(f"stored the runs in {time.perf_counter() - t0:.1f} s")
        runner = BackgroundQueries()
        pane = RunDetailPane(runner)
        pane.resize(1300, 850)
        pane.show()
        app.processEvents()
        probe = StallProbe()
        print(f"{'scenario':44} {'median ms':>10} {'max ms':>8} {'longest stall ms':>17}")
        # Once per process: the waterfall's plot is built (pyqtgraph imported) for the first
        # run with nodes; shown on its own line so the medians below are the steady state.
        elapsed, stall = open_to_painted(pane, runner, "twenty", probe)
        label = "first run shown (builds the waterfall plot)"
        print(f"{label:44} {elapsed:10.1f} {elapsed:8.1f} {stall:17d}")
        for label, run_id in (
            ("open 20-node run, first node painted", "twenty"),
            ("open 10,000-node run, first node painted", "tenk"),
        ):
            times, stalls = [], []
            for _ in range(REPEATS):
                pane.clear()
                elapsed, stall = open_to_painted(pane, runner, run_id, probe)
                times.append(elapsed)
                stalls.append(stall)
            print(
                f"{label:44} {statistics.median(times):10.1f} {max(times):8.1f} {max(stalls):17d}"
            )
        pane.clear()
        open_to_painted(pane, runner, "hostile", probe)
        for label, row in (
            ("select small node (hostile run)", 0),
            ("select 10 MB / HTML / bidi node", 1),
        ):
            times, stalls = [], []
            for _ in range(REPEATS):
                select_to_painted(pane, 1 - row, probe)
                elapsed, stall = select_to_painted(pane, row, probe)
                times.append(elapsed)
                stalls.append(stall)
            print(
                f"{label:44} {statistics.median(times):10.1f} {max(times):8.1f} {max(stalls):17d}"
            )
        runner.wait_for_done()
        pane.close()
        close_database()
    return 0


if __name__ == "__main__":
    sys.exit(main())
