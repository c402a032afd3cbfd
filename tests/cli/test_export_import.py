"""`runs export` and `runs import`: files a user can move between histories."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from app.store import queries
from app.store.export import run_to_report
from tests.cli.conftest import Hindsight


def test_json_export_imports_into_another_history_unchanged(
    hindsight: Hindsight, history: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "runs.json"
    result = hindsight(
        "runs", "export", "--workflow", "wf-1", "-o", str(exported), "--db", str(history)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Exported 10 runs to {exported}."
    reports = json.loads(exported.read_text())
    assert [r["id"] for r in reports][:2] == ["inv-0", "inv-1"] and len(reports) == 10
    original = run_to_report(queries.get_run("inv-0"))  # type: ignore[arg-type]
    assert reports[0] == original

    other = tmp_path / "other.db"
    imported = hindsight("runs", "import", str(exported), "--db", str(other))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == f"Imported 10 runs from {exported} into {other}."
    shown = hindsight("runs", "show", "inv-0", "--json", "--db", str(other))
    assert json.loads(shown.stdout) == original


def test_csv_one_row_per_run_or_per_node(
    hindsight: Hindsight, history: Path, tmp_path: Path
) -> None:
    per_run = tmp_path / "runs.csv"  # the extension picks the format
    result = hindsight(
        "runs", "export", "--status", "error", "-o", str(per_run), "--db", str(history)
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(per_run.read_text())))
    assert [(r["id"], r["failedNode"]) for r in rows] == [
        ("inv-0", "Parse total"),
        ("inv-4", "Parse total"),
    ]
    per_node = hindsight(
        "runs",
        "export",
        "--format",
        "csv",
        "--per",
        "node",
        "--status",
        "error",
        "--db",
        str(history),
    )
    assert per_node.returncode == 0, per_node.stderr
    node_rows = list(csv.DictReader(io.StringIO(per_node.stdout)))
    assert [(r["runId"], r["nodeId"], r["status"]) for r in node_rows] == [
        ("inv-0", "fetch", "success"),
        ("inv-0", "parse", "error"),
        ("inv-4", "fetch", "success"),
        ("inv-4", "parse", "error"),
    ]
    assert per_node.stderr.strip() == "Exported 4 node rows."


def test_per_node_needs_csv(hindsight: Hindsight, history: Path, tmp_path: Path) -> None:
    result = hindsight(
        "runs", "export", "--per", "node", "-o", str(tmp_path / "x.json"), "--db", str(history)
    )
    assert result.returncode == 2 and "--per node is for --format csv" in result.stderr
    assert not (tmp_path / "x.json").exists()


def test_invalid_file_lists_every_problem_and_stores_nothing(
    hindsight: Hindsight, history: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {
                    "id": "new-1",
                    "workflowId": "wf",
                    "status": "success",
                    "startedAt": "2026-01-01T00:00:00Z",
                },
                {
                    "id": "new-2",
                    "workflowId": "wf",
                    "status": "sideways",
                    "startedAt": "2026-01-01T00:00:00Z",
                    "nodeExecutions": [{"nodeId": "a", "status": "success", "durationMs": -5}],
                },
                {"workflowId": "wf", "status": "success", "startedAt": "2026-01-01T00:00:00Z"},
            ]
        )
    )
    before = queries.count_runs()
    result = hindsight("runs", "import", str(bad), "--db", str(history))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"hindsight: {bad}: invalid execution report; nothing was imported"
    paths = [line.split(":")[0].strip() for line in lines[1:]]
    assert paths == ["[1].status", "[1].nodeExecutions[0].durationMs", "[2].id"]
    assert "Traceback" not in result.stderr
    assert queries.count_runs() == before and queries.get_run("new-1") is None


def test_import_errors(hindsight: Hindsight, tmp_path: Path) -> None:
    target = tmp_path / "new.db"
    missing = hindsight("runs", "import", str(tmp_path / "nope.json"), "--db", str(target))
    assert missing.returncode == 2 and "no file" in missing.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    result = hindsight("runs", "import", str(garbage), "--db", str(target))
    assert result.returncode == 1 and "file is not valid JSON" in result.stderr
    assert "  $: Expecting property name" in result.stderr
    assert not target.exists()  # nothing to store: no database created either
