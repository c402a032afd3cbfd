"""The local HTTP receiver: a real socket on loopback, one thread per connection.

Browsers are refused outright: a web page can make a browser POST to 127.0.0.1, so every
request must name this receiver in `Host` (defeats DNS rebinding), carry no `Origin` and
no cross-site fetch metadata, and send `application/json` (which a page cannot send without
a CORS preflight, itself refused). No CORS headers are ever sent.
"""

from __future__ import annotations

import hmac
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote

from peewee import OperationalError
from pydantic_core import to_json

from app import __version__
from app.config import describe_database
from app.ingest import read_api
from app.ingest.admission import MAX_BYTES_IN_FLIGHT, Admission
from app.ingest.auth import allowed_hosts, is_loopback
from app.ingest.fast_report import decode_reports_fast
from app.ingest.http11 import LeanRequestHandler
from app.ingest.openapi import openapi_document
from app.ingest.report import ReportError, decode_logs, decode_nodes, decode_reports, is_batch
from app.ingest.spool import keep_crashed
from app.ingest.steps import decode_steps
from app.ingest.writer import ReportWriter, StoreCrashed, WriterBusy, WriterStopped
from app.store.connection import opened_target
from app.store.failures import Trouble, classify
from app.store.models import db
from app.store.records import NodeRecord, RunRecord
from app.store.streaming import (
    NotAStepRun,
    RunNotFound,
    StepRun,
    append_logs,
    record_steps,
    upsert_nodes,
)

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


# Every route the receiver answers: path template -> method -> handler method name. The
# OpenAPI document describes exactly these (a test holds the two together).
ROUTES: dict[str, dict[str, str]] = {
    "/api/health": {"GET": "_health"},
    "/api/openapi.json": {"GET": "_openapi"},
    "/api/executions": {"POST": "_post_execution", "GET": "_list_executions"},
    "/api/executions/{id}": {"GET": "_get_execution"},
    "/api/executions/{id}/nodes": {"POST": "_post_nodes"},
    "/api/executions/{id}/logs": {"POST": "_post_logs"},
    "/api/steps": {"POST": "_post_steps"},
    "/api/workflows": {"GET": "_list_workflows"},
    "/api/stats": {"GET": "_stats"},
}
_TEMPLATES = [(template, template.split("/")) for template in ROUTES]


def allowed_methods(template: str) -> list[str]:
    """A route's methods; HEAD wherever GET is (the same answer without its body, as HTTP
    asks of every server), so `curl -I` works."""
    methods = list(ROUTES[template])
    return [*methods, "HEAD"] if "GET" in methods else methods


def match_route(path: str) -> tuple[str, dict[str, str]] | None:
    """The route template a path names and its decoded parameters (ids may hold %2F)."""
    parts = path.split("/")
    for template, pattern in _TEMPLATES:
        if len(pattern) != len(parts):
            continue
        params: dict[str, str] = {}
        for expected, actual in zip(pattern, parts, strict=True):
            if expected.startswith("{"):
                if not actual:
                    break
                params[expected[1:-1]] = unquote(actual)
            elif expected != actual:
                break
        else:
            return template, params
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # The stdlib's backlog of 5 makes the 6th simultaneous connect wait for a SYN retry (1 s).
    request_queue_size = socket.SOMAXCONN
    writer: ReportWriter
    admission: Admission
    max_body: int
    allowed_hosts: frozenset[str]
    token: str | None
    token_required: bool
    crashed_dir: Path | None  # where a body that crashed the store is kept


class _Server6(_Server):
    address_family = socket.AF_INET6


Handler = Callable[[dict[str, str]], tuple[HTTPStatus, Any]]


class _Handler(LeanRequestHandler):
    server: _Server
    _query = ""
    _batch = False  # the request body was a JSON array
    _admitted: int | None = None  # body bytes this request holds in the admission gate
    _body_read = False
    _body = b""  # the request's JSON body, once read
    timeout = READ_TIMEOUT_SECONDS  # idle or slow connections cannot hold a thread forever

    def setup(self) -> None:
        super().setup()
        # Answers leave in one write (send_answer), but the stdlib's own error pages still go
        # out as headers then body; without NODELAY that second write waits for the client's
        # delayed ACK (~40 ms per keep-alive request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return f"Hindsight/{__version__}"

    # -- dispatch ---------------------------------------------------------------------
    def _dispatch(self) -> None:
        self._body_read = False
        try:
            handler, params = self._route()
            status, body = handler(params)
            self._reply(status, body, self._closing({}))
        except _HttpError as error:
            self._reply(error.status, error.body, self._closing(error.headers))
        except Exception:
            log.exception("unexpected error handling %s %s", self.command, self.path)
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})
        finally:
            self._release()

    def _route(self) -> tuple[Handler, dict[str, str]]:
        """The handler for this request once its caller and route are acceptable."""
        target, host = _origin_form(self.path, self.headers.get("Host", ""))
        self._check_caller(host)
        if "Transfer-Encoding" in self.headers:
            # Chunked framing is not read here; reading such a request by its
            # Content-Length instead would let two parties split the stream differently.
            raise _HttpError(
                HTTPStatus.LENGTH_REQUIRED,
                "Transfer-Encoding is not accepted: send the body with Content-Length",
            )
        path, _, self._query = target.partition("?")
        found = match_route(path)
        if found is None:
            raise _HttpError(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")
        template, params = found
        name = ROUTES[template].get("GET" if self.command == "HEAD" else self.command)
        if name is None:
            methods = allowed_methods(template)
            error = _HttpError(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{self.command} is not allowed on {path}; use {', '.join(methods)}",
            )
            error.headers["Allow"] = ", ".join(methods)
            raise error
        return getattr(self, name), params

    def handle_expect_100(self) -> bool:
        """A client that waits for `100 Continue` before sending its body gets the refusal
        instead when the headers already decide it (a foreign Host or Origin, a wrong token,
        path, method or media type, a body over the limit): it never sends a body only to
        have it refused unread."""
        self._body_read = False
        try:
            self._route()
            if self.command == "POST":  # every POST route reads a JSON body
                self._body_length()
        except _HttpError as error:
            self._reply(error.status, error.body, self._closing(error.headers))
            return False
        return bool(super().handle_expect_100())

    def _closing(self, headers: dict[str, str]) -> dict[str, str]:
        """`headers`, plus `Connection: close` when a body was sent but not read (a GET with
        a body, a request refused before its body): what is left of it in the stream would
        otherwise be parsed as the next request."""
        if not self._body_read and (
            self.headers.get("Content-Length", "0").strip() != "0"
            or "Transfer-Encoding" in self.headers
        ):
            headers["Connection"] = "close"  # send_answer then closes the connection
        return headers

    def _release(self) -> None:
        """Give the request's place in the admission gate back (once the work is done, before
        the answer goes out: a client slow to read it must not hold a place)."""
        if self._admitted is not None:
            self.server.admission.leave(self._admitted)
            self._admitted = None

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch

    def __getattr__(self, name: str) -> Any:
        # The stdlib answers any other method (TRACE, CONNECT, made-up ones) with an HTML 501;
        # route them like the rest so they get the same checks and a JSON 403/404/405.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    # -- checks -----------------------------------------------------------------------
    def _check_caller(self, host: str) -> None:
        if host.lower() not in self.server.allowed_hosts:
            raise _HttpError(HTTPStatus.FORBIDDEN, f"Host {host!r} is not this receiver")
        if "Origin" in self.headers:
            raise _HttpError(HTTPStatus.FORBIDDEN, "requests from web pages are refused")
        if self.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
            raise _HttpError(HTTPStatus.FORBIDDEN, "cross-site requests are refused")
        self._check_token()

    def _check_token(self) -> None:
        """Bearer token: required beyond loopback; on loopback optional, but never wrong."""
        supplied = self.headers.get("Authorization")
        expected = self.server.token
        if supplied is None:
            if self.server.token_required:
                raise self._unauthorized("this receiver requires Authorization: Bearer <token>")
            return
        if expected is None:
            return  # no token configured (loopback only): nothing to compare with
        scheme, _, value = supplied.strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), expected.encode()
        ):
            raise self._unauthorized(
                "wrong token in Authorization; use the one in Hindsight's token file"
            )

    @staticmethod
    def _unauthorized(message: str) -> _HttpError:
        error = _HttpError(HTTPStatus.UNAUTHORIZED, message)
        error.headers["WWW-Authenticate"] = 'Bearer realm="hindsight"'
        return error

    def _read_json_body(self) -> bytes:
        length = self._body_length()
        if not self.server.admission.try_enter(length):
            self._discard(length)  # read, not parsed: the connection stays usable
            self._body_read = True
            raise _unavailable("not stored: the receiver is busy with other reports; retry")
        self._admitted = length
        body = self._read_body(length)
        self._body_read = True
        return body

    def _body_length(self) -> int:
        """The length of an acceptable JSON body, from the headers alone."""
        media_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise _HttpError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
            )
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            raise _HttpError(HTTPStatus.LENGTH_REQUIRED, "Content-Length header is required")
        if not _DIGITS.fullmatch(raw_length):
            raise _HttpError(
                HTTPStatus.BAD_REQUEST,
                f"Content-Length must be a number of bytes, got {raw_length[:40]!r}",
            )
        length = int(raw_length)
        if length > self.server.max_body:
            self.close_connection = True  # the unread body must not be parsed as a request
            raise _HttpError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"body of {length} bytes exceeds the limit of {self.server.max_body} bytes",
            )
        return length

    def _read_body(self, length: int) -> bytes:
        """The body, which must arrive whole within READ_TIMEOUT_SECONDS: the timeout of
        each read alone would let a client trickling a byte at a time hold its place in the
        admission gate (and with 32 such clients, keep every report out) indefinitely."""
        deadline = time.monotonic() + self.timeout
        chunks: list[bytes] = []
        missing = length
        try:
            while missing > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self.connection.settimeout(left)
                chunk = self.rfile.read1(missing)
                if not chunk:
                    self.close_connection = True
                    raise _HttpError(
                        HTTPStatus.BAD_REQUEST,
                        f"the body ended after {length - missing} of {length} bytes",
                    )
                chunks.append(chunk)
                missing -= len(chunk)
        except TimeoutError:
            self.close_connection = True
            raise _HttpError(
                HTTPStatus.REQUEST_TIMEOUT,
                f"the body did not arrive within {self.timeout:g} s; nothing was stored",
            ) from None
        finally:
            self.connection.settimeout(self.timeout)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _discard(self, length: int) -> None:
        """Read and drop a body in small pieces (memory stays flat however large it is)."""
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                self.close_connection = True
                return
            length -= len(chunk)

    # -- endpoints --------------------------------------------------------------------
    def _health(self, params: dict[str, str]) -> tuple[HTTPStatus, dict[str, Any]]:
        target = opened_target()
        where = {"database": describe_database(target)} if target is not None else {}
        return HTTPStatus.OK, {"status": "ok", "version": __version__, **where}

    def _openapi(self, params: dict[str, str]) -> tuple[HTTPStatus, dict[str, Any]]:
        return HTTPStatus.OK, openapi_document()

    def _keep_crashed(self, crashed: StoreCrashed) -> str:
        """Keep the body whose storing crashed the store; say so, and where."""
        directory = self.server.crashed_dir
        if directory is None:
            return f"{crashed}; see the receiver's log"
        try:
            kept = keep_crashed(directory, self._body)
        except OSError as exc:
            log.error("cannot keep the request body that crashed the store: %s", exc)
            return f"{crashed}, nor kept: {exc.strerror}; see the receiver's log"
        log.error("kept the request body that crashed the store as %s", kept)
        return f"{crashed}; the request body is kept as {kept}"

    def _decode(self, decode: Callable[[bytes], _T]) -> _T:
        body = self._body = self._read_json_body()
        self._batch = is_batch(body)
        try:
            return decode(body)
        except ReportError as error:
            raise _HttpError(HTTPStatus.BAD_REQUEST, error.message, details=error.details) from None

    def _store(self, store: Callable[[], None]) -> None:
        """Run a write through the writer and map what went wrong to an HTTP answer."""
        try:
            store()
        except (WriterBusy, WriterStopped) as busy:
            raise _unavailable(f"not stored: {busy}; retry") from None
        except StoreCrashed as crashed:
            # Final, so that clients stop sending what would crash the store every time
            # (a reporter replaying its spool would stop at it for good); the body is kept.
            raise _HttpError(HTTPStatus.UNPROCESSABLE_ENTITY, self._keep_crashed(crashed)) from None
        except RunNotFound as missing:
            raise _HttpError(HTTPStatus.NOT_FOUND, str(missing), runId=missing.run_id) from None
        except NotAStepRun as taken:
            raise _HttpError(HTTPStatus.CONFLICT, str(taken), runId=taken.run_id) from None
        except OperationalError as trouble:
            raise _database_trouble(trouble) from None

    def _post_execution(self, params: dict[str, str]) -> tuple[HTTPStatus, dict[str, Any]]:
        records = self._decode(_decode_reports)
        size = self._admitted or 0
        self._store(lambda: self.server.writer.write(records, size=size))  # all or none
        if self._batch:
            return HTTPStatus.CREATED, {"ids": [record.id for record in records]}
        return HTTPStatus.CREATED, {"id": records[0].id}

    def _post_nodes(self, params: dict[str, str]) -> tuple[HTTPStatus, dict[str, Any]]:
        run_id = params["id"]
        nodes = self._decode(decode_nodes)
        change = _touching(run_id, upsert_nodes, nodes)
        self._store(lambda: self.server.writer.apply(change, size=self._admitted or 0))
        return HTTPStatus.OK, {"id": run_id, "nodes": len(nodes)}

    def _post_logs(self, params: dict[str, str]) -> tuple[HTTPStatus, dict[str, Any]]:
        run_id = params["id"]
        logs = self._decode(decode_logs)
        change = _touching(run_id, append_logs, logs)
        self._store(lambda: self.server.writer.apply(change, size=self._admitted or 0))
        return HTTPStatus.OK, {"id": run_id, "logs": len(logs)}

    def _post_steps(self, params: dict[str, str]) -> tuple[HTTPStatus, dict[str, Any]]:
        runs, run_ids = self._decode(decode_steps)
        change = partial(_record_step_runs, runs)
        self._store(lambda: self.server.writer.apply(change, size=self._admitted or 0))
        if self._batch:
            return HTTPStatus.CREATED, {"runIds": run_ids}
        return HTTPStatus.CREATED, {"runId": run_ids[0]}

    def _read(self, handler: Callable[[read_api.Params], Any]) -> tuple[HTTPStatus, Any]:
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
        except OperationalError as trouble:
            raise _database_trouble(trouble) from None

    def _list_executions(self, params: dict[str, str]) -> tuple[HTTPStatus, Any]:
        return self._read(read_api.list_executions)

    def _list_workflows(self, params: dict[str, str]) -> tuple[HTTPStatus, Any]:
        return self._read(read_api.list_workflows)

    def _stats(self, params: dict[str, str]) -> tuple[HTTPStatus, Any]:
        return self._read(read_api.get_stats)

    def _get_execution(self, params: dict[str, str]) -> tuple[HTTPStatus, Any]:
        try:
            return self._read(lambda _: read_api.get_execution(params["id"]))
        except read_api.NotFound as missing:
            raise _HttpError(HTTPStatus.NOT_FOUND, str(missing)) from None

    # -- plumbing ---------------------------------------------------------------------
    def _reply(self, status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> None:
        self._release()
        # pydantic-core's serializer: several times faster than json.dumps on a large run
        # read back; answers hold only JSON values (read from JSON or built here).
        payload = to_json(body)
        self.send_answer(status, "application/json", payload, [*_ALWAYS, *(headers or {}).items()])

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


_T = TypeVar("_T")
_DIGITS = re.compile(r"[0-9]{1,30}", re.ASCII)  # str.isdigit() also takes "²", int() does not
_ALWAYS = (("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"))


def _origin_form(target: str, host_header: str) -> tuple[str, str]:
    """The path and query of a request target, and the host it names.

    A target in absolute form (`GET http://127.0.0.1:7341/api/health`) names its own host,
    which HTTP says wins over the Host header; both forms then pass the same Host check.
    """
    if target[:7].lower() != "http://":
        return target, host_header
    authority, slash, rest = target[7:].partition("/")
    return slash + rest if slash else "/", authority


def _decode_reports(body: bytes) -> list[RunRecord]:
    """msgspec for the common well-formed report; pydantic for the rest (see fast_report)."""
    return decode_reports_fast(body, is_batch(body)) or decode_reports(body)


# Changes are partials of module-level functions: they pickle, so they can cross to the
# writer process (writer_process.py).
def _touching(
    run_id: str, change: Callable[[str, Sequence[Any]], None], items: Sequence[Any]
) -> Callable[[], list[str]]:
    return partial(_apply_to_run, run_id, change, items)


def _apply_to_run(
    run_id: str, change: Callable[[str, Sequence[Any]], None], items: Sequence[Any]
) -> list[str]:
    change(run_id, items)
    return [run_id]


def _record_step_runs(runs: Sequence[tuple[StepRun, Sequence[NodeRecord]]]) -> list[str]:
    for run, steps in runs:
        record_steps(run, steps)
    return [run.id for run, _ in runs]


def _unavailable(message: str) -> _HttpError:
    error = _HttpError(HTTPStatus.SERVICE_UNAVAILABLE, message)
    error.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return error


def _database_trouble(exc: OperationalError) -> _HttpError:
    """Nothing was stored (the transaction rolled back); say why and whether to retry."""
    trouble = classify(exc)
    if trouble is Trouble.FULL:
        return _HttpError(
            HTTPStatus.INSUFFICIENT_STORAGE,
            "not stored: the disk holding the history database is full; free space and retry",
        )
    if trouble is Trouble.READ_ONLY:
        return _unavailable("not stored: the history database is read-only")
    if trouble is Trouble.BUSY:
        return _unavailable("not stored: the history database is locked by another program; retry")
    log.warning("database error: %s", exc)
    return _unavailable(f"not stored: database error ({exc}); retry")


class Receiver:
    """The HTTP server and the thread that runs it.

    `token`: the install's token; `require_token` defaults to "when listening beyond
    loopback", where a receiver without a token refuses to start. `crashed_dir`: where to
    keep a request body whose storing crashed the store process (the spool folder).
    """

    def __init__(
        self,
        writer: ReportWriter,
        host: str = "127.0.0.1",
        port: int = 7341,
        max_body: int = DEFAULT_MAX_BODY,
        token: str | None = None,
        require_token: bool | None = None,
        admission: Admission | None = None,
        crashed_dir: Path | None = None,
    ) -> None:
        self._writer = writer
        self._crashed_dir = crashed_dir
        # One body of the largest allowed size is always admissible on an idle receiver.
        self._admission = admission or Admission(max_bytes=max(max_body, MAX_BYTES_IN_FLIGHT))
        self._host = host
        self._requested_port = port
        self._max_body = max_body
        self._token = token
        self._require_token = not is_loopback(host) if require_token is None else require_token
        if self._require_token and not token:
            raise ValueError(f"listening on {host} needs a token")
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self._requested_port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def admission(self) -> Admission:
        """The gate on writes in progress (its counts show how loaded the receiver is)."""
        return self._admission

    @property
    def token_required(self) -> bool:
        return self._require_token

    def start(self) -> None:
        """Bind the socket and serve in a background thread; OSError if the port is taken."""
        server_class = _Server6 if ":" in self._host else _Server
        server = server_class((self._host, self._requested_port), _Handler)
        server.writer = self._writer
        server.admission = self._admission
        server.max_body = self._max_body
        server.token = self._token
        server.crashed_dir = self._crashed_dir
        server.token_required = self._require_token
        server.allowed_hosts = allowed_hosts(self._host, int(server.server_address[1]))
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
