"""Hostile input (issue 7, test 4): property-based fuzzing of every route and method.

Bodies come from the receiver's own OpenAPI schemas (valid, but at their edges), from
mutations of valid reports (wrong types, truncation, invalid UTF-8) and from a fixed corpus
of classic attacks (100,000-deep nesting, huge strings, NaN, duplicate keys, out-of-range
numbers and dates). Whatever arrives, the answer is one of ALLOWED, in JSON, in time; the
receiver logs no unexpected error and leaves no thread behind; a 2xx run reads back.

CI runs a fixed, bounded set of examples (derandomized). Explore further with
HINDSIGHT_FUZZ_EXAMPLES=2000 HINDSIGHT_FUZZ_RANDOM=1.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.ingest.openapi import openapi_document
from app.ingest.server import ROUTES
from tests.conftest import make_report
from tests.ingest.test_steps import step
from tests.reliability.schema_strategies import from_schema, json_paths, json_values, replaced_at

pytestmark = pytest.mark.reliability

ALLOWED = {200, 201, 400, 404, 405, 413, 415}
REQUEST_TIMEOUT = 15.0  # a hang fails the test instead of stalling it

FUZZ = settings(
    max_examples=int(os.environ.get("HINDSIGHT_FUZZ_EXAMPLES", "60")),
    deadline=None,
    derandomize=not os.environ.get("HINDSIGHT_FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

_COMPONENTS = openapi_document()["components"]["schemas"]
_BODY_SCHEMAS = {
    "/api/executions": "ExecutionReportBody",
    "/api/executions/{id}/nodes": "NodeExecutionBody",
    "/api/executions/{id}/logs": "LogEntryBody",
    "/api/steps": "StepExecutionBody",
}
ANSWERS: Counter[int] = Counter()  # status -> count, printed per test (-s)
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "BREW")


@pytest.fixture
def receiver(ingest: Any, caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    """The in-process receiver; afterwards: nothing logged at ERROR, connection threads gone."""
    caplog.set_level(logging.ERROR, logger="app")
    threads_before = threading.active_count()
    ANSWERS.clear()
    yield ingest
    print(
        f"\nhostile input: {sum(ANSWERS.values())} requests, "
        f"answers {dict(sorted(ANSWERS.items()))}"
    )
    read_everything_back(ingest)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors
    # Each request closed its connection, so every handler thread must end.
    deadline = time.monotonic() + 10
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= threads_before, [t.name for t in threading.enumerate()]


def send(
    service: Any,
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One request on a fresh connection; the answer must be allowed and JSON."""
    port = service.receiver.port
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(
            method,
            path,
            body=body,
            headers={"Host": f"127.0.0.1:{port}", "Content-Type": content_type, **(headers or {})},
        )
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    ANSWERS[response.status] += 1
    assert response.status in ALLOWED, (method, path[:200], response.status, raw[:500], body[:300])
    payload = json.loads(raw) if raw else None
    if response.status >= 400 and method != "HEAD":
        assert isinstance(payload["error"], str) and payload["error"]
    return response.status, payload


def read_everything_back(service: Any) -> None:
    """Whatever was accepted stays readable: every list, the statistics and every run."""
    for path in ("/api/workflows", "/api/stats"):
        assert send(service, "GET", path)[0] == 200
    cursor = ""
    while True:
        status, page = send(service, "GET", f"/api/executions?limit=500{cursor}")
        assert status == 200
        for item in page["items"]:
            assert_reads_back(service, item["id"])
        if not page["nextCursor"]:
            return
        cursor = f"&cursor={quote(page['nextCursor'])}"


def assert_reads_back(service: Any, run_id: str) -> None:
    status, payload = send(service, "GET", f"/api/executions/{quote(run_id, safe='')}")
    assert status == 200 and payload["id"] == run_id


def _encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


run_ids = st.text(min_size=1, max_size=40)


# -- bodies from the schema ---------------------------------------------------------------
def test_schema_bodies_on_every_post_route(receiver: Any) -> None:
    assert send(receiver, "POST", "/api/executions", _encode(make_report("known")))[0] == 201

    @FUZZ
    @given(data=st.data(), route=st.sampled_from(sorted(_BODY_SCHEMAS)))
    def check(data: st.DataObject, route: str) -> None:
        body = data.draw(from_schema(_COMPONENTS[_BODY_SCHEMAS[route]], _COMPONENTS))
        run_id = data.draw(st.just("known") | run_ids)
        path = route.replace("{id}", quote(run_id, safe=""))
        status, payload = send(receiver, "POST", path, _encode(body))
        if route == "/api/executions" and status == 201:
            for stored in payload.get("ids", [payload.get("id")]):
                assert_reads_back(receiver, stored)

    check()


# -- mutations of a valid report ----------------------------------------------------------


_TEMPLATE = make_report("mutant")
_TEMPLATE_PATHS = json_paths(_TEMPLATE)
hostile_values = (
    json_values
    | st.sampled_from(
        [
            2**63,
            -(2**63) - 1,
            10**400,
            -1,
            1e308,
            "",
            "\x00",
            "\ud800",
            "0000-00-00T00:00:00Z",
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "10000-01-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "<script>alert(1)</script>",
            "\u202e\u0000\x1b[31m",
        ]
    )
    | st.integers(min_value=-(2**80), max_value=2**80)
)


def test_wrong_types_and_edge_values_anywhere_in_a_report(receiver: Any) -> None:
    @FUZZ
    @given(
        path=st.sampled_from(_TEMPLATE_PATHS),
        value=hostile_values,
        suffix=st.integers(min_value=0, max_value=10**6),
    )
    def check(path: tuple[Any, ...], value: Any, suffix: int) -> None:
        report = replaced_at(_TEMPLATE, path, value)
        if path != ("id",):
            report["id"] = f"mutant-{suffix}"
        status, payload = send(receiver, "POST", "/api/executions", _encode(report))
        if status == 201:
            assert_reads_back(receiver, payload["id"])

    check()


def test_truncated_and_corrupted_bytes(receiver: Any) -> None:
    valid = json.dumps(make_report("bytes")).encode()

    @FUZZ
    @given(
        cut=st.integers(min_value=0, max_value=len(valid) - 1),
        position=st.integers(min_value=0, max_value=len(valid)),
        junk=st.binary(min_size=1, max_size=8)
        | st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf"]),
        mode=st.sampled_from(["truncate", "insert", "replace"]),
    )
    def check(cut: int, position: int, junk: bytes, mode: str) -> None:
        if mode == "truncate":
            body = valid[:cut]
        elif mode == "insert":
            body = valid[:position] + junk + valid[position:]
        else:
            body = valid[:position] + junk + valid[position + len(junk) :]
        send(receiver, "POST", "/api/executions", body)

    check()


# -- every route and method ---------------------------------------------------------------
queries = st.lists(
    st.tuples(
        st.sampled_from(
            ["limit", "cursor", "since", "until", "status", "q", "workflowId", "x", ""]
        ),
        st.text(max_size=30) | st.sampled_from(["-1", "0", "99999999999999999999", "NaN"]),
    ),
    max_size=4,
).map(lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs))


def test_every_route_and_method_with_any_body(receiver: Any) -> None:
    templates = [*ROUTES, "/api", "/", "/api/executions/x/y/z", "/api/unknown"]

    @FUZZ
    @given(
        method=st.sampled_from(METHODS),
        template=st.sampled_from(templates),
        run_id=run_ids,
        query=queries,
        body=json_values.map(_encode) | st.binary(max_size=64),
        content_type=st.sampled_from(
            ["application/json", "application/json; charset=utf-8", "text/plain", "", "a/b;;"]
        ),
    )
    def check(
        method: str, template: str, run_id: str, query: str, body: bytes, content_type: str
    ) -> None:
        path = template.replace("{id}", quote(run_id, safe=""))
        send(receiver, method, f"{path}?{query}" if query else path, body, content_type)

    check()


def test_wrong_token_is_401_never_500(receiver: Any) -> None:
    @FUZZ
    @given(authorization=st.text(max_size=60).filter(lambda s: s.isprintable() and s.isascii()))
    def check(authorization: str) -> None:
        status, _ = send(
            receiver,
            "POST",
            "/api/executions",
            _encode(make_report("tok")),
            headers={"Authorization": f"Bearer x{authorization}"},
        )
        assert status == 401 if authorization.strip() else status in (201, 401)

    # 401 only when a token is set; the in-process receiver has one from its token file.
    ALLOWED.add(401)
    try:
        check()
    finally:
        ALLOWED.discard(401)


# -- the fixed corpus -----------------------------------------------------------------------
DEEP = 100_000
_REPORT_TEXT = json.dumps(make_report("corpus"))


def _with_field(name: str, raw: str) -> bytes:
    """The valid report with one field's JSON text replaced by `raw` (any bytes of JSON)."""
    return (_REPORT_TEXT[:-1] + f', "{name}": {raw}}}').encode()


CORPUS: dict[str, bytes] = {
    "deep array": ("[" * DEEP + "]" * DEEP).encode(),
    "deep object": ('{"a":' * DEEP + "1" + "}" * DEEP).encode(),
    "deep trigger data": _with_field("metadata", "[" * DEEP + "]" * DEEP),
    "NaN": _with_field("output", "NaN"),
    "Infinity": _with_field("output", "Infinity"),
    "-Infinity": _with_field("exitCode", "-Infinity"),
    "1e999": _with_field("output", "1e999"),
    "duplicate id": _with_field("id", '"other"'),
    "duplicate with wrong type": _with_field("startedAt", "5"),
    "exit code 2**63": _with_field("exitCode", str(2**63)),
    "exit code -2**63-1": _with_field("exitCode", str(-(2**63) - 1)),
    "duration 10**400": _with_field("durationMs", "1" + "0" * 400),
    "started year 10000": _with_field("startedAt", '"10000-01-01T00:00:00Z"'),
    "started year 0": _with_field("startedAt", '"0000-01-01T00:00:00Z"'),
    "started unix 1e20": _with_field("startedAt", "1e20"),
    "completed before year 1 in UTC": _with_field("completedAt", '"0001-01-01T00:00:00+01:00"'),
    "started after 9999 in UTC": _with_field("startedAt", '"9999-12-31T23:59:59-23:59"'),
    "lone surrogate": _with_field("workflowName", '"\\ud800"'),
    "NUL in id": _with_field("id", '"a\\u0000b"'),
    "huge string": _with_field("workflowName", json.dumps("x" * 8_000_000)),
    "many nodes": _with_field(
        "nodeExecutions",
        json.dumps([{"nodeId": f"n{i}", "status": "success"} for i in range(50_000)]),
    ),
    "batch of 1001": json.dumps([make_report(f"b{i}") for i in range(1001)]).encode(),
    "empty batch": b"[]",
    "BOM": b"\xef\xbb\xbf" + _REPORT_TEXT.encode(),
    "UTF-16": _REPORT_TEXT.encode("utf-16"),
    "empty": b"",
    "null": b"null",
    "whitespace": b" \n\t ",
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus(receiver: Any, name: str) -> None:
    body = CORPUS[name]
    status, payload = send(receiver, "POST", "/api/executions", body)
    if status == 201:
        assert_reads_back(receiver, payload["id"])
    for route in ("/api/executions/corpus/nodes", "/api/executions/corpus/logs", "/api/steps"):
        send(receiver, "POST", route, body)


# Found by the fuzzing above: these were stored and then failed (500) on write or read-back.
@pytest.mark.parametrize(
    ("field", "raw", "path"),
    [
        ("exitCode", str(2**63), "exitCode"),
        ("exitCode", str(-(2**63) - 1), "exitCode"),
        ("durationMs", "1" + "0" * 400, "durationMs"),
        ("startedAt", '"9999-12-31T23:59:59-23:59"', "startedAt"),
        ("completedAt", '"0001-01-01T00:00:00+01:00"', "completedAt"),
        (
            "nodeExecutions",
            '[{"nodeId": "n", "status": "success", "attempt": 9223372036854775808}]',
            "nodeExecutions[0].attempt",
        ),
        (
            "logs",
            '[{"message": "m", "timestamp": "0001-01-01T00:00:00+00:01"}]',
            "logs[0].timestamp",
        ),
    ],
)
def test_out_of_range_numbers_and_dates_are_400_naming_the_field(
    receiver: Any, field: str, raw: str, path: str
) -> None:
    status, payload = send(receiver, "POST", "/api/executions", _with_field(field, raw))
    assert status == 400
    assert [detail["path"] for detail in payload["details"]] == [path]


def test_the_highest_sequence_and_attempt_leave_room_to_count_on(receiver: Any) -> None:
    # Found by fuzzing: a log line numbered 2**63 - 1 was stored, and the next line without a
    # number (highest + 1) failed with 500 at the database; the same for a node's attempt.
    assert send(receiver, "POST", "/api/executions", _encode(make_report("r")))[0] == 201
    too_high = [{"message": "numbered", "sequence": 2**63 - 1}]
    status, payload = send(receiver, "POST", "/api/executions/r/logs", _encode(too_high))
    assert status == 400 and payload["details"][0]["path"] == "[0].sequence"
    highest = [{"message": "numbered", "sequence": 2**53 - 1}, {"message": "next"}]
    assert send(receiver, "POST", "/api/executions/r/logs", _encode(highest))[0] == 200
    nodes = [
        {"nodeId": "n", "status": "success", "attempt": 2**53},
        {"nodeId": "n", "status": "success"},
    ]
    report = make_report("attempts", nodeExecutions=nodes)
    status, payload = send(receiver, "POST", "/api/executions", _encode(report))
    assert status == 400 and payload["details"][0]["path"] == "nodeExecutions[0].attempt"


def test_a_step_ending_after_year_9999_is_400(receiver: Any) -> None:
    # Found by fuzzing: stored, then GET /api/executions and /api/workflows answered 500.
    body = step("s", "9999-12-31T23:00:00Z", durationMs=10**12)
    status, payload = send(receiver, "POST", "/api/steps", _encode(body))
    assert status == 400 and "durationMs" in payload["details"][0]["message"]
