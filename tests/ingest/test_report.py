from __future__ import annotations

import json
from typing import Any

import pytest

from app.ingest.report import ReportError, decode_report
from app.store.status import Status
from tests.conftest import make_report


def test_seed_shaped_report_becomes_a_record() -> None:
    record = decode_report(json.dumps(make_report()).encode())
    assert record.id == "run-1" and record.workflow_id == "wf-1"
    assert record.status is Status.ERROR
    assert record.duration_ms == 2500  # derived from startedAt/completedAt
    assert record.trigger_type == "http" and json.loads(record.trigger_json or "") == {
        "invoice": 42
    }
    fetch, parse = record.nodes
    assert fetch.duration_ms == 1000
    assert json.loads(fetch.output_json or "") == {"total": "19.99", "lines": [1, 2, 3]}
    assert parse.error_message == "ValueError: bad total"
    assert parse.output_json is None


def test_naive_timestamps_are_utc_as_the_seed_sends_them() -> None:
    naive = decode_report(json.dumps(make_report(startedAt="2026-11-22T09:00:00")).encode())
    zulu = decode_report(json.dumps(make_report(startedAt="2026-11-22T09:00:00Z")).encode())
    assert naive.started_at == zulu.started_at


def test_snake_case_and_status_spellings_are_accepted() -> None:
    body = {
        "id": "x",
        "workflow_id": "w",
        "status": "Completed",
        "started_at": "2026-01-01T00:00:00Z",
        "node_executions": [{"node_id": "a", "status": "FAILED"}],
    }
    record = decode_report(json.dumps(body).encode())
    assert record.status is Status.SUCCESS and record.nodes[0].status is Status.ERROR


def test_every_problem_is_named_with_its_path() -> None:
    body = {
        "id": "x",
        "status": "exploded",
        "nodeExecutions": [{"nodeId": "a", "status": "success"}, {"status": "error"}],
    }
    with pytest.raises(ReportError) as caught:
        decode_report(json.dumps(body).encode())
    paths = {d["path"] for d in caught.value.details}
    assert {"status", "workflowId", "startedAt", "nodeExecutions[1].nodeId"} <= paths
    status_problem = next(d for d in caught.value.details if d["path"] == "status")
    assert "exploded" in status_problem["message"]


@pytest.mark.parametrize("body", [b"", b"{", b"[1, 2", b"\xff\xfe", b"null", b"42"])
def test_not_a_report_object(body: bytes) -> None:
    with pytest.raises(ReportError):
        decode_report(body)


def test_nan_payload_is_rejected_not_stored() -> None:
    body = json.dumps(make_report()).replace('"19.99"', "NaN", 1).encode()
    with pytest.raises(ReportError):
        decode_report(body)


def full_report() -> dict[str, Any]:
    """A report carrying the data of every seed system."""
    report = make_report(
        "full",
        workflowVersion=3,
        projectId="acme",
        userId="u-7",
        params={"limit": 10, "dryRun": True},
        output={"ok": False},
        exitCode=2,
        tags={"env": "prod", "team": 7},
        metadata={"host": "runner-1"},
        logs=[
            {"level": "INFO", "message": "starting", "timestamp": "2026-11-22T09:00:00Z"},
            {"level": "warning", "message": "slow", "nodeId": "fetch", "data": {"ms": 900}},
        ],
        artifacts=[{"key": "report.csv", "type": "stage_output", "data": "a,b\n1,2"}],
    )
    report["nodeExecutions"].append(
        {
            "nodeId": "summarise",
            "nodeName": "Summarise",
            "nodeType": "llm",
            "status": "success",
            "group": 2,
            "metrics": {"retries": 0},
            "llm": {
                "model": "gpt-4o-mini",
                "prompt": '[{"role": "user", "content": "Summarise"}]',
                "response": "Invoice 42 totals 19.99 EUR.",
                "promptTokens": 120,
                "completionTokens": 30,
                "costUsd": 0.0004,
                "finishReason": "stop",
            },
        }
    )
    report["nodeExecutions"].append(
        {"nodeId": "summarise", "status": "success", "llm": {"totalTokens": 100, "costUsd": 0.0001}}
    )
    return report


def full_report_bytes() -> bytes:
    return json.dumps(full_report()).encode()


def test_full_report_keeps_every_seed_field() -> None:
    record = decode_report(full_report_bytes())
    assert (record.workflow_version, record.project_id, record.user_id) == ("3", "acme", "u-7")
    assert json.loads(record.params_json or "") == {"limit": 10, "dryRun": True}
    assert record.exit_code == 2
    assert record.tags == (("env", "prod"), ("team", "7"))
    assert [(log.sequence, log.level, log.node_id) for log in record.logs] == [
        (0, "info", None),
        (1, "warn", "fetch"),
    ]
    assert record.artifacts[0].key == "report.csv"
    llm_node, retry = record.nodes[2], record.nodes[3]
    assert (llm_node.attempt, retry.attempt) == (1, 2)
    assert llm_node.group == 2
    assert llm_node.llm is not None
    assert json.loads(llm_node.llm.prompt_json or "") == [{"role": "user", "content": "Summarise"}]
    assert llm_node.llm.tokens == 150
    assert record.total_tokens == 250
    assert record.cost_usd == pytest.approx(0.0005)


def test_repeated_attempt_is_named() -> None:
    report = make_report()
    report["nodeExecutions"].append({"nodeId": "fetch", "status": "success", "attempt": 1})
    with pytest.raises(ReportError) as caught:
        decode_report(json.dumps(report).encode())
    assert caught.value.details[0]["path"] == "nodeExecutions[2].attempt"


def test_unknown_log_level_is_named() -> None:
    report = make_report(logs=[{"level": "loud", "message": "x"}])
    with pytest.raises(ReportError) as caught:
        decode_report(json.dumps(report).encode())
    assert caught.value.details[0]["path"] == "logs[0].level"
