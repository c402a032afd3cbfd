"""The single writer thread: reports wait in a bounded queue and commit in groups.

Request threads hand their records over and block until the transaction holding them has
committed (or failed), so the receiver answers 2xx only for data that is on disk. Committing
many reports per transaction keeps throughput independent of the cost of one fsync.

Request threads read, decode and validate, and build the store's records; the writer packs
them into rows (app/store/prepared.py), inserts them, and indexes their text for search when
it has time (search_backlog.py). A group is bounded by reports and by body bytes, not by
requests: a request may carry one report or a thousand, and a transaction of a few hundred
reports already makes the commit's cost negligible while keeping each waiting client's
latency short.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from peewee import OperationalError

from app.ingest.search_backlog import IDLE_S, SearchBacklog
from app.store.connection import close_database, write_transaction
from app.store.models import db
from app.store.prepared import PreparedRuns, prepare_runs
from app.store.records import RunRecord
from app.store.streaming import RunNotFound
from app.store.writes import store_prepared

log = logging.getLogger(__name__)

# One transaction holds up to this many reports (a request larger than that is alone in its
# transaction: a batch is stored whole or not at all)...
MAX_GROUP_RUNS = 256
# ...and up to this many request body bytes (the JSON the reports came in).
MAX_GROUP_BYTES = 16 * 1024 * 1024


class WriterBusy(RuntimeError):
    """The queue is full or the write did not finish in time; the client should retry."""


class WriterStopped(RuntimeError):
    """The writer has shut down and accepts nothing more."""


# Refusals that concern one job only: they roll back that job's savepoint, not the group.
REFUSALS: tuple[type[Exception], ...] = (RunNotFound,)


@dataclass
class _Job:
    """Full reports to store (`records`), or a change to apply (`change`, returning the ids of
    the runs it touched)."""

    records: Sequence[RunRecord] | None = None
    change: Callable[[], Sequence[str]] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    changed: Sequence[str] = ()
    outside_transaction: bool = False  # a `call`: runs on its own, not in a group transaction
    size: int = 0  # request body bytes, for the group's limit

    @property
    def runs(self) -> int:
        return len(self.records) if self.records is not None else 1


_STOP = object()


def _search_rows(group: list[_Job]) -> int:
    """About how many rows the group added for the search index to take: nodes and log lines
    of full reports, and one per streamed change (a few nodes or lines each)."""
    return sum(
        sum(len(r.nodes) + len(r.logs) for r in job.records) if job.records is not None else 1
        for job in group
    )


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
        self._held: _Job | None = None  # taken from the queue but beyond the last group's limits
        self._search = SearchBacklog()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then end the thread."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def write(self, records: Sequence[RunRecord], timeout: float = 30.0, size: int = 0) -> None:
        """Block until `records` are committed; raise WriterBusy, WriterStopped or the error.
        `size`: the bytes they arrived in (bounds how much one transaction takes)."""
        self._submit(_Job(records=records, size=size), timeout)

    def apply(
        self, change: Callable[[], Sequence[str]], timeout: float = 30.0, size: int = 0
    ) -> None:
        """Run `change` on the writer thread inside a group transaction; block until it has
        committed. `change` returns the ids of the runs it touched (for `on_committed`); a
        refusal it raises (RunNotFound) undoes only that change and is raised here."""
        self._submit(_Job(change=change, size=size), timeout)

    def call(self, action: Callable[[], Any], timeout: float = 30.0) -> None:
        """Run `action` on the writer thread's own connection, outside any transaction (for
        settings that live on that connection, such as a PRAGMA)."""

        def run() -> Sequence[str]:
            action()
            return ()

        self._submit(_Job(change=run, outside_transaction=True), timeout)

    def _submit(self, job: _Job, timeout: float) -> None:
        if self._stopped.is_set():
            raise WriterStopped("the receiver is shutting down")
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
            self._search.refresh()
            while True:
                group, stop_after = self._next_group()
                if group:
                    self._commit(group)
                    self._search.grew(_search_rows(group))
                if stop_after:
                    return
        finally:
            self._fail_pending(WriterStopped("the receiver shut down before the write"))
            close_database()

    def _next_group(self) -> tuple[list[_Job], bool]:
        """The jobs for one transaction: whatever is waiting, up to the limits on reports and
        bytes (the first job always fits); and whether the writer was asked to stop."""
        first: _Job | object
        if self._held is not None:
            first, self._held = self._held, None
        else:
            first = self._wait_for_job()
        if first is _STOP:
            return [], True
        assert isinstance(first, _Job)
        group, runs, size = [first], first.runs, first.size
        while runs < MAX_GROUP_RUNS and size < MAX_GROUP_BYTES:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return group, True
            assert isinstance(item, _Job)
            if runs + item.runs > MAX_GROUP_RUNS or size + item.size > MAX_GROUP_BYTES:
                self._held = item  # first of the next group
                break
            group.append(item)
            runs += item.runs
            size += item.size
        return group, False

    def _wait_for_job(self) -> _Job | object:
        """The next job; while none comes, index stored text for search (SearchBacklog)."""
        while self._search.pending > 0:
            try:
                return self._queue.get(timeout=max(IDLE_S, self._search.retry_in()))
            except queue.Empty:
                self._search.index_chunk()
        return self._queue.get()

    def _commit(self, group: list[_Job]) -> None:
        if any(job.outside_transaction for job in group):
            for job in group:
                if job.outside_transaction:
                    self._call(job)
                else:
                    self._commit([job])
            return
        try:
            with write_transaction():
                self._apply(group)
        except Exception as exc:
            if len(group) > 1 and not isinstance(exc, OperationalError):
                # One bad job must not fail its neighbours: retry each on its own. Database
                # trouble (locked, full, read-only) would only fail each again, slowly.
                for job in group:
                    self._commit([job])
                return
            if not isinstance(exc, OperationalError):
                log.exception("storing a report failed")
            for job in group:
                job.error = exc
                job.done.set()
            return
        for job in group:
            job.done.set()
        if self._on_committed is not None:
            changed = [
                run_id
                for job in group
                if job.error is None
                for run_id in (
                    [r.id for r in job.records] if job.records is not None else job.changed
                )
            ]
            if not changed:  # every change in the group was refused
                return
            try:
                self._on_committed(changed)
            except Exception:
                log.exception("on_committed callback failed")

    def _apply(self, group: list[_Job]) -> None:
        """Apply the jobs in order inside the current transaction; consecutive full reports
        are stored together, each change in a savepoint so a refusal undoes only itself."""
        pending: list[PreparedRuns] = []
        for job in group:
            job.error = None
            if job.records is not None:
                # Prepared here rather than on the request threads: measured, eight request
                # threads each packing payloads got fewer runs per second through, not more.
                pending.append(prepare_runs(job.records))
                continue
            if pending:
                store_prepared(pending)
                pending = []
            assert job.change is not None
            try:
                with db.atomic():
                    job.changed = job.change()
            except REFUSALS as refusal:
                job.error = refusal
        if pending:
            store_prepared(pending)

    def _call(self, job: _Job) -> None:
        assert job.change is not None
        try:
            job.change()
        except Exception as exc:
            job.error = exc
        job.done.set()

    def _fail_pending(self, error: BaseException) -> None:
        if self._held is not None:
            self._held.error = error
            self._held.done.set()
            self._held = None
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job):
                item.error = error
                item.done.set()
