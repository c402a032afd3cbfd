"""The desktop window against a running receiver: reports posted over HTTP show up live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.config import Settings
from app.store import queries
from app.ui.application import DesktopSession
from app.ui.main_window import MainWindow
from app.ui.run_table import RunTableModel
from tests.conftest import make_report, post_json


def _url(session: DesktopSession) -> str:
    assert session.service is not None
    return session.service.url


def _row_ids(window: MainWindow) -> list[str]:
    return [window.run_model.run_at(r).id for r in range(window.run_model.rowCount())]


def test_empty_history_shows_how_to_send_a_report(qtbot: Any, session: DesktopSession) -> None:
    window = session.window
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.empty_state)
    example = window.empty_state.example.toPlainText()
    assert example.startswith(f"curl -X POST {_url(session)}/api/executions")
    assert "Receiving on " + _url(session) in window.receiver_label.text()
    assert str(session.window.database_label.text()).endswith("history.db")


def test_posted_reports_appear_live_newest_first(qtbot: Any, session: DesktopSession) -> None:
    window = session.window
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.empty_state)
    assert (
        post_json(
            _url(session), "/api/executions", make_report("old", startedAt="2026-11-20T08:00:00Z")
        )[0]
        == 201
    )
    qtbot.waitUntil(lambda: _row_ids(window) == ["old"])
    assert window.pages.currentWidget() is not window.empty_state
    assert (
        post_json(_url(session), "/api/executions", make_report("new", status="success"))[0] == 201
    )
    qtbot.waitUntil(lambda: _row_ids(window) == ["new", "old"])
    assert window.run_model.index(0, RunTableModel.COL_STATUS).data() == "success"
    assert window.run_model.index(1, RunTableModel.COL_FAILED).data() == "Parse total"


def test_failed_run_opens_on_its_failed_node(qtbot: Any, session: DesktopSession) -> None:
    window = session.window
    post_json(
        _url(session),
        "/api/executions",
        make_report("ok", status="success", startedAt="2026-11-22T10:00:00Z"),
    )
    post_json(_url(session), "/api/executions", make_report("bad"))
    qtbot.waitUntil(lambda: window.run_model.rowCount() == 2)
    assert window.select_run("bad")
    inspector = window.detail.inspector
    qtbot.waitUntil(lambda: inspector.error_view.stack.toPlainText() != "")
    assert inspector.error_view.isVisible()
    node = window.detail.selected_node()
    assert node is not None and node.node_id == "parse"
    assert inspector.error_view.message.text() == "ValueError: bad total"
    assert inspector.error_view.stack.toPlainText() == "Traceback ...\n  x"
    qtbot.waitUntil(lambda: inspector.input_tree.model.rowCount() == 1)
    top = inspector.input_tree.model
    assert (top.index(0, 0).data(), top.index(0, 1).data()) == ("total", '"19.99"')
    assert window.detail.header.text().startswith("ERROR")

    # Selecting the successful node shows its output and hides the error.
    window.detail.node_view.selectRow(0)
    qtbot.waitUntil(lambda: not inspector.error_view.isVisible())
    output = inspector.output_tree.model
    qtbot.waitUntil(lambda: output.rowCount() == 2)
    assert [output.index(i, 0).data() for i in range(2)] == ["total", "lines"]


def test_delete_selected_runs_after_confirmation(
    qtbot: Any, session: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = session.window
    for i in range(3):
        post_json(
            _url(session),
            "/api/executions",
            make_report(f"r{i}", startedAt=f"2026-11-2{i}T10:00:00Z"),
        )
    qtbot.waitUntil(lambda: window.run_model.rowCount() == 3)
    asked: list[str] = []

    def answer(parent: Any, title: str, text: str, *args: Any) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    window.run_view.selectAll()
    window.run_view.selectionModel().select(
        window.run_model.index(0, 0),
        window.run_view.selectionModel().SelectionFlag.Deselect
        | window.run_view.selectionModel().SelectionFlag.Rows,
    )
    window.activateWindow()
    window.run_view.setFocus()
    qtbot.keyClick(window.run_view, Qt.Key.Key_Delete)
    assert asked and asked[0].startswith("Delete 2 runs?")
    qtbot.waitUntil(lambda: _row_ids(window) == ["r2"])
    assert [r.id for r in queries.list_runs()] == ["r2"]


def test_cancelled_delete_keeps_everything(
    qtbot: Any, session: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = session.window
    post_json(_url(session), "/api/executions", make_report("keep"))
    qtbot.waitUntil(lambda: window.run_model.rowCount() == 1)
    monkeypatch.setattr(QMessageBox, "question", lambda *args: QMessageBox.StandardButton.Cancel)
    window.run_view.selectAll()
    window.history.ask_delete_selected()
    assert not window.history.jobs.busy
    assert window.queries.wait_for_done()
    assert queries.count_runs() == 1


def test_clear_workflow_history(
    qtbot: Any, session: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = session.window
    post_json(_url(session), "/api/executions", make_report("a1", workflowId="a"))
    post_json(_url(session), "/api/executions", make_report("a2", workflowId="a"))
    post_json(_url(session), "/api/executions", make_report("b1", workflowId="b"))
    qtbot.waitUntil(lambda: window.run_model.rowCount() == 3)
    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda parent, title, text, *a: asked.append(text) or QMessageBox.StandardButton.Yes,
    )
    workflows = queries.list_workflows()
    window.history.confirm_clear_workflow(next(w for w in workflows if w.workflow_id == "a"))
    assert asked == ["Delete all 2 runs of “Invoice triage”? This cannot be undone."]
    qtbot.waitUntil(lambda: _row_ids(window) == ["b1"])


def test_receiver_port_taken_still_opens_as_viewer(
    qtbot: Any, session: DesktopSession, db_path: Path
) -> None:
    assert session.service is not None
    taken = session.service.receiver.port
    other = DesktopSession(Settings(db_path=db_path, host="127.0.0.1", port=taken))
    qtbot.addWidget(other.window)
    try:
        assert other.service is None
        assert "Receiver off" in other.window.receiver_label.text()
        assert "is another Hindsight running?" in other.window.receiver_label.text()
    finally:
        other.shutdown()
