"""The receiver's own header parsing and one-write answers, on a real socket."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from typing import Any

import pytest

from app.store import queries
from tests.conftest import make_report, post_json


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
        connection.request("GET", "/api/workflows")
        got = connection.getresponse()
        body = got.read()
        connection.request("HEAD", "/api/workflows")
        response = connection.getresponse()
        assert response.read() == b""
        # HEAD answers where GET does: the same status and headers, the body left out.
        assert (response.status, got.status) == (200, 200)
        assert int(response.getheader("Content-Length", "0")) == len(body) > 0
        assert response.getheader("Content-Type") == "application/json"
        connection.request("HEAD", "/api/steps")  # a POST-only route
        refused = connection.getresponse()
        assert refused.read() == b""
        assert (refused.status, refused.getheader("Allow")) == (405, "POST")
        connection.request("GET", "/api/health")  # the connection is still usable
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_transfer_encoding_with_a_length_is_refused_not_read_by_the_length(ingest: Any) -> None:
    """Reading such a request by its Content-Length would run what follows the report as a
    second request (smuggling); it is refused before its body and the connection closed."""
    port = _port(ingest)
    report = json.dumps(make_report("smuggle")).encode()
    tail = f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    status, headers, body, closed = _exchange(
        port, _post(port, "Transfer-Encoding: chunked\r\n", report) + tail
    )
    assert status == 411 and "Content-Length" in json.loads(body)["error"]
    assert headers.get("connection") == "close" and closed
    assert queries.count_runs() == 0


@pytest.mark.parametrize("length", ["\xb2", "-1", "+5", "1 2"])
def test_a_content_length_that_is_not_a_number_is_400(ingest: Any, length: str) -> None:
    port = _port(ingest)
    request = (
        f"POST /api/executions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n{{}}"
    ).encode("latin-1")
    status, _, body, closed = _exchange(port, request)
    assert status == 400
    assert "Content-Length must be a number of bytes" in json.loads(body)["error"]
    assert closed  # the body's end is unknown: the stream cannot be trusted
    assert queries.count_runs() == 0


def test_a_get_with_a_body_is_answered_then_the_connection_closed(ingest: Any) -> None:
    """The body is not read, so it must not be parsed as the next request."""
    port = _port(ingest)
    inner = f"GET /api/nope HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    request = (
        f"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Length: {len(inner)}\r\n\r\n{inner}"
    ).encode()
    status, headers, _, closed = _exchange(port, request)
    assert status == 200
    assert headers.get("connection") == "close" and closed


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        ('GET /x"y a b HTTP/1.1', 400),  # a quote and a backslash-escape from the request line
        ("GET /\x01 a HTTP/1.1", 400),
        ("GET /api/health HTTP/2.0", 505),
        ("GET /api/health HTTX/1.1", 400),
    ],
)
def test_the_stdlibs_own_errors_are_json_with_a_status_line(
    ingest: Any, request_line: str, status: int
) -> None:
    port = _port(ingest)
    request = f"{request_line}\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode("latin-1")
    answer, headers, body, closed = _exchange(port, request)  # http.client parses the status
    assert answer == status
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["code"] == status
    assert closed


def test_a_body_trickling_in_gets_408_within_the_read_timeout(
    ingest: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read's own timeout would let a byte every few seconds hold the request (and its
    place in the admission gate) forever; the whole body has one deadline."""
    from app.ingest import server

    monkeypatch.setattr(server._Handler, "timeout", 0.5)
    port = _port(ingest)
    head = (
        f"POST /api/executions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    ).encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sock.settimeout(0.1)  # a byte every 0.1 s: well inside each read's 0.5 s timeout
        answer = b""
        while b"\r\n\r\n" not in answer and time.monotonic() - started < 10:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                # Answered and closed meanwhile: the answer is still there to read.
                with contextlib.suppress(OSError):
                    sock.sendall(b" ")
                continue
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 5
    assert ingest.receiver.admission.in_flight == (0, 0)  # its place was given back
    status, _, _ = post_json(ingest.url, "/api/executions", make_report("after"))
    assert status == 201


def test_a_body_cut_short_is_400_and_stores_nothing(ingest: Any) -> None:
    port = _port(ingest)
    report = json.dumps(make_report("short")).encode()
    request = _post(port, "", report).replace(
        f"Content-Length: {len(report)}".encode(), f"Content-Length: {len(report) + 50}".encode()
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)  # the client stops sending: the body ends early
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())
    assert response.status == 400 and "ended after" in body["error"]
    assert queries.count_runs() == 0


def _headers_only(port: int, content_type: str, length: int, host: str = "") -> bytes:
    return (
        f"POST /api/executions HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\n"
        f"Content-Type: {content_type}\r\nExpect: 100-continue\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("content_type", "length", "host", "status"),
    [
        ("text/plain", 100, "", 415),
        ("application/json", 21 * 2**20, "", 413),
        ("application/json", 100, "evil.example:80", 403),
    ],
)
def test_expect_100_continue_is_refused_from_the_headers_alone(
    ingest: Any, content_type: str, length: int, host: str, status: int
) -> None:
    """A client that waits for 100 Continue hears the refusal before sending any body."""
    port = _port(ingest)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_headers_only(port, content_type, length, host))
        with sock.makefile("rb") as answer:
            assert answer.readline().split()[1] == str(status).encode()  # no 100 Continue
            head = {}
            while (line := answer.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                head[name.lower()] = value.strip()
            assert head["connection"] == "close"
            assert "error" in json.loads(answer.read(int(head["content-length"])))
    assert queries.count_runs() == 0


def test_expect_100_continue_then_the_body_is_stored(ingest: Any) -> None:
    port = _port(ingest)
    body = json.dumps(make_report("after-continue")).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_headers_only(port, "application/json", len(body)))
        with sock.makefile("rb") as interim:
            assert interim.readline() == b"HTTP/1.1 100 Continue\r\n"
            assert interim.readline() == b"\r\n"
        sock.sendall(body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert response.status == 201
        assert json.loads(response.read()) == {"id": "after-continue"}
    assert queries.get_run("after-continue") is not None


def test_an_absolute_form_target_is_routed_and_its_host_checked(ingest: Any) -> None:
    """HTTP lets a request name its host in the target (`GET http://host/path`); that host
    wins over the Host header, so it is the one the allow-list judges."""
    port = _port(ingest)

    def get(target: str, host: str) -> tuple[int, bytes]:
        request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        status, _, body, _ = _exchange(port, request)
        return status, body

    status, body = get(f"http://127.0.0.1:{port}/api/health", f"127.0.0.1:{port}")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert get(f"HTTP://localhost:{port}/api/workflows?limit=1", "elsewhere")[0] == 200
    # A foreign host in the target is refused, whatever the Host header says.
    status, body = get("http://evil.example/api/health", f"127.0.0.1:{port}")
    assert status == 403 and "evil.example" in json.loads(body)["error"]
    assert get(f"http://user@127.0.0.1:{port}/api/health", f"127.0.0.1:{port}")[0] == 403
    assert get(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}")[0] == 404  # the path "/"
