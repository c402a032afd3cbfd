"""The benchmark generator makes what issue 3 describes, and its records are exactly what
the receiver would store for its reports (so the benchmarks measure real data)."""

from __future__ import annotations

import json
import statistics

from app.ingest.report import decode_reports
from tests.benchmarks.generator import RunGenerator, report_bytes


def test_records_match_the_receivers_decoding() -> None:
    generator = RunGenerator(total_runs=1000)
    indices = range(0, 1000, 7)
    reports = [generator.report(i) for i in indices]
    reports += [generator.report(5, nodes=20), generator.report(9, payloads=False)]
    decoded = decode_reports(json.dumps(reports).encode())
    built = [generator.record(i) for i in indices]
    built += [generator.record(5, nodes=20), generator.record(9, payloads=False)]
    assert decoded == built


def test_same_seed_same_runs_and_realistic_shape() -> None:
    generator = RunGenerator(total_runs=2000)
    assert generator.report(17) == RunGenerator(total_runs=2000).report(17)
    assert generator.report(17) != RunGenerator(seed=4, total_runs=2000).report(17)
    reports = [generator.report(i) for i in range(2000)]
    assert all(len(r["nodeExecutions"]) == 10 for r in reports)
    inputs = [
        len(json.dumps(n["input"])) for r in reports for n in r["nodeExecutions"] if "input" in n
    ]
    outputs = [
        len(json.dumps(n["output"])) for r in reports for n in r["nodeExecutions"] if "output" in n
    ]
    assert 250 <= statistics.mean(inputs) <= 350
    assert 600 <= statistics.mean(outputs) <= 800
    failed = [r for r in reports if r["status"] == "error"]
    assert 0.035 <= len(failed) / len(reports) <= 0.065
    stacks = [len(r["error"]["stack"]) for r in failed]
    assert 700 <= statistics.mean(stacks) <= 1400
    nodes = [n for r in reports for n in r["nodeExecutions"]]
    assert 0.45 <= sum("llm" in n for n in nodes) / len(nodes) <= 0.5  # not on skipped nodes
    assert len({r["workflowId"] for r in reports}) >= 20
    assert len({r["projectId"] for r in reports}) >= 5
    starts = sorted(r["startedAt"] for r in reports)
    assert starts[0][:7] != starts[-1][:7]  # spread over months
    assert 8_000 <= statistics.mean(report_bytes(r) for r in reports) <= 30_000
