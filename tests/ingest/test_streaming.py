"""Streaming a running workflow's progress on a real socket: node upserts and log lines."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from app.store import queries
from app.store.search import search_hits
from tests.conftest import make_report, post_json


def _running(ingest: Any, run_id: str = "live") -> None:
    report = make_report(run_id, status="running", nodeExecutions=[])
    assert post_json(ingest.url, "/api/executions", report)[0] == 201


def _node(node_id: str, status: str = "running", **fields: Any) -> dict[str, Any]:
    return {"nodeId": node_id, "nodeName": node_id.title(), "status": status, **fields}


def test_nodes_are_added_then_updated_in_place(ingest: Any) -> None:
    _running(ingest)
    status, body, _ = post_json(
        ingest.url, "/api/executions/live/nodes", _node("fetch", input={"url": "x"})
    )
    assert status == 200 and body == {"id": "live", "nodes": 1}
    batch = [
        _node("fetch", "success", output={"rows": 3}),
        _node("ask", llm={"model": "m", "totalTokens": 120, "costUsd": 0.25}),
    ]
    assert post_json(ingest.url, "/api/executions/live/nodes", batch)[0] == 200
    detail = queries.get_run("live")
    assert detail is not None
    assert [(n.node_id, n.status.value, n.position) for n in detail.nodes] == [
        ("fetch", "success", 0),
        ("ask", "running", 1),
    ]
    summary = detail.summary
    assert (summary.node_count, summary.total_tokens, summary.cost_usd) == (2, 120, 0.25)
    assert summary.status.value == "running"  # the run's own status is the workflow's to say


def test_a_failed_node_names_the_run_failure_and_is_searchable(ingest: Any) -> None:
    _running(ingest)
    post_json(ingest.url, "/api/executions/live/nodes", _node("parse", input="first words"))
    failed = _node("parse", "error", error={"message": "KeyError: 'total'", "stack": "Tb"})
    assert post_json(ingest.url, "/api/executions/live/nodes", failed)[0] == 200
    summary = queries.list_runs()[0]
    assert summary.failed_node_name == "Parse" and summary.node_count == 1
    assert [h.field for h in search_hits("KeyError")] == ["error"]
    assert search_hits("first words") == []  # the replaced input left the index
    assert queries.list_runs(where=_text("KeyError"))[0].id == "live"


def _text(text: str) -> Any:
    from app.store.filters import RunFilter

    return RunFilter(text=text)


def test_attempts_are_separate_nodes(ingest: Any) -> None:
    _running(ingest)
    nodes = [_node("call", "error", attempt=1), _node("call", "success", attempt=2)]
    assert post_json(ingest.url, "/api/executions/live/nodes", nodes)[0] == 200
    assert post_json(ingest.url, "/api/executions/live/nodes", nodes[1])[0] == 200  # a retry
    detail = queries.get_run("live")
    assert detail is not None
    assert [(n.attempt, n.status.value) for n in detail.nodes] == [(1, "error"), (2, "success")]


def test_logs_append_in_order_and_sequence_continues(ingest: Any) -> None:
    report = make_report("live", status="running", logs=[{"message": "start"}])
    assert post_json(ingest.url, "/api/executions", report)[0] == 201
    lines = [{"level": "info", "message": "one"}, {"level": "WARNING", "message": "two"}]
    status, body, _ = post_json(ingest.url, "/api/executions/live/logs", lines)
    assert status == 200 and body == {"id": "live", "logs": 2}
    line = {"message": "three", "data": {"k": 1}}
    assert post_json(ingest.url, "/api/executions/live/logs", line)[0] == 200
    logs = queries.list_logs("live")
    assert [(e.sequence, e.level, e.message) for e in logs] == [
        (0, "info", "start"),
        (1, "info", "one"),
        (2, "warn", "two"),
        (3, "info", "three"),
    ]
    assert logs[-1].data_json == '{"k":1}'
    assert [h.field for h in search_hits("three")] == ["log"]


def test_a_numbered_log_line_posted_twice_is_stored_once(ingest: Any) -> None:
    _running(ingest)
    line = {"message": "exactly once", "sequence": 7}
    assert post_json(ingest.url, "/api/executions/live/logs", line)[0] == 200
    assert post_json(ingest.url, "/api/executions/live/logs", line)[0] == 200
    assert [(e.sequence, e.message) for e in queries.list_logs("live")] == [(7, "exactly once")]
    assert len(search_hits("exactly once")) == 1
    assert post_json(ingest.url, "/api/executions/live/logs", {"message": "next"})[0] == 200
    assert [e.sequence for e in queries.list_logs("live")] == [7, 8]


def test_unknown_run_is_404_naming_it_and_stores_nothing(ingest: Any) -> None:
    for path, body in (("nodes", _node("a")), ("logs", {"message": "m"})):
        status, answer, _ = post_json(ingest.url, f"/api/executions/ghost/{path}", body)
        assert status == 404 and "'ghost'" in answer["error"] and answer["runId"] == "ghost"
    assert queries.count_runs() == 0


def test_a_refused_stream_does_not_fail_its_neighbours(ingest: Any) -> None:
    """Jobs committed in one group: the unknown run's savepoint rolls back, nothing else."""
    import threading

    _running(ingest)
    answers: list[int] = []
    lock = threading.Lock()

    def send(path: str) -> None:
        status = post_json(ingest.url, path, _node("n"))[0]
        with lock:
            answers.append(status)

    threads = [
        threading.Thread(target=send, args=(f"/api/executions/{rid}/nodes",))
        for rid in ["live", "ghost"] * 10
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200] * 10 + [404] * 10
    assert queries.count_runs() == 1


def test_run_id_with_slash_is_percent_encoded(ingest: Any) -> None:
    _running(ingest, "team/run 1")
    path = f"/api/executions/{quote('team/run 1', safe='')}/nodes"
    assert post_json(ingest.url, path, _node("x"))[0] == 200
    detail = queries.get_run("team/run 1")
    assert detail is not None and detail.summary.node_count == 1


def test_invalid_nodes_and_logs_are_400_naming_fields(ingest: Any) -> None:
    _running(ingest)
    status, body, _ = post_json(
        ingest.url, "/api/executions/live/nodes", [_node("a"), {"status": "exploded"}]
    )
    assert status == 400 and body["error"] == "invalid node execution"
    assert {d["path"] for d in body["details"]} == {"[1].nodeId", "[1].status"}
    status, body, _ = post_json(ingest.url, "/api/executions/live/logs", {"level": "loud"})
    assert status == 400 and {d["path"] for d in body["details"]} == {"level", "message"}
    assert post_json(ingest.url, "/api/executions/live/logs", [])[0] == 400
    status, _, _ = post_json(
        ingest.url, "/api/executions/live/nodes", _node("a"), {"Content-Type": "text/plain"}
    )
    assert status == 415
    assert post_json(ingest.url, "/api/executions/live/nodes", b"", method="GET")[0] == 405
    detail = queries.get_run("live")
    assert detail is not None and detail.nodes == () and queries.list_logs("live") == []


def test_full_report_after_streaming_replaces_the_streamed_state(ingest: Any) -> None:
    _running(ingest)
    post_json(ingest.url, "/api/executions/live/nodes", _node("only-streamed"))
    assert post_json(ingest.url, "/api/executions", make_report("live", status="success"))[0]
    detail = queries.get_run("live")
    assert detail is not None
    assert [n.node_id for n in detail.nodes] == ["fetch", "parse"]
    assert detail.summary.node_count == 2


def test_streamed_changes_are_announced_for_the_viewer(database: Any) -> None:
    """The GUI refreshes a run when the writer reports its id as committed."""
    import threading

    from app.ingest.service import IngestService

    announced: list[list[str]] = []
    seen = threading.Event()

    def committed(ids: list[str]) -> None:
        announced.append(ids)
        if "live" in ids and len(announced) >= 3:
            seen.set()

    service = IngestService("127.0.0.1", 0, on_committed=committed)
    service.start()
    try:
        _running(service)
        assert post_json(service.url, "/api/executions/live/nodes", _node("a"))[0] == 200
        assert post_json(service.url, "/api/executions/live/logs", {"message": "m"})[0] == 200
        assert post_json(service.url, "/api/executions/ghost/logs", {"message": "m"})[0] == 404
        assert seen.wait(10)
    finally:
        service.stop()
    assert announced == [["live"], ["live"], ["live"]]
