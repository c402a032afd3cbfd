from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest

from app.ingest.report import decode_reports
from app.store import queries, writes
from app.store.connection import close_database, open_database
from app.store.export import export_csv, export_json, run_to_report
from app.store.filters import RunFilter
from tests.conftest import make_report
from tests.ingest.test_report import full_report


def _snapshot(run_id: str) -> dict[str, object]:
    """Everything stored about a run, without database keys or the time it was stored."""
    detail = queries.get_run(run_id)
    assert detail is not None
    nodes = []
    for node in detail.nodes:
        payload = queries.get_node_payload(node.pk)
        nodes.append((node.__dict__ | {"pk": None}, payload))
    logs = [log.__dict__ | {"pk": None} for log in queries.list_logs(run_id)]
    artifacts = [
        (a.__dict__ | {"pk": None}, queries.get_artifact_data(a.pk))
        for a in queries.list_artifacts(run_id)
    ]
    return {
        "detail": detail.__dict__
        | {"nodes": None, "summary": replace(detail.summary, last_report_at=None)},
        "nodes": nodes,
        "logs": logs,
        "artifacts": artifacts,
    }


def test_json_export_round_trips_exactly(database: Path | str, tmp_path: Path) -> None:
    """Exported from either backend and imported into a new SQLite file (on PostgreSQL this
    is also how a history moves between the two)."""
    writes.replace_runs(
        decode_reports(json.dumps([full_report(), make_report("plain", status="success")]).encode())
    )
    before = {run_id: _snapshot(run_id) for run_id in ("full", "plain")}
    out = io.StringIO()
    assert export_json(RunFilter(), out) == 2
    close_database()
    open_database(tmp_path / "b.db")
    try:
        writes.replace_runs(decode_reports(out.getvalue().encode()))
        after = {run_id: _snapshot(run_id) for run_id in ("full", "plain")}
        assert after == before
        # And exporting again gives the same text: the shape is a fixed point.
        again = io.StringIO()
        export_json(RunFilter(), again)
        assert again.getvalue() == out.getvalue()
    finally:
        close_database()


def test_report_shape_is_camel_case(database: Path) -> None:
    writes.replace_runs(decode_reports(json.dumps(full_report()).encode()))
    detail = queries.get_run("full")
    assert detail is not None
    report = run_to_report(detail)
    assert report["projectId"] == "acme" and report["tags"] == {"env": "prod", "team": "7"}
    assert report["startedAt"] == "2026-11-22T09:00:00.000Z"
    llm = report["nodeExecutions"][2]["llm"]
    assert llm["prompt"] == [{"role": "user", "content": "Summarise"}]
    assert (llm["promptTokens"], llm["totalTokens"]) == (120, 150)


def test_csv_per_run_and_per_node(database: Path) -> None:
    writes.replace_runs(
        decode_reports(
            json.dumps(
                [
                    make_report("a"),
                    make_report("b", status="success", startedAt="2026-11-23T00:00:00Z"),
                ]
            ).encode()
        )
    )
    runs_csv = io.StringIO()
    assert export_csv(RunFilter(), runs_csv) == 2
    rows = list(csv.DictReader(io.StringIO(runs_csv.getvalue())))
    assert [(r["id"], r["status"], r["failedNode"]) for r in rows] == [
        ("b", "success", ""),
        ("a", "error", "Parse total"),
    ]
    nodes_csv = io.StringIO()
    assert export_csv(RunFilter(workflow_id="wf-1"), nodes_csv, per="node") == 4
    node_rows = list(csv.DictReader(io.StringIO(nodes_csv.getvalue())))
    assert node_rows[3]["errorMessage"] == "ValueError: bad total"


def test_a_run_with_many_nodes_reads_its_payloads_in_one_query(
    database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by the hostile-input fuzzing: one payload query per node made GET of a
    # 50,000-node run take half a minute.
    nodes = [
        {"nodeId": f"n{i}", "status": "success", "input": i, "output": {"double": 2 * i}}
        for i in range(300)
    ]
    writes.replace_runs(decode_reports(json.dumps(make_report("many", nodeExecutions=nodes))))
    detail = queries.get_run("many")
    assert detail is not None
    # peewee logs every statement it runs at DEBUG, on either backend.
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        report = run_to_report(detail)
    statements = [r.getMessage() for r in caplog.records if r.name == "peewee"]
    assert 0 < len(statements) < 10, statements[:20]
    assert [(n["input"], n["output"]) for n in report["nodeExecutions"]] == [
        (i, {"double": 2 * i}) for i in range(300)
    ]
