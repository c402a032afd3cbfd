from __future__ import annotations

import json

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
