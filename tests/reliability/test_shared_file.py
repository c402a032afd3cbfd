"""Second copy and shared files (issue 7, test 7): the desktop app, a `hindsight serve` on
another port and the CLI (list, import, delete) work on one SQLite file at the same time.
No "database is locked" surfaces anywhere (every post 2xx, every command exit 0, no error
in the window) and nothing is lost: every acknowledged report is stored, every import
landed, and exactly the runs that were deleted are gone."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from app.ui.application import DesktopSession
from tests.conftest import make_report, post_json
from tests.reliability.serve import Tally, post_until_stopped, serving

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
CLIENTS_PER_RECEIVER = 3
ACKS_WANTED = 600  # across both receivers, while the CLI and the window work too
IMPORT_FILES = 6
CLI_VICTIMS = 6
GUI_VICTIMS = 3


def hindsight(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args, "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_gui_serve_and_cli_share_one_file_without_lock_errors_or_loss(
    qtbot: Any,
    session: DesktopSession,
    db_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = session.window
    assert session.service is not None
    gui_url = session.service.url
    victims = [f"cli-victim-{n}" for n in range(CLI_VICTIMS)]
    gui_victims = [f"gui-victim-{n}" for n in range(GUI_VICTIMS)]
    for run_id in victims:
        assert post_json(gui_url, "/api/executions", make_report(run_id))[0] == 201
    for run_id in gui_victims:  # newest, so they stay on the window's first page
        report = make_report(run_id, startedAt="2030-01-01T00:00:00Z", completedAt=None)
        assert post_json(gui_url, "/api/executions", report)[0] == 201
    imports = []
    for n in range(IMPORT_FILES):
        path = tmp_path / f"import-{n}.json"
        path.write_text(json.dumps([make_report(f"imported-{n}-{k}") for k in range(50)]))
        imports.append(path)

    # Anything the window would show as a problem fails the test.
    window_errors: list[str] = []
    monkeypatch.setattr(window, "_show_query_error", window_errors.append)
    monkeypatch.setattr(window.history, "_query_failed", window_errors.append)
    monkeypatch.setattr(
        window.history, "_failed", lambda title, message: window_errors.append(message)
    )
    monkeypatch.setattr(window.run_list, "_on_query_failed", window_errors.append)
    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)

    tally, stop = Tally(), threading.Event()
    cli_results: list[tuple[str, int, str]] = []

    def cli_worker() -> None:
        for n in range(max(IMPORT_FILES, CLI_VICTIMS)):
            steps = []
            if n < IMPORT_FILES:
                steps.append(("import", "runs", "import", str(imports[n])))
            if n < CLI_VICTIMS:
                steps.append(("delete", "runs", "delete", victims[n], "--yes"))
            steps.append(("list", "runs", "list", "--json", "--limit", "500"))
            for name, *args in steps:
                result = hindsight(db_path, *args)
                cli_results.append((name, result.returncode, result.stderr))

    with serving(db_path) as served:
        clients = [
            threading.Thread(
                target=post_until_stopped,
                args=(port, make_report, f"{where}-c{c}", tally, stop),
            )
            for where, port in (
                ("gui", session.service.receiver.port),
                ("serve", served.port),
            )
            for c in range(CLIENTS_PER_RECEIVER)
        ]
        cli = threading.Thread(target=cli_worker)
        for thread in [*clients, cli]:
            thread.start()
        try:
            # The window keeps refreshing from its receiver's commits meanwhile, and deletes
            # runs the way a user does: select, Delete, confirm.
            qtbot.waitUntil(lambda: window.run_model.rowCount() > 0, timeout=20_000)
            for run_id in gui_victims:
                qtbot.waitUntil(lambda run_id=run_id: window.select_run(run_id), timeout=20_000)
                window.history.ask_delete_selected()  # what Delete and the menu do
                qtbot.waitUntil(
                    lambda run_id=run_id: window.run_model.row_of(run_id) is None, timeout=20_000
                )
            cli.join(180)
            qtbot.waitUntil(lambda: len(tally.acknowledged) >= ACKS_WANTED, timeout=120_000)
        finally:
            stop.set()
            for thread in [*clients, cli]:
                thread.join(30)
        serve_process = served.process
    _, serve_errors = serve_process.communicate(timeout=30)

    connection = sqlite3.connect(db_path)
    try:
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        stored = {row[0] for row in connection.execute("SELECT id FROM run")}
    finally:
        connection.close()
    imported = {f"imported-{n}-{k}" for n in range(IMPORT_FILES) for k in range(50)}
    failed_cli = [(name, code, err) for name, code, err in cli_results if code != 0]
    print(
        f"\nshared file: {len(tally.acknowledged)} reports acknowledged by the window's and "
        f"serve's receivers, {sum(tally.refused.values())} refused; "
        f"{len(cli_results)} CLI commands ({len(failed_cli)} failed); "
        f"{len(imported & stored)} of {len(imported)} imported present; "
        f"{CLI_VICTIMS + GUI_VICTIMS} deleted from CLI and window, "
        f"{len(stored & set(victims + gui_victims))} left; "
        f"{len(tally.acknowledged - stored)} acknowledged missing; "
        f"{len(window_errors)} window errors; integrity {integrity}"
    )
    assert tally.refused == {}, tally.refused  # no 503 "locked" from either receiver
    assert failed_cli == []
    assert not any("locked" in err.lower() for _, _, err in cli_results)
    assert "locked" not in serve_errors.lower() and "Traceback" not in serve_errors
    assert window_errors == []
    assert tally.acknowledged <= stored
    assert imported <= stored
    assert not stored & set(victims + gui_victims)
    assert integrity == "ok"
