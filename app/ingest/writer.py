"""The single writer thread: reports wait in a bounded queue and commit in groups.

Request threads hand their records over and block until the transaction holding them has
committed (or failed), so the receiver answers 2xx only for data that is on disk. Committing
many reports per transaction keeps throughput independent of the cost of one fsync.

Request threads read, decode and validate, and build the store's records; the writer's store
(store_worker.py) packs them into rows, inserts them, and indexes their text for search when
it has time. That store runs on the writer thread, or in a process of its own
(writer_process.py) where `hindsight serve` wants a second core.

A group is bounded by reports and by body bytes, not by requests: a request may carry one
report or a thousand, and a transaction of a few hundred reports already makes the commit's
cost negligible while keeping each waiting client's latency short.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.ingest.store_worker import Outcome, StoreWorker, Task
from app.store.records import RunRecord

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


class StoreStopped(WriterBusy):
    """The store process stopped before it answered for a group: nothing of it is known to
    be stored (writer_process.py)."""


class StoreCrashed(RuntimeError):
    """This write stopped the store process twice, the second time alone: the write itself
    stops it. It is not stored; trying it again here would only stop the process again."""


class GroupStore(Protocol):
    """Where the writer's groups are committed (StoreWorker, or writer_process.ProcessStore)."""

    def open(self) -> None: ...  # on the caller's thread, before the writer thread starts

    def warm_up(self) -> None: ...  # on the writer thread, first

    # How many groups may be sent before the oldest one's outcomes are received.
    depth: int

    def send(self, tasks: Sequence[Task]) -> Any: ...  # a ticket for `receive`

    def receive(self, ticket: Any) -> list[Outcome]: ...  # once committed, in sending order

    def idle_timeout(self) -> float | None: ...

    def on_idle(self) -> None: ...

    def stopping(self) -> None: ...  # the writer is shutting down: start nothing new

    def abandon(self) -> None: ...  # the writer did not stop in time: drop what it holds

    def close(self) -> None: ...  # on the writer thread, last


@dataclass
class _Job:
    """A task, and the request thread waiting for it."""

    task: Task
    size: int = 0  # request body bytes, for the group's limit
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    # Tried again in a group of its own, nothing else in flight: its group was in the store
    # process when that stopped (_isolate).
    alone: bool = False

    @property
    def runs(self) -> int:
        records = self.task.records
        return len(records) if records is not None else 1


_STOP = object()
_WAKE = object()  # a job to try alone is waiting (the writer may be waiting on the queue)


class ReportWriter:
    def __init__(
        self,
        on_committed: Callable[[list[str]], None] | None = None,
        queue_size: int = 1000,
        store: GroupStore | None = None,
    ) -> None:
        self._queue: queue.Queue[_Job | object] = queue.Queue(maxsize=queue_size)
        self._on_committed = on_committed
        self._thread = threading.Thread(target=self._run, name="hindsight-writer", daemon=True)
        self._stopped = threading.Event()
        self._held: _Job | None = None  # taken from the queue but beyond the last group's limits
        self._suspects: collections.deque[_Job] = collections.deque()  # to try alone, first
        self._store: GroupStore = store if store is not None else StoreWorker()
        # Groups sent to the store and not yet answered, oldest first, for the answering
        # thread; at most `depth` of them (a free slot is taken before a group is formed).
        # Each with the slots it holds: one, or all of them for a job tried alone.
        self._in_flight: queue.SimpleQueue[tuple[list[_Job], Any, int] | None] = queue.SimpleQueue()
        self._slots = threading.Semaphore(self._store.depth)
        self._answering = threading.Thread(
            target=self._answer, name="hindsight-writer-answers", daemon=True
        )

    def start(self) -> None:
        """Open the store (a writer process starts here, and a failure raises here), then
        start the writer thread."""
        self._store.open()
        self._answering.start()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what is queued, then end the thread."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._store.stopping()
        deadline = time.monotonic() + timeout
        # Full and not draining: the writer is stuck, and is abandoned below.
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=timeout)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.warning(
                "the writer did not finish within %s s; what it held is not stored", timeout
            )
            self._store.abandon()
            # What still waits in the queue would never be stored either: refused now, and
            # the room it leaves takes the stop, so the thread ends once the store lets go.
            while True:  # a request already past its check may take the room: again
                self._fail_queued(WriterStopped("the receiver shut down before the write"))
                try:
                    self._queue.put_nowait(_STOP)
                    break
                except queue.Full:
                    continue

    def write(self, records: Sequence[RunRecord], timeout: float = 30.0, size: int = 0) -> None:
        """Block until `records` are committed; raise WriterBusy, WriterStopped or the error.
        `size`: the bytes they arrived in (bounds how much one transaction takes)."""
        self._submit(_Job(Task(records=records), size), timeout)

    def apply(
        self, change: Callable[[], Sequence[str]], timeout: float = 30.0, size: int = 0
    ) -> None:
        """Run `change` where the store runs, inside a group transaction; block until it has
        committed. `change` returns the ids of the runs it touched (for `on_committed`); a
        refusal it raises (RunNotFound) undoes only that change and is raised here. With a
        writer process, `change` must pickle: a module-level function or a partial of one."""
        self._submit(_Job(Task(change=change), size), timeout)

    def call(self, action: Callable[[], Any], timeout: float = 30.0) -> None:
        """Run `action` on the store's own connection, outside any transaction (for
        settings that live on that connection, such as a PRAGMA; a writer process that is
        replaced starts without them)."""
        self._submit(_Job(Task(change=_Ignoring(action), outside_transaction=True)), timeout)

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
        """Form groups and send them to the store. A writer process takes the next group
        while it commits one (depth 2), so that group is packed and on its way meanwhile and
        the process does not wait for this one between transactions."""
        try:
            self._store.warm_up()
            while True:
                self._slots.acquire()
                group, stop_after = self._next_group()
                if group:
                    self._send(group, self._exclusive() if group[0].alone else 1)
                else:
                    self._slots.release()
                if stop_after:
                    return
        finally:
            self._in_flight.put(None)  # the answering thread ends after what was sent
            self._answering.join()
            self._fail_pending(WriterStopped("the receiver shut down before the write"))
            self._store.close()

    def _exclusive(self) -> int:
        """Take every other slot too, so that a job tried alone is the only one in the store
        process (the writer thread holds one slot already); the count held."""
        for _ in range(self._store.depth - 1):
            self._slots.acquire()
        return self._store.depth

    def _answer(self) -> None:
        """Release each group's requests once the store has answered for it, in order."""
        while (item := self._in_flight.get()) is not None:
            group, ticket, slots = item
            outcomes: list[Outcome] | None
            try:
                try:
                    outcomes = self._store.receive(ticket)
                except StoreStopped as stopped:
                    outcomes = self._isolate(group, stopped)
                except Exception as exc:  # nothing known stored
                    outcomes = [Outcome(error=exc) for _ in group]
                if outcomes is not None:
                    self._release(group, outcomes)
            except Exception:  # never leave a request waiting, nor the writer without a slot
                log.exception("answering a group of writes failed")
                for job in group:
                    if not job.done.is_set():
                        job.error = WriterBusy("the write's outcome was lost; retry")
                        job.done.set()
            finally:
                self._slots.release(slots)

    def _isolate(self, group: list[_Job], stopped: StoreStopped) -> list[Outcome] | None:
        """The store process stopped with this group in it. One job may stop it every time
        (a report that crashes a library, say): each job is tried again alone, before
        anything newer, so its neighbours are stored; one that stops it alone is answered
        StoreCrashed. None: the group is answered later, job by job."""
        if self._stopped.is_set():  # it may have been ended for taking too long (abandon)
            return [Outcome(error=stopped) for _ in group]
        if len(group) == 1 and group[0].alone:
            log.error("a write stopped the store process twice, the second time alone")
            crashed = StoreCrashed(
                "storing this stopped Hindsight's store process, twice; it was not stored"
            )
            return [Outcome(error=crashed)]
        for job in group:
            job.alone = True
            self._suspects.append(job)
        with contextlib.suppress(queue.Full):  # full: the writer is not waiting on it
            self._queue.put_nowait(_WAKE)
        return None

    def _next_group(self) -> tuple[list[_Job], bool]:
        """The jobs for one transaction: whatever is waiting, up to the limits on reports and
        bytes (the first job always fits); and whether the writer was asked to stop."""
        with contextlib.suppress(IndexError):
            return [self._suspects.popleft()], False
        first: _Job | object
        if self._held is not None:
            first, self._held = self._held, None
        else:
            first = self._wait_for_job()
        if first is _STOP:
            return [], True
        if first is _WAKE:
            return [], False
        assert isinstance(first, _Job)
        group, runs, size = [first], first.runs, first.size
        while runs < MAX_GROUP_RUNS and size < MAX_GROUP_BYTES:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return group, True
            if item is _WAKE:
                continue
            assert isinstance(item, _Job)
            if runs + item.runs > MAX_GROUP_RUNS or size + item.size > MAX_GROUP_BYTES:
                self._held = item  # first of the next group
                break
            group.append(item)
            runs += item.runs
            size += item.size
        return group, False

    def _wait_for_job(self) -> _Job | object:
        """The next job; while none comes, the store may index stored text for search."""
        while (timeout := self._store.idle_timeout()) is not None:
            try:
                return self._queue.get(timeout=timeout)
            except queue.Empty:
                self._store.on_idle()
        return self._queue.get()

    def _send(self, group: list[_Job], slots: int) -> None:
        try:
            ticket = self._store.send([job.task for job in group])
        except Exception as exc:  # the writer process cannot start, say: nothing is stored
            self._release(group, [Outcome(error=exc) for _ in group])
            self._slots.release(slots)
        else:
            self._in_flight.put((group, ticket, slots))

    def _release(self, group: list[_Job], outcomes: list[Outcome]) -> None:
        for job, outcome in zip(group, outcomes, strict=True):
            job.error = outcome.error
            job.done.set()
        changed = [
            run_id for outcome in outcomes if outcome.error is None for run_id in outcome.changed
        ]
        if changed and self._on_committed is not None:
            try:
                self._on_committed(changed)
            except Exception:
                log.exception("on_committed callback failed")

    def _fail_pending(self, error: BaseException) -> None:
        while self._suspects:
            job = self._suspects.popleft()
            job.error = error
            job.done.set()
        if self._held is not None:
            self._held.error = error
            self._held.done.set()
            self._held = None
        self._fail_queued(error)

    def _fail_queued(self, error: BaseException) -> None:
        """Answer every job still in the queue with `error` (safe from any thread)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job):
                item.error = error
                item.done.set()


@dataclass(frozen=True)
class _Ignoring:
    """An action run for its effect; it touches no run."""

    action: Callable[[], Any]

    def __call__(self) -> Sequence[str]:
        self.action()
        return ()
