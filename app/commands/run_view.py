"""`runs show` for people: what ran, what failed, why, and with what input."""

from __future__ import annotations

import json
from typing import Any

from app.commands import output
from app.sizes import byte_size
from app.store import queries
from app.store.records import NodeSummary, RunDetail
from app.store.status import Status

# Payloads can be huge; the terminal gets the start, `--json` gets everything.
MAX_PAYLOAD_LINES = 40
MAX_LOGS = 20


def _pretty(json_text: str | None) -> str:
    if json_text is None:
        return "(not reported)"
    value: Any = json.loads(json_text)
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    lines = text.splitlines() or [""]
    if len(lines) > MAX_PAYLOAD_LINES:
        hidden = len(lines) - MAX_PAYLOAD_LINES
        lines = [*lines[:MAX_PAYLOAD_LINES], f"... {hidden} more lines (--json shows all)"]
    return "\n".join(lines)


def _header(detail: RunDetail) -> list[str]:
    run = detail.summary
    name = run.workflow_name or run.workflow_id
    workflow = name if name == run.workflow_id else f"{name} ({run.workflow_id})"
    lines = [
        f"Run {run.id}",
        f"  workflow   {workflow}",
        f"  status     {run.status.value.upper()}",
        *(
            f"  why        {change.reason} "
            f"(marked {output.local_time(change.at)}; last reported: {change.from_status})"
            for change in detail.status_changes
        ),
        f"  started    {output.local_time(run.started_at)}",
        f"  duration   {output.run_duration(run)}",
        f"  nodes      {run.node_count}",
    ]
    if detail.trigger_type:
        lines.append(f"  trigger    {detail.trigger_type}")
    if run.project_id:
        lines.append(f"  project    {run.project_id}")
    if detail.workflow_version:
        lines.append(f"  version    {detail.workflow_version}")
    if detail.tags:
        tags = ", ".join(f"{k}={v}" if v else k for k, v in detail.tags)
        lines.append(f"  tags       {tags}")
    if run.total_tokens is not None or run.cost_usd is not None:
        lines.append(
            f"  LLM        {output.count(run.total_tokens)} tokens, {output.cost(run.cost_usd)}"
        )
    if detail.params_json is not None:
        lines.append(f"  params     {output.clip(detail.params_json, 100)}")
    return lines


def _nodes_table(nodes: tuple[NodeSummary, ...]) -> str:
    rows = []
    for node in nodes:
        llm = ""
        if node.llm_model or node.total_tokens is not None:
            llm = f"{node.llm_model or '?'} {output.count(node.total_tokens)} tok"
            if node.cost_usd is not None:
                llm += f" {output.cost(node.cost_usd)}"
        rows.append(
            [
                str(node.position + 1),
                node.label,
                node.node_type or "",
                node.status.value,
                output.duration(node.duration_ms),
                "" if node.group is None else str(node.group),
                str(node.attempt),
                llm,
            ]
        )
    headers = ("#", "NODE", "TYPE", "STATUS", "DURATION", "GROUP", "TRY", "LLM")
    return output.table(headers, rows, right=(0, 4, 6), max_widths={1: 40, 2: 16, 7: 40})


def _failure(node: NodeSummary) -> list[str]:
    payload = queries.get_node_payload(node.pk)
    lines = [
        "",
        f"Failed node: {node.label} ({node.node_id}), attempt {node.attempt}",
        "  error:",
        output.indent(node.error_message or "(no message)"),
        "  input:",
        output.indent(_pretty(payload.input_json if payload else None)),
    ]
    stack = payload.error_stack if payload else None
    lines += ["  stack:", output.indent(stack.rstrip() if stack else "(not reported)")]
    return lines


def _run_error(detail: RunDetail) -> list[str]:
    where = f" (node {detail.error_node_id})" if detail.error_node_id else ""
    lines = [
        "",
        f"Run error{where}",
        "  error:",
        output.indent(detail.error_message or "(no message)"),
    ]
    if detail.error_stack:
        lines += ["  stack:", output.indent(detail.error_stack.rstrip())]
    return lines


def _logs(run_id: str) -> list[str]:
    logs = queries.list_logs(run_id)
    if not logs:
        return []
    shown = logs[-MAX_LOGS:]
    title = f"Logs (last {len(shown)} of {len(logs)})" if len(logs) > len(shown) else "Logs"
    lines = ["", title]
    for entry in shown:
        node = f" [{entry.node_id}]" if entry.node_id else ""
        when = output.local_time(entry.timestamp)[11:] if entry.timestamp else ""
        lines.append(f"  {when} {entry.level.upper():5}{node} {output.clip(entry.message, 200)}")
    return lines


def render_run(detail: RunDetail) -> str:
    lines = _header(detail)
    lines += ["", "Nodes"]
    if detail.nodes:
        lines.append(output.indent(_nodes_table(detail.nodes), "  "))
    else:
        lines.append("  (no nodes reported)")
    failed = [n for n in detail.nodes if n.status is Status.ERROR]
    for node in failed:
        lines += _failure(node)
    reported_on_node = any(
        n.error_message and n.error_message == detail.error_message for n in failed
    )
    if (detail.error_message or detail.error_stack) and not reported_on_node:
        lines += _run_error(detail)
    lines += _logs(detail.summary.id)
    artifacts = queries.list_artifacts(detail.summary.id)
    if artifacts:
        lines += ["", "Artifacts"]
        lines += [f"  {a.key} ({a.type}, {byte_size(a.size)})" for a in artifacts]
    return "\n".join(lines)
