from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QTableView

from app.store.records import RunSummary
from app.store.status import Status
from app.ui.run_table import RUN_ROLE, RunTableModel


def summary(run_id: str, started_at: int, status: Status = Status.SUCCESS) -> RunSummary:
    return RunSummary(
        id=run_id,
        workflow_id="wf",
        workflow_name="Workflow",
        status=status,
        started_at=started_at,
        completed_at=None,
        duration_ms=1500,
        node_count=3,
        failed_node_name=None,
    )


def test_model_passes_qt_model_tester(qtmodeltester: Any) -> None:
    model = RunTableModel()
    model.set_runs([summary("b", 2), summary("a", 1)])
    qtmodeltester.check(model)
    model.set_runs([summary("c", 3), summary("b", 2, Status.ERROR)])
    qtmodeltester.check(model)


def test_merge_keeps_selection_on_the_same_run(qtbot: Any) -> None:
    model = RunTableModel()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    model.set_runs([summary("b", 2), summary("a", 1)])
    view.selectionModel().setCurrentIndex(
        model.index(1, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    kept = QPersistentModelIndex(model.index(1, 0))
    model.set_runs(
        [summary("d", 4), summary("c", 3), summary("b", 2, Status.ERROR), summary("a", 1)]
    )
    assert [model.run_at(r).id for r in range(model.rowCount())] == ["d", "c", "b", "a"]
    assert view.currentIndex().data(RUN_ROLE).id == "a"
    assert kept.row() == 3
    assert model.index(2, RunTableModel.COL_STATUS).data() == "error"


def test_display_text(qtbot: Any) -> None:
    model = RunTableModel()
    model.set_runs([summary("a", 1)])
    assert model.index(0, RunTableModel.COL_DURATION).data() == "1.50 s"
    assert model.index(0, RunTableModel.COL_NODES).data() == "3"
    assert model.index(0, RunTableModel.COL_WORKFLOW).data() == "Workflow"


def test_an_interrupted_run_shows_how_long_it_ran_at_least(qtbot: Any) -> None:
    cut_off = replace(
        summary("a", 1_000, Status.INTERRUPTED), duration_ms=None, last_report_at=96_000
    )
    ended = replace(summary("b", 1_000, Status.ERROR), last_report_at=96_000)
    model = RunTableModel()
    model.set_runs([cut_off, ended])
    rows = {model.run_at(row).id: row for row in range(model.rowCount())}
    duration = model.index(rows["a"], RunTableModel.COL_DURATION)
    assert duration.data() == "≥ 1 min 35 s"
    assert "to its last report" in duration.data(Qt.ItemDataRole.ToolTipRole)
    # A run that reported its duration shows it, whenever its last report came.
    assert model.index(rows["b"], RunTableModel.COL_DURATION).data() == "1.50 s"


def test_node_model_passes_qt_model_tester(qtmodeltester: Any) -> None:
    from app.store.records import NodeSummary
    from app.ui.node_table import NodeTableModel

    model = NodeTableModel()
    model.set_nodes(
        [
            NodeSummary(
                pk=i,
                position=i,
                node_id=f"n{i}",
                node_name="",
                node_type="code",
                status=Status.ERROR if i else Status.SUCCESS,
                started_at=None,
                completed_at=None,
                duration_ms=i * 10,
                error_message=None,
            )
            for i in range(3)
        ]
    )
    qtmodeltester.check(model)
    assert model.index(1, NodeTableModel.COL_NAME).data() == "n1"
    assert model.index(2, NodeTableModel.COL_DURATION).data() == "20 ms"


def test_a_burst_into_a_long_list_keys_only_the_rows_it_probes(
    monkeypatch: Any,
) -> None:
    """Streaming grows the list by thousands of rows a minute; a burst is placed by
    bisection, not by computing every listed row's sort key (100 ms at 60,000 rows)."""
    from app.ui import run_table

    model = RunTableModel()
    model.set_runs([summary(f"r{i:06d}", i) for i in reversed(range(20_000))])
    keyed = [0]
    real_key = run_table._sort_key

    def counting_key(run: RunSummary, order: Any) -> Any:
        keyed[0] += 1
        return real_key(run, order)

    monkeypatch.setattr(run_table, "_sort_key", counting_key)
    burst = [summary(f"n{i:03d}", 50_000 + i) for i in range(100)]  # newest: at the top
    burst += [summary("r010000", 10_000, Status.ERROR)]  # listed: updated in place
    burst += [summary("r000005", 30_000)]  # listed, started later: moves to the top
    assert model.merge_runs(burst) == 100
    assert keyed[0] < 10_000  # ~ (102 runs x log2(20,000) probes), not 20,000+
    ids = [model.run_at(r).id for r in range(model.rowCount())]
    assert ids[:3] == ["n099", "n098", "n097"] and ids[99] == "n000"
    assert ids[100] == "r000005" and ids.count("r000005") == 1
    assert model.run_at(ids.index("r010000")).status is Status.ERROR
    assert len(ids) == 20_100
    starts = [model.run_at(r).started_at for r in range(model.rowCount())]
    assert starts == sorted(starts, reverse=True)
