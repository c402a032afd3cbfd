"""Send workflow execution reports to Hindsight, using nothing but the standard library.

This one file also works copied next to a workflow script. Reporting must never slow or break
the workflow, so the workflow's thread only builds small dicts; one daemon thread serialises
and POSTs them, retries while the receiver is busy or unreachable, and otherwise spools each
report to a JSON file that is sent again later (at-least-once: the receiver replaces a run on
re-post, so a duplicate is harmless, but a stale "running" after the final state is not).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import contextvars
import dataclasses
import datetime as dt
import enum
import functools
import http.client
import inspect
import json
import logging
import math
import os
import posixpath
import re
import socket
import sys
import tempfile
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

log = logging.getLogger("hindsight.reporter")

DEFAULT_URL = "http://127.0.0.1:7341"
_MAX_TEXT = 2000  # a repr() fallback is for reading, not a dump of a huge object
_CONTENT_REJECTED = frozenset({400, 413, 415, 422})  # this body will never be accepted
_current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "hindsight_run", default=None
)
_current_node: contextvars.ContextVar[Node | None] = contextvars.ContextVar(
    "hindsight_node", default=None
)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def user_data_dir(platform: str = sys.platform) -> Path:
    """Hindsight's data folder, as platformdirs.user_data_path("Hindsight", appauthor=False)."""
    if platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
        return Path(os.path.normpath(base)) / "Hindsight"
    xdg = os.environ.get("XDG_DATA_HOME", "")
    if posixpath.isabs(xdg):  # platformdirs ignores relative values, on macOS too
        return Path(xdg) / "Hindsight"
    home_relative = "~/Library/Application Support" if platform == "darwin" else "~/.local/share"
    return Path(os.path.expanduser(home_relative)) / "Hindsight"


def default_token() -> str | None:
    """The token a reporter sends when given none: HINDSIGHT_TOKEN, else the install's token
    file; None when neither has one."""
    token = os.environ.get("HINDSIGHT_TOKEN", "").strip()
    if not token:
        with contextlib.suppress(OSError, ValueError):
            token = (user_data_dir() / "token").read_text(encoding="utf-8").strip()
    return token or None


def new_run_id() -> str:
    """A time-ordered UUID (RFC 9562 version 7): 48 bits of Unix milliseconds, then 74 random
    bits. Runs started one after another get ids that sort together, so the store appends
    to its id indexes instead of writing all over them (with random uuid4 ids, storing a run
    cost 1.5 times as much once the history held 12,000 runs: tests/benchmarks/run_id_bench.py)."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def _iso(epoch: float) -> str:
    stamp = dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="milliseconds")
    return stamp.removesuffix("+00:00") + "Z"


def _text(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not cost the report
        text = f"<unrepresentable {type(value).__qualname__}>"
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def _fallback(value: Any) -> Any:
    """json's default=: keep what a reader would want from common types, repr() the rest."""
    try:
        if isinstance(value, set | frozenset):
            return list(value)
        if isinstance(value, dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, enum.Enum):
            return value.value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    except Exception:
        pass
    return _text(value)


def _plain(value: Any, depth: int, seen: set[int]) -> Any:
    """Slow path, only after the fast one failed: NaN, cycles, odd keys, very deep nesting."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return value if value.bit_length() < 10_000 else "<int too large>"
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if depth > 100:
        return "<nested too deep>"
    if id(value) in seen:
        return "<circular reference>"
    seen.add(id(value))
    try:
        if isinstance(value, dict):
            return {
                key if isinstance(key, str) else _text(key): _plain(item, depth + 1, seen)
                for key, item in list(value.items())
            }
        if isinstance(value, list | tuple):
            return [_plain(item, depth + 1, seen) for item in list(value)]
        return _plain(_fallback(value), depth + 1, seen)
    finally:
        seen.discard(id(value))


def _encode(report: Mapping[str, Any]) -> bytes:
    """The exact bytes POSTed and spooled; the receiver rejects NaN and Infinity."""
    options: dict[str, Any] = {"ensure_ascii": False, "allow_nan": False, "separators": (",", ":")}
    try:
        text = json.dumps(report, default=_fallback, **options)
    except (ValueError, TypeError, RecursionError):
        text = json.dumps(_plain(report, 0, set()), **options)
    return text.encode("utf-8", "replace")  # lone surrogates would make encode() raise


def write_atomic(directory: Path, name: str, data: bytes) -> Path:
    """A killed process leaves either no file or the whole report, never half a `.json`
    (the receiver keeps a body that crashed its store this way too)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        target = directory / name
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if os.name == "posix":  # the rename itself survives a power cut only once the folder is synced
        with contextlib.suppress(OSError):
            folder = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
    return target


_stamp_lock = threading.Lock()
_last_stamp = 0


def _next_stamp() -> int:
    """Strictly increasing nanoseconds, so spool files sort in creation order even on Windows."""
    global _last_stamp
    with _stamp_lock:
        _last_stamp = max(time.time_ns(), _last_stamp + 1)
        return _last_stamp


class _Item:
    __slots__ = ("dropped", "final", "report", "run_id", "stamp")

    def __init__(self, run_id: str, report: dict[str, Any], final: bool) -> None:
        self.run_id, self.report, self.final = run_id, report, final
        self.stamp = _next_stamp()
        self.dropped = False

    def spool_name(self) -> str:
        seconds, nanos = divmod(self.stamp, 1_000_000_000)
        when = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f"{nanos:09d}Z"
        safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", self.run_id)[:80]
        return f"{when}-{safe_id}-{uuid.uuid4().hex[:12]}.json"


def _target(url: str) -> tuple[str, int, str, str]:
    """Host, port, Host header and path; the receiver wants Host exactly as HOST:PORT."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("expected http://HOST:PORT")
    host, port = parts.hostname, parts.port or 80
    host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return host, port, host_header, parts.path.rstrip("/") + "/api/executions"


class _Answer(NamedTuple):
    status: int | None  # None: the receiver could not be reached
    retry_after: float | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def final(self) -> bool:
        """2xx, or 4xx other than 429: trying again cannot change the answer."""
        return self.status is not None and self.status != 429 and self.status < 500


class Reporter:
    """Sends the reports of runs to one Hindsight receiver; one per process is plenty.

    `retry_seconds` bounds how long one report is retried before it is spooled; once the
    receiver looks down, later reports get a single attempt until one succeeds again.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 2.0,
        retry_seconds: float = 5.0,
        max_queue: int = 1000,
        exit_timeout: float = 2.0,
    ) -> None:
        self.url = (url or os.environ.get("HINDSIGHT_URL") or DEFAULT_URL).rstrip("/")
        self.token = token if token is not None else default_token()
        spool = spool_dir or os.environ.get("HINDSIGHT_SPOOL_DIR") or user_data_dir() / "spool"
        self.spool_dir = Path(spool)
        self.timeout, self.retry_seconds, self.exit_timeout = timeout, retry_seconds, exit_timeout
        self._max_queue = max_queue
        self._target: tuple[str, int, str, str] | None = None
        try:
            self._target = _target(self.url)
        except ValueError as error:  # bad configuration must not break the workflow: spool instead
            log.error("Hindsight URL %r is not usable (%s); spooling reports", self.url, error)
        self._connection: http.client.HTTPConnection | None = None
        self._cond = threading.Condition()
        self._queue: collections.deque[_Item] = collections.deque()
        self._queued = 0  # items in the queue that are not dropped
        self._queued_running: dict[str, _Item] = {}
        self._spooled_running: dict[str, list[Path]] = {}
        self._busy = True  # until the startup replay has run
        self._replay_pending = True
        self._offline = False
        self._stopping = self._closed = False
        self._warned: set[str] = set()
        self._thread = threading.Thread(target=self._work, name="hindsight-reporter", daemon=True)
        self._thread.start()
        _open_reporters.add(self)

    # -- the workflow's side ------------------------------------------------------------
    def run(
        self,
        workflow_id: str,
        *,
        name: str | None = None,
        trigger: str | None = None,
        trigger_data: Any = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | Iterable[str] | None = None,
        project: str | None = None,
        version: str | None = None,
        user: str | None = None,
        metadata: Any = None,
        run_id: str | None = None,
    ) -> Run:
        """A run to enter with `with`; `tags` given as plain labels become {label: ""}."""
        header: dict[str, Any] = {"id": run_id or new_run_id(), "workflowId": workflow_id}
        if params is not None:  # the receiver refuses the whole report if params is no object
            header["params"] = dict(params) if isinstance(params, Mapping) else {"value": params}
        if tags is not None:
            pairs = tags.items() if isinstance(tags, Mapping) else ((tag, "") for tag in tags)
            header["tags"] = {str(k): v if isinstance(v, str) else str(v) for k, v in pairs}
        if trigger is not None or trigger_data is not None:
            header["trigger"] = {"type": trigger, "data": trigger_data}
        optional = {"workflowName": name, "projectId": project, "workflowVersion": version}
        optional.update(userId=user, metadata=metadata)
        header.update((key, value) for key, value in optional.items() if value is not None)
        return Run(self, header)

    def step(
        self, node_id: str | None = None, *, name: str | None = None, type: str | None = None
    ) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
        """Decorator: each call inside a run is a node whose input is the call's arguments.

        Outside any run, or in a thread that did not enter the run, the function just runs.
        """

        def decorate(function: Callable[_P, _R]) -> Callable[_P, _R]:
            label = node_id or function.__name__
            try:
                signature: inspect.Signature | None = inspect.signature(function)
            except (TypeError, ValueError):
                signature = None

            def node_for(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Node | None:
                run = _current_run.get()
                if run is None:
                    return None
                return run.node(
                    label, name=name, type=type, input=_arguments(signature, args, kwargs)
                )

            if inspect.iscoroutinefunction(function):

                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    node = node_for(args, kwargs)
                    if node is None:
                        return await function(*args, **kwargs)
                    with node:
                        node.output = await function(*args, **kwargs)
                        return node.output

                return cast(Callable[_P, _R], functools.wraps(function)(async_wrapper))

            @functools.wraps(function)
            def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
                node = node_for(args, kwargs)
                if node is None:
                    return function(*args, **kwargs)
                with node:
                    result = function(*args, **kwargs)
                    node.output = result
                    return result

            return wrapper

        return decorate

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued report is delivered, spooled or refused; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queued and not self._busy, timeout)

    def close(self, timeout: float | None = None) -> None:
        """Flush for at most `timeout` (default exit_timeout), then spool whatever is left.

        A request already in flight may add up to the request timeout before the thread ends.
        """
        with self._cond:
            if self._stopping:
                return
        self.flush(self.exit_timeout if timeout is None else timeout)
        with self._cond:
            self._stopping = self._closed = True
            self._cond.notify_all()
        self._thread.join(self.timeout + 1.0)
        with self._cond:
            leftovers = [item for item in self._queue if not item.dropped]
            self._queue.clear()
            self._queued_running.clear()
            self._queued = 0
            self._cond.notify_all()
        for item in leftovers:
            self._spool(item)
        _open_reporters.discard(self)

    def __enter__(self) -> Reporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _submit(self, run_id: str, report: dict[str, Any], final: bool) -> None:
        item = _Item(run_id, report, final)
        with self._cond:
            if final:  # a stale "running" delivered after the final state would overwrite it
                stale = self._queued_running.pop(run_id, None)
                if stale is not None:
                    stale.dropped = True
                    self._queued -= 1
            if not self._closed and self._queued < self._max_queue:
                self._queue.append(item)
                self._queued += 1
                if not final:
                    self._queued_running[run_id] = item
                self._cond.notify_all()
                return
        self._spool(item)  # full or closed: a slow disk write here beats blocking or growing

    # -- the sender thread --------------------------------------------------------------
    def _work(self) -> None:
        try:
            while True:
                with self._cond:
                    while True:
                        if self._stopping:
                            return
                        replay = self._replay_pending and not self._offline
                        item = None if replay else self._pop()
                        if replay or item is not None:
                            break
                        self._busy = False
                        self._cond.notify_all()
                        self._cond.wait()
                    self._busy = True
                try:
                    if item is None:
                        self._replay()
                    else:
                        self._process(item)
                except Exception:
                    log.exception("unexpected error in the Hindsight reporter")
        finally:
            self._disconnect()
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _pop(self) -> _Item | None:
        while self._queue:
            item = self._queue.popleft()
            if not item.dropped:
                self._queued -= 1
                if self._queued_running.get(item.run_id) is item:
                    del self._queued_running[item.run_id]
                return item
        return None

    def _process(self, item: _Item) -> None:
        body = _encode(item.report)
        answer = self._deliver(body, 0.0 if self._offline else self.retry_seconds)
        if answer.ok:
            if self._offline:
                log.info("Hindsight receiver at %s is reachable again", self.url)
            with self._cond:
                self._offline = False
                stale = self._spooled_running.pop(item.run_id, []) if item.final else []
            for path in stale:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
        elif answer.status in _CONTENT_REJECTED:
            self._warn(f"rejected the report of run {item.run_id!r}", answer)
        elif answer.final:
            # A wrong token, URL or Host: the report is fine, the configuration is not. Keep
            # it in the spool; a reporter with the right settings delivers it later.
            self._warn(f"refused the report of run {item.run_id!r}; spooled", answer)
            with self._cond:
                self._offline = True  # no replay into the same refusal; next good send does
            self._spool(item, body)
        else:
            if not self._offline:
                why = answer.message or f"HTTP {answer.status}"
                log.info(
                    "receiver at %s unavailable (%s); spooling to %s", self.url, why, self.spool_dir
                )
            self._offline = True
            self._spool(item, body)

    def _deliver(self, body: bytes, budget: float) -> _Answer:
        """POST with exponential backoff while the receiver is unreachable, busy or failing."""
        deadline, backoff = time.monotonic() + budget, 0.05
        while True:
            answer = self._attempt(body)
            if answer.final:
                return answer
            pause = backoff if answer.retry_after is None else answer.retry_after
            if time.monotonic() + pause > deadline:
                return answer
            with self._cond:
                if self._cond.wait_for(lambda: self._stopping, pause):
                    return answer
            backoff = min(backoff * 2, 1.0)

    def _attempt(self, body: bytes) -> _Answer:
        try:
            status, retry_after, payload = self._post(body)
        except (OSError, http.client.HTTPException, ValueError) as error:  # ValueError: bad token
            return _Answer(None, None, str(error) or type(error).__name__)
        try:
            decoded = json.loads(payload)
            message = str(decoded.get("error", ""))
            details = "; ".join(f"{d['path']}: {d['message']}" for d in decoded.get("details", []))
            message += f" ({details})" if details else ""
        except Exception:
            message = payload[:300].decode("utf-8", "replace")
        try:
            wait = float(retry_after) if retry_after is not None else None
        except ValueError:  # an HTTP date: fall back to the backoff
            wait = None
        return _Answer(status, wait if wait is None or wait >= 0 else None, message)

    def _post(self, body: bytes) -> tuple[int, str | None, bytes]:
        if self._target is None:
            raise OSError("no usable Hindsight URL")
        host, port, host_header, path = self._target
        headers = {"Host": host_header, "Content-Type": "application/json"}
        headers["User-Agent"] = "hindsight-reporter/1"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        while True:
            fresh = self._connection is None
            if self._connection is None:
                connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
                connection.connect()
                # Headers and body leave in two writes; Nagle would hold the body for an ACK.
                connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._connection = connection
            try:
                self._connection.request("POST", path, body=body, headers=headers)
                response = self._connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                self._disconnect()
                if fresh or isinstance(error, TimeoutError):
                    raise
                continue  # the receiver closed an idle keep-alive connection: not an outage
            if response.will_close:
                self._disconnect()
            return response.status, response.getheader("Retry-After"), payload

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _warn(self, what: str, answer: _Answer) -> None:
        text = f"Hindsight receiver at {self.url} {what}: HTTP {answer.status} {answer.message}"
        key = f"{answer.status} {answer.message}"
        log.log(logging.DEBUG if key in self._warned else logging.WARNING, text)
        self._warned.add(key)  # once per distinct problem: a loop of runs must not flood the log

    def _spool(self, item: _Item, body: bytes | None = None) -> None:
        try:
            path = write_atomic(self.spool_dir, item.spool_name(), body or _encode(item.report))
        except Exception:
            log.exception("could not spool the report of run %r to %s", item.run_id, self.spool_dir)
            return
        with self._cond:
            self._replay_pending = True
            if item.final:
                stale = self._spooled_running.pop(item.run_id, [])
            else:
                stale = []
                self._spooled_running.setdefault(item.run_id, []).append(path)
        for old in stale:
            with contextlib.suppress(OSError):
                old.unlink(missing_ok=True)

    def _replay(self) -> None:
        """Send spooled reports oldest first; file names sort in creation order."""
        with self._cond:
            self._replay_pending = False
        try:
            paths = sorted(self.spool_dir.glob("*.json"))
        except OSError:
            paths = []
        for path in paths:
            try:
                body = path.read_bytes()
            except OSError:  # sent and removed by another process meanwhile
                continue
            answer = self._attempt(body)
            if answer.ok:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)
            elif answer.status in _CONTENT_REJECTED:
                self._warn(f"rejected spooled {path.name}; kept as .rejected", answer)
                with contextlib.suppress(OSError):
                    path.replace(path.with_name(path.name + ".rejected"))
            else:  # unreachable, busy or misconfigured: try again after the next good send
                if answer.final:
                    self._warn(f"refused spooled {path.name}", answer)
                with self._cond:
                    self._offline = self._replay_pending = True
                return
            if self._stopping:
                with self._cond:
                    self._replay_pending = True
                return


def _arguments(
    signature: inspect.Signature | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if signature is not None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:  # the call itself is wrong; the function will say so
            pass
        else:
            bound.apply_defaults()
            return {k: v for k, v in bound.arguments.items() if k not in ("self", "cls")}
    return {"args": list(args), "kwargs": kwargs}


def _level(level: str | int) -> str:
    """The receiver knows debug/info/warn/error and refuses a whole report over another."""
    if isinstance(level, int):
        thresholds = ((logging.INFO, "debug"), (logging.WARNING, "info"), (logging.ERROR, "warn"))
        return next((name for limit, name in thresholds if level < limit), "error")
    label = str(level).strip().lower()
    aliases = {"warning": "warn", "critical": "error", "fatal": "error", "trace": "debug"}
    label = aliases.get(label, label)
    return label if label in ("debug", "info", "warn", "error") else "info"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _error(exc: BaseException, tb: TracebackType | None) -> dict[str, Any]:
    try:
        text = str(exc)
    except Exception:
        text = "<str() failed>"
    name = type(exc).__qualname__
    try:
        stack = "".join(traceback.format_exception(type(exc), exc, tb))
    except Exception:
        stack = None
    return {"message": f"{name}: {text}" if text else name, "stack": stack}


class Run:
    """One execution of a workflow; enter it to post "running", leave it to post the result."""

    def __init__(self, reporter: Reporter, header: dict[str, Any]) -> None:
        self.id: str = header["id"]
        self.output: Any = None  # the workflow's result, sent with the final report
        self._reporter, self._header = reporter, header
        self._lock = threading.Lock()
        self._nodes: list[Node] = []
        self._logs: list[dict[str, Any]] = []
        self._artifacts: dict[str, dict[str, Any]] = {}
        self._artifacts_dropped = False
        self._attempts: dict[str, int] = {}
        self._failure: tuple[BaseException, str] | None = None
        self._started = self._t0 = 0.0
        self._token: contextvars.Token[Run | None] | None = None

    max_logs = 1000  # per run: a log call in a hot loop must not grow memory without bound
    max_artifacts = 100  # per run, for the same reason

    def node(
        self, node_id: str, *, name: str | None = None, type: str | None = None, input: Any = None
    ) -> Node:
        return Node(self, node_id, name, type, input)

    def log(self, level: str | int, message: str, **data: Any) -> None:
        try:
            entry: dict[str, Any] = {"timestamp": _iso(time.time()), "level": _level(level)}
            entry["message"] = message if isinstance(message, str) else _text(message)
            if data:
                entry["data"] = data
            node = _current_node.get()
            if node is not None and node.run is self:
                entry["nodeId"] = node.id
            with self._lock:
                if len(self._logs) >= self.max_logs:
                    return
                entry["sequence"] = len(self._logs) + 1
                self._logs.append(entry)
        except Exception:
            log.debug("could not record a log entry", exc_info=True)

    def artifact(self, key: str, data: Any, *, type: str = "artifact") -> None:
        """Attach a named result to the run (a file's summary, a table preview, a chart
        spec: any JSON-able value), sent with the final report. Called inside a node, it is
        that node's. The same key again replaces the earlier one."""
        node = _current_node.get()
        node_id = node.id if node is not None and node.run is self else None
        self._add_artifact(key, data, type, node_id)

    def _add_artifact(self, key: Any, data: Any, type: Any, node_id: str | None) -> None:
        try:
            key = key if isinstance(key, str) else _text(key)
            # As it will be sent (a lone surrogate becomes "?"), so two keys that would arrive
            # the same replace each other instead of the receiver refusing the whole report;
            # clipped to the receiver's limits for the same reason.
            key = key.encode("utf-8", "replace").decode("utf-8")[:200]
            if not key:
                log.warning("an artifact needs a non-empty key; it was not recorded")
                return
            kind = "artifact" if type is None else str(type)[:50]
            entry: dict[str, Any] = {"key": key, "type": kind, "data": data}
            if node_id is not None:
                entry["nodeId"] = node_id
            with self._lock:
                if key not in self._artifacts and len(self._artifacts) >= self.max_artifacts:
                    if not self._artifacts_dropped:  # once a run, not once a call
                        self._artifacts_dropped = True
                        log.warning(
                            "run %r keeps %d artifacts; more are dropped",
                            self.id,
                            len(self._artifacts),
                        )
                    return
                self._artifacts[key] = entry
        except Exception:
            log.debug("could not record an artifact", exc_info=True)

    def __enter__(self) -> Run:
        try:
            self._started, self._t0 = time.time(), time.perf_counter()
            self._token = _current_run.set(self)
            report = {**self._header, "status": "running", "startedAt": _iso(self._started)}
            self._reporter._submit(self.id, report | {"nodeExecutions": []}, final=False)
        except Exception:
            log.exception("could not report the start of run %r", self.id)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            elapsed = time.perf_counter() - self._t0
            if self._token is not None:
                with contextlib.suppress(ValueError):  # left in another context than entered
                    _current_run.reset(self._token)
            with self._lock:
                nodes, logs = [n._report() for n in self._nodes], list(self._logs)
                artifacts = list(self._artifacts.values())
            report = {**self._header, "status": "success" if exc is None else "error"}
            report.update(startedAt=_iso(self._started), completedAt=_iso(self._started + elapsed))
            report.update(durationMs=round(elapsed * 1000), nodeExecutions=nodes, logs=logs)
            if artifacts:
                report["artifacts"] = artifacts
            if self.output is not None:
                report["output"] = self.output
            if exc is not None:
                report["error"] = _error(exc, tb)
                if self._failure is not None and self._failure[0] is exc:
                    report["error"]["nodeId"] = self._failure[1]
            self._failure = None  # do not keep the exception and its frames alive
            self._reporter._submit(self.id, report, final=True)
        except Exception:
            log.exception("could not report the end of run %r", self.id)


class Node:
    """One step of a run; set `output` (and maybe call `llm`) inside the `with` block."""

    def __init__(
        self, run: Run, node_id: str, name: str | None, type: str | None, input: Any
    ) -> None:
        self.run, self.id, self.name, self.type = run, node_id, name, type
        self.input: Any = input  # None is not sent: the viewer shows "not reported"
        self.output: Any = None
        self.metrics: Any = None  # e.g. {"rows": 120}: any JSON the viewer should show
        self.attempt = 0
        self._status = "pending"
        self._started = self._t0 = 0.0
        self._elapsed: float | None = None
        self._error: dict[str, Any] | None = None
        self._llm: dict[str, Any] | None = None
        self._token: contextvars.Token[Node | None] | None = None

    def llm(
        self,
        model: str | None = None,
        prompt: Any = None,
        response: Any = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        total_tokens: int | None = None,
        cost_usd: float | None = None,
        finish_reason: str | None = None,
    ) -> None:
        """Record the model call this node made (a second call replaces the first)."""
        prompt_tokens, completion_tokens = _count(prompt_tokens), _count(completion_tokens)
        if total_tokens is None and prompt_tokens is not None and completion_tokens is not None:
            total_tokens = prompt_tokens + completion_tokens
        cost_ok = isinstance(cost_usd, int | float) and math.isfinite(cost_usd) and cost_usd >= 0
        fields = (  # a value the receiver refuses (negative, NaN) would cost the whole report
            ("model", None if model is None else str(model)),
            ("prompt", prompt),
            ("response", response),
            ("promptTokens", prompt_tokens),
            ("completionTokens", completion_tokens),
            ("totalTokens", _count(total_tokens)),
            ("costUsd", cost_usd if cost_ok else None),
            ("finishReason", None if finish_reason is None else str(finish_reason)),
        )
        self._llm = {key: value for key, value in fields if value is not None}

    def artifact(self, key: str, data: Any, *, type: str = "artifact") -> None:
        """`run.artifact` for this node, wherever it is called from."""
        self.run._add_artifact(key, data, type, self.id)

    def __enter__(self) -> Node:
        try:
            self._started, self._t0 = time.time(), time.perf_counter()
            self._status = "running"
            with self.run._lock:  # a node id entered again in the same run is a retry
                if not self.attempt:  # re-entering the same Node object is not a new attempt
                    self.attempt = self.run._attempts.get(self.id, 0) + 1
                    self.run._attempts[self.id] = self.attempt
                    self.run._nodes.append(self)
            self._token = _current_node.set(self)
        except Exception:
            log.exception("could not record the start of node %r", self.id)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._elapsed = time.perf_counter() - self._t0
            if self._token is not None:
                with contextlib.suppress(ValueError):
                    _current_node.reset(self._token)
            if exc is None:
                self._status = "success"
            else:
                self._status, self._error = "error", _error(exc, tb)
                if self.run._failure is None or self.run._failure[0] is not exc:
                    self.run._failure = (exc, self.id)  # the innermost node is where it broke
        except Exception:
            log.exception("could not record the end of node %r", self.id)

    def _report(self) -> dict[str, Any]:
        report: dict[str, Any] = {"nodeId": self.id, "status": self._status}
        if self.name is not None:
            report["nodeName"] = self.name
        if self.type is not None:
            report["nodeType"] = self.type
        if self._status != "pending":
            report.update(startedAt=_iso(self._started), attempt=self.attempt)
        if self._elapsed is not None:
            report["completedAt"] = _iso(self._started + self._elapsed)
            report["durationMs"] = round(self._elapsed * 1000)
        optional = {"input": self.input, "output": self.output, "error": self._error}
        optional.update(metrics=self.metrics, llm=self._llm)
        report.update((key, value) for key, value in optional.items() if value is not None)
        return report


_open_reporters: weakref.WeakSet[Reporter] = weakref.WeakSet()


@atexit.register
def _close_open_reporters() -> None:
    for reporter in list(_open_reporters):
        reporter.close()
