"""Seed 000's StepExecution on a real socket: steps of one project + workflow + run are a run."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from app.store import queries
from app.store.export import run_to_report
from tests.conftest import post_json

MESSAGES = [{"role": "user", "content": "Summarise the ticket"}]


def step(step_id: str, timestamp: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "projectId": "support-bot",
        "workflowId": "answer",
        "runId": "run-abc",
        "stepId": step_id,
        "timestamp": timestamp,
        "durationMs": 1500,
        "model": "gpt-4o-mini",
        "prompt": json.dumps(MESSAGES),
        "result": "The customer cannot log in.",
        "promptTokens": 100,
        "completionTokens": 20,
        "totalTokens": 120,
        "finishReason": "stop",
        "status": "success",
    }
    body.update(fields)
    return body


RUN_ID = "support-bot:answer:run-abc"


def test_steps_form_one_run(ingest: Any) -> None:
    status, body, _ = post_json(ingest.url, "/api/steps", step("classify", "2026-11-22T09:00:00Z"))
    assert status == 201 and body == {"runId": RUN_ID}
    second = step("reply", "2026-11-22T09:00:02Z", totalTokens=None, durationMs=3000)
    assert post_json(ingest.url, "/api/steps", second)[0] == 201
    detail = queries.get_run(RUN_ID)
    assert detail is not None
    summary = detail.summary
    assert (summary.workflow_id, summary.project_id, summary.status.value) == (
        "answer",
        "support-bot",
        "success",
    )
    assert summary.node_count == 2 and summary.total_tokens == 240  # 100 + 20 counted
    assert summary.duration_ms == 5000  # 09:00:00 to 09:00:05
    assert [n.node_id for n in detail.nodes] == ["classify", "reply"]
    report = run_to_report(detail)
    first = report["nodeExecutions"][0]
    assert first["startedAt"] == "2026-11-22T09:00:00.000Z"
    assert first["input"] == json.dumps(MESSAGES)  # the prompt exactly as sent
    assert first["llm"]["prompt"] == MESSAGES  # and as messages
    assert first["output"] == first["llm"]["response"] == "The customer cannot log in."


def test_a_last_step_without_duration_still_ends_the_run_at_its_start(ingest: Any) -> None:
    assert post_json(ingest.url, "/api/steps", step("classify", "2026-11-22T09:00:00Z"))[0] == 201
    last = step("reply", "2026-11-22T09:00:04Z")
    del last["durationMs"]
    assert post_json(ingest.url, "/api/steps", last)[0] == 201
    detail = queries.get_run(RUN_ID)
    assert detail is not None
    assert detail.summary.duration_ms == 4000  # not 1500, where the first step ended


def test_steps_cannot_join_a_run_reported_whole(ingest: Any) -> None:
    """A full report whose id happens to be project:workflow:run keeps its own status and
    nodes; the steps are refused (409), and nothing of the request is stored."""
    from tests.conftest import make_report

    assert post_json(ingest.url, "/api/executions", make_report(RUN_ID))[0] == 201
    other = step("classify", "2026-11-22T09:00:00Z", runId="run-other")
    steps = [other, step("classify", "2026-11-22T09:00:00Z")]
    status, body, _ = post_json(ingest.url, "/api/steps", steps)
    assert status == 409 and body["runId"] == RUN_ID
    assert "reported whole" in body["error"]
    detail = queries.get_run(RUN_ID)
    assert detail is not None and detail.summary.status.value == "error"
    assert [n.node_id for n in detail.nodes] == ["fetch", "parse"]
    assert queries.get_run("support-bot:answer:run-other") is None  # all or nothing


def test_a_failed_step_fails_the_run(ingest: Any) -> None:
    batch = [
        step("classify", "2026-11-22T09:00:00Z"),
        step("reply", "2026-11-22T09:00:02Z", status="error", error="rate limited", result=None),
    ]
    status, body, _ = post_json(ingest.url, "/api/steps", batch)
    assert status == 201 and body == {"runIds": [RUN_ID, RUN_ID]}
    summary = queries.list_runs()[0]
    assert summary.status.value == "error" and summary.failed_node_name == "reply"
    detail = queries.get_run(RUN_ID)
    assert detail is not None and detail.error_message == "rate limited"


def test_same_step_again_updates_and_a_later_one_is_a_new_attempt(ingest: Any) -> None:
    first = step("reply", "2026-11-22T09:00:00Z", status="error", error="timeout")
    assert post_json(ingest.url, "/api/steps", first)[0] == 201
    assert post_json(ingest.url, "/api/steps", first)[0] == 201  # a client retry
    retry = step("reply", "2026-11-22T09:00:10Z")
    assert post_json(ingest.url, "/api/steps", retry)[0] == 201
    detail = queries.get_run(RUN_ID)
    assert detail is not None
    assert [(n.attempt, n.status.value) for n in detail.nodes] == [(1, "error"), (2, "success")]
    assert detail.summary.status.value == "error"  # one step of the run did fail


def test_runs_differ_by_project_workflow_and_run(ingest: Any) -> None:
    batch = [
        step("s", "2026-11-22T09:00:00Z"),
        step("s", "2026-11-22T09:00:00Z", projectId="other"),
        step("s", "2026-11-22T09:00:00Z", runId="a:b/c"),
    ]
    _, body, _ = post_json(ingest.url, "/api/steps", batch)
    assert body["runIds"] == [RUN_ID, "other:answer:run-abc", "support-bot:answer:a%3Ab%2Fc"]
    assert queries.count_runs() == 3
    status, stored, _ = post_json(
        ingest.url, "/api/executions/" + quote(body["runIds"][2], safe=""), b"", method="GET"
    )
    assert status == 200 and stored["projectId"] == "support-bot"


def test_invalid_steps_are_400_and_store_nothing(ingest: Any) -> None:
    bad = step("s", "not a time", status="maybe")
    del bad["runId"]
    status, body, _ = post_json(ingest.url, "/api/steps", [step("ok", "2026-11-22T09:00:00Z"), bad])
    assert status == 400 and body["error"] == "invalid step execution"
    assert {d["path"] for d in body["details"]} == {"[1].runId", "[1].timestamp", "[1].status"}
    long = step("s", "2026-11-22T09:00:00Z", runId="r" * 200)
    status, body, _ = post_json(ingest.url, "/api/steps", long)
    assert status == 400 and body["details"][0]["path"] == "runId"
    # Checks after the schema list every problem too, each at its own path.
    steps = [long, step("t", "2026-11-22T09:00:00Z", result="NAN_HERE"), long]
    text = json.dumps(steps).replace('"NAN_HERE"', "NaN")
    status, body, _ = post_json(ingest.url, "/api/steps", text)
    assert status == 400
    assert [d["path"] for d in body["details"]] == ["[0].runId", "[1].result", "[2].runId"]
    assert queries.count_runs() == 0


def test_a_prompt_that_only_looks_like_json_is_kept_as_text(ingest: Any) -> None:
    """Python's parser takes NaN, JSON has not: such a prompt is stored as the text it is."""
    prompt = "[1, NaN]"
    status, body, _ = post_json(
        ingest.url, "/api/steps", step("values", "2026-11-22T09:00:00Z", prompt=prompt)
    )
    assert status == 201, body
    detail = queries.get_run(RUN_ID)
    assert detail is not None
    assert run_to_report(detail)["nodeExecutions"][0]["llm"]["prompt"] == prompt
