"""The examples shown to new users work when pasted: real process, real receiver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.examples import python_example
from app.store import queries

ROOT = Path(__file__).resolve().parents[1]


def test_python_example_is_ten_lines_and_reports_a_failed_run(ingest: Any, tmp_path: Path) -> None:
    code = python_example(ingest.url)
    assert len(code.strip().splitlines()) <= 10
    script = tmp_path / "workflow.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,  # `from app.reporter import Reporter`, as where Hindsight is installed
        env={**os.environ, "HINDSIGHT_SPOOL_DIR": str(tmp_path / "spool")},
    )
    # The ValueError reaches the workflow as it would without the reporter ...
    assert result.returncode == 1 and "ValueError" in result.stderr
    # ... and the run is stored as failed at the parse node (sent at exit, before it returned).
    (run,) = queries.list_runs(limit=10)
    assert (run.workflow_id, run.status) == ("invoice-triage", "error")
    detail = queries.get_run(run.id)
    assert detail is not None
    failed = [node for node in detail.nodes if node.status == "error"]
    assert [node.node_id for node in failed] == ["parse"]
