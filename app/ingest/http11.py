"""HTTP/1.1 plumbing for a busy keep-alive receiver, on top of the stdlib's request handler.

Two costs of `BaseHTTPRequestHandler` show up once a request's real work is cheap:
- headers are parsed by the `email` package (a feed parser built for MIME messages, ~60 µs
  a request); here they are split into a dict in one pass, with the same limits (65,536
  bytes a line, 100 lines: 431 beyond) and stricter rules (a line without a colon, an
  obsolete folded line or a repeated Host/Content-Length is 400, as RFC 9112 allows, so no
  two parties can read one request two ways);
- an answer leaves as headers then body in two writes, and the stdlib formats the date and
  a log line each time; here the status line, headers and body go out in one `sendall`
  (no small second segment waiting for the client's delayed ACK) with a date cached per
  second.
Errors the stdlib answers itself (`send_error`) are JSON here too. Everything else (request
line rules, HTTP/0.9, Expect: 100-continue) is the stdlib's own behaviour.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

log = logging.getLogger(__name__)

MAX_LINE = 65536  # as http.client
MAX_HEADERS = 100
# Headers whose repetition would let two parties read one request differently.
_SINGLE = frozenset({"host", "content-length", "content-type", "authorization"})


class Headers:
    """Request headers by case-insensitive name; `get` and `in` like `email.message`."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = fields  # lower-case name -> value

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._fields.get(name.lower(), default)

    def __getitem__(self, name: str) -> str | None:
        return self._fields.get(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def items(self) -> Iterable[tuple[str, str]]:
        return self._fields.items()


class BadHeaders(Exception):
    def __init__(self, status: HTTPStatus, message: str, explain: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.explain = explain


def read_headers(readline: object) -> Headers:
    """Read header lines up to the blank line; raise BadHeaders for what must be refused."""
    fields: dict[str, str] = {}
    count = 0
    read = readline  # a bound rfile.readline
    while True:
        line: bytes = read(MAX_LINE + 1)  # type: ignore[operator]
        if len(line) > MAX_LINE:
            raise BadHeaders(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", "header line"
            )
        if line in (b"\r\n", b"\n", b""):
            return Headers(fields)
        count += 1
        if count > MAX_HEADERS:
            raise BadHeaders(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Too many headers",
                f"got more than {MAX_HEADERS} headers",
            )
        text = line.decode("iso-8859-1")
        if text[0] in " \t":
            raise BadHeaders(HTTPStatus.BAD_REQUEST, "Folded header line", text.strip())
        name, colon, value = text.partition(":")
        key = name.lower()
        if not colon or not key or key != key.strip():
            raise BadHeaders(HTTPStatus.BAD_REQUEST, "Malformed header line", text.strip()[:100])
        if key in fields:
            if key in _SINGLE:
                raise BadHeaders(HTTPStatus.BAD_REQUEST, f"Repeated {name} header", name)
            continue  # the first one counts, as email.message's get() had it
        fields[key] = value.strip()


class _DateCache:
    """The `Date` header value, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._text = formatdate(second, usegmt=True)
            self._second = second
        return self._text


_DATE = _DateCache()


class LeanRequestHandler(BaseHTTPRequestHandler):
    """`BaseHTTPRequestHandler` with one-pass header parsing and one-write answers."""

    protocol_version = "HTTP/1.1"
    raw_requestline: bytes  # set by handle_one_request

    def parse_request(self) -> bool:
        """The stdlib's request-line rules, then `read_headers` instead of the email parser."""
        self.command = None  # type: ignore[assignment]  # as the stdlib, until known
        self.request_version = version = self.default_request_version
        self.close_connection = True
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = requestline
        words = requestline.split()
        if not words:
            return False
        if len(words) >= 3:
            # Not HTTP/0.9, whatever the version turns out to be: errors get a status line.
            self.request_version = "HTTP/1.0"
            version = words[-1]
            try:
                if not version.startswith("HTTP/"):
                    raise ValueError
                base_version_number = version.split("/", 1)[1]
                numbers = base_version_number.split(".")
                if len(numbers) != 2 or any(
                    not part.isdigit() or len(part) > 10 for part in numbers
                ):
                    raise ValueError
                version_number = int(numbers[0]), int(numbers[1])
            except (ValueError, IndexError):
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request version ({version!r})")
                return False
            if version_number >= (1, 1) and self.protocol_version >= "HTTP/1.1":
                self.close_connection = False
            if version_number >= (2, 0):
                self.send_error(
                    HTTPStatus.HTTP_VERSION_NOT_SUPPORTED,
                    f"Invalid HTTP version ({base_version_number})",
                )
                return False
            self.request_version = version
        if not 2 <= len(words) <= 3:
            self.send_error(HTTPStatus.BAD_REQUEST, f"Bad request syntax ({requestline!r})")
            return False
        command, path = words[:2]
        if len(words) == 2:
            self.close_connection = True
            if command != "GET":
                self.send_error(HTTPStatus.BAD_REQUEST, f"Bad HTTP/0.9 request type ({command!r})")
                return False
        self.command, self.path = command, path
        if self.path.startswith("//"):  # gh-87389, as the stdlib
            self.path = "/" + self.path.lstrip("/")
        try:
            self.headers = Headers({})  # type: ignore[assignment]  # for send_error below
            self.headers = read_headers(self.rfile.readline)  # type: ignore[assignment]
        except BadHeaders as bad:
            self.close_connection = True  # the rest of the stream cannot be trusted
            self.send_error(bad.status, bad.message, bad.explain)
            return False
        connection = (self.headers.get("Connection") or "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = (self.headers.get("Expect") or "").lower()
        if (
            expect == "100-continue"
            and self.protocol_version >= "HTTP/1.1"
            and self.request_version >= "HTTP/1.1"
        ):
            return bool(self.handle_expect_100())
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What the stdlib answers itself (malformed request line, oversized headers), as
        JSON like every other answer; the stdlib's page only HTML-escapes the message, so a
        quote from the request line would break the JSON. The connection closes after it."""
        status = HTTPStatus(code)
        body = {"error": message or status.phrase, "code": status.value}
        if explain:
            body["detail"] = explain
        self.close_connection = True
        self.send_answer(
            status, "application/json", json.dumps(body).encode(), [("Connection", "close")]
        )

    def send_answer(
        self, status: HTTPStatus, content_type: str, body: bytes, headers: Iterable[tuple[str, str]]
    ) -> None:
        """Status line, headers and body in one write (no body for HEAD)."""
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %r %d", self.address_string(), self.requestline, status.value)
        if self.request_version == "HTTP/0.9":  # no status line or headers existed then
            self.wfile.write(body)
            return
        head = [
            f"{self.protocol_version} {status.value} {status.phrase}",
            f"Server: {self.version_string()}",
            f"Date: {_DATE.now()}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        for name, value in headers:
            head.append(f"{name}: {value}")
            if name.lower() == "connection":
                self.close_connection = value.lower() == "close"
        head.append("\r\n")
        data = "\r\n".join(head).encode("latin-1")
        self.wfile.write(data if self.command == "HEAD" else data + body)
