"""Store queries off the GUI thread.

A query runs on a small thread pool; its result comes back to a callback on the GUI thread
through a relay QObject that lives there (Qt queues the signal across threads). Callers tag
requests so a slow, stale answer never overwrites a newer one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from app.store.models import db

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Carries one answer to the GUI thread.

    A child of its BackgroundQueries: destroyed with it (after its pool has drained), an
    answer still on its way is dropped instead of reaching a pane that no longer exists.
    """

    succeeded = Signal(object)
    failed = Signal(str)
    skipped = Signal()

    def __init__(
        self,
        owner: BackgroundQueries,
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None] | None,
    ) -> None:
        super().__init__(owner)
        self._on_done: Callable[[Any], None] | None = on_done
        self._on_error: Callable[[str], None] | None = on_error
        self.succeeded.connect(self._deliver)
        self.failed.connect(self._deliver_error)
        self.skipped.connect(self._skip)

    @Slot(object)
    def _deliver(self, result: object) -> None:
        self._finish()
        on_done = self._release_callbacks()[0]
        if on_done is not None:
            on_done(result)

    @Slot()
    def _skip(self) -> None:
        self._finish()

    @Slot(str)
    def _deliver_error(self, message: str) -> None:
        self._finish()
        on_error = self._release_callbacks()[1]
        if on_error is not None:
            on_error(message)
        else:
            log.error("background query failed: %s", message)

    def _finish(self) -> None:
        # Found through the Qt parent, not a Python reference: the relay's Python side may
        # be freed on the pool thread, and must not take a BackgroundQueries with it there.
        owner = self.parent()
        assert isinstance(owner, BackgroundQueries)
        owner._finished(self)

    def _release_callbacks(
        self,
    ) -> tuple[Callable[[Any], None] | None, Callable[[str], None] | None]:
        """Hand the callbacks over and forget them, here on the GUI thread.

        The worker's task may hold the last reference to this relay; if the relay still
        held a widget's bound method, that widget could be destroyed on the worker thread
        (a crash), e.g. a dialog closed while its query ran.
        """
        callbacks = (self._on_done, self._on_error)
        self._on_done = None
        self._on_error = None
        return callbacks


class Ticket:
    """A submitted query; cancelling one that has not started yet means it never runs and
    its callbacks are never called (a newer query made it pointless)."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


class _Task(QRunnable):
    def __init__(self, query: Callable[[], Any], relay: _Relay, ticket: Ticket) -> None:
        super().__init__()
        self._query: Callable[[], Any] | None = query
        self._relay = relay
        self._ticket = ticket

    def run(self) -> None:
        query, self._query = self._query, None  # nothing of the caller's outlives the run
        assert query is not None, "a task runs once"
        if self._ticket.cancelled:
            self._relay.skipped.emit()
            return
        try:
            with db.connection_context():
                result = query()
        except Exception as exc:
            self._relay.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self._relay.succeeded.emit(result)


class BackgroundQueries(QObject):
    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relays: set[_Relay] = set()
        self._closed = False

    def submit(
        self,
        query: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None] | None = None,
    ) -> Ticket:
        ticket = Ticket()
        if self._closed:  # a timer of a window being torn down: the database is gone
            ticket.cancel()
            return ticket

        def done(result: Any) -> None:
            if not ticket.cancelled:
                on_done(result)

        def error(message: str) -> None:
            if ticket.cancelled:
                return
            if on_error is not None:
                on_error(message)
            else:
                log.error("background query failed: %s", message)

        relay = _Relay(self, done, error)
        self._relays.add(relay)  # keep it alive until its answer is delivered
        self._pool.start(_Task(query, relay, ticket))
        return ticket

    def pending(self) -> int:
        return len(self._relays)

    def wait_for_done(self, msecs: int = 10_000) -> bool:
        return self._pool.waitForDone(msecs)

    def close(self, msecs: int = 10_000) -> bool:
        """Start no query from now on, and wait for the running ones: once the session has
        closed its database, a timer still firing (the window outlives its session until
        Qt deletes it) must not query whatever database is open by then."""
        self._closed = True
        return self.wait_for_done(msecs)

    def _finished(self, relay: _Relay) -> None:
        self._relays.discard(relay)
        relay.deleteLater()
