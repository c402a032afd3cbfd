"""Seeded generator of realistic execution reports for the benchmarks (issue 3).

Each run has 10 nodes (configurable) with ~300-byte inputs and ~700-byte outputs; half the
nodes carry LLM fields (model, prompt messages, response, tokens, cost); 5% of runs fail
with a ~1 KB Python stack; runs spread over workflows, projects, users, tags and 90 days.
Text is drawn from a vocabulary with ids and numbers mixed in, so payloads compress about
as well as real workflow JSON does (neither random bytes nor one repeated word).

`report(i)` gives the report dict (the JSON shape `POST /api/executions` takes) and
`record(i)` the RunRecord the receiver would store for it, built directly because decoding
a million reports through pydantic would dominate the benchmark's set-up time.
`tests/benchmarks/test_generator.py` checks that both agree with the real decoder.
The same seed and index always give the same run.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

from app.ingest.report import payload_json
from app.store.records import LlmRecord, LogRecord, NodeRecord, RunRecord
from app.store.status import Status

END_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: the newest run starts before this
SPAN_DAYS = 90
FAIL_RATE = 0.05

_WORDS = [
    "invoice",
    "customer",
    "order",
    "payment",
    "refund",
    "shipment",
    "address",
    "product",
    "quantity",
    "price",
    "total",
    "currency",
    "discount",
    "tax",
    "account",
    "balance",
    "status",
    "pending",
    "approved",
    "rejected",
    "review",
    "batch",
    "document",
    "page",
    "summary",
    "extract",
    "classify",
    "route",
    "priority",
    "ticket",
    "support",
    "email",
    "reply",
    "draft",
    "contract",
    "clause",
    "party",
    "date",
    "amount",
    "vendor",
    "supplier",
    "warehouse",
    "stock",
    "report",
    "quarter",
    "revenue",
    "forecast",
    "model",
    "prompt",
    "answer",
    "question",
    "context",
    "source",
    "citation",
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "for",
    "on",
    "with",
    "by",
    "from",
    "is",
    "was",
    "are",
    "be",
    "this",
    "that",
    "it",
    "as",
    "at",
    "or",
    "an",
    "please",
    "check",
    "update",
    "confirm",
    "missing",
    "received",
    "processed",
    "failed",
    "retry",
    "timeout",
    "region",
    "europe",
    "north",
    "america",
    "delivery",
    "express",
    "standard",
    "return",
    "policy",
    "warranty",
]
_MODELS = ("gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet", "llama-3.1-70b", "mistral-large")
_NODE_TYPES = ("http", "code", "llm", "transform", "database", "email")
_ERRORS = (
    ("ValueError", "could not parse total {n} for invoice {id}"),
    ("KeyError", "'customer_id' missing in record {id}"),
    ("TimeoutError", "request to https://api.example.invalid/v{n} timed out after 30 s"),
    ("RuntimeError", "LLM returned no JSON for ticket {id}"),
)
_TRIGGERS = ("http", "scheduled", "manual", "webhook")
_ENVS = ("prod", "prod", "prod", "staging", "dev")
_TEAMS = ("billing", "support", "growth", "ops", "data", "legal")


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _ms(text: str) -> int:
    """As the receiver reads a timestamp (so records match decoded reports exactly)."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _dumps(value: Any) -> str:
    """As the receiver keeps a payload (its own encoder, so the text matches exactly)."""
    return payload_json(value)


class RunGenerator:
    def __init__(
        self,
        seed: int = 3,
        total_runs: int = 1_000_000,
        workflows: int = 40,
        projects: int = 8,
        users: int = 25,
        nodes: int = 10,
    ) -> None:
        self.seed = seed
        self.total_runs = total_runs
        self.nodes = nodes
        self.workflow_ids = [f"wf-{i:03d}" for i in range(workflows)]
        self.workflow_names = {
            wf: f"{_WORDS[i % 40].title()} {_WORDS[(i * 7 + 3) % 40]} pipeline"
            for i, wf in enumerate(self.workflow_ids)
        }
        self.project_of = {wf: f"proj-{i % projects}" for i, wf in enumerate(self.workflow_ids)}
        self.user_ids = [f"user-{i:02d}" for i in range(users)]

    # -- report dicts ---------------------------------------------------------------
    def report(self, index: int, nodes: int | None = None, payloads: bool = True) -> dict[str, Any]:
        """The report of run `index`; without payloads, nodes carry no input/output/LLM text
        (for the million-run listing set, which measures the listing tables)."""
        rng = random.Random(self.seed * 1_000_003 + index)
        node_count = self.nodes if nodes is None else nodes
        workflow = self.workflow_ids[int(rng.paretovariate(1.2)) % len(self.workflow_ids)]
        # Runs arrive in time order over SPAN_DAYS, with jitter, like a real history.
        span = SPAN_DAYS * 86_400_000
        start = END_MS - span + (index * span) // max(self.total_runs, 1)
        start += rng.randrange(0, max(span // max(self.total_runs, 1), 1000))
        roll = rng.random()
        if roll < FAIL_RATE:
            status = "error"
        elif roll < FAIL_RATE + 0.01:
            status = "running"
        elif roll < FAIL_RATE + 0.02:
            status = "cancelled"
        else:
            status = "success"
        failing = rng.randrange(node_count) if status == "error" else None
        running_from = rng.randrange(1, node_count) if status == "running" else None
        run_id = f"{rng.getrandbits(128):032x}"
        run_id = f"{run_id[:8]}-{run_id[8:12]}-{run_id[12:16]}-{run_id[16:20]}-{run_id[20:]}"

        node_reports = []
        clock = start
        for position in range(node_count):
            node_status = "success"
            if failing is not None:
                node_status = (
                    "error"
                    if position == failing
                    else ("success" if position < failing else "skipped")
                )
            elif running_from is not None:
                node_status = (
                    "success"
                    if position < running_from
                    else ("running" if position == running_from else "pending")
                )
            node_reports.append(self._node(rng, position, node_status, clock, payloads))
            clock += node_reports[-1].get("durationMs", 0) + rng.randrange(1, 30)

        report: dict[str, Any] = {
            "id": run_id,
            "workflowId": workflow,
            "workflowName": self.workflow_names[workflow],
            "workflowVersion": f"1.{rng.randrange(12)}",
            "projectId": self.project_of[workflow],
            "userId": rng.choice(self.user_ids),
            "status": status,
            "startedAt": iso(start),
            "trigger": {
                "type": rng.choice(_TRIGGERS),
                "data": {"source": rng.choice(_WORDS), "requestId": rng.randrange(10**9)},
            },
            "params": {"batchSize": rng.choice((10, 50, 100)), "dryRun": rng.random() < 0.1},
            "tags": {"env": rng.choice(_ENVS), "team": rng.choice(_TEAMS)},
            "metadata": {"host": f"worker-{rng.randrange(16)}", "python": "3.12.3"},
            "nodeExecutions": node_reports,
        }
        if status != "running":
            report["completedAt"] = iso(clock)
            report["durationMs"] = clock - start
        if status == "error" and failing is not None:
            failed = node_reports[failing]["error"]
            report["error"] = {
                "message": failed["message"],
                "stack": failed["stack"],
                "nodeId": node_reports[failing]["nodeId"],
            }
        if payloads:
            report["output"] = {"processed": rng.randrange(1000), "ok": status == "success"}
            report["logs"] = [
                {
                    "level": level,
                    "message": self._sentence(rng, 60),
                    "timestamp": iso(start + i * 10),
                    "nodeId": node_reports[min(i * 3, node_count - 1)]["nodeId"],
                }
                for i, level in enumerate(("info", "info", "warn" if status == "error" else "info"))
            ]
        return report

    def _node(
        self, rng: random.Random, position: int, status: str, clock: int, payloads: bool
    ) -> dict[str, Any]:
        node_type = _NODE_TYPES[position % len(_NODE_TYPES)]
        node: dict[str, Any] = {
            "nodeId": f"n{position:02d}-{node_type}",
            "nodeName": f"{_WORDS[position * 5 % 40].title()} {_WORDS[position * 11 % 40]}",
            "nodeType": node_type,
            "status": status,
        }
        if status in ("pending", "skipped"):
            return node
        duration = int(rng.lognormvariate(5.5, 1.2))
        node["startedAt"] = iso(clock)
        if status != "running":
            node["completedAt"] = iso(clock + duration)
            node["durationMs"] = duration
        node["group"] = position // 3
        if payloads:
            node["input"] = self._payload(rng, 300)
            if status == "success":
                node["output"] = self._payload(rng, 700)
        if status == "error":
            kind, template = rng.choice(_ERRORS)
            message = f"{kind}: " + template.format(n=rng.randrange(1000), id=rng.randrange(10**6))
            node["error"] = {"message": message, "stack": self._stack(rng, kind, message)}
        if position % 2 == 0:  # LLM fields on half the nodes
            prompt_tokens, completion_tokens = rng.randrange(50, 2000), rng.randrange(10, 600)
            llm: dict[str, Any] = {
                "model": rng.choice(_MODELS),
                "promptTokens": prompt_tokens,
                "completionTokens": completion_tokens,
                "totalTokens": prompt_tokens + completion_tokens,
                "costUsd": round((prompt_tokens * 0.15 + completion_tokens * 0.6) / 1e6, 8),
                "finishReason": "stop",
            }
            if payloads:
                llm["prompt"] = [
                    {"role": "system", "content": self._sentence(rng, 80)},
                    {"role": "user", "content": self._sentence(rng, 160)},
                ]
                llm["response"] = self._sentence(rng, 200)
            node["llm"] = llm
        return node

    def _sentence(self, rng: random.Random, size: int) -> str:
        words: list[str] = []
        length = -1
        target = int(size * rng.uniform(0.7, 1.3))
        while length < target:
            word = rng.choice(_WORDS) if rng.random() < 0.85 else str(rng.randrange(10**6))
            words.append(word)
            length += len(word) + 1
        return " ".join(words).capitalize() + "."

    def _payload(self, rng: random.Random, size: int) -> dict[str, Any]:
        """A JSON object of about `size` bytes: ids, numbers, flags, a list and text."""
        payload: dict[str, Any] = {
            "id": f"{rng.getrandbits(64):016x}",
            "customerId": f"cus_{rng.randrange(10**8):08d}",
            "amount": round(rng.uniform(1, 5000), 2),
            "currency": rng.choice(("EUR", "USD", "GBP")),
            "approved": rng.random() < 0.7,
            "items": [
                {"sku": f"SKU-{rng.randrange(10**5):05d}", "qty": rng.randrange(1, 9)}
                for _ in range(rng.randrange(1, 4))
            ],
        }
        used = len(json.dumps(payload, separators=(",", ":")))
        payload["text"] = self._sentence(rng, max(size - used - 10, 20))
        return payload

    def _stack(self, rng: random.Random, kind: str, message: str) -> str:
        """A Python traceback of about 1 KB."""
        frames = []
        for depth in range(rng.randrange(5, 8)):
            module = rng.choice(("workflow", "nodes", "clients", "parsing", "llm_client"))
            line = rng.randrange(10, 900)
            function = f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}"
            frames.append(
                f'  File "/srv/app/{module}/{rng.choice(_WORDS)}.py", line {line}, in {function}\n'
                f"    result = {function}({rng.choice(_WORDS)}, timeout={depth * 5 + 5})\n"
            )
        return "Traceback (most recent call last):\n" + "".join(frames) + message

    # -- records --------------------------------------------------------------------
    def record(self, index: int, nodes: int | None = None, payloads: bool = True) -> RunRecord:
        return to_record(self.report(index, nodes, payloads))


def _node_record(node: dict[str, Any], attempt: int) -> NodeRecord:
    started = _ms(node["startedAt"]) if "startedAt" in node else None
    completed = _ms(node["completedAt"]) if "completedAt" in node else None
    error = node.get("error")
    llm = node.get("llm")
    return NodeRecord(
        node_id=node["nodeId"],
        status=Status(node["status"]),
        node_name=node["nodeName"],
        node_type=node["nodeType"],
        started_at=started,
        completed_at=completed,
        duration_ms=node.get("durationMs"),
        input_json=_dumps(node["input"]) if "input" in node else None,
        output_json=_dumps(node["output"]) if "output" in node else None,
        error_message=error["message"] if error else None,
        error_stack=error["stack"] if error else None,
        attempt=attempt,
        group=node.get("group"),
        llm=None
        if llm is None
        else LlmRecord(
            model=llm["model"],
            prompt_json=_dumps(llm["prompt"]) if "prompt" in llm else None,
            response_json=_dumps(llm["response"]) if "response" in llm else None,
            prompt_tokens=llm["promptTokens"],
            completion_tokens=llm["completionTokens"],
            total_tokens=llm["totalTokens"],
            cost_usd=llm["costUsd"],
            finish_reason=llm["finishReason"],
        ),
    )


def to_record(report: dict[str, Any]) -> RunRecord:
    """The RunRecord `app.ingest.report.decode_report` makes of a generated report, built
    without validation (generated reports are valid by construction)."""
    error = report.get("error")
    trigger = report["trigger"]
    started = _ms(report["startedAt"])
    return RunRecord(
        id=report["id"],
        workflow_id=report["workflowId"],
        workflow_name=report["workflowName"],
        status=Status(report["status"]),
        started_at=started,
        completed_at=_ms(report["completedAt"]) if "completedAt" in report else None,
        duration_ms=report.get("durationMs"),
        trigger_type=trigger["type"],
        trigger_json=_dumps(trigger["data"]),
        error_message=error["message"] if error else None,
        error_stack=error["stack"] if error else None,
        error_node_id=error["nodeId"] if error else None,
        workflow_version=report["workflowVersion"],
        project_id=report["projectId"],
        user_id=report["userId"],
        params_json=_dumps(report["params"]),
        output_json=_dumps(report["output"]) if "output" in report else None,
        metadata_json=_dumps(report["metadata"]),
        tags=tuple(sorted(report["tags"].items())),
        nodes=tuple(_node_record(node, 1) for node in report["nodeExecutions"]),
        logs=tuple(
            LogRecord(
                sequence=i,
                level=log["level"],
                message=log["message"],
                timestamp=_ms(log["timestamp"]),
                node_id=log["nodeId"],
            )
            for i, log in enumerate(report.get("logs", ()))
        ),
    )


def report_bytes(report: dict[str, Any]) -> int:
    """Size of the report as the reporter sends it (compact JSON, UTF-8)."""
    return len(json.dumps(report, ensure_ascii=False, separators=(",", ":")).encode())
