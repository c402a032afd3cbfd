"""The writer's store in a process of its own, for `hindsight serve`.

Python runs one thread at a time per process. In one process the request threads (HTTP,
decoding, validation) and the writer (packing rows, inserting, indexing) take turns on one
core however many the machine has; measured, the writer's share was a third of the
receiver's CPU. Here the writer thread only hands each group of records over a pipe, and
its answering thread waits for the outcome; packing, inserting and indexing run in the
child on another core. The next group is sent while the child commits one, so the child
does not sit idle while a group is pickled and sent (batches of 50: ~1,900 -> ~2,250
runs/s on 2 cores). Durability is unchanged: the child answers after the group's
transaction has committed, and the requests waiting for it are released only then.

If the child dies, the groups it held fail with StoreStopped, and the next group starts a
new child. The writer then tries each of their jobs again alone (writer.py, _isolate): a
report that kills the child every time fails on its own, and its neighbours are stored.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import queue
import signal
import threading
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from peewee import OperationalError

from app.config import DatabaseTarget
from app.ingest.store_worker import Outcome, StoreWorker, Task
from app.ingest.writer import StoreStopped, WriterBusy
from app.store.connection import StoreError, open_database
from app.store.failures import classify

log = logging.getLogger(__name__)

_READY = "ready"
# Opening may upgrade nothing (the parent has opened the same database already), but the
# child imports the store and connects: seconds on a slow disk, never minutes.
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


class DatabaseTrouble(OperationalError):
    """A database error raised in the writer process, classified there (its chain of
    driver errors stays behind), so the receiver can still say locked, full or read-only."""

    def __init__(self, message: str, trouble: str) -> None:
        super().__init__(message)
        self.trouble = trouble

    def __reduce__(self) -> tuple[type[DatabaseTrouble], tuple[str, str]]:
        return DatabaseTrouble, (str(self), self.trouble)


class ProcessStore:
    """The parent's side: one child process, a pipe each way, up to two groups in flight.

    The child commits one group while the next is already on its way (`depth`), so the
    packing and sending of a group here overlaps the child's work on the one before. The
    writer thread sends and its answering thread receives; `_lock` keeps them to one child.
    """

    depth = 2

    def __init__(self, target: DatabaseTarget) -> None:
        self._target = target
        self._process: BaseProcess | None = None
        self._requests: Connection | None = None  # groups to the child
        self._answers: Connection | None = None  # outcomes from it, in the same order
        self._unanswered = 0
        self._generation = 0  # which child a ticket was sent to
        self._stopping = False
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def open(self) -> None:
        """Start the child and wait until it has opened the database; StoreError if it
        cannot."""
        if self._stopping:
            raise StoreError("the receiver is shutting down")
        context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        try:
            requests_in, requests = context.Pipe(duplex=False)
            answers, answers_out = context.Pipe(duplex=False)
        except OSError as exc:  # out of file descriptors, say
            raise StoreError(f"cannot start the store process: {exc}") from exc
        process = context.Process(
            target=child_main,
            args=(requests_in, answers_out, self._target),
            name="hindsight-store",
            daemon=True,
        )
        try:
            with _stop_signals_blocked():  # the child ignores them once it can (child_main)
                process.start()
        except OSError as exc:
            for end in (requests_in, requests, answers, answers_out):
                end.close()
            raise StoreError(f"cannot start the store process: {exc}") from exc
        finally:
            # So that the child's exit is seen here as end of file, and ours there.
            requests_in.close()
            answers_out.close()
        self._process, self._requests, self._answers = process, requests, answers
        self._generation += 1
        try:
            answer = answers.recv() if answers.poll(START_TIMEOUT_S) else "it did not start in time"
        except EOFError:
            answer = "it exited while starting"
        if answer != _READY:
            self._discard()
            raise StoreError(f"the store process could not open the database: {answer}")

    def warm_up(self) -> None:
        """The child counts its own search backlog."""

    def idle_timeout(self) -> float | None:
        return None  # the child indexes in its own idle time

    def on_idle(self) -> None:
        """Never called: idle_timeout is None."""

    def send(self, tasks: Sequence[Task]) -> int:
        """Send a group to the child; the ticket names the child it went to."""
        payload = pickle.dumps(list(tasks), protocol=pickle.HIGHEST_PROTOCOL)  # may fail: unsent
        with self._lock:
            if self._answers is not None and self._unanswered == 0 and self._answers.poll(0):
                # The child never speaks unasked: readable now means it is gone (end of
                # file), died while idle. Nothing of this group was sent: start another.
                log.warning("the store process stopped while idle; starting another")
                self._discard()
            if self._requests is None:
                try:
                    self.open()
                except StoreError as exc:
                    raise WriterBusy(str(exc)) from None
            assert self._requests is not None
            try:
                # Never blocks for long: the child takes each group off the pipe at once.
                self._requests.send_bytes(payload)
            except OSError:
                log.warning("the store process stopped before it took %d jobs", len(tasks))
                self._discard()
                raise WriterBusy("the store process stopped before it took the write") from None
            self._unanswered += 1
            return self._generation

    def receive(self, ticket: int) -> list[Outcome]:
        """The outcomes of the oldest group sent, once the child has committed it."""
        if ticket != self._generation:  # without waiting for a new child to start
            raise StoreStopped("the store process stopped before it answered")
        with self._lock:
            answers = self._answers if ticket == self._generation else None
        if answers is None:
            raise StoreStopped("the store process stopped before it answered")
        try:
            outcomes: list[Outcome] = answers.recv()
        except Exception:
            # Gone (end of file), or an answer that cannot be read, after which the stream
            # cannot be trusted either. It may have committed before dying; the clients
            # retry, and a replayed report replaces its run.
            log.warning("the store process stopped during a write", exc_info=True)
            with self._lock:
                if ticket == self._generation:
                    self._discard()
            raise StoreStopped("the store process stopped before it answered") from None
        with self._lock:
            if ticket == self._generation:  # else counted out when that child was discarded
                self._unanswered -= 1
        return outcomes

    def stopping(self) -> None:
        """From now on no new child starts (the writer is shutting down)."""
        self._stopping = True

    def abandon(self) -> None:
        """The writer did not finish in time: end the child now (what it holds rolls back)."""
        process = self._process
        if process is not None and process.is_alive():
            process.kill()

    def close(self) -> None:
        """Let the child finish and close the database, then reap it."""
        if self._requests is not None:
            with contextlib.suppress(OSError):
                self._requests.send(None)
        if self._process is not None:
            self._process.join(STOP_TIMEOUT_S)
        self._discard()

    def _discard(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        for end in (self._requests, self._answers):
            if end is not None:
                end.close()
        self._process, self._requests, self._answers = None, None, None
        self._unanswered = 0
        self._generation += 1  # tickets of the child that is gone answer StoreStopped


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """Block SIGINT and SIGTERM on this thread while the child starts: it inherits the mask,
    so a Ctrl-C (which reaches the whole process group) before it ignores them cannot kill
    it half-started. Here they stay pending and arrive when unblocked."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no process groups to signal
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def child_main(requests: Connection, answers: Connection, target: DatabaseTarget) -> None:
    """The writer process: open the database, then commit each group it is sent and answer
    with the outcomes; index stored text whenever nothing arrives."""
    # Ctrl-C in a terminal, and a service manager stopping the group, signal every process;
    # the parent decides when to stop (it sends None, or its end of the pipe closes).
    for stop_signal in _STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # blocked by the parent
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        open_database(target)
    except Exception as exc:
        answers.send(str(exc))
        return
    worker = StoreWorker()
    worker.warm_up()
    # A thread takes each group off the pipe as soon as it is sent, so the parent never
    # blocks sending the next group while this one answers the last (each could be waiting
    # for the other to read once an answer outgrows the pipe's buffer).
    inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
    threading.Thread(target=_take_groups, args=(requests, inbox), daemon=True).start()
    answers.send(_READY)
    try:
        while True:
            timeout = worker.idle_timeout()
            try:
                message = inbox.get(timeout=timeout)
            except queue.Empty:
                worker.on_idle()
                continue
            tasks = None if message is None else pickle.loads(message)
            if tasks is None:
                return
            answers.send([_portable(outcome) for outcome in worker.commit(tasks)])
    except (EOFError, OSError):
        return  # the parent is gone
    finally:
        worker.close()


def _take_groups(requests: Connection, inbox: queue.SimpleQueue[bytes | None]) -> None:
    """Move what the parent sends into `inbox`; None once the parent is gone."""
    try:
        while True:
            inbox.put(requests.recv_bytes())
    except (EOFError, OSError):
        inbox.put(None)


def _portable(outcome: Outcome) -> Outcome:
    """The outcome with an error the parent can unpickle and still act on."""
    error = outcome.error
    if error is None:
        return outcome
    if isinstance(error, OperationalError):
        portable: BaseException = DatabaseTrouble(str(error), classify(error).value)
    else:
        try:
            portable = pickle.loads(pickle.dumps(error))
        except Exception:
            portable = RuntimeError(f"{type(error).__name__}: {error}")
    return Outcome(portable, outcome.changed)
