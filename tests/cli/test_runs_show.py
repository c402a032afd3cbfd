"""`hindsight runs show`: one command answers "what failed in the last run of X, and why"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.ingest import read_api
from tests.cli.conftest import Hindsight


def test_last_run_of_a_workflow_shows_the_failure(hindsight: Hindsight, history: Path) -> None:
    result = hindsight("runs", "show", "--last", "--workflow", "wf-1", "--db", str(history))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Run inv-0\n")
    assert "status     ERROR" in out and "workflow   Invoice triage (wf-1)" in out
    assert "project    finance" in out and "tags       env=test" in out
    # nodes with their status and duration
    nodes = out.split("\nNodes\n")[1].split("\n\n")[0].splitlines()
    assert nodes[0].split()[:4] == ["#", "NODE", "TYPE", "STATUS"]
    assert nodes[1].split()[:5] == ["1", "Fetch", "http", "success", "1.00"]
    assert nodes[2].split()[:6] == ["2", "Parse", "total", "code", "error", "12"]
    # the failing node: its error, input and stack
    failure = out.split("Failed node: Parse total (parse), attempt 1\n")[1]
    assert "  error:\n    ValueError: bad total\n" in failure
    assert '  input:\n    {\n      "total": "19.99"\n    }\n' in failure
    assert "  stack:\n    Traceback ...\n      x" in failure


def test_last_follows_the_filters(hindsight: Hindsight, history: Path) -> None:
    result = hindsight(
        "runs", "show", "--last", "--workflow", "Nightly ETL", "--json", "--db", str(history)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == "etl-1"
    successes = hindsight("runs", "show", "last", "--status", "success", "--db", str(history))
    assert successes.returncode == 0 and successes.stdout.startswith("Run inv-1\n")
    assert "Failed node" not in successes.stdout
    logs = hindsight("runs", "show", "etl-8", "--db", str(history))
    assert "\nLogs\n" in logs.stdout and "INFO  loaded 1200 rows" in logs.stdout


def test_json_is_the_report_shape(hindsight: Hindsight, history: Path) -> None:
    result = hindsight("--db", str(history), "runs", "show", "inv-4", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report == read_api.get_execution("inv-4")  # what GET /api/executions/inv-4 returns
    failed = report["nodeExecutions"][1]
    assert failed["error"] == {"message": "ValueError: bad total", "stack": "Traceback ...\n  x"}
    assert failed["input"] == {"total": "19.99"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-run"], "no run with id 'no-such-run'"),
        ([], "give a run id, or --last"),
        (["inv-0", "--workflow", "wf-1"], "give a run id or --last with filters, not both"),
        (["--last", "--status", "cancelled"], "no run matches"),
    ],
)
def test_errors(hindsight: Hindsight, history: Path, args: list[str], message: str) -> None:
    result = hindsight("runs", "show", *args, "--db", str(history))
    assert result.returncode == 2
    assert result.stderr == f"hindsight: {message}" + result.stderr.split(message)[1]
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_an_interrupted_run_says_why(hindsight: Hindsight, history: Path) -> None:
    """Hindsight, not the workflow, made the run `interrupted`: the reason and the status the
    workflow last reported are shown with it."""
    from app.store import queries, writes
    from app.store.models import Run
    from app.store.records import StatusChange
    from app.ui.run_detail import facts_text
    from tests.cli.conftest import store_reports
    from tests.conftest import make_report

    store_reports([make_report("stuck", status="running", completedAt=None)])
    # Its last report came 95 s after it started, then nothing for more than a day.
    started = Run.get_by_id("stuck").started_at
    Run.update(received_at=started + 95_000).where(Run.id == "stuck").execute()
    later = started + 95_000 + 25 * 3_600_000
    assert writes.interrupt_stale_runs(24 * 3_600_000, now_ms=later) == ["stuck"]
    detail = queries.get_run("stuck")
    assert detail is not None
    (change,) = detail.status_changes
    reason = "no report for 24 h while running; 1 node was still running"
    assert change[1:] == ("running", "interrupted", reason)
    assert [node.status.value for node in detail.nodes] == ["success", "interrupted"]
    assert isinstance(change, StatusChange)
    other = queries.get_run("inv-0")
    assert other is not None and other.status_changes == ()

    out = hindsight("runs", "show", "stuck", "--db", str(history)).stdout
    assert f"  status     INTERRUPTED\n  why        {reason} (marked " in out
    assert "; last reported: running)\n" in out
    # It reported no end: all that is known of its duration is up to its last report.
    assert "  duration   >= 1m 35s\n" in out
    assert "interrupted by Hindsight: no report for 24 h while running" in facts_text(detail)
    assert "ran ≥ 1 min 35 s (to its last report)" in facts_text(detail)
    listed = hindsight("runs", "list", "--status", "interrupted", "--db", str(history)).stdout
    assert ">= 1m 35s" in listed
