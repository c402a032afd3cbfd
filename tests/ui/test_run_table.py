from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, QPersistentModelIndex
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
