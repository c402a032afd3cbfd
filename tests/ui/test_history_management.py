"""Managing history in the window: the flow a user goes through (filter, search, select,
delete, export, import), bulk clears with exact counts, cancel, retention, drag and drop."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.store import queries, writes
from app.store.filters import RunFilter
from app.store.status import Status
from app.ui.application import DesktopSession
from app.ui.jobs import JobControl, JobRunner
from app.ui.main_window import MainWindow
from app.ui.retention_dialog import RetentionDialog
from tests.store.test_store import run_record

DAY = 86_400_000
NOW = 1_900_000_000_000


def seed(count: int, **changes: Any) -> None:
    records = []
    for i in range(count):
        fields: dict[str, Any] = {
            "workflow_id": "billing" if i % 2 else "search",
            "workflow_name": "Billing" if i % 2 else "Search",
            "status": Status.ERROR if i % 4 == 1 else Status.SUCCESS,
            "started_at": NOW - i * 60_000,
        }
        fields.update(changes)
        records.append(replace(run_record(f"run-{i:03d}", nodes=2), **fields))
    writes.replace_runs(records)


def row_ids(window: MainWindow) -> list[str]:
    return [window.run_model.run_at(r).id for r in range(window.run_model.rowCount())]


def answer_yes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []

    def question(parent: Any, title: str, text: str, *args: Any) -> QMessageBox.StandardButton:
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def loaded(qtbot: Any, window: MainWindow, count: int) -> None:
    window.refresh_runs()
    qtbot.waitUntil(lambda: window.run_list.matches == count and not window.run_model.loading)


def test_filter_search_select_delete_export_import(
    qtbot: Any, session: DesktopSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    window = session.window
    seed(12)
    loaded(qtbot, window, 12)
    qtbot.waitUntil(lambda: window.filter_bar.workflow_picker.count() == 3)

    # Filter: one workflow, then search inside node data.
    bar = window.filter_bar
    changes: list[RunFilter] = []
    window.filterChanged.connect(changes.append)
    bar.workflow_picker.setCurrentIndex(bar.workflow_picker.findData("billing"))
    qtbot.waitUntil(lambda: window.run_list.matches == 6)
    assert changes[-1] == window.current_filter() == RunFilter(workflow_id="billing")
    with qtbot.waitSignal(window.run_list.firstPageShown):
        window.find_action.trigger()
        assert bar.search.hasFocus() or not window.isActiveWindow()
        bar.search.setText("boom")  # the failing node's error in every run_record
        bar.flush()
    qtbot.waitUntil(lambda: window.run_list.matches == 6)
    assert bar.match_count.text() == "6 runs"

    # Select two runs and delete them with the exact count in the question.
    window.run_view.selectRow(0)
    window.run_view.selectionModel().select(
        window.run_model.index(1, 0),
        window.run_view.selectionModel().SelectionFlag.Select
        | window.run_view.selectionModel().SelectionFlag.Rows,
    )
    doomed = window.selected_run_ids()
    assert len(doomed) == 2
    asked = answer_yes(monkeypatch)
    window.history.delete_selected.trigger()
    assert asked[-1].startswith("Delete 2 runs?")
    qtbot.waitUntil(lambda: not set(doomed) & set(row_ids(window)))
    qtbot.waitUntil(lambda: window.run_list.matches == 4)
    assert queries.count_runs() == 10

    # Export what the filter matches, as JSON, then clear everything and import it back.
    target = tmp_path / "billing.json"
    window.history.export_to(target, "json", None, window.current_filter())
    qtbot.waitUntil(lambda: not window.history.jobs.busy)
    exported = json.loads(target.read_text())
    assert sorted(r["id"] for r in exported) == sorted(row_ids(window))
    csv_target = tmp_path / "selected.csv"
    window.history.export_to(csv_target, "csv-node", [row_ids(window)[0]], RunFilter())
    qtbot.waitUntil(lambda: not window.history.jobs.busy)
    assert len(csv_target.read_text().splitlines()) == 3  # header + two nodes

    window.history.ask_clear_all()
    qtbot.waitUntil(lambda: len(asked) == 2)
    assert asked[-1] == "Delete all 10 runs in the history? This cannot be undone."
    qtbot.waitUntil(lambda: queries.count_runs() == 0 and not window.history.jobs.busy)

    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(target)], "JSON reports (*.json)")
    )
    assert window.history.import_action.isEnabled()
    window.history.import_action.trigger()
    qtbot.waitUntil(lambda: queries.count_runs() == 4 and not window.history.jobs.busy)
    bar.reset()
    qtbot.waitUntil(lambda: sorted(row_ids(window)) == sorted(r["id"] for r in exported))


def test_export_by_menu_writes_the_chosen_format(
    qtbot: Any, session: DesktopSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    window = session.window
    seed(3)
    loaded(qtbot, window, 3)
    window.run_view.selectRow(1)
    target = tmp_path / "one"
    monkeypatch.setattr(
        QFileDialog,
        "getSaveFileName",
        lambda *a, **k: (str(target), "CSV, one row per run (*.csv)"),
    )
    window.history.export_selected.trigger()
    qtbot.waitUntil(lambda: (tmp_path / "one.csv").exists())
    lines = (tmp_path / "one.csv").read_text().splitlines()
    assert lines[0].startswith("id,workflowId") and lines[1].startswith("run-001,")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".one")]  # no temp left


def test_invalid_import_explains_and_stores_nothing(
    qtbot: Any, session: DesktopSession, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    window = session.window
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "x", "workflowId": "w", "status": "nope"}]))
    warnings: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda parent, title, text, *a: warnings.append(text)
    )
    window.history.import_files([bad])
    qtbot.waitUntil(lambda: bool(warnings))
    assert "bad.json" in warnings[0] and "[0].status" in warnings[0]
    assert queries.count_runs() == 0


def test_dropping_a_file_imports_it(qtbot: Any, session: DesktopSession, tmp_path: Path) -> None:
    from tests.conftest import make_report

    window = session.window
    dropped = tmp_path / "dropped.json"
    dropped.write_text(json.dumps([make_report("d1"), make_report("d2", status="success")]))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: sorted(row_ids(window)) == ["d1", "d2"])


def test_clear_workflow_counts_exactly_and_keeps_others(
    qtbot: Any, session: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = session.window
    seed(7)
    loaded(qtbot, window, 7)
    asked = answer_yes(monkeypatch)
    window.history.confirm_clear_workflow(
        next(w for w in queries.list_workflows() if w.workflow_id == "billing")
    )
    assert asked == ["Delete all 3 runs of “Billing”? This cannot be undone."]
    qtbot.waitUntil(
        lambda: (
            window.run_list.matches == 4
            and {window.run_model.run_at(r).workflow_id for r in range(window.run_model.rowCount())}
            == {"search"}
        )
    )


def test_a_job_can_be_cancelled_and_the_window_stays_usable(qtbot: Any, database: Path) -> None:
    runner = JobRunner()
    started = threading.Event()

    def work(control: JobControl) -> int:
        done = 0
        started.set()
        while control.report(done, None):
            done += 1
            threading.Event().wait(0.001)
        return done

    job = runner.start("Counting", work)
    outcome: list[str] = []
    job.cancelled.connect(lambda: outcome.append("cancelled"))
    job.finished.connect(lambda _result: outcome.append("finished"))
    assert started.wait(5)
    job.cancel()
    qtbot.waitUntil(lambda: bool(outcome))
    assert outcome == ["cancelled"]
    assert not runner.busy
    assert runner.wait_for_done()


def test_retention_dialog_previews_and_purges(
    qtbot: Any, session: DesktopSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = session.window
    import time

    now = int(time.time() * 1000)
    old = [
        replace(run_record(f"old-{i}"), status=Status.SUCCESS, started_at=now - 40 * DAY - i)
        for i in range(5)
    ]
    recent = [replace(run_record(f"new-{i}"), started_at=now - i) for i in range(2)]
    writes.replace_runs(old + recent)
    loaded(qtbot, window, 7)

    dialog = window.open_retention()
    assert isinstance(dialog, RetentionDialog)
    qtbot.waitUntil(lambda: dialog.plan is not None)
    assert dialog.preview.text() == "These rules delete nothing right now."
    dialog.keep_last.setValue(3)
    dialog.success_days.setValue(30)
    dialog.refresh_preview()
    qtbot.waitUntil(lambda: dialog.plan is not None and len(dialog.plan.run_ids) == 4)
    assert dialog.preview.text().startswith("Would delete 4 runs (8 nodes, 0 log lines)")
    assert dialog.purge_button.isEnabled()
    asked = answer_yes(monkeypatch)
    dialog.purge_button.click()
    assert asked == ["Delete 4 runs now, as the retention rules say? This cannot be undone."]
    qtbot.waitUntil(lambda: window.run_list.matches == 3)
    assert sorted(r.id for r in queries.list_runs()) == ["new-0", "new-1", "old-0"]
    from app.ui import app_settings

    saved = app_settings.load().retention
    assert (saved.success_days, saved.keep_last) == (30, 3)


def test_settings_dialog_saves_and_moves_the_receiver(qtbot: Any, session: DesktopSession) -> None:
    from app.ui import app_settings
    from app.ui.startup_problems import free_port_near

    window = session.window
    dialog = window.open_settings()
    port = free_port_near(20000)
    assert port is not None
    dialog.port.setValue(port)
    dialog.stale_hours.setValue(2)
    dialog.database.setText(str(Path.home()))  # a folder: refused with a reason
    dialog.accept()
    assert dialog.isVisible() and "is a folder" in dialog.problem.text()
    dialog.database.setText(str(session.settings.db_path))
    with qtbot.waitSignal(window.settingsChanged):
        dialog.accept()
    stored = app_settings.load()
    assert (stored.port, stored.stale_after_hours) == (port, 2.0)
    assert session.service is not None and session.service.receiver.port == port
    assert f"127.0.0.1:{port}" in window.receiver_label.text()
