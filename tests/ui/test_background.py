"""Background queries hand results to the GUI thread and leave nothing of the caller behind
on the worker thread."""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal
from PySide6.QtWidgets import QLabel, QWidget

from app.ui.background import BackgroundQueries

RELEASED_ON: list[str] = []  # thread names where _Receiver objects were freed


class _Receiver(QObject):
    got = Signal(object)

    def take(self, result: object) -> None:
        self.got.emit(result)

    def __del__(self) -> None:
        RELEASED_ON.append(threading.current_thread().name)


def test_a_callback_owner_is_never_released_on_a_worker(qtbot: Any, database: Path) -> None:
    """A dialog closed while its query ran must not be destroyed on the pool thread."""
    queries = BackgroundQueries()
    RELEASED_ON.clear()
    for attempt in range(20):
        receiver = _Receiver()
        with qtbot.waitSignal(receiver.got) as delivered:
            queries.submit(lambda attempt=attempt: attempt * 2, receiver.take)
        assert delivered.args == [attempt * 2]
        del receiver  # the caller lets go, as a closed dialog does
        queries.wait_for_done()
        qtbot.waitUntil(lambda: queries.pending() == 0)
    gc.collect()
    assert len(RELEASED_ON) == 20
    assert set(RELEASED_ON) == {threading.main_thread().name}


def test_an_answer_on_its_way_dies_with_the_pane_that_asked(qtbot: Any, database: Path) -> None:
    """A window deleted after its query ran but before the answer was delivered: the answer
    used to reach the dead pane's callback (a deleted QLabel, in the next test)."""
    pane = QWidget()
    label = QLabel(pane)
    queries = BackgroundQueries(pane)
    answers: list[object] = []
    queries.submit(lambda: 42, lambda answer: (answers.append(answer), label.setText("42")))
    assert queries.wait_for_done()  # the answer is posted to the GUI thread, not delivered
    del pane  # the only reference: the pane, its label and its queries are deleted now
    QCoreApplication.sendPostedEvents()
    assert answers == []


def test_errors_reach_the_error_callback(qtbot: Any, database: Path) -> None:
    queries = BackgroundQueries()
    errors: list[str] = []

    def fail() -> None:
        raise LookupError("run x is not in the history")

    queries.submit(fail, lambda _: None, errors.append)
    qtbot.waitUntil(lambda: errors == ["LookupError: run x is not in the history"])
    queries.wait_for_done()


def test_a_closed_runner_starts_no_query(qtbot: Any, database: Path) -> None:
    """Once its session has closed the database, a window's timers may still fire (the
    window lives until Qt deletes it): their queries must not run, on any database."""
    queries = BackgroundQueries()
    ran = threading.Event()
    assert queries.close()
    ticket = queries.submit(ran.set, lambda _answer: None)
    assert ticket.cancelled and queries.pending() == 0
    assert queries.wait_for_done()
    assert not ran.is_set()


def test_a_shut_down_session_leaves_the_database_alone(qtbot: Any, db_path: Path) -> None:
    from app.config import Settings
    from app.ui.application import DesktopSession

    session = DesktopSession(Settings(db_path=db_path, host="127.0.0.1", port=0))
    qtbot.addWidget(session.window)
    session.shutdown()
    ran = threading.Event()
    counting = session.window.run_list._count_runner
    waiting = counting.pending()  # answers from before the shutdown, not yet delivered
    session.window.run_list.refresh_counts()  # what its count timer does
    assert counting.pending() == waiting  # nothing new was started
    assert session.window.queries.submit(ran.set, lambda _answer: None).cancelled
    assert session.window.queries.wait_for_done()
    assert not ran.is_set()
