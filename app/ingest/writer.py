"""The single writer thread: reports wait in a bounded queue and commit in groups.

Request threads hand their records over and block until the transaction holding them has
committed (or failed), so the receiver answers 2xx only for data that is on disk. Committing
many reports per transaction keeps throughput independent of the cost of one fsync.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from app.store.connection import close_database
from app.store.records import RunRecord
from app.store.writes import replace_runs

log = logging.getLogger(__name__)

MAX_GROUP = 200  # reports per transaction


class WriterBusy(RuntimeError):
    """The queue is full or the write did not finish in time; the client should retry."""


class WriterStopped(RuntimeError):
    """The writer has shut down and accepts nothing more."""


@dataclass
class _Job:
    records: Sequence[RunRecord]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


_STOP = object()


class ReportWriter:
    def __init__(
        self,
        on_committed: Callable[[list[str]], None] | None = None,
        queue_size: int = 1000,
    ) -> None:
        self._queue: queue.Queue[_Job | object] = queue.Queue(maxsize=queue_size)
        self._on_committed = on_committed
        self._thread = threading.Thread(target=self._run, name="hindsight-writer", daemon=True)
        self._stopped = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then end the thread."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def write(self, records: Sequence[RunRecord], timeout: float = 30.0) -> None:
        """Block until `records` are committed; raise WriterBusy, WriterStopped or the error."""
        if self._stopped.is_set():
            raise WriterStopped("the receiver is shutting down")
        job = _Job(records)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise WriterBusy("the write queue is full") from None
        if not job.done.wait(timeout):
            # The job may still commit later; the client retries, and a replayed id replaces.
            raise WriterBusy("the database did not accept the write in time")
        if job.error is not None:
            raise job.error

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                group: list[_Job] = [first]  # type: ignore[list-item]
                stop_after = False
                while len(group) < MAX_GROUP:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stop_after = True
                        break
                    group.append(item)  # type: ignore[arg-type]
                self._commit(group)
                if stop_after:
                    return
        finally:
            self._fail_pending(WriterStopped("the receiver shut down before the write"))
            close_database()

    def _commit(self, group: list[_Job]) -> None:
        try:
            replace_runs([record for job in group for record in job.records])
        except Exception as exc:
            if len(group) > 1:
                # One bad job must not fail its neighbours: retry each on its own.
                for job in group:
                    self._commit([job])
                return
            log.exception("storing a report failed")
            group[0].error = exc
            group[0].done.set()
            return
        for job in group:
            job.done.set()
        if self._on_committed is not None:
            try:
                self._on_committed([record.id for job in group for record in job.records])
            except Exception:
                log.exception("on_committed callback failed")

    def _fail_pending(self, error: BaseException) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job):
                item.error = error
                item.done.set()
