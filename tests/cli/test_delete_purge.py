"""`runs delete` and `purge`: nothing goes without the exact count confirmed, or --yes."""

from __future__ import annotations

import json
import os
import pty
import random
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.sizes import byte_size
from app.store import queries
from app.store.retention import AgeRule, RetentionPolicy, plan_purge
from tests.cli.conftest import Hindsight, iso_ago, store_reports
from tests.conftest import make_report


def _remaining() -> set[str]:
    return {run.id for run in queries.list_runs(limit=1000)}


def _at_a_terminal(args: list[str], answer: str) -> subprocess.CompletedProcess[str]:
    """Run with a pseudo-terminal as stdin, as when a person types the command."""
    leader, follower = pty.openpty()
    try:
        os.write(leader, answer.encode())
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(follower)
        os.close(leader)


def test_refuses_without_a_terminal_and_without_yes(hindsight: Hindsight, history: Path) -> None:
    result = hindsight("runs", "delete", "--workflow", "wf-1", "--db", str(history))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "hindsight: not deleting 10 runs of workflow wf-1 without confirmation: add --yes"
    )
    assert len(_remaining()) == 12


def test_terminal_confirmation_shows_the_exact_count(history: Path) -> None:
    declined = _at_a_terminal(["runs", "delete", "--all", "--db", str(history)], "n\n")
    assert declined.returncode == 1
    assert declined.stdout.startswith(
        "Delete 12 runs (the whole history)? This cannot be undone. [y/N] "
    )
    assert "Nothing deleted." in declined.stdout and len(_remaining()) == 12
    accepted = _at_a_terminal(["runs", "delete", "inv-3", "inv-4", "--db", str(history)], "y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert "Delete 2 runs? This cannot be undone. [y/N] Deleted 2 runs." in accepted.stdout
    assert "inv-3" not in _remaining() and "inv-4" not in _remaining()


def test_delete_by_ids_workflow_and_all(hindsight: Hindsight, history: Path) -> None:
    by_id = hindsight("runs", "delete", "inv-1", "--yes", "--db", str(history))
    assert by_id.returncode == 0 and by_id.stdout.strip() == "Deleted 1 run."
    by_workflow = hindsight(
        "runs", "delete", "--workflow", "Nightly ETL", "-y", "--db", str(history)
    )
    assert by_workflow.stdout.strip() == "Deleted 2 runs."
    assert _remaining() == {f"inv-{day}" for day in range(10)} - {"inv-1"}
    everything = hindsight("--db", str(history), "runs", "delete", "--all", "--yes")
    assert everything.stdout.strip() == "Deleted 9 runs." and _remaining() == set()
    again = hindsight("runs", "delete", "--all", "--db", str(history))
    assert again.returncode == 0 and again.stdout.strip() == "Nothing to delete."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inv-0", "ghost", "--yes"], "no run with id 'ghost'; nothing deleted"),
        (["--yes"], "give run ids, --workflow W or --all (exactly one of them)"),
        (["inv-0", "--all", "--yes"], "give run ids, --workflow W or --all (exactly one of them)"),
        (["--workflow", "ghost", "--yes"], "--workflow: no workflow 'ghost'"),
    ],
)
def test_delete_errors_change_nothing(
    hindsight: Hindsight, history: Path, args: list[str], message: str
) -> None:
    result = hindsight("runs", "delete", *args, "--db", str(history))
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert len(_remaining()) == 12


def test_purge_dry_run_lists_rows_and_bytes_and_changes_nothing(
    hindsight: Hindsight, history: Path
) -> None:
    result = hindsight("purge", "--older-than", "5d", "--dry-run", "--db", str(history))
    assert result.returncode == 0, result.stderr
    plan = plan_purge(RetentionPolicy((AgeRule.days(5),)), queries_now())
    assert len(plan.run_ids) == 6 and plan.payload_bytes > 0
    assert result.stdout.splitlines()[0] == (
        f"Would delete 6 runs, 12 node executions and 1 log entries "
        f"({byte_size(plan.payload_bytes)} of stored payload): "
        "runs started more than 5d ago."
    )
    listed = [line.split()[0] for line in result.stdout.splitlines()[2:]]
    assert listed == ["inv-9", "etl-8", "inv-8", "inv-7", "inv-6", "inv-5"]  # oldest first
    assert len(_remaining()) == 12


def queries_now() -> int:
    from app.commands.timespec import now_ms

    return now_ms()


@pytest.mark.parametrize(
    ("args", "gone"),
    [
        (["--older-than", "5d"], {"inv-5", "inv-6", "inv-7", "inv-8", "inv-9", "etl-8"}),
        (["--older-than", "5d", "--keep-last", "3"], {"inv-5", "inv-6", "inv-7", "inv-8", "inv-9"}),
        (["--older-than", "3d", "--status", "error"], {"inv-4"}),
    ],
)
def test_purge_deletes_what_the_policy_selects(
    hindsight: Hindsight, history: Path, args: list[str], gone: set[str]
) -> None:
    result = hindsight("purge", *args, "--db", str(history))  # no terminal: no question
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Deleted {len(gone)} run")
    all_ids = {f"inv-{day}" for day in range(10)} | {"etl-1", "etl-8"}
    assert _remaining() == all_ids - gone


def test_purge_gives_the_space_back(hindsight: Hindsight, database: Path) -> None:
    # Random bytes as text, so compression cannot make the stored runs small anyway.
    bulky = random.Random(1).randbytes(25_000).hex()
    store_reports(
        [
            make_report(
                f"old-{i}",
                "success",
                startedAt=iso_ago(days=60),
                input=None,
                params={"blob": bulky},
            )
            for i in range(40)
        ]
        + [make_report("new", "success", startedAt=iso_ago(hours=1))]
    )
    from app.store.models import db

    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # measure the stored runs, not the log
    before = database.stat().st_size
    result = hindsight("purge", "--db", str(database))  # default: older than 30 days
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Deleted 40 runs; the database went from ")
    assert database.stat().st_size < before / 4
    with sqlite3.connect(database) as check:
        assert check.execute("PRAGMA freelist_count").fetchone()[0] == 0
    check.close()
    assert _remaining() == {"new"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "soon"], "--older-than: expected a duration like 30m, 2h, 7d or 2w"),
        (["--status", "meh"], "--status: unknown status 'meh'"),
        (["--keep-last", "-1"], "--keep-last: expected 0 or more"),
    ],
)
def test_purge_errors(hindsight: Hindsight, history: Path, args: list[str], message: str) -> None:
    result = hindsight("purge", *args, "--db", str(history))
    assert result.returncode == 2 and message in result.stderr
    assert len(_remaining()) == 12


def test_purge_json_for_scripts(hindsight: Hindsight, history: Path) -> None:
    dry = hindsight(
        "purge",
        "--older-than",
        "3d",
        "--status",
        "error",
        "--dry-run",
        "--json",
        "--db",
        str(history),
    )
    assert dry.returncode == 0, dry.stderr
    facts = json.loads(dry.stdout)
    assert facts["dryRun"] is True and facts["runIds"] == ["inv-4"]
    assert (facts["runs"], facts["nodes"], facts["logs"]) == (1, 2, 0)
    assert facts["payloadBytes"] > 0 and "inv-4" in _remaining()
    real = hindsight(
        "purge", "--older-than", "3d", "--status", "error", "--json", "--db", str(history)
    )
    assert real.returncode == 0, real.stderr
    done = json.loads(real.stdout)
    assert done["dryRun"] is False and done["runs"] == 1 and done["fileBytesAfter"] > 0
    assert "inv-4" not in _remaining()
