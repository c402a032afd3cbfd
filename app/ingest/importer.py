"""Import runs from a file in the report shape (what `runs export --format json` writes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from app.ingest.report import ExecutionReport, ReportError, _path, checked_record
from app.store.records import RunRecord
from app.store.writes import replace_runs

# Reports per transaction: big enough to be fast, small enough that ingest waits briefly.
IMPORT_CHUNK = 500


def _join(prefix: str, inner: str) -> str:
    if prefix and inner:
        return f"{prefix}.{inner}"
    return prefix or inner or "$"


def read_report_file(path: Path) -> list[RunRecord]:
    """Decode a JSON file holding one report or an array of them; all valid or ReportError.

    Unlike a POST body a file has no batch limit. Every problem is listed with its path
    (`[3].nodeExecutions[0].status`), and nothing is stored when any report is invalid.
    """
    try:
        document = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError("file is not valid JSON", [{"path": "$", "message": str(exc)}]) from None
    batch = isinstance(document, list)
    items = document if batch else [document]
    records: list[RunRecord] = []
    details: list[dict[str, str]] = []
    for index, item in enumerate(items):
        prefix = f"[{index}]" if batch else ""
        try:
            records.append(checked_record(ExecutionReport.model_validate(item)))
        except ValidationError as exc:
            for err in exc.errors():
                message = err["msg"].removeprefix("Value error, ")
                details.append({"path": _join(prefix, _path(err["loc"])), "message": message})
        except ReportError as error:
            details += [
                {"path": _join(prefix, detail["path"]), "message": detail["message"]}
                for detail in error.details
            ]
    if details:
        raise ReportError("invalid execution report", details)
    return records


def import_records(
    records: list[RunRecord], on_progress: Callable[[int], bool] | None = None
) -> int:
    """Store the runs a chunk per transaction (re-importing an id replaces that run)."""
    stored = 0
    for start in range(0, len(records), IMPORT_CHUNK):
        chunk = records[start : start + IMPORT_CHUNK]
        replace_runs(chunk)
        stored += len(chunk)
        if on_progress is not None and on_progress(stored) is False:
            break
    return stored


def import_file(path: Path, on_progress: Callable[[int], bool] | None = None) -> int:
    """Validate the whole file, then store it; return how many runs were stored."""
    return import_records(read_report_file(path), on_progress)
