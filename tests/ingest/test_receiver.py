"""The receiver on a real loopback socket, writing to a real SQLite file."""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from app import __version__
from app.config import describe_database
from app.ingest.server import Receiver
from app.ingest.writer import ReportWriter
from app.store import queries
from tests.conftest import make_report, post_json


def test_health_says_which_database_reports_go_to(ingest: Any, database: Path | str) -> None:
    status, body, _ = post_json(ingest.url, "/api/health", b"", method="GET")
    where = str(database.resolve()) if isinstance(database, Path) else describe_database(database)
    assert status == 200 and body == {"status": "ok", "version": __version__, "database": where}


def test_valid_report_is_stored_before_201(ingest: Any) -> None:
    status, body, _ = post_json(ingest.url, "/api/executions", make_report())
    assert status == 201 and body == {"id": "run-1"}
    detail = queries.get_run("run-1")  # committed: visible from another connection at once
    assert detail is not None and detail.summary.status.value == "error"
    assert [n.node_id for n in detail.nodes] == ["fetch", "parse"]
    failed = detail.first_failed_node()
    assert failed is not None and failed.error_message == "ValueError: bad total"


def test_repost_replaces_the_run(ingest: Any) -> None:
    running = make_report(status="running", nodeExecutions=[])
    assert post_json(ingest.url, "/api/executions", running)[0] == 201
    assert post_json(ingest.url, "/api/executions", make_report(status="success"))[0] == 201
    assert queries.count_runs() == 1
    detail = queries.get_run("run-1")
    assert detail is not None and detail.summary.status.value == "success"
    assert detail.summary.node_count == 2


def test_bad_json_is_400_and_stores_nothing(ingest: Any) -> None:
    post_json(ingest.url, "/api/executions", make_report("kept"))
    status, body, _ = post_json(ingest.url, "/api/executions", b'{"id": "x", ')
    assert status == 400 and body["error"] == "body is not valid JSON"
    assert [r.id for r in queries.list_runs()] == ["kept"]


def test_missing_field_is_400_naming_it(ingest: Any) -> None:
    report = make_report()
    del report["workflowId"]
    del report["nodeExecutions"][1]["nodeId"]
    status, body, _ = post_json(ingest.url, "/api/executions", report)
    assert status == 400
    assert {d["path"] for d in body["details"]} == {"workflowId", "nodeExecutions[1].nodeId"}
    assert queries.count_runs() == 0


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_non_json_media_type_is_415(ingest: Any, content_type: str) -> None:
    status, body, _ = post_json(
        ingest.url, "/api/executions", make_report(), headers={"Content-Type": content_type}
    )
    assert status == 415 and "application/json" in body["error"]
    assert queries.count_runs() == 0


def test_json_with_charset_is_accepted(ingest: Any) -> None:
    status, _, _ = post_json(
        ingest.url,
        "/api/executions",
        make_report(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert status == 201


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example:7341"},
        {"Host": "127.0.0.1.nip.io"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ],
)
def test_browser_and_rebinding_requests_are_403(ingest: Any, headers: dict[str, str]) -> None:
    status, body, response = post_json(
        ingest.url, "/api/executions", make_report(), headers=headers
    )
    assert status == 403 and body["error"]
    assert response.getheader("Access-Control-Allow-Origin") is None
    assert queries.count_runs() == 0


def test_cors_preflight_is_refused(ingest: Any) -> None:
    status, _, response = post_json(
        ingest.url,
        "/api/executions",
        b"",
        method="OPTIONS",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert status == 403
    assert response.getheader("Access-Control-Allow-Origin") is None


def test_unknown_path_404_and_wrong_method_405(ingest: Any) -> None:
    assert post_json(ingest.url, "/api/nothing", b"{}")[0] == 404
    status, _, response = post_json(ingest.url, "/api/executions", b"", method="DELETE")
    assert status == 405 and response.getheader("Allow") == "POST, GET, HEAD"
    assert post_json(ingest.url, "/api/health", b"{}")[0] == 405
    assert post_json(ingest.url, "/api/executions/a/b", b"", method="GET")[0] == 404


def test_oversized_body_is_413_without_reading_it(database: Path) -> None:
    writer = ReportWriter()
    receiver = Receiver(writer, port=0, max_body=1024)
    receiver.start()
    writer.start()
    try:
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
            # Announce 10 MB but send only the headers: the answer must come anyway.
            sock.sendall(
                f"POST /api/executions HTTP/1.1\r\nHost: 127.0.0.1:{receiver.port}\r\n"
                "Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n".encode()
            )
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 413
            assert "exceeds the limit" in json.loads(response.read())["error"]
    finally:
        receiver.stop()
        writer.stop()
    assert queries.count_runs() == 0


def test_port_in_use_is_reported(ingest: Any) -> None:
    second = Receiver(ReportWriter(), port=ingest.receiver.port)
    with pytest.raises(OSError):
        second.start()


def test_batch_is_stored_whole(ingest: Any) -> None:
    batch = [make_report(f"b{i}", startedAt=f"2026-11-2{i}T10:00:00Z") for i in range(3)]
    status, body, _ = post_json(ingest.url, "/api/executions", batch)
    assert status == 201 and body == {"ids": ["b0", "b1", "b2"]}
    assert queries.count_runs() == 3


def test_batch_with_one_bad_report_stores_nothing(ingest: Any) -> None:
    bad = make_report("b1")
    bad["nodeExecutions"][0]["status"] = "exploded"
    status, body, _ = post_json(ingest.url, "/api/executions", [make_report("b0"), bad])
    assert status == 400
    assert [d["path"] for d in body["details"]] == ["[1].nodeExecutions[0].status"]
    assert queries.count_runs() == 0


def test_problems_found_after_the_schema_are_all_listed_at_their_paths(ingest: Any) -> None:
    """Repeated attempts and artifact keys, and NaN or Infinity inside payloads (Python's
    parser takes them, JSON has no such numbers): every one named, nothing stored."""
    bad = make_report(
        "b1", artifacts=[{"key": "a", "data": "NAN_HERE"}, {"key": "a"}, {"key": "a"}]
    )
    bad["nodeExecutions"] += [
        {"nodeId": "fetch", "status": "success", "attempt": 1},
        {"nodeId": "parse", "status": "success", "attempt": 1},
    ]
    bad["nodeExecutions"][0]["output"] = {"total": "NAN_HERE"}
    bad["metadata"] = {"score": "INF_HERE"}
    text = json.dumps([make_report("b0"), bad])
    text = text.replace('"NAN_HERE"', "NaN").replace('"INF_HERE"', "-Infinity")
    status, body, _ = post_json(ingest.url, "/api/executions", text)
    assert status == 400 and body["error"] == "invalid execution report"
    assert [d["path"] for d in body["details"]] == [
        "[1].nodeExecutions[2].attempt",
        "[1].nodeExecutions[3].attempt",
        "[1].artifacts[1].key",
        "[1].artifacts[2].key",
        "[1].metadata",
        "[1].nodeExecutions[0].output",
        "[1].artifacts[0].data",
    ]
    assert "NaN and Infinity" in body["details"][-1]["message"]
    assert queries.count_runs() == 0


def test_nan_in_streamed_nodes_and_logs_is_named_at_its_field(ingest: Any) -> None:
    assert post_json(ingest.url, "/api/executions", make_report("r", status="running"))[0] == 201
    nodes = '[{"nodeId": "a", "status": "success", "input": 1}, ' + (
        '{"nodeId": "b", "status": "success", "input": [NaN], '
        '"llm": {"prompt": [{"content": NaN}], "response": Infinity}}]'
    )
    status, body, _ = post_json(ingest.url, "/api/executions/r/nodes", nodes)
    assert status == 400
    paths = [d["path"] for d in body["details"]]
    assert paths == ["[1].input", "[1].llm.prompt", "[1].llm.response"]
    logs = '[{"message": "x", "data": NaN}, {"message": "y"}, {"message": "z", "data": [NaN]}]'
    status, body, _ = post_json(ingest.url, "/api/executions/r/logs", logs)
    assert status == 400
    assert [d["path"] for d in body["details"]] == ["[0].data", "[2].data"]
    detail = queries.get_run("r")
    assert detail is not None and [n.node_id for n in detail.nodes] == ["fetch", "parse"]
    assert queries.list_logs("r") == []


def test_batch_limits(ingest: Any) -> None:
    assert post_json(ingest.url, "/api/executions", [])[0] == 400
    too_many = [make_report(f"r{i}", nodeExecutions=[]) for i in range(1001)]
    status, body, _ = post_json(ingest.url, "/api/executions", too_many)
    assert status == 400 and "1000" in body["details"][0]["message"]
    assert queries.count_runs() == 0


def test_same_id_twice_in_a_batch_keeps_the_last(ingest: Any) -> None:
    batch = [
        make_report("r", status="running", nodeExecutions=[]),
        make_report("r", status="success"),
    ]
    assert post_json(ingest.url, "/api/executions", batch)[0] == 201
    detail = queries.get_run("r")
    assert detail is not None and detail.summary.status.value == "success"


def test_numbers_and_booleans_sent_as_text_fields_keep_their_json_spelling(ingest: Any) -> None:
    report = make_report("typed", workflowVersion=True, tags={"dry": False, "retries": 3})
    assert post_json(ingest.url, "/api/executions", report)[0] == 201
    _, run, _ = post_json(ingest.url, "/api/executions/typed", b"", method="GET")
    assert run["workflowVersion"] == "true"
    assert run["tags"] == {"dry": "false", "retries": "3"}
