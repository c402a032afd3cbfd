"""The receiver's own header parsing and one-write answers, on a real socket."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

import pytest

from app.store import queries
from tests.conftest import make_report


def _port(service: Any) -> int:
    return int(service.url.rsplit(":", 1)[1])


def _exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    """Send raw bytes; (status, headers, body, whether the server then closed the socket)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        sock.settimeout(2)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
    return response.status, headers, body, closed


def _post(port: int, extra_headers: str, body: bytes) -> bytes:
    return (
        f"POST /api/executions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\n{extra_headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_answers_carry_their_headers_and_keep_the_connection(ingest: Any) -> None:
    port = _port(ingest)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for index in range(3):  # one connection, three requests
            body = json.dumps(make_report(f"keep-{index}")).encode()
            connection.request(
                "POST", "/api/executions", body, {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            raw = response.read()
            assert response.status == 201
            assert json.loads(raw) == {"id": f"keep-{index}"}
            assert response.getheader("Content-Length") == str(len(raw))
            assert response.getheader("Content-Type") == "application/json"
            assert response.getheader("X-Content-Type-Options") == "nosniff"
            assert response.getheader("Cache-Control") == "no-store"
            assert response.getheader("Date", "").endswith(" GMT")
            assert response.getheader("Server", "").startswith("Hindsight/")
    finally:
        connection.close()
    assert queries.count_runs() == 3


def test_header_names_are_case_insensitive(ingest: Any) -> None:
    port = _port(ingest)
    body = json.dumps(make_report("lower")).encode()
    request = (
        f"POST /api/executions HTTP/1.1\r\nhOsT: 127.0.0.1:{port}\r\n"
        f"content-TYPE: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode() + body
    assert _exchange(port, request)[0] == 201


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ("Host: evil.example\r\n", 400),  # a second Host: which one would a proxy trust?
        ("Content-Length: 2\r\n", 400),  # a second length: request smuggling
        ("X-Folded: one\r\n  two\r\n", 400),  # obsolete line folding
        ("No colon on this line\r\n", 400),
        ("Bad Name : value\r\n", 400),  # whitespace before the colon (RFC 9112 5.1)
        ("".join(f"X-H{i}: v\r\n" for i in range(101)), 431),
        (f"X-Long: {'a' * 70_000}\r\n", 431),
    ],
)
def test_malformed_headers_are_refused_and_the_connection_closed(
    ingest: Any, extra: str, status: int
) -> None:
    port = _port(ingest)
    answer, _, body, closed = _exchange(port, _post(port, extra, b"{}"))
    assert answer == status
    assert json.loads(body)["code"] == status  # the JSON error format, not HTML
    assert closed
    assert queries.count_runs() == 0


def test_chunked_body_refused_before_reading_closes_the_connection(ingest: Any) -> None:
    """A body whose length the receiver never learnt must not be read as the next request."""
    port = _port(ingest)
    smuggled = f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    chunk = f"{len(smuggled):x}\r\n{smuggled}\r\n0\r\n\r\n"
    request = (
        f"POST /api/executions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}"
    ).encode()
    status, headers, _, closed = _exchange(port, request)
    assert status == 411
    assert headers.get("connection") == "close" and closed


def test_head_gets_headers_only(ingest: Any) -> None:
    port = _port(ingest)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("HEAD", "/api/health")
        response = connection.getresponse()
        assert response.read() == b""
        # HEAD is not a route (GET is): refused, but with the answer's real length announced.
        assert response.status == 405
        assert int(response.getheader("Content-Length", "0")) > 0
        connection.request("GET", "/api/health")  # the connection is still usable
        assert connection.getresponse().status == 200
    finally:
        connection.close()
