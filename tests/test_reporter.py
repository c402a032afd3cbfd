"""The workflow-side reporter against the real receiver and against scripted stub receivers."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import platformdirs
import pytest
from platformdirs import macos, unix, windows

from app import reporter as hs
from app.reporter import Reporter
from app.store import queries

ROOT = Path(__file__).resolve().parents[1]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MakeReporter = Callable[..., Reporter]


@pytest.fixture(autouse=True)
def no_reporter_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HINDSIGHT_URL", "HINDSIGHT_TOKEN", "HINDSIGHT_SPOOL_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def make_reporter(spool: Path) -> Iterator[MakeReporter]:
    """Reporters that are always closed, so no sender thread outlives its test."""
    made: list[Reporter] = []

    def make(url: str, **options: Any) -> Reporter:
        options.setdefault("spool_dir", spool)
        options.setdefault("retry_seconds", 0.5)
        reporter = Reporter(url, **options)
        made.append(reporter)
        return reporter

    yield make
    for reporter in made:
        reporter.close(timeout=5)


def dead_url() -> str:
    """A loopback port where nothing listens (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def spooled(spool: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_bytes()) for path in sorted(spool.glob("*.json"))]


class Stub:
    """A receiver that records every request and answers from a script, then `default`."""

    def __init__(self, answers: list[tuple[int, dict[str, str], dict[str, Any]]]) -> None:
        self.answers = list(answers)
        self.default: tuple[int, dict[str, str], dict[str, Any]] = (201, {}, {"id": "x"})
        self.requests: list[dict[str, Any]] = []
        self.arrived = threading.Condition()
        self.gate = threading.Event()  # clear it to hold requests until the test sets it
        self.gate.set()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 5

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.arrived:
                    stub.requests.append(
                        {
                            "headers": dict(self.headers),
                            "body": body,
                            "path": self.path,
                            "client": self.client_address,
                            "at": time.monotonic(),
                        }
                    )
                    stub.arrived.notify_all()
                    answer = stub.answers.pop(0) if stub.answers else stub.default
                stub.gate.wait(10)
                status, headers, reply = answer
                payload = json.dumps(reply).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="stub-receiver"
        )
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 10) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def reports(self) -> list[dict[str, Any]]:
        with self.arrived:
            return [request["body"] for request in self.requests]

    def stop(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def stub_factory() -> Iterator[Callable[..., Stub]]:
    stubs: list[Stub] = []

    def make(*answers: tuple[int, dict[str, str], dict[str, Any]]) -> Stub:
        stubs.append(Stub(list(answers)))
        return stubs[-1]

    yield make
    for stub in stubs:
        stub.stop()


def payload(node_pk: int) -> tuple[Any, Any, str | None]:
    stored = queries.get_node_payload(node_pk)
    assert stored is not None
    node_input = None if stored.input_json is None else json.loads(stored.input_json)
    node_output = None if stored.output_json is None else json.loads(stored.output_json)
    return node_input, node_output, stored.error_stack


# -- delivery to the real receiver ------------------------------------------------------


def test_failed_run_is_stored_and_the_exception_reaches_the_caller_unchanged(
    ingest: Any, make_reporter: MakeReporter
) -> None:
    reporter = make_reporter(ingest.url)
    error = ValueError("bad total")
    run_named = reporter.run("invoice-triage", name="Invoice triage", run_id="run-1")
    with pytest.raises(ValueError) as caught, run_named as run:
        with run.node("fetch", name="Fetch", type="http", input={"invoiceId": 42}) as node:
            node.output = {"total": "19.99", "lines": [1, 2]}
        with run.node("parse", name="Parse total", type="code", input={"total": "19.99"}):
            raise error
    assert caught.value is error
    assert traceback.extract_tb(error.__traceback__)[-1].line == "raise error"
    assert reporter.flush(10)

    detail = queries.get_run("run-1")
    assert detail is not None
    assert detail.summary.status.value == "error"
    assert detail.summary.workflow_name == "Invoice triage"
    assert detail.error_message == "ValueError: bad total" and detail.error_node_id == "parse"
    assert detail.error_stack is not None and "raise error" in detail.error_stack
    fetch, parse = detail.nodes
    assert (fetch.node_id, fetch.status.value, fetch.node_type) == ("fetch", "success", "http")
    assert payload(fetch.pk)[:2] == ({"invoiceId": 42}, {"total": "19.99", "lines": [1, 2]})
    assert (parse.status.value, parse.error_message) == ("error", "ValueError: bad total")
    parse_input, parse_output, stack = payload(parse.pk)
    assert parse_input == {"total": "19.99"} and parse_output is None
    assert stack is not None and stack.startswith("Traceback") and "raise error" in stack


def test_running_is_replaced_by_the_final_state(ingest: Any, make_reporter: MakeReporter) -> None:
    reporter = make_reporter(ingest.url)
    with reporter.run("wf", run_id="run-2") as run:
        assert reporter.flush(10)
        running = queries.get_run("run-2")
        assert running is not None and running.summary.status.value == "running"
        with run.node("only"):
            pass
    assert reporter.flush(10)
    final = queries.get_run("run-2")
    assert final is not None and final.summary.status.value == "success"
    assert final.summary.node_count == 1 and queries.count_runs() == 1


def test_decorated_steps_record_arguments_and_return_value(
    ingest: Any, make_reporter: MakeReporter
) -> None:
    reporter = make_reporter(ingest.url)

    @reporter.step("add", name="Add", type="code")
    def add(a: int, b: int = 2, *more: int) -> int:
        return a + b + sum(more)

    @reporter.step()
    def explode(reason: str) -> None:
        raise RuntimeError(reason)

    assert add(1) == 3  # outside a run it is just the function
    with pytest.raises(RuntimeError) as caught, reporter.run("wf", run_id="dec") as run:
        assert add(1, b=3) == 4 and add(5, 1, 1, 1) == 8
        with run.node("manual") as node:
            node.output = "kept"
        explode("nope")
    assert str(caught.value) == "nope"
    assert reporter.flush(10)

    detail = queries.get_run("dec")
    assert detail is not None
    assert [n.node_id for n in detail.nodes] == ["add", "add", "manual", "explode"]
    assert payload(detail.nodes[0].pk)[:2] == ({"a": 1, "b": 3, "more": []}, 4)
    assert payload(detail.nodes[1].pk)[:2] == ({"a": 5, "b": 1, "more": [1, 1]}, 8)
    assert detail.nodes[3].error_message == "RuntimeError: nope"
    assert detail.error_node_id == "explode"


def test_async_steps_are_recorded(ingest: Any, make_reporter: MakeReporter) -> None:
    reporter = make_reporter(ingest.url)

    @reporter.step("fetch")
    async def fetch(invoice: int) -> dict[str, int]:
        await asyncio.sleep(0)
        return {"invoice": invoice}

    async def workflow() -> None:
        with reporter.run("wf", run_id="async"):
            assert await fetch(7) == {"invoice": 7}

    asyncio.run(workflow())
    assert reporter.flush(10)
    detail = queries.get_run("async")
    assert detail is not None and detail.nodes[0].status.value == "success"
    assert payload(detail.nodes[0].pk)[:2] == ({"invoice": 7}, {"invoice": 7})


class Opaque:
    def __repr__(self) -> str:
        return "<Opaque thing>"


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_unserialisable_values_do_not_break_the_workflow(
    ingest: Any, make_reporter: MakeReporter
) -> None:
    reporter = make_reporter(ingest.url)
    cycle: list[Any] = [1]
    cycle.append(cycle)
    odd_input = {"object": Opaque(), "set": {3}, "bytes": b"\xff"}
    with (
        reporter.run("wf", run_id="odd", params={"when": float("inf")}) as run,
        run.node("n", input=odd_input) as node,
    ):
        node.output = [float("nan"), float("-inf"), cycle, {(1, 2): BrokenRepr()}]
    assert reporter.flush(10)

    detail = queries.get_run("odd")
    assert detail is not None and detail.summary.status.value == "success"
    node_input, node_output, _ = payload(detail.nodes[0].pk)
    assert node_input == {"object": "<Opaque thing>", "set": [3], "bytes": "b'\\xff'"}
    assert node_output == [
        "NaN",
        "-Infinity",
        [1, "<circular reference>"],
        {"(1, 2)": "<unrepresentable BrokenRepr>"},
    ]


def test_encoding_never_emits_nan_and_keeps_common_types_readable() -> None:
    import dataclasses
    import datetime as dt

    @dataclasses.dataclass
    class Point:
        x: float
        y: float

    def reject(constant: str) -> None:
        raise AssertionError(f"{constant} was sent")

    encoded = hs._encode({"p": Point(1.0, float("nan")), "at": dt.date(2026, 1, 5), "n": 1e400})
    assert json.loads(encoded, parse_constant=reject) == {
        "p": {"x": 1.0, "y": "NaN"},
        "at": "2026-01-05",
        "n": "Infinity",
    }
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    assert b"nested too deep" in hs._encode({"deep": deep})


def test_run_ids_are_uuid7_ordered_by_start_time(
    stub_factory: Callable[..., Stub], make_reporter: MakeReporter
) -> None:
    import uuid

    stub = stub_factory()
    rep = make_reporter(url=stub.url)
    before_ms = time.time_ns() // 1_000_000
    ids = []
    for _ in range(3):
        with rep.run("ordered") as run:
            ids.append(run.id)
        started_ms = time.time_ns() // 1_000_000
        while time.time_ns() // 1_000_000 == started_ms:  # ids of one millisecond are unordered
            pass
    after_ms = time.time_ns() // 1_000_000
    assert rep.flush(5)
    parsed = [uuid.UUID(run_id) for run_id in ids]
    assert [(u.version, u.variant) for u in parsed] == [(7, uuid.RFC_4122)] * 3
    assert all(before_ms <= u.int >> 80 <= after_ms for u in parsed)  # 48-bit ms prefix
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert {r["id"] for r in stub.reports()} == set(ids)


# -- receiver down, spool, replay -------------------------------------------------------


def test_unreachable_receiver_spools_then_a_later_reporter_delivers_each_run_once(
    ingest: Any, make_reporter: MakeReporter, spool: Path
) -> None:
    offline = make_reporter(dead_url(), retry_seconds=0.2)
    for number in range(3):
        with (
            offline.run("wf", run_id=f"offline/{number}") as run,
            run.node("double", input=number) as node,
        ):
            node.output = number * 2
    assert offline.flush(10)
    offline.close()

    assert {path.suffix for path in spool.iterdir()} == {".json"}  # no temp files left over
    reports = spooled(spool)
    assert sorted(r["id"] for r in reports) == ["offline/0", "offline/1", "offline/2"]
    assert all(r["status"] == "success" and r["nodeExecutions"] for r in reports)
    assert all("/" not in path.name for path in spool.iterdir())

    online = make_reporter(ingest.url)
    assert online.flush(10)  # waits for the startup replay
    assert list(spool.iterdir()) == []
    assert queries.count_runs() == 3
    for number in range(3):
        detail = queries.get_run(f"offline/{number}")
        assert detail is not None and detail.summary.status.value == "success"
        assert payload(detail.nodes[0].pk)[:2] == (number, number * 2)


def test_spooled_reports_are_replayed_after_the_next_successful_send(
    stub_factory: Callable[..., Stub], make_reporter: MakeReporter, spool: Path
) -> None:
    stub = stub_factory()
    stub.default = (503, {}, {"error": "busy"})
    hs.write_atomic(spool, "20260101T000000000000000Z-old-1.json", b'{"id": "old"}')
    reporter = make_reporter(stub.url, retry_seconds=0)
    with reporter.run("wf", run_id="first"):
        pass
    assert reporter.flush(10)
    assert [(r["id"], r.get("status")) for r in spooled(spool)] == [
        ("old", None),
        ("first", "success"),
    ]

    busy_requests = len(stub.requests)
    stub.default = (201, {}, {"id": "x"})
    with reporter.run("wf", run_id="second"):
        pass
    assert reporter.flush(10)
    assert list(spool.iterdir()) == []
    delivered = [(r["id"], r.get("status")) for r in stub.reports()][busy_requests:]
    replayed = [("old", None), ("first", "success")]
    assert delivered in (
        [("second", "running"), *replayed, ("second", "success")],
        [("second", "success"), *replayed],  # "running" was dropped while still queued
    )


def test_a_stale_running_report_is_never_delivered_after_the_final_one(
    stub_factory: Callable[..., Stub], make_reporter: MakeReporter
) -> None:
    stub = stub_factory()
    stub.gate.clear()  # hold the first request so the next reports wait in the queue
    reporter = make_reporter(stub.url)
    with reporter.run("wf", run_id="blocker"):
        assert stub.wait_for(1)
    with reporter.run("wf", run_id="quick"):
        pass
    assert not reporter.flush(0.05)  # still held by the stub
    stub.gate.set()
    assert reporter.flush(10)
    statuses = [(r["id"], r["status"]) for r in stub.reports()]
    assert [s for s in statuses if s[0] == "quick"] == [("quick", "success")]


def test_a_full_queue_spills_to_the_spool_instead_of_blocking_or_growing(
    stub_factory: Callable[..., Stub], make_reporter: MakeReporter, spool: Path
) -> None:
    stub = stub_factory()
    stub.gate.clear()
    reporter = make_reporter(stub.url, max_queue=2)
    with reporter.run("wf", run_id="blocker"):
        assert stub.wait_for(1)
    for number in range(5):
        with reporter.run("wf", run_id=f"spill-{number}"):
            pass
    spilled = {r["id"] for r in spooled(spool)}
    assert spilled, "nothing was spilled while the sender was stuck"
    stub.gate.set()
    assert reporter.flush(10)
    delivered = {r["id"] for r in stub.reports() if r["status"] == "success"}
    assert {f"spill-{n}" for n in range(5)} <= delivered | spilled


def test_the_final_report_waits_in_the_spool_when_the_receiver_stays_down(
    make_reporter: MakeReporter, spool: Path
) -> None:
    reporter = make_reporter(dead_url(), retry_seconds=0.1)
    with reporter.run("wf", run_id="r"):
        assert reporter.flush(10)
        assert [r["status"] for r in spooled(spool)] == ["running"]
    assert reporter.flush(10)
    assert [r["status"] for r in spooled(spool)] == ["success"]  # the stale file is gone


# -- answers from the receiver ----------------------------------------------------------


def test_503_with_retry_after_is_retried_after_that_many_seconds(
    stub_factory: Callable[..., Stub], make_reporter: MakeReporter, spool: Path
) -> None:
    stub = stub_factory((503, {"Retry-After": "1"}, {"error": "database busy"}))
    reporter = make_reporter(stub.url, retry_seconds=5)
    with reporter.run("wf", run_id="busy"):
        assert reporter.flush(10)  # "running" is sent before the final report is queued
    assert reporter.flush(10)
    assert [r["status"] for r in stub.reports()] == ["running", "running", "success"]
    first, second = stub.requests[0]["at"], stub.requests[1]["at"]
    assert second - first >= 0.9
    assert not spool.exists() or list(spool.iterdir()) == []


def test_a_retry_after_beyond_the_retry_budget_spools_at_once(
    stub_factory: Callable[..., Stub], make_reporter: MakeReporter, spool: Path
) -> None:
    stub = stub_factory(*[(429, {"Retry-After": "60"}, {"error": "slow down"})] * 2)
    reporter = make_reporter(stub.url, retry_seconds=1)
    started = time.monotonic()
    with reporter.run("wf", run_id="later"):
        pass
    assert reporter.flush(10)
    assert time.monotonic() - started < 5
    assert [r["status"] for r in spooled(spool)] == ["success"]


def test_a_refused_report_is_logged_with_the_reason_and_not_retried(
    stub_factory: Callable[..., Stub],
    make_reporter: MakeReporter,
    spool: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stub = stub_factory(*[(401, {}, {"error": "bad token"})] * 2)
    caplog.set_level(logging.DEBUG, logger="hindsight.reporter")
    reporter = make_reporter(stub.url, token="wrong")
    with reporter.run("wf", run_id="denied"):
        assert reporter.flush(10)
    assert reporter.flush(10)
    assert [r["status"] for r in stub.reports()] == ["running", "success"]  # each sent once
    assert stub.requests[0]["headers"]["Authorization"] == "Bearer wrong"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # the second identical refusal is not repeated at WARNING
    assert warnings[0].name == "hindsight.reporter"
    assert "401" in warnings[0].getMessage() and "bad token" in warnings[0].getMessage()
    # Not lost either: the report waits in the spool for a reporter with the right token.
    assert [(r["id"], r["status"]) for r in spooled(spool)] == [("denied", "success")]


def test_validation_details_from_the_real_receiver_are_logged(
    ingest: Any, make_reporter: MakeReporter, caplog: pytest.LogCaptureFixture
) -> None:
    reporter = make_reporter(ingest.url)
    with reporter.run("", run_id="empty-workflow-id"):
        pass
    assert reporter.flush(10)
    assert queries.count_runs() == 0
    message = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "HTTP 400" in message and "workflowId" in message


def test_requests_name_the_receiver_and_reuse_one_connection(
    stub_factory: Callable[..., Stub], make_reporter: MakeReporter
) -> None:
    stub = stub_factory()
    reporter = make_reporter(stub.url + "/")
    for number in range(3):
        with reporter.run("wf", run_id=f"keep-{number}"):
            assert reporter.flush(10)
    assert reporter.flush(10)
    assert len(stub.requests) == 6
    for request in stub.requests:
        headers = {name.lower(): value for name, value in request["headers"].items()}
        assert request["path"] == "/api/executions"
        assert headers["host"] == f"127.0.0.1:{stub.port}"
        assert headers["content-type"] == "application/json"
        assert "origin" not in headers and "authorization" not in headers
    assert len({request["client"] for request in stub.requests}) == 1


def every_field(reporter: Reporter, run_id: str) -> None:
    """A run that uses every part of the API, some of it with values the receiver refuses."""
    with reporter.run(
        "wf",
        name="Nightly",
        trigger="http",
        trigger_data={"path": "/hook"},
        params={"limit": 3},
        tags={"env": "prod", "shard": 7},
        project="billing",
        version="1.4",
        user="ana",
        metadata={"host": "ci-3"},
        run_id=run_id,
    ) as run:
        assert reporter.flush(10)  # so that "running" is sent rather than superseded
        run.log("info", "starting", batch=1)
        for attempt in range(2):
            with run.node("ask", type="llm", input={"q": "hi"}) as node:
                run.log(logging.WARNING, "inside")
                run.log("verbose", "an unknown level")
                node.llm(
                    model="m",
                    prompt=[{"role": "user", "content": "hi"}],
                    response="yo",
                    prompt_tokens=3,
                    completion_tokens=4,
                    cost_usd=0.01 if attempt else float("nan"),
                    finish_reason="stop",
                )
                node.metrics = {"chars": 2}
                node.output = attempt
        run.output = {"answer": "yo"}


def test_report_shape(stub_factory: Callable[..., Stub], make_reporter: MakeReporter) -> None:
    stub = stub_factory()
    reporter = make_reporter(stub.url)
    every_field(reporter, "shape")
    assert reporter.flush(10)
    running, final = stub.reports()
    assert running["status"] == "running" and running["nodeExecutions"] == []
    assert final["id"] == running["id"] == "shape" and final["status"] == "success"
    expected = {
        "workflowId": "wf",
        "workflowName": "Nightly",
        "params": {"limit": 3},
        "tags": {"env": "prod", "shard": "7"},
        "projectId": "billing",
        "workflowVersion": "1.4",
        "userId": "ana",
        "metadata": {"host": "ci-3"},
        "trigger": {"type": "http", "data": {"path": "/hook"}},
    }
    assert {key: running[key] for key in expected} == expected
    assert {key: final[key] for key in expected} == expected
    assert final["output"] == {"answer": "yo"}
    assert ISO_UTC.match(final["startedAt"]) and ISO_UTC.match(final["completedAt"])
    assert isinstance(final["durationMs"], int) and "error" not in final
    first, second = final["nodeExecutions"]
    assert (first["attempt"], second["attempt"]) == (1, 2)
    assert "costUsd" not in first["llm"]  # NaN would have cost the whole report
    assert second["llm"] == {
        "model": "m",
        "prompt": [{"role": "user", "content": "hi"}],
        "response": "yo",
        "promptTokens": 3,
        "completionTokens": 4,
        "totalTokens": 7,
        "costUsd": 0.01,
        "finishReason": "stop",
    }
    assert ISO_UTC.match(second["startedAt"]) and ISO_UTC.match(second["completedAt"])
    assert second["output"] == 1 and second["input"] == {"q": "hi"} and "error" not in second
    assert second["metrics"] == {"chars": 2}
    assert [(e["sequence"], e["level"], e.get("nodeId")) for e in final["logs"]] == [
        (1, "info", None),
        (2, "warn", "ask"),
        (3, "info", "ask"),
        (4, "warn", "ask"),
        (5, "info", "ask"),
    ]
    assert final["logs"][0]["data"] == {"batch": 1}
    assert all(ISO_UTC.match(entry["timestamp"]) for entry in final["logs"])


def test_the_real_receiver_accepts_every_field(
    ingest: Any, make_reporter: MakeReporter, caplog: pytest.LogCaptureFixture
) -> None:
    reporter = make_reporter(ingest.url)
    every_field(reporter, "full")
    odd_params: Any = ["not", "an", "object"]
    odd_total: Any = 2.5
    with (
        reporter.run("wf", params=odd_params, tags=["plain", "labels"], run_id="odd") as run,
        run.node("n") as node,
    ):
        node.llm(prompt_tokens=-1, completion_tokens=True, total_tokens=odd_total, cost_usd=-2)
        run.log(5, "below debug")
    assert reporter.flush(10)
    assert queries.count_runs() == 2
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    detail = queries.get_run("full")
    assert detail is not None and detail.summary.status.value == "success"
    assert [(n.node_id, n.status.value) for n in detail.nodes] == [("ask", "success")] * 2


def test_artifacts_reach_the_store_with_their_node_and_never_cost_the_report(
    ingest: Any, make_reporter: MakeReporter
) -> None:
    reporter = make_reporter(ingest.url)
    with reporter.run("wf", run_id="with-artifacts") as run:
        run.artifact("summary", {"rows": 120}, type="table")
        with run.node("load") as node:
            run.artifact("rejected", [{"line": 7, "why": "no total"}])  # inside: the node's
            node.artifact("preview", "first lines…", type="text")
        run.artifact("summary", {"rows": 121}, type="table")  # the same key replaces
        run.artifact("", 1)  # no key: not recorded (the receiver would refuse the report)
        run.artifact("k" * 300, 2, type="t" * 80)  # too long for the receiver: clipped
        run.artifact("file-\udc80", 3, type=None)  # both arrive as "file-?": one replaces
        run.artifact("file-\udcff", 4, type=None)
        run.max_artifacts = 5
        run.artifact("over the limit", 3)
    assert reporter.flush(10)
    stored = {a.key: a for a in queries.list_artifacts("with-artifacts")}
    assert sorted(stored) == sorted(["summary", "rejected", "preview", "k" * 200, "file-?"])
    assert stored["file-?"].type == "artifact"  # None is "not given", not the text "None"
    assert json.loads(queries.get_artifact_data(stored["file-?"].pk) or "") == 4
    assert (stored["summary"].type, stored["summary"].node_id) == ("table", None)
    assert json.loads(queries.get_artifact_data(stored["summary"].pk) or "") == {"rows": 121}
    assert stored["rejected"].node_id == stored["preview"].node_id == "load"
    assert stored["preview"].type == "text" and stored["k" * 200].type == "t" * 50


# -- spool files ------------------------------------------------------------------------


def test_spool_files_are_written_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = hs.write_atomic(tmp_path / "new", "a.json", b'{"id": "a"}')
    assert path.read_bytes() == b'{"id": "a"}'
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]

    def fail(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(hs.os, "fsync", fail)
    with pytest.raises(OSError):
        hs.write_atomic(tmp_path / "new", "b.json", b'{"id": "b"}')
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_a_killed_writer_leaves_no_partial_json_and_replay_ignores_its_temp_file(
    ingest: Any, make_reporter: MakeReporter, spool: Path
) -> None:
    script = (
        "import os, sys\nfrom pathlib import Path\nfrom app import reporter\n"
        "os.replace = lambda *args: os._exit(9)  # killed between write and rename\n"
        "reporter.write_atomic(Path(sys.argv[1]), 'killed.json', b'{\"id\": \"killed\"}')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(spool)], cwd=ROOT, timeout=60, capture_output=True
    )
    assert result.returncode == 9, result.stderr
    leftovers = list(spool.iterdir())
    assert len(leftovers) == 1 and leftovers[0].suffix == ".tmp"

    reporter = make_reporter(ingest.url)
    assert reporter.flush(10)
    assert list(spool.iterdir()) == leftovers and queries.count_runs() == 0


def test_a_spooled_report_the_receiver_rejects_is_set_aside(
    ingest: Any, make_reporter: MakeReporter, spool: Path
) -> None:
    hs.write_atomic(spool, "1-bad.json", b'{"id": "bad"}')
    good = {"id": "good", "workflowId": "wf", "status": "success", "startedAt": "2026-01-05"}
    hs.write_atomic(spool, "2-good.json", hs._encode(good))
    reporter = make_reporter(ingest.url)
    assert reporter.flush(10)
    assert [p.name for p in spool.iterdir()] == ["1-bad.json.rejected"]
    assert [r.id for r in queries.list_runs()] == ["good"]


# -- configuration ----------------------------------------------------------------------


def test_configuration_comes_from_the_environment_and_the_token_file(
    monkeypatch: pytest.MonkeyPatch, make_reporter: MakeReporter, tmp_path: Path
) -> None:
    defaults = Reporter(spool_dir=None)
    try:
        assert defaults.url == "http://127.0.0.1:7341" and defaults.token is None
        assert defaults.spool_dir == platformdirs.user_data_path("Hindsight", False) / "spool"
    finally:
        defaults.close(timeout=0)
    token_file = hs.user_data_dir() / "token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text("from-file\n")
    monkeypatch.setenv("HINDSIGHT_URL", "http://localhost:9999/")
    monkeypatch.setenv("HINDSIGHT_SPOOL_DIR", str(tmp_path / "elsewhere"))
    configured = Reporter()
    try:
        assert configured.url == "http://localhost:9999" and configured.token == "from-file"
        assert configured.spool_dir == tmp_path / "elsewhere"
        monkeypatch.setenv("HINDSIGHT_TOKEN", "from-env")
        assert hs.default_token() == "from-env"
    finally:
        configured.close(timeout=0)


@pytest.mark.parametrize("xdg", [None, "relative/path", "/abs/data"])
@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_user_data_dir_matches_platformdirs(
    platform: str, xdg: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if xdg is None:
        monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_DATA_HOME", xdg)
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "AppData" / "Local"))
    monkeypatch.setattr(windows, "_RESOLVE_WIN_FOLDER", windows.get_win_folder_from_env_vars)
    dirs: Any = {"linux": unix.Unix, "darwin": macos.MacOS, "win32": windows.Windows}[platform]
    expected = dirs("Hindsight", appauthor=False).user_data_path
    assert hs.user_data_dir(platform) == expected
    if platform == sys.platform:
        assert hs.user_data_dir() == platformdirs.user_data_path("Hindsight", appauthor=False)


def test_a_bad_url_or_spool_dir_never_reaches_the_workflow(
    make_reporter: MakeReporter, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    reporter = make_reporter("not a url", spool_dir=blocked / "spool")
    odd_params: Any = [1]
    with (
        reporter.run("wf", params=odd_params, tags=["plain"]) as run,
        run.node("n", input=object()) as node,
    ):
        node.output = 1
        run.log(10**6, "odd level")
    assert reporter.flush(10)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("not usable" in e for e in errors) and any("could not spool" in e for e in errors)


# -- the module as a copied file, and at interpreter exit -------------------------------


def run_copied_workflow(tmp_path: Path, url: str, spool: Path, body: str) -> float:
    shutil.copy(ROOT / "app" / "reporter.py", tmp_path / "hindsight_reporter.py")
    script = tmp_path / "workflow.py"
    script.write_text("import hindsight_reporter as hs\n" + body)
    env = {name: os.environ[name] for name in ("HOME", "XDG_DATA_HOME")}  # the test's own
    env.update(HINDSIGHT_URL=url, HINDSIGHT_SPOOL_DIR=str(spool))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-E", "-s", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    return time.monotonic() - started


def test_a_copied_module_delivers_at_exit_without_close(
    ingest: Any, tmp_path: Path, spool: Path
) -> None:
    run_copied_workflow(
        tmp_path,
        ingest.url,
        spool,
        (
            "reporter = hs.Reporter()\n"
            "with reporter.run('copied', run_id='copied-1') as run:\n"
            "    with run.node('n', input=1) as node:\n"
            "        node.output = 2\n"
        ),
    )
    detail = queries.get_run("copied-1")
    assert detail is not None and detail.summary.status.value == "success"


def test_exit_waits_briefly_then_spools_what_is_left(tmp_path: Path, spool: Path) -> None:
    elapsed = run_copied_workflow(
        tmp_path,
        dead_url(),
        spool,
        (
            "reporter = hs.Reporter(exit_timeout=0.3, retry_seconds=30)\n"
            "with reporter.run('wf', run_id='at-exit'):\n"
            "    pass\n"
        ),
    )
    assert elapsed < 10
    assert [(r["id"], r["status"]) for r in spooled(spool)] == [("at-exit", "success")]


# -- cost on the workflow's thread ------------------------------------------------------


@pytest.mark.parametrize("receiver", ["up", "down"])
def test_a_node_costs_the_workflow_under_50_microseconds(
    receiver: str, stub_factory: Callable[..., Stub], make_reporter: MakeReporter
) -> None:
    url = stub_factory().url if receiver == "up" else dead_url()
    reporter = make_reporter(url, retry_seconds=0.1)
    timings: list[float] = []
    with reporter.run("wf", run_id="perf") as run:
        for number in range(2000):
            started = time.perf_counter()
            with run.node("step", name="Step", type="code", input={"n": number}) as node:
                node.output = {"double": number * 2}
            timings.append(time.perf_counter() - started)
    assert reporter.flush(20)
    assert statistics.median(timings) < 50e-6
