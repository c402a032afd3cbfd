"""Progress of a migration, reported to whoever opened the database.

A migration of a big history takes minutes; the opener (the GUI's progress window, the CLI)
gets `progress(message, done, total)` calls on the opening thread, at least every
`INTERVAL` seconds while work goes on: between chunks of a step, and from SQLite's progress
handler while one long statement runs (a heartbeat repeating the last figures).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from peewee import Database, SqliteDatabase

ProgressCallback = Callable[[str, int, int], None]

INTERVAL = 0.2  # seconds between reports; the promise to callers is "at least every 0.5 s"
# SQLite virtual-machine instructions between progress-handler calls: a few ms of work.
_HANDLER_STEPS = 20_000


class MigrationProgress:
    """Throttled progress reports for one migration; a no-op without a callback."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self._message = ""
        self._done = 0
        self._total = 0
        self._last = 0.0
        self._watching = 0
        # Reports go to the opening thread only (the progress handler also fires for
        # statements that `run` hands to a worker thread).
        self._owner = threading.get_ident()

    def phase(self, message: str, total: int) -> None:
        """Start a phase of `total` units of work (reported at once)."""
        self._message, self._done, self._total = message, 0, max(total, 0)
        self._report()

    def advance(self, done: int) -> None:
        self._done = min(done, self._total) if self._total else done
        if time.monotonic() - self._last >= INTERVAL:
            self._report()

    def finish_phase(self) -> None:
        self._done = self._total
        self._report()

    def heartbeat(self) -> None:
        if time.monotonic() - self._last >= INTERVAL:
            self._report()

    def _report(self) -> None:
        if threading.get_ident() != self._owner:
            return
        self._last = time.monotonic()
        if self._callback is not None:
            self._callback(self._message, self._done, self._total)

    @contextmanager
    def watching(self, database: Database) -> Iterator[None]:
        """Keep reporting while single long SQLite statements run (index builds, checks).

        Nests: the handler stays until the outermost `watching` ends.
        """
        if self._callback is None or not isinstance(database, SqliteDatabase):
            yield
            return
        connection = database.connection()

        def handler() -> int:
            self.heartbeat()
            return 0  # 0: go on (non-zero would interrupt the statement)

        self._watching += 1
        if self._watching == 1:
            connection.set_progress_handler(handler, _HANDLER_STEPS)
        try:
            yield
        finally:
            self._watching -= 1
            if self._watching == 0:
                connection.set_progress_handler(None, 0)

    def run(self, message: str, work: Callable[[], object]) -> None:
        """Run `work` on a worker thread while this thread keeps reporting, for a step that
        SQLite does in one call without running statements (a commit's writes, a
        checkpoint); its exception, if any, is raised here."""
        finished = threading.Event()
        failure: list[BaseException] = []

        def run_work() -> None:
            try:
                work()
            except BaseException as exc:  # handed to the reporting thread below
                failure.append(exc)
            finally:
                finished.set()

        self.phase(message, 1)
        threading.Thread(target=run_work, name="hindsight-migration", daemon=True).start()
        while not finished.wait(INTERVAL):
            self.heartbeat()
        if failure:
            raise failure[0]
        self.finish_phase()
