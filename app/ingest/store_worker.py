"""What the writer does with one group of jobs: store them in one transaction, and index
stored text for search when it has nothing else to do.

It runs wherever the database's write connection lives: on the writer thread (the desktop
app), or in a process of its own (`hindsight serve`, writer_process.py), which is why what
goes in (`Task`) and what comes out (`Outcome`) are plain data that can be pickled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec
from peewee import OperationalError

from app.ingest.search_backlog import IDLE_S, SearchBacklog
from app.store.connection import close_database, write_transaction
from app.store.models import db
from app.store.prepared import PreparedRuns, prepare_runs
from app.store.records import RunRecord
from app.store.streaming import RunNotFound
from app.store.writes import store_prepared

log = logging.getLogger(__name__)

# Refusals that concern one job only: they roll back that job's savepoint, not the group.
REFUSALS: tuple[type[Exception], ...] = (RunNotFound,)


@dataclass
class Task:
    """Full reports to store (`records`), or a change to apply (`change`, returning the ids
    of the runs it touched); `outside_transaction`: a change that runs on its own."""

    records: Sequence[RunRecord] | None = None
    change: Callable[[], Sequence[str]] | None = None
    outside_transaction: bool = False

    def __reduce__(self) -> tuple[Any, ...]:
        """Reports cross to the writer process as MessagePack: msgspec writes and reads the
        record dataclasses in about a third of pickle's time (pickle rebuilds each of a
        run's ~25 objects through its __dict__), and the child's reading is part of every
        report's cost. Anything msgspec cannot write goes by pickle, as changes do."""
        if self.records is not None and self.change is None:
            try:
                return _records_task, (_RECORDS_OUT.encode(self.records),)
            except (TypeError, ValueError, OverflowError):  # lone surrogates, huge ints
                pass
        return Task, (self.records, self.change, self.outside_transaction)

    @property
    def search_rows(self) -> int:
        """About how many rows this adds for the search index to take: nodes and log lines
        of full reports, one per streamed change (a few nodes or lines each)."""
        if self.records is None:
            return 1
        return sum(len(record.nodes) + len(record.logs) for record in self.records)


_RECORDS_OUT = msgspec.msgpack.Encoder()
_RECORDS_IN = msgspec.msgpack.Decoder(list[RunRecord])


def _records_task(packed: bytes) -> Task:
    try:
        return Task(records=_RECORDS_IN.decode(packed))
    except msgspec.DecodeError as exc:  # a value its field does not take: fail this job only
        return Task(change=partial(_unreadable, str(exc)))


def _unreadable(reason: str) -> Sequence[str]:
    raise ValueError(f"the store process could not read the reports: {reason}")


@dataclass
class Outcome:
    error: BaseException | None = None
    changed: Sequence[str] = ()  # ids of the runs it touched, once committed


class StoreWorker:
    """Commits groups of tasks on the thread that owns it, and indexes in idle time."""

    depth = 1  # `send` commits before it returns

    def __init__(self) -> None:
        self._search = SearchBacklog()

    def open(self) -> None:
        """Nothing to start: the database is opened by whoever runs the worker."""

    def warm_up(self) -> None:
        """On the worker's own thread, before the first group: count what waits to be
        indexed (from an earlier session)."""
        self._search.refresh()

    def idle_timeout(self) -> float | None:
        """How long to wait for work before indexing a chunk; None: nothing to index."""
        if self._search.pending <= 0:
            return None
        return max(IDLE_S, self._search.retry_in())

    def on_idle(self) -> None:
        self._search.index_chunk()

    def stopping(self) -> None:
        """Nothing to refuse: the worker lives on the writer thread."""

    def abandon(self) -> None:
        """Nothing to end: the writer thread is a daemon."""

    def close(self) -> None:
        close_database()

    def send(self, tasks: Sequence[Task]) -> list[Outcome]:
        """Commit the tasks now; the ticket is their outcomes."""
        return self.commit(tasks)

    def receive(self, ticket: list[Outcome]) -> list[Outcome]:
        return ticket

    def commit(self, tasks: Sequence[Task]) -> list[Outcome]:
        """Store the tasks in one transaction (changes outside it run on their own); one
        task's failure is that task's outcome, not its neighbours'."""
        outcomes = [Outcome() for _ in tasks]
        self._commit(list(zip(tasks, outcomes, strict=True)))
        self._search.grew(sum(task.search_rows for task in tasks))
        return outcomes

    def _commit(self, group: list[tuple[Task, Outcome]]) -> None:
        if any(task.outside_transaction for task, _ in group):
            for task, outcome in group:
                if task.outside_transaction:
                    _call(task, outcome)
                else:
                    self._commit([(task, outcome)])
            return
        try:
            with write_transaction():
                _apply(group)
        except Exception as exc:
            if len(group) > 1 and not isinstance(exc, OperationalError):
                # One bad job must not fail its neighbours: retry each on its own. Database
                # trouble (locked, full, read-only) would only fail each again, slowly.
                for pair in group:
                    self._commit([pair])
                return
            if not isinstance(exc, OperationalError):
                log.exception("storing a report failed")
            for _, outcome in group:
                outcome.error, outcome.changed = exc, ()


def _apply(group: list[tuple[Task, Outcome]]) -> None:
    """Apply the tasks in order inside the current transaction; consecutive full reports
    are stored together, each change in a savepoint so a refusal undoes only itself."""
    pending: list[PreparedRuns] = []
    for task, outcome in group:
        outcome.error = None
        if task.records is not None:
            # Prepared here rather than on the request threads: measured, eight request
            # threads each packing payloads got fewer runs per second through, not more.
            pending.append(prepare_runs(task.records))
            outcome.changed = [record.id for record in task.records]
            continue
        if pending:
            store_prepared(pending)
            pending = []
        assert task.change is not None
        try:
            with db.atomic():
                outcome.changed = task.change()
        except REFUSALS as refusal:
            outcome.error, outcome.changed = refusal, ()
    if pending:
        store_prepared(pending)


def _call(task: Task, outcome: Outcome) -> None:
    assert task.change is not None
    try:
        task.change()
    except Exception as exc:
        outcome.error = exc
