"""The writer groups waiting jobs into transactions by reports and by body bytes."""

from __future__ import annotations

from pathlib import Path

from app.ingest.store_worker import Task
from app.ingest.writer import MAX_GROUP_BYTES, MAX_GROUP_RUNS, ReportWriter, _Job
from app.store import queries
from app.store.records import RunRecord
from app.store.status import Status


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
