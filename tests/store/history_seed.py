"""A small, known history for the chart, compare and failure-group tests."""

from __future__ import annotations

import json

from app.store import writes
from app.store.records import LlmRecord, NodeRecord, RunRecord
from app.store.status import Status

DAY = 86_400_000
T0 = 1_790_000_000_000 // DAY * DAY  # a UTC midnight in 2026


def node(
    node_id: str,
    status: Status = Status.SUCCESS,
    duration: int = 10,
    output: object = None,
    input_: object = None,
    error: str | None = None,
    attempt: int = 1,
    llm: LlmRecord | None = None,
) -> NodeRecord:
    return NodeRecord(
        node_id=node_id,
        node_name=node_id.title(),
        status=status,
        duration_ms=duration,
        input_json=None if input_ is None else json.dumps(input_),
        output_json=None if output is None else json.dumps(output),
        error_message=error,
        attempt=attempt,
        llm=llm,
    )


def run(
    run_id: str,
    started_at: int,
    duration: int | None,
    status: Status = Status.SUCCESS,
    workflow: str = "etl",
    project: str | None = "p1",
    nodes: tuple[NodeRecord, ...] = (),
    error: str | None = None,
) -> RunRecord:
    return RunRecord(
        id=run_id,
        workflow_id=workflow,
        workflow_name=workflow.upper(),
        status=status,
        started_at=started_at,
        completed_at=None if duration is None else started_at + duration,
        duration_ms=duration,
        project_id=project,
        error_message=error,
        nodes=nodes,
    )


def seed_history() -> list[RunRecord]:
    """Three days of `etl` (7 runs) and `agent` (3 runs) with LLM usage and failures."""
    gpt = LlmRecord(model="gpt-4o", total_tokens=1000, cost_usd=0.01)
    mini = LlmRecord(model="mini", total_tokens=200, cost_usd=0.001)
    records = [
        run("e1", T0 + 1_000, 80, nodes=(node("fetch", duration=50), node("load", duration=20))),
        run("e2", T0 + 2_000, 400, nodes=(node("fetch", duration=300), node("load", duration=90))),
        run(
            "e3",
            T0 + DAY + 1_000,
            2_000,
            Status.ERROR,
            nodes=(
                node("fetch", duration=1_500),
                node("load", Status.ERROR, 400, error="Timeout after 30 s"),
            ),
            error="Timeout after 30 s",
        ),
        run(
            "e4",
            T0 + DAY + 5_000,
            3_000,
            Status.ERROR,
            nodes=(
                node("fetch", duration=2_500),
                node("load", Status.ERROR, 450, error="Timeout after 31 s"),
            ),
            error="Timeout after 31 s",
        ),
        run("e5", T0 + 2 * DAY + 1_000, 700, nodes=(node("fetch", duration=600),)),
        run("e6", T0 + 2 * DAY + 2_000, None, Status.RUNNING),
        run("e7", T0 + 2 * DAY + 3_000, 40_000, Status.CANCELLED),
        run(
            "a1",
            T0 + 3_000,
            9_000,
            workflow="agent",
            project="p2",
            nodes=(node("plan", duration=8_000, llm=gpt), node("act", duration=900, llm=mini)),
        ),
        run(
            "a2",
            T0 + DAY + 3_000,
            12_000,
            Status.ERROR,
            workflow="agent",
            project=None,
            nodes=(node("plan", Status.ERROR, 11_000, error="KeyError: 'x'", llm=gpt),),
            error="KeyError: 'x'",
        ),
        run(
            "a3",
            T0 + 2 * DAY + 4_000,
            500_000,
            workflow="agent",
            project="p2",
            nodes=(node("plan", duration=400_000, llm=mini),),
        ),
    ]
    writes.replace_runs(records)
    return records
