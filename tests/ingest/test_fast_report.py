"""The msgspec fast path gives exactly pydantic's records, or leaves the body to pydantic."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ingest.fast_report import MAX_PAYLOAD_DEPTH, decode_reports_fast
from app.ingest.openapi import openapi_document
from app.ingest.report import ReportError, decode_reports, is_batch
from tests.benchmarks.generator import RunGenerator
from tests.conftest import make_report
from tests.reliability.schema_strategies import from_schema, json_paths, json_values, replaced_at

CHECKS = settings(
    max_examples=int(os.environ.get("HINDSIGHT_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=not os.environ.get("HINDSIGHT_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _agree(body: bytes) -> bool:
    """Both decoders on one body: the fast one declines or gives pydantic's very records
    (and declines whatever pydantic refuses). True when the fast path took it."""
    fast = decode_reports_fast(body, is_batch(body))
    try:
        slow = decode_reports(body)
    except ReportError:
        assert fast is None, "the fast path accepted a body pydantic refuses"
        return False
    if fast is None:
        return False
    assert fast == slow
    return True


def _body(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def test_benchmark_and_reporter_shaped_reports_take_the_fast_path() -> None:
    generator = RunGenerator(total_runs=500)
    reports = [generator.report(i) for i in range(0, 500, 5)]
    for report in reports:
        assert _agree(_body(report))
    assert _agree(_body(reports[:50]))  # a batch
    assert _agree(_body(make_report("plain")))
    naive = make_report("naive", startedAt="2026-11-22T09:00:00.5")  # utcnow() style
    assert _agree(_body(naive))


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda r: r.update(workflow_id=r.pop("workflowId")), "snake_case field name"),
        (lambda r: r["nodeExecutions"][0].update(node_name="x"), "snake_case nested"),
        (lambda r: r.update(newerReporterField=1), "unknown field"),
        (lambda r: r.update(status="SUCCEEDED"), "status alias"),
        (lambda r: r.update(startedAt="2026-11-22T09:00:00.1234567Z"), "sub-microsecond"),
        (lambda r: r.update(startedAt="2026-11-22T09:00Z"), "no seconds"),
        (lambda r: r.update(startedAt="2026-11-22T09:00:00+00:60"), "offset minute 60"),
        (lambda r: r.update(startedAt=1_763_800_000), "epoch number"),
        (lambda r: r.update(startedAt="9999-12-31T23:00:00-00:30"), "past year 9999 in UTC"),
        (lambda r: r.update(workflowVersion=3), "number as version"),
        (lambda r: r.update(tags={"build": 7}), "number as tag value"),
        (lambda r: r.update(durationMs=5.0), "float as integer"),
        (lambda r: r["nodeExecutions"][-1].update(nodeId="fetch"), "repeated attempt"),
    ],
)
def test_what_only_pydantic_reads_or_refuses_is_left_to_it(change: Any, why: str) -> None:
    report = make_report("edge")
    report["nodeExecutions"].append(dict(report["nodeExecutions"][0], nodeId="other", attempt=1))
    assert _agree(_body(report)), "the unchanged report takes the fast path"
    change(report)
    assert not _agree(_body(report)), why


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": [value]}
    return value


@pytest.mark.parametrize("levels", [5, MAX_PAYLOAD_DEPTH // 2, MAX_PAYLOAD_DEPTH + 2, 199, 260])
def test_deep_payloads_stay_within_pydantics_limit(levels: int) -> None:
    report = make_report("deep")
    report["nodeExecutions"][0]["input"] = _nested(levels // 2)  # two levels per step
    report["nodeExecutions"][0]["output"] = {"note": "brackets [ { in text } ] do not count"}
    took = _agree(_body(report))
    assert took == (levels // 2 * 2 <= MAX_PAYLOAD_DEPTH)


def test_many_shallow_containers_take_the_fast_path() -> None:
    report = make_report("wide")
    report["nodeExecutions"][0]["output"] = [{"row": i, "cells": [i, [i]]} for i in range(500)]
    assert _agree(_body(report))


def test_reports_drawn_from_the_schema() -> None:
    components = openapi_document()["components"]["schemas"]

    @CHECKS
    @given(body=from_schema(components["ExecutionReportBody"], components))
    def check(body: Any) -> None:
        _agree(_body(body))

    check()


_EDGES = st.sampled_from(
    [
        2**63,
        -(2**63) - 1,
        10**400,
        -1,
        0,
        1e308,
        1.5,
        "",
        "\x00",
        "\ud800",
        "success",
        "info",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59",
        "2026-02-30T00:00:00Z",
        "2026-11-22T09:00:00+00:60",
        "2026-11-22T09:00:00-00:00",
        "2026-11-22 09:00:00",
        "2026-11-22T09:00:00.000001+23:59",
        "2026-11-22T24:00:00Z",
        "NaN",
        '[{"role": "user", "content": NaN}]',
        '{"a": [1, 2]}',
    ]
)


def test_edge_values_anywhere_in_a_report() -> None:
    template = make_report("mutant")
    paths = json_paths(template)

    @CHECKS
    @given(path=st.sampled_from(paths), value=json_values | _EDGES | st.integers())
    def check(path: tuple[Any, ...], value: Any) -> None:
        _agree(_body(replaced_at(template, path, value)))

    check()


def test_corrupted_bytes() -> None:
    valid = _body(make_report("bytes"))

    @CHECKS
    @given(
        position=st.integers(min_value=0, max_value=len(valid)),
        junk=st.binary(min_size=1, max_size=6)
        | st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\\ud800", b"\\", b'"', b"[", b"{"]),
    )
    def check(position: int, junk: bytes) -> None:
        _agree(valid[:position] + junk + valid[position:])

    check()
