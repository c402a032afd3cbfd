"""Helpers for running the real `hindsight` process against a temporary history."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_report

Hindsight = Callable[..., subprocess.CompletedProcess[str]]


def iso_ago(**delta: float) -> str:
    moment = datetime.now(UTC) - timedelta(**delta)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def hindsight(tmp_path: Path) -> Hindsight:
    """Run `python -m app ARGS` as a user would; never waits on a terminal."""

    def run(
        *args: str, stdin: str = "", env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "HINDSIGHT_SPOOL_DIR": str(tmp_path / "spool"), **(env or {})},
        )

    return run


def store_reports(reports: list[dict[str, Any]]) -> None:
    from app.ingest.report import ExecutionReport, to_record
    from app.store.writes import replace_runs

    replace_runs([to_record(ExecutionReport.model_validate(r)) for r in reports])


def sample_reports() -> list[dict[str, Any]]:
    """Two workflows over the last ten days; the newest invoice run failed."""
    reports = []
    for day in range(10):
        status = "error" if day in (0, 4) else "success"
        reports.append(
            make_report(
                f"inv-{day}",
                status,
                startedAt=iso_ago(days=day, minutes=5),
                completedAt=iso_ago(days=day, minutes=4),
                projectId="finance",
                tags={"env": "test"},
            )
        )
    for day in (1, 8):
        reports.append(
            make_report(
                f"etl-{day}",
                "success",
                workflowId="etl",
                workflowName="Nightly ETL",
                startedAt=iso_ago(days=day, hours=3),
                completedAt=iso_ago(days=day, hours=2),
                logs=[{"level": "info", "message": "loaded 1200 rows"}],
            )
        )
    return reports


@pytest.fixture
def history(database: Path) -> Iterator[Path]:
    """A history file with `sample_reports()`, also open in this process for checks."""
    store_reports(sample_reports())
    yield database
