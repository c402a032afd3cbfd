"""The writer groups waiting jobs into transactions by reports and by body bytes."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.ingest.store_worker import Outcome, Task
from app.ingest.writer import (
    MAX_GROUP_BYTES,
    MAX_GROUP_RUNS,
    ReportWriter,
    WriterBusy,
    WriterStopped,
    _Job,
)
from app.store import queries
from app.store.records import RunRecord
from app.store.status import Status
from tests.conftest import wait_until


def _records(count: int, prefix: str = "r") -> list[RunRecord]:
    return [
        RunRecord(id=f"{prefix}{i}", workflow_id="wf", status=Status.SUCCESS, started_at=i)
        for i in range(count)
    ]


def _groups(writer: ReportWriter) -> list[list[int]]:
    """Reports per job, group by group, until nothing is waiting."""
    groups = []
    while not writer._queue.empty() or writer._held is not None:
        group, stopped = writer._next_group()
        assert not stopped
        groups.append([job.runs for job in group])
    return groups


def test_single_reports_group_up_to_the_report_limit() -> None:
    writer = ReportWriter()
    for _ in range(MAX_GROUP_RUNS + 10):
        writer._queue.put(_Job(Task(records=_records(1)), size=1000))
    assert [len(group) for group in _groups(writer)] == [MAX_GROUP_RUNS, 10]


def test_batches_share_a_transaction_up_to_the_limit_and_are_never_split() -> None:
    writer = ReportWriter()
    for count in (50, 50, 200, MAX_GROUP_RUNS + 500, 1, 1):
        writer._queue.put(_Job(Task(records=_records(count)), size=count * 1000))
    assert _groups(writer) == [[50, 50], [200], [MAX_GROUP_RUNS + 500], [1, 1]]


def test_groups_are_bounded_by_body_bytes() -> None:
    writer = ReportWriter()
    big = MAX_GROUP_BYTES // 2 + 1
    sizes = [big, 10, big, 3 * big, 10]
    jobs = [_Job(Task(records=_records(1)), size=size) for size in sizes]
    for job in jobs:
        writer._queue.put(job)
    grouped = []
    while not writer._queue.empty() or writer._held is not None:
        group, _ = writer._next_group()
        grouped.append([job.size for job in group])
    assert grouped == [[big, 10], [big], [3 * big], [10]]


def test_every_queued_report_commits_group_by_group_then_the_writer_stops(
    database: Path,
) -> None:
    committed: list[list[str]] = []
    writer = ReportWriter(on_committed=committed.append)
    jobs = [
        _Job(Task(records=_records(1, prefix=f"s{i}-")), size=100)
        for i in range(MAX_GROUP_RUNS + 3)
    ]
    for job in jobs:  # all waiting before the writer takes the first
        writer._queue.put(job)
    writer.start()
    writer.stop()  # commits what is queued (and what a full group held back), then ends
    assert all(job.done.is_set() and job.error is None for job in jobs)
    assert [len(ids) for ids in committed] == [MAX_GROUP_RUNS, 3]
    assert queries.count_runs() == MAX_GROUP_RUNS + 3


class _PipelinedStore:
    """A depth-2 store that logs its calls; the first group is answered only once the
    second has been sent."""

    depth = 2

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []
        self.second_sent = threading.Event()

    def send(self, tasks: Sequence[Task]) -> list[str]:
        ids = [record.id for task in tasks for record in task.records or ()]
        self.calls.append(("send", ids))
        if len(self.calls) > 1:
            self.second_sent.set()
        return ids

    def receive(self, ticket: list[str]) -> list[Outcome]:
        if not self.second_sent.wait(10):
            return [Outcome(error=WriterBusy("the second group never came")) for _ in ticket]
        self.calls.append(("receive", ticket))
        return [Outcome(changed=[run_id]) for run_id in ticket]

    def open(self) -> None: ...
    def warm_up(self) -> None: ...
    def idle_timeout(self) -> float | None:
        return None

    def on_idle(self) -> None: ...
    def stopping(self) -> None: ...
    def abandon(self) -> None: ...
    def close(self) -> None: ...


def test_a_pipelined_store_gets_the_next_group_before_the_last_is_answered() -> None:
    store = _PipelinedStore()
    committed: list[str] = []
    writer = ReportWriter(on_committed=committed.extend, store=store)
    writer.start()
    try:
        first = threading.Thread(target=writer.write, args=(_records(1, "a"),))
        first.start()
        assert wait_until(lambda: store.calls == [("send", ["a0"])])
        # Arrives while the first group is unanswered: sent at once, not after it.
        writer.write(_records(1, "b"))
        first.join(10)
    finally:
        writer.stop()
    assert store.calls == [
        ("send", ["a0"]),
        ("send", ["b0"]),
        ("receive", ["a0"]),
        ("receive", ["b0"]),
    ]
    assert committed == ["a0", "b0"]


class _MiscountingStore(_PipelinedStore):
    """Answers its first group with no outcomes at all (a store bug), then normally."""

    depth = 1

    def send(self, tasks: Sequence[Task]) -> list[str]:
        return [record.id for task in tasks for record in task.records or ()]

    def receive(self, ticket: list[str]) -> list[Outcome]:
        self.calls.append(("receive", ticket))
        if len(self.calls) == 1:
            return []
        return [Outcome(changed=[run_id]) for run_id in ticket]


def test_a_group_whose_answer_cannot_be_matched_is_a_retry_and_the_writer_goes_on() -> None:
    writer = ReportWriter(store=_MiscountingStore())
    writer.start()
    try:
        with pytest.raises(WriterBusy, match="outcome was lost"):
            writer.write(_records(1, "a"), timeout=10)
        writer.write(_records(1, "b"), timeout=10)  # a slot is free again: no 30 s wait
    finally:
        writer.stop()


class _StuckStore(_PipelinedStore):
    """Never finishes its first group (a database that hangs); counts abandon()."""

    depth = 1

    def __init__(self) -> None:
        super().__init__()
        self.sent = threading.Event()
        self.abandoned = threading.Event()
        self.release = threading.Event()

    def send(self, tasks: Sequence[Task]) -> list[str]:
        self.sent.set()
        self.release.wait(30)
        return [record.id for task in tasks for record in task.records or ()]

    def receive(self, ticket: list[str]) -> list[Outcome]:
        return [Outcome(error=WriterBusy("rolled back")) for _ in ticket]

    def abandon(self) -> None:
        self.abandoned.set()
        self.release.set()


def test_stop_returns_in_time_when_the_writer_is_stuck_and_its_queue_full() -> None:
    store = _StuckStore()
    writer = ReportWriter(store=store, queue_size=1)
    writer.start()
    errors: dict[str, BaseException] = {}
    waiting = [threading.Thread(target=_write, args=(writer, "a", errors))]
    waiting[0].start()
    assert store.sent.wait(10)  # the writer holds the first report, inside the store
    waiting.append(threading.Thread(target=_write, args=(writer, "b", errors)))
    waiting[1].start()
    assert wait_until(writer._queue.full)  # the second fills the queue: no room for a stop
    stopper = threading.Thread(target=writer.stop, kwargs={"timeout": 0.5})
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive()  # it used to wait for room in the queue forever
    assert store.abandoned.is_set()
    for thread in waiting:
        thread.join(10)
        assert not thread.is_alive()
    # Neither request was told its report is stored: the held one was rolled back, the
    # queued one refused without reaching the store.
    assert isinstance(errors["a"], WriterBusy)
    assert isinstance(errors["b"], WriterStopped)
    assert writer._thread.join(10) is None and not writer._thread.is_alive()


def _write(writer: ReportWriter, prefix: str, errors: dict[str, BaseException]) -> None:
    try:
        writer.write(_records(1, prefix), timeout=20)
    except Exception as exc:
        errors[prefix] = exc
