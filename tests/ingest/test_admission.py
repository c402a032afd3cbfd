"""The admission gate: beyond its limits a write is answered 503 + Retry-After, unparsed,
and the keep-alive connection stays usable."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.ingest.admission import Admission
from app.ingest.server import Receiver
from app.ingest.writer import ReportWriter
from app.store import queries
from tests.conftest import make_report


@pytest.fixture
def gated(database: Path) -> Iterator[tuple[Receiver, Admission]]:
    admission = Admission(max_requests=2, max_bytes=1_000_000)
    writer = ReportWriter()
    receiver = Receiver(writer, port=0, admission=admission)
    receiver.start()
    writer.start()
    yield receiver, admission
    receiver.stop()
    writer.stop()


def _post(connection: http.client.HTTPConnection, port: int, body: bytes) -> tuple[int, dict]:
    connection.request(
        "POST",
        "/api/executions",
        body,
        {"Content-Type": "application/json", "Host": f"127.0.0.1:{port}"},
    )
    response = connection.getresponse()
    payload = json.loads(response.read())
    if response.status == 503:
        assert response.getheader("Retry-After") == "1"
    return response.status, payload


def test_full_gate_answers_503_and_the_connection_carries_on(
    gated: tuple[Receiver, Admission],
) -> None:
    receiver, admission = gated
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    try:
        assert admission.try_enter(10) and admission.try_enter(10)  # two writes in progress
        status, payload = _post(connection, receiver.port, json.dumps(make_report("a")).encode())
        assert status == 503
        assert "busy" in payload["error"]
        assert admission.refused == 1
        admission.leave(10)
        admission.leave(10)
        # Same connection: the refused body was read and dropped, not parsed as a request.
        status, payload = _post(connection, receiver.port, json.dumps(make_report("b")).encode())
        assert status == 201, payload
    finally:
        connection.close()
    assert queries.count_runs() == 1
    assert admission.in_flight == (0, 0)  # every admitted request gave its place back


def test_byte_budget_refuses_a_body_that_would_exceed_it(
    gated: tuple[Receiver, Admission],
) -> None:
    receiver, admission = gated
    assert admission.try_enter(999_900)
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    try:
        assert _post(connection, receiver.port, json.dumps(make_report("a")).encode())[0] == 503
        admission.leave(999_900)
        assert _post(connection, receiver.port, json.dumps(make_report("a")).encode())[0] == 201
    finally:
        connection.close()


def test_refused_and_failed_requests_release_their_place(
    gated: tuple[Receiver, Admission],
) -> None:
    receiver, admission = gated
    connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
    try:
        for _ in range(5):  # more than the gate holds: a 400 must not keep its place
            assert _post(connection, receiver.port, b'{"id": ')[0] == 400
        assert _post(connection, receiver.port, json.dumps(make_report("ok")).encode())[0] == 201
    finally:
        connection.close()
    assert admission.in_flight == (0, 0)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Admission(max_requests=0)
