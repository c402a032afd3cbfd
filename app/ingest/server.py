"""The local HTTP receiver: a real socket on loopback, one thread per connection.

Browsers are refused outright: a web page can make a browser POST to 127.0.0.1, so every
request must name this receiver in `Host` (defeats DNS rebinding), carry no `Origin` and
no cross-site fetch metadata, and send `application/json` (which a page cannot send without
a CORS preflight, itself refused). No CORS headers are ever sent.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from peewee import OperationalError

from app import __version__
from app.ingest import read_api
from app.ingest.report import ReportError, decode_reports, is_batch
from app.ingest.writer import ReportWriter, WriterBusy, WriterStopped
from app.store.models import db

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 20 * 1024 * 1024
RETRY_AFTER_SECONDS = 1
READ_TIMEOUT_SECONDS = 10
SHUTDOWN_POLL_SECONDS = 0.1  # how soon stop() is noticed; the stdlib default is 0.5 s


class _HttpError(Exception):
    def __init__(self, status: HTTPStatus, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": message, **extra}
        self.headers: dict[str, str] = {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The stdlib's backlog of 5 makes the 6th simultaneous connect wait for a SYN retry (1 s).
    request_queue_size = socket.SOMAXCONN
    writer: ReportWriter
    max_body: int
    allowed_hosts: frozenset[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    _query = ""
    protocol_version = "HTTP/1.1"
    timeout = READ_TIMEOUT_SECONDS  # idle or slow connections cannot hold a thread forever
    # Errors the stdlib answers itself (malformed request line, oversized headers) in JSON
    # too; it HTML-escapes the message, so no quote can break the string.
    error_content_type = "application/json"
    error_message_format = '{"error": "%(message)s", "code": %(code)d}'

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; without NODELAY the second one waits for
        # the client's delayed ACK (~40 ms per keep-alive request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return f"Hindsight/{__version__}"

    # -- dispatch ---------------------------------------------------------------------
    def _route(self, path: str) -> dict[str, Callable[[], tuple[HTTPStatus, Any]]]:
        """The handlers by method for a path; `/api/executions/{id}` carries the run id."""
        exact: dict[str, dict[str, Callable[[], tuple[HTTPStatus, Any]]]] = {
            "/api/health": {"GET": self._health},
            "/api/executions": {
                "POST": self._post_execution,
                "GET": self._read(read_api.list_executions),
            },
            "/api/workflows": {"GET": self._read(read_api.list_workflows)},
            "/api/stats": {"GET": self._read(read_api.get_stats)},
        }
        if path in exact:
            return exact[path]
        prefix = "/api/executions/"
        segment = path[len(prefix) :] if path.startswith(prefix) else ""
        if segment and "/" not in segment:  # ids may contain an encoded slash (%2F)
            run_id = unquote(segment)
            return {"GET": lambda: self._get_execution(run_id)}
        raise _HttpError(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")

    def _dispatch(self) -> None:
        try:
            self._check_caller()
            path, _, self._query = self.path.partition("?")
            methods = self._route(path)
            handler = methods.get(self.command)
            if handler is None:
                error = _HttpError(
                    HTTPStatus.METHOD_NOT_ALLOWED,
                    f"{self.command} is not allowed on {path}; use {', '.join(methods)}",
                )
                error.headers["Allow"] = ", ".join(methods)
                raise error
            status, body = handler()
            self._reply(status, body)
        except _HttpError as error:
            self._reply(error.status, error.body, error.headers)
        except Exception:
            log.exception("unexpected error handling %s %s", self.command, self.path)
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch

    def __getattr__(self, name: str) -> Any:
        # The stdlib answers any other method (TRACE, CONNECT, made-up ones) with an HTML 501;
        # route them like the rest so they get the same checks and a JSON 403/404/405.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    # -- checks -----------------------------------------------------------------------
    def _check_caller(self) -> None:
        host = self.headers.get("Host", "")
        if host.lower() not in self.server.allowed_hosts:
            raise _HttpError(HTTPStatus.FORBIDDEN, f"Host {host!r} is not this receiver")
        if "Origin" in self.headers:
            raise _HttpError(HTTPStatus.FORBIDDEN, "requests from web pages are refused")
        if self.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            raise _HttpError(HTTPStatus.FORBIDDEN, "cross-site requests are refused")

    def _read_json_body(self) -> bytes:
        media_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise _HttpError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
            )
        raw_length = self.headers.get("Content-Length")
        if raw_length is None or not raw_length.isdigit():
            raise _HttpError(HTTPStatus.LENGTH_REQUIRED, "Content-Length header is required")
        length = int(raw_length)
        if length > self.server.max_body:
            self.close_connection = True  # the unread body must not be parsed as a request
            raise _HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length} bytes exceeds the limit of {self.server.max_body} bytes",
            )
        return self.rfile.read(length)

    # -- endpoints --------------------------------------------------------------------
    def _health(self) -> tuple[HTTPStatus, dict[str, Any]]:
        return HTTPStatus.OK, {"status": "ok", "version": __version__}

    def _post_execution(self) -> tuple[HTTPStatus, dict[str, Any]]:
        body = self._read_json_body()
        try:
            records = decode_reports(body)
        except ReportError as error:
            raise _HttpError(HTTPStatus.BAD_REQUEST, error.message, details=error.details) from None
        try:
            self.server.writer.write(records)  # one transaction: all stored or none
        except (WriterBusy, WriterStopped, OperationalError) as busy:
            unavailable = _HttpError(HTTPStatus.SERVICE_UNAVAILABLE, f"not stored: {busy}; retry")
            unavailable.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            raise unavailable from None
        if is_batch(body):
            return HTTPStatus.CREATED, {"ids": [record.id for record in records]}
        return HTTPStatus.CREATED, {"id": records[0].id}

    def _read(
        self, handler: Callable[[read_api.Params], Any]
    ) -> Callable[[], tuple[HTTPStatus, Any]]:
        def answer() -> tuple[HTTPStatus, Any]:
            params = parse_qs(self._query, keep_blank_values=True)
            try:
                with db.connection_context():  # request threads come and go
                    return HTTPStatus.OK, handler(params)
            except read_api.QueryError as error:
                raise _HttpError(
                    HTTPStatus.BAD_REQUEST,
                    f"invalid query parameter {error.parameter}",
                    details=[{"path": error.parameter, "message": error.message}],
                ) from None

        return answer

    def _get_execution(self, run_id: str) -> tuple[HTTPStatus, Any]:
        try:
            with db.connection_context():
                return HTTPStatus.OK, read_api.get_execution(run_id)
        except read_api.NotFound as missing:
            raise _HttpError(HTTPStatus.NOT_FOUND, str(missing)) from None

    # -- plumbing ---------------------------------------------------------------------
    def _reply(self, status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class Receiver:
    """The HTTP server and the thread that runs it."""

    def __init__(
        self,
        writer: ReportWriter,
        host: str = "127.0.0.1",
        port: int = 7341,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self._writer = writer
        self._host = host
        self._requested_port = port
        self._max_body = max_body
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    def start(self) -> None:
        """Bind the socket and serve in a background thread; OSError if the port is taken."""
        server = _Server((self._host, self._requested_port), _Handler)
        server.writer = self._writer
        server.max_body = self._max_body
        port = server.server_address[1]
        server.allowed_hosts = frozenset(
            {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="hindsight-receiver",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self._thread = None
