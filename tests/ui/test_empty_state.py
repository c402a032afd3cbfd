"""The first-run page: receiver address, copyable examples, and the demo button."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from PySide6.QtGui import QGuiApplication

from app.ui.application import DesktopSession
from app.ui.empty_state import EmptyState

POST_ONE_REPORT = """
import json, os, urllib.request
body = json.dumps({"id": "demo-1", "workflowId": "demo", "status": "success",
                   "startedAt": "2026-01-01T00:00:00Z"}).encode()
request = urllib.request.Request(os.environ["HINDSIGHT_URL"] + "/api/executions", body,
                                 {"Content-Type": "application/json"})
urllib.request.urlopen(request, timeout=10).read()
print("Stored 1 demo run")
"""


def _page(session: DesktopSession) -> EmptyState:
    return session.window.empty_state


def test_shows_the_receiver_address_and_both_examples(session: DesktopSession) -> None:
    assert session.service is not None
    url = session.service.url
    page = _page(session)
    assert f"{url}/api/executions" in page.explanation.text()
    assert page.curl.text.toPlainText().startswith(f"curl -X POST {url}/api/executions")
    python = page.python.text.toPlainText()
    assert f'Reporter("{url}")' in python
    assert len(python.strip().splitlines()) <= 10


def test_copy_buttons_put_the_exact_example_on_the_clipboard(
    qtbot: Any, session: DesktopSession
) -> None:
    page = _page(session)
    page.python.copy_button.click()
    assert QGuiApplication.clipboard().text() == page.python.text.toPlainText()
    assert page.python.copy_button.text() == "Copied"
    page.curl.copy_button.click()
    assert QGuiApplication.clipboard().text().startswith("curl -X POST")


def test_demo_runs_hindsight_demo_on_the_open_database(
    session: DesktopSession, db_path: Path
) -> None:
    assert _page(session).demo_command() == [
        sys.executable, "-m", "app", "demo", "--db", str(db_path)
    ]  # fmt: skip


def test_demo_success_shows_progress_and_the_runs(qtbot: Any, session: DesktopSession) -> None:
    page = _page(session)
    assert session.service is not None
    page.set_demo_target("unused", session.service.url, [sys.executable, "-c", POST_ONE_REPORT])
    with qtbot.waitSignal(page.demo_finished, timeout=30_000) as finished:
        page.demo_button.click()
        assert not page.demo_button.isEnabled()
        assert page.demo_progress.isVisible()
    assert finished.args == [True]
    assert page.demo_status.text() == "Demo runs loaded."
    assert page.demo_button.isEnabled() and not page.demo_progress.isVisible()
    qtbot.waitUntil(lambda: session.window.pages.currentWidget() is not page)


def test_demo_failure_says_why_and_allows_a_retry(qtbot: Any, session: DesktopSession) -> None:
    page = _page(session)
    failing = [sys.executable, "-c", "import sys; sys.exit('demo: database is locked')"]
    page.set_demo_target("unused", None, failing)
    with qtbot.waitSignal(page.demo_finished, timeout=30_000) as finished:
        page.demo_button.click()
    assert finished.args == [False]
    box = page.demo_error_box
    assert box is not None and box.isVisible()
    assert "exited with status 1" in box.text()
    assert "demo: database is locked" in box.text()
    assert page.demo_button.isEnabled()
    box.close()


def test_demo_that_cannot_start_is_reported(
    qtbot: Any, session: DesktopSession, tmp_path: Path
) -> None:
    page = _page(session)
    page.set_demo_target("unused", None, [str(tmp_path / "no-such-hindsight"), "demo"])
    with qtbot.waitSignal(page.demo_finished, timeout=30_000) as finished:
        page.demo_button.click()
    assert finished.args == [False]
    assert page.demo_error_box is not None
    assert "could not be started" in page.demo_error_box.text()
    assert page.demo_button.isEnabled()
    page.demo_error_box.close()
