"""The read API on a real socket: listing with filters and cursors, one run, workflows, stats."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import make_report, post_json
from tests.ingest.test_report import full_report


def get(ingest: Any, path: str) -> tuple[int, Any]:
    status, body, _ = post_json(ingest.url, path, b"", method="GET")
    return status, body


@pytest.fixture
def history(ingest: Any) -> Any:
    batch = [
        make_report(
            f"r{i}",
            status="success" if i % 2 else "error",
            startedAt=f"2026-11-{10 + i}T10:00:00Z",
            workflowId="etl" if i < 4 else "agent",
        )
        for i in range(6)
    ]
    assert post_json(ingest.url, "/api/executions", batch)[0] == 201
    return ingest


def test_list_newest_first_with_total_and_cursor(history: Any) -> None:
    status, page = get(history, "/api/executions?limit=4")
    assert status == 200 and page["total"] == 6
    assert [item["id"] for item in page["items"]] == ["r5", "r4", "r3", "r2"]
    assert page["items"][0]["startedAt"] == "2026-11-15T10:00:00.000Z"
    status, rest = get(history, f"/api/executions?limit=4&cursor={page['nextCursor']}")
    assert [item["id"] for item in rest["items"]] == ["r1", "r0"]
    assert rest["nextCursor"] is None


def test_list_filters(history: Any) -> None:
    _, body = get(history, "/api/executions?workflowId=etl&status=error")
    assert [item["id"] for item in body["items"]] == ["r2", "r0"] and body["total"] == 2
    _, body = get(history, "/api/executions?status=failed,completed&since=2026-11-14T00:00:00Z")
    assert [item["id"] for item in body["items"]] == ["r5", "r4"]
    _, body = get(history, "/api/executions?q=ValueError&until=2026-11-12")
    assert [item["id"] for item in body["items"]] == ["r0"]
    assert body["items"][0]["failedNode"] == "Parse total"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("since=yesterday", "since"),
        ("status=exploded", "status"),
        ("cursor=%%%", "cursor"),
        ("limit=%C2%B2", "limit"),  # "²": str.isdigit() takes it, int() does not
        ("limit=" + "9" * 5000, "limit"),  # past the digits int() reads from text
        # A cursor whose time is past any integer SQLite can compare
        ("cursor=OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk6eA==", "cursor"),
    ],
)
def test_bad_parameters_are_400_naming_them(history: Any, query: str, parameter: str) -> None:
    status, body = get(history, f"/api/executions?{query}")
    assert status == 400 and body["details"][0]["path"] == parameter


def test_one_run_in_report_shape_reposts_to_the_same_run(ingest: Any) -> None:
    report = full_report()
    report["id"] = "odd id/with slash?"
    assert post_json(ingest.url, "/api/executions", report)[0] == 201
    status, stored = get(ingest, "/api/executions/" + quote(report["id"], safe=""))
    assert status == 200 and stored["id"] == "odd id/with slash?"
    assert stored["nodeExecutions"][1]["error"]["message"] == "ValueError: bad total"
    assert post_json(ingest.url, "/api/executions", stored)[0] == 201
    _, again = get(ingest, "/api/executions/" + quote(report["id"], safe=""))
    assert again == stored
    assert get(ingest, "/api/executions/missing")[0] == 404


def test_workflows_and_stats(history: Any) -> None:
    status, body = get(history, "/api/workflows")
    assert status == 200
    by_id = {w["workflowId"]: w for w in body["items"]}
    assert by_id["etl"]["runCount"] == 4 and by_id["etl"]["successRate"] == 0.5
    assert by_id["agent"]["lastRun"]["id"] == "r5"
    status, body = get(history, "/api/stats?workflowId=etl")
    assert status == 200
    (workflow,) = body["workflows"]
    assert (workflow["runs"], workflow["failures"]) == (4, 2)
    (group,) = body["failureGroups"]
    assert (group["nodeId"], group["count"]) == ("parse", 2)
    assert {n["nodeId"] for n in body["nodes"]} == {"fetch", "parse"}


@pytest.mark.parametrize("text", ['"', "*", "(", "^ '"])
def test_a_search_without_words_filters_nothing_in_items_and_total_alike(
    history: Any, text: str
) -> None:
    _, body = get(history, f"/api/executions?q={quote(text)}")
    assert body["total"] == 6
    assert len(body["items"]) == 6


@pytest.mark.parametrize(
    "moment",
    [
        "2300-01-01T00:00:00.001Z",
        "2584-07-04T16:42:11.738Z",
        "9999-12-31T23:59:59.999Z",
        "1850-03-01T12:00:00.007Z",
    ],
)
def test_times_far_from_now_keep_their_millisecond(ingest: Any, moment: str) -> None:
    report = make_report("far", startedAt=moment, completedAt=None)
    assert post_json(ingest.url, "/api/executions", report)[0] == 201
    _, run = get(ingest, "/api/executions/far")
    assert run["startedAt"] == moment


@pytest.mark.parametrize("metrics", [{}, [], None, {"rows": 3}])
def test_node_metrics_come_back_as_sent_even_when_empty(ingest: Any, metrics: Any) -> None:
    """GET gives what was stored, so posting it back stores the same payload again."""
    report = make_report("m", status="success")
    report["nodeExecutions"][0]["metrics"] = metrics
    assert post_json(ingest.url, "/api/executions", report)[0] == 201
    status, stored = get(ingest, "/api/executions/m")
    assert status == 200 and stored["nodeExecutions"][0]["metrics"] == metrics
    assert "metrics" not in stored["nodeExecutions"][1]  # not sent: not invented
