"""`hindsight runs list`: the table, the API's JSON items, filters and option placement."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.ingest import read_api
from tests.cli.conftest import Hindsight


def _ids(text: str) -> list[str]:
    """The first column of the table, which ends at the first blank line."""
    table = text.split("\n\n")[0]
    return [line.split()[0] for line in table.splitlines()[1:]]


def test_table_is_aligned_and_newest_first(hindsight: Hindsight, history: Path) -> None:
    result = hindsight("runs", "list", "--db", str(history))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0]
    columns = ["ID", "STARTED", "WORKFLOW", "STATUS", "DURATION", "NODES", "FAILED NODE"]
    assert [header[header.index(c) :].split("  ")[0] for c in columns] == columns
    assert _ids(result.stdout)[:3] == ["inv-0", "inv-1", "etl-1"]
    status_column = header.index("STATUS")
    rows = lines[1:]
    assert len(rows) == 12
    assert all(row[status_column:].split()[0] in ("success", "error") for row in rows)
    failed = next(row for row in rows if row.startswith("inv-0 "))
    assert failed[status_column:].startswith("error") and failed.endswith("Parse total")


def test_json_prints_the_read_api_items(hindsight: Hindsight, history: Path) -> None:
    result = hindsight("runs", "list", "--json", "--limit", "5", "--db", str(history))
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert items == read_api.list_executions({"limit": ["5"]})["items"]
    assert [item["id"] for item in items] == ["inv-0", "inv-1", "etl-1", "inv-2", "inv-3"]
    assert items[0]["failedNode"] == "Parse total" and items[0]["status"] == "error"


@pytest.mark.parametrize(
    "placement",
    [
        ["--db", "{db}", "runs", "list", "--json"],
        ["runs", "--db", "{db}", "list", "--json"],
        ["runs", "list", "--json", "--db", "{db}"],
    ],
)
def test_db_accepted_before_between_and_after(
    hindsight: Hindsight, history: Path, placement: list[str]
) -> None:
    args = [part.format(db=history) for part in placement]
    result = hindsight(*args)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 12


def test_db_from_the_environment(hindsight: Hindsight, history: Path) -> None:
    result = hindsight("runs", "list", "--json", env={"HINDSIGHT_DB": str(history)})
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 12


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--workflow", "etl"], ["etl-1", "etl-8"]),
        (["--workflow", "nightly etl"], ["etl-1", "etl-8"]),  # by name, any case
        (["--status", "error"], ["inv-0", "inv-4"]),
        (["--status", "failed,success", "--workflow", "etl"], ["etl-1", "etl-8"]),
        (["--since", "2d", "--workflow", "wf-1"], ["inv-0", "inv-1"]),
        (["--until", "7d", "--workflow", "wf-1"], ["inv-7", "inv-8", "inv-9"]),
        (["--project", "finance", "--status", "error"], ["inv-0", "inv-4"]),
        (["--search", "1200 rows"], ["etl-1", "etl-8"]),
        (["--limit", "2"], ["inv-0", "inv-1"]),
    ],
)
def test_filters(
    hindsight: Hindsight, history: Path, options: list[str], expected: list[str]
) -> None:
    result = hindsight("runs", "list", "--json", *options, "--db", str(history))
    assert result.returncode == 0, result.stderr
    assert [item["id"] for item in json.loads(result.stdout)] == expected


def test_iso_times_and_the_limit_footer(hindsight: Hindsight, history: Path) -> None:
    from datetime import UTC, datetime, timedelta

    since = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = hindsight("runs", "list", "--since", since, "--limit", "2", "--db", str(history))
    assert result.returncode == 0, result.stderr
    assert _ids(result.stdout) == ["inv-0", "inv-1"]
    assert "2 of 4 runs shown; use --limit to see more." in result.stdout


def test_empty_selection_says_so(hindsight: Hindsight, history: Path) -> None:
    result = hindsight("runs", "list", "--status", "cancelled", "--db", str(history))
    assert result.returncode == 0 and result.stdout.strip() == "No runs match."


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--status", "broken"], "--status: unknown status 'broken'"),
        (["--since", "yesterdayish"], "--since: expected an ISO date or time"),
        (["--since", "1d", "--until", "2d"], "--since must be earlier than --until"),
        (["--workflow", "nope"], "--workflow: no workflow 'nope' in this history"),
        (["--limit", "0"], "--limit: expected a whole number of at least 1"),
        (["--limit", "many"], "argument --limit: invalid int value: 'many'"),
        (["--colour"], "unrecognized arguments: --colour"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    hindsight: Hindsight, history: Path, options: list[str], message: str
) -> None:
    result = hindsight("runs", "list", *options, "--db", str(history))
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_missing_database_is_not_created(hindsight: Hindsight, tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    result = hindsight("runs", "list", "--db", str(missing))
    assert result.returncode == 2 and f"no history database at {missing}" in result.stderr
    assert not missing.exists()


def test_runs_needs_an_action(hindsight: Hindsight) -> None:
    result = hindsight("runs")
    assert result.returncode == 2
    assert "the following arguments are required: ACTION" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
