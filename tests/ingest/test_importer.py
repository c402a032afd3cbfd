"""Importing runs from a file: exported JSON comes back exactly; bad files store nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from app.ingest.importer import import_file, read_report_file
from app.ingest.report import ReportError, decode_report
from app.store import writes
from app.store.export import export_json, run_to_report
from app.store.filters import RunFilter
from app.store.queries import count_runs, get_run
from app.store.status import Status
from app.store.writes import delete_all, delete_matching, replace_runs
from tests.conftest import make_report


def _store(*reports: dict[str, Any]) -> None:
    replace_runs([decode_report(json.dumps(report).encode()) for report in reports])


def _as_report(run_id: str) -> dict[str, Any]:
    detail = get_run(run_id)
    assert detail is not None
    return run_to_report(detail)


def test_exported_file_imports_into_an_empty_history(database: Path, tmp_path: Path) -> None:
    _store(make_report("a"), make_report("b", status="success"))
    before = _as_report("a")
    out = io.StringIO()
    export_json(RunFilter(), out)
    exported = tmp_path / "runs.json"
    exported.write_text(out.getvalue())
    assert delete_all() == 2
    assert count_runs() == 0

    assert import_file(exported) == 2

    assert count_runs() == 2
    assert _as_report("a") == before


def test_invalid_file_names_every_bad_report_and_stores_nothing(
    database: Path, tmp_path: Path
) -> None:
    _store(make_report("kept"))
    bad = make_report("x")
    bad["nodeExecutions"][0]["status"] = "exploded"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([make_report("fine"), bad, {"id": "y"}]))

    with pytest.raises(ReportError) as caught:
        import_file(path)

    paths = {detail["path"] for detail in caught.value.details}
    assert "[1].nodeExecutions[0].status" in paths
    assert any(p.startswith("[2].") for p in paths)
    assert count_runs() == 1


def test_not_json_is_refused_with_a_clear_message(database: Path, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ReportError, match="not valid JSON"):
        read_report_file(path)


def test_delete_matching_deletes_only_the_selection_and_reports_progress(
    database: Path,
) -> None:
    reports = [make_report(f"r{i}", status="error" if i % 2 else "success") for i in range(1203)]
    _store(*reports)
    seen: list[int] = []

    deleted = delete_matching(RunFilter(statuses=frozenset({Status.ERROR})), seen.append)

    assert deleted == 601
    # Chunk sizes follow how long deleting takes (writes.DELETE_HOLD_BUDGET_S).
    assert seen[-1] == 601 and len(seen) > 1 and seen == sorted(seen)
    assert count_runs() == 602


def test_progress_callback_can_stop_a_delete(database: Path) -> None:
    _store(*[make_report(f"r{i}") for i in range(1200)])
    first_chunk = writes._FIRST_DELETE_CHUNK
    assert delete_all(lambda done: False) == first_chunk  # one chunk
    assert count_runs() == 1200 - first_chunk
