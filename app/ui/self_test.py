"""`hindsight --self-test`: prove an install (or the frozen bundle) works end to end.

Offscreen, on a temporary database and spool folder (never the user's): open the main window,
post one report to the app's own receiver over HTTP, wait until the run list shows it, exit
0. Any failure prints what went wrong and exits 1. CI runs it on the built bundle.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SELF_TEST_TIMEOUT_S = 30.0
SELF_TEST_RUN_ID = "self-test-run"


class SelfTestFailed(Exception):
    pass


def _report() -> dict[str, object]:
    return {
        "id": SELF_TEST_RUN_ID,
        "workflowId": "self-test",
        "workflowName": "Self-test",
        "status": "success",
        "startedAt": "2026-01-01T00:00:00Z",
        "durationMs": 5,
        "nodeExecutions": [{"nodeId": "check", "status": "success", "output": {"ok": True}}],
    }


def _post(url: str, report: dict[str, object]) -> int:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        body = json.dumps(report).encode()
        headers = {"Content-Type": "application/json"}
        connection.request("POST", "/api/executions", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def run_self_test() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hindsight-self-test-") as folder:
        try:
            timings = _check(Path(folder), started)
        except SelfTestFailed as exc:
            print(f"self-test failed: {exc}", file=sys.stderr, flush=True)
            return 1
    print(
        "self-test passed: window shown after {:.0f} ms, report shown {:.0f} ms after "
        "posting".format(*timings),
        flush=True,
    )
    return 0


def _check(folder: Path, started: float) -> tuple[float, float]:
    from PySide6.QtCore import QEventLoop, QTimer

    from app.config import DEFAULT_HOST, Settings
    from app.store.status import Status
    from app.ui.application import DesktopSession, application
    from app.ui.icons import app_icon, status_icon

    application()
    if app_icon().pixmap(64, 64).isNull():
        raise SelfTestFailed("the application icon did not load (SVG plugin missing?)")
    for status in Status:
        if status_icon(status).pixmap(16, 16).isNull():
            raise SelfTestFailed(f"the status icon for {status} did not load")

    def wait_until(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + SELF_TEST_TIMEOUT_S
        loop = QEventLoop()
        poll = QTimer()
        poll.setInterval(20)
        poll.timeout.connect(loop.quit)  # wake up to re-check the condition and the deadline
        poll.start()
        while not condition():
            if time.monotonic() > deadline:
                raise SelfTestFailed(f"timed out after {SELF_TEST_TIMEOUT_S:.0f} s {what}")
            loop.exec()
        poll.stop()

    settings = Settings(db_path=folder / "history.db", host=DEFAULT_HOST, port=0)
    session = DesktopSession(settings, spool=folder / "spool")
    try:
        window = session.window
        window.remembers_layout = False
        loads: list[int] = []  # run totals, one per refresh of the run list
        window.runs_loaded.connect(loads.append)
        window.show()
        if session.service is None:
            raise SelfTestFailed("the receiver did not start")
        wait_until(lambda: window.isVisible() and bool(loads), "opening the main window")
        shown_after = (time.perf_counter() - started) * 1000
        if window.pages.currentWidget() is not window.empty_state:
            raise SelfTestFailed("a new history did not open on the first-run page")
        posted = time.perf_counter()
        answer = _post(session.service.url, _report())
        if answer != 201:
            raise SelfTestFailed(f"the receiver answered {answer} instead of 201")
        wait_until(
            lambda: window.run_model.row_of(SELF_TEST_RUN_ID) is not None,
            "waiting for the posted run to appear in the run list",
        )
        return shown_after, (time.perf_counter() - posted) * 1000
    finally:
        # As when a user quits: the window stops its timers and waits for its queries, and no
        # events are processed afterwards, so nothing new reaches the database being closed.
        session.window.close()
        session.shutdown()
