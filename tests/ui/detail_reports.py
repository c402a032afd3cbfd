"""Reports for the run-detail tests: a parallel run, an LLM run and a hostile one."""

from __future__ import annotations

import json
from typing import Any

from app.ingest.report import decode_report
from app.store import writes

HOSTILE = "<b>x</b><img src=http://example.invalid/p.png>\x1b[31m\u202eevil\u202c\x00"
HUGE_CHARS = 10 * 1024 * 1024


def store(*reports: dict[str, Any]) -> None:
    writes.replace_runs([decode_report(json.dumps(r).encode()) for r in reports])


def parallel_report(run_id: str = "par") -> dict[str, Any]:
    """fetch, then three enrichers in group 1 at once, then a sequential save."""

    def node(node_id: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
        return {
            "nodeId": node_id,
            "nodeName": node_id.title(),
            "nodeType": "code",
            "status": "success",
            "startedAt": f"2026-11-22T09:00:{start}Z",
            "completedAt": f"2026-11-22T09:00:{end}Z",
            "input": {"n": 1},
            "output": {"ok": True},
            **extra,
        }

    return {
        "id": run_id,
        "workflowId": "enrich",
        "workflowName": "Enrich leads",
        "projectId": "growth",
        "status": "success",
        "startedAt": "2026-11-22T09:00:00Z",
        "completedAt": "2026-11-22T09:00:10Z",
        "nodeExecutions": [
            node("fetch", "00", "02"),
            node("geo", "02", "06", group=1),
            node("company", "02", "08", group=1),
            node("social", "02.500", "05", group=1),
            node("save", "08", "10"),
        ],
    }


def llm_report(run_id: str = "llm", prompt_text: str = "Summarise <b>this</b> invoice") -> dict:
    return {
        "id": run_id,
        "workflowId": "summarise",
        "workflowName": "Summarise invoice",
        "status": "success",
        "startedAt": "2026-11-22T09:00:00Z",
        "durationMs": 2300,
        "trigger": {"type": "schedule", "data": {"cron": "0 9 * * *"}},
        "params": {"language": "en", "maxWords": 50},
        "nodeExecutions": [
            {
                "nodeId": "ask",
                "nodeName": "Ask the model",
                "nodeType": "llm",
                "status": "success",
                "durationMs": 2300,
                "input": {"invoice": 42},
                "output": {"summary": "Paid in full."},
                "llm": {
                    "model": "gpt-4o-mini",
                    "prompt": [
                        {"role": "system", "content": "You are terse."},
                        {"role": "user", "content": [{"type": "text", "text": prompt_text}]},
                    ],
                    "response": {
                        "choices": [{"message": {"role": "assistant", "content": "Paid in full."}}]
                    },
                    "promptTokens": 120,
                    "completionTokens": 30,
                    "totalTokens": 150,
                    "costUsd": 0.0012,
                    "finishReason": "stop",
                },
            }
        ],
        "logs": [
            {"level": "info", "message": "starting", "nodeId": "ask"},
            {"level": "debug", "message": "prompt built", "nodeId": "ask", "data": {"n": 2}},
            {"level": "warn", "message": "slow answer <i>3 s</i>", "nodeId": "ask"},
            {"level": "error", "message": "retry budget low"},
        ],
        "artifacts": [
            {"key": "summary", "type": "stage_output", "nodeId": "ask", "data": {"words": 3}},
            {"key": "raw", "data": ["a", "b"]},
        ],
    }


def hostile_report(run_id: str = "hostile", huge: bool = True) -> dict[str, Any]:
    big = "y" * HUGE_CHARS if huge else "y" * 1000
    return {
        "id": run_id,
        "workflowId": "wf-hostile",
        "workflowName": HOSTILE,
        "projectId": HOSTILE,
        "status": "error",
        "startedAt": "2026-11-22T09:00:00Z",
        "durationMs": 50,
        "trigger": {"type": HOSTILE},
        "error": {"message": HOSTILE, "nodeId": "bad"},
        "nodeExecutions": [
            {
                "nodeId": "bad",
                "nodeName": HOSTILE,
                "nodeType": "<script>",
                "status": "error",
                "durationMs": 50,
                "input": {HOSTILE: HOSTILE, "big": big},
                "output": big,
                "error": {"message": HOSTILE + big[:100_000], "stack": HOSTILE + "\n" + big},
                "llm": {"model": HOSTILE, "prompt": HOSTILE, "response": big},
            }
        ],
        "logs": [{"level": "error", "message": HOSTILE + big, "nodeId": HOSTILE}],
    }
