"""The example report shown in the empty window and in the README, in one place."""

from __future__ import annotations

# Kept as the literal text users see, so it is laid out for reading, not for line length.
EXAMPLE_REPORT = """{"id": "run-1", "workflowId": "invoice-triage", "workflowName": "Invoice triage",
       "status": "error", "startedAt": "2026-01-05T09:30:00Z", "durationMs": 1840,
       "nodeExecutions": [
         {"nodeId": "fetch", "nodeName": "Fetch invoice", "nodeType": "http",
          "status": "success", "durationMs": 420, "input": {"invoiceId": 42},
          "output": {"total": "19.99", "currency": "EUR"}},
         {"nodeId": "parse", "nodeName": "Parse total", "nodeType": "code",
          "status": "error", "durationMs": 12, "input": {"total": "19.99"},
          "error": {"message": "ValueError: could not convert string to float",
                    "stack": "Traceback (most recent call last):\\n  File \\"parse.py\\", line 3\\nValueError"}}]}"""


def curl_example(base_url: str) -> str:
    return (
        f"curl -X POST {base_url}/api/executions \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d '{EXAMPLE_REPORT}'"
    )


def python_example(base_url: str) -> str:
    """Ten lines a workflow author can paste: one run, one good node, one failing node."""
    return f"""from app.reporter import Reporter  # or copy app/reporter.py next to your script

reporter = Reporter("{base_url}")

with reporter.run("invoice-triage", name="Invoice triage", trigger="manual") as run:
    with run.node("fetch", name="Fetch invoice", type="http", input={{"invoiceId": 42}}) as node:
        node.output = {{"total": "19,99", "currency": "EUR"}}
    with run.node("parse", name="Parse total", type="code", input=node.output) as node:
        node.output = float(node.output["total"])  # ValueError: stored as a failed run
"""
