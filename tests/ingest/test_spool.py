"""Reports spooled while no receiver answered reach the store once one does."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from app.ingest.service import IngestService
from app.ingest.spool import ingest_spool
from app.ingest.writer import ReportWriter, StoreCrashed
from app.reporter import Reporter
from app.store import queries
from app.store.records import RunRecord
from tests.conftest import make_report


def test_complete_files_are_ingested_and_removed(database: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "20260101T000000000000000Z-a-1.json").write_text(json.dumps(make_report("a")))
    (spool / "20260101T000000000000001Z-b-2.json").write_text(
        json.dumps([make_report("b", status="running"), make_report("b", status="success")])
    )
    (spool / "20260101T000000000000002Z-bad-3.json").write_text('{"id": "bad"')
    (spool / ".half-written.tmp").write_text('{"id": "partial"')
    writer = ReportWriter()
    writer.start()
    try:
        assert ingest_spool(spool, writer) == 2
    finally:
        writer.stop()
    assert sorted(r.id for r in queries.list_runs()) == ["a", "b"]
    detail = queries.get_run("b")
    assert detail is not None and detail.summary.status.value == "success"
    assert sorted(p.name for p in spool.iterdir()) == [
        ".half-written.tmp",
        "20260101T000000000000002Z-bad-3.json.rejected",
    ]


def test_reporter_spool_is_delivered_by_the_service_exactly_once(
    database: Path, tmp_path: Path
) -> None:
    from tests.test_reporter import dead_url

    spool = tmp_path / "spool"
    reporter = Reporter(url=dead_url(), spool_dir=spool, retry_seconds=0.2)
    try:
        for i in range(3):
            with reporter.run("offline-wf", run_id=f"off-{i}") as run, run.node("n1") as node:
                node.output = {"i": i}
        assert reporter.flush(10)
    finally:
        reporter.close()
    assert list(spool.glob("*.json")), "the reporter spooled its reports"

    seen: set[str] = set()
    stored = threading.Event()

    def committed(ids: list[str]) -> None:
        seen.update(ids)
        if seen >= {"off-0", "off-1", "off-2"}:
            stored.set()

    service = IngestService(
        "127.0.0.1", 0, on_committed=committed, spool=spool, spool_interval=0.05
    )
    service.start()
    try:
        assert stored.wait(15)
    finally:
        service.stop()  # lets the current pass finish removing the files it stored
    assert queries.count_runs() == 3
    assert not list(spool.glob("*.json"))
    for i in range(3):
        detail = queries.get_run(f"off-{i}")
        assert detail is not None and detail.summary.status.value == "success"


class _CrashingOn(ReportWriter):
    """A writer whose store process would stop on the report `poison` every time."""

    def write(self, records: Sequence[RunRecord], timeout: float = 30.0, size: int = 0) -> None:
        if any(record.id == "poison" for record in records):
            raise StoreCrashed("storing this stopped Hindsight's store process, twice")
        super().write(records, timeout, size)


def test_a_spooled_report_that_crashes_the_store_is_set_aside_not_retried(
    database: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    for index, run_id in enumerate(("a", "poison", "b")):
        name = f"20260101T00000000000000{index}Z-{run_id}-1.json"
        (spool / name).write_text(json.dumps(make_report(run_id)))
    writer = _CrashingOn()
    writer.start()
    try:
        assert ingest_spool(spool, writer) == 2
        assert ingest_spool(spool, writer) == 0  # the next pass does not try it again
    finally:
        writer.stop()
    assert sorted(r.id for r in queries.list_runs()) == ["a", "b"]
    assert [p.name for p in spool.iterdir()] == ["20260101T000000000000001Z-poison-1.json.crashed"]
