"""Start and drive a real `hindsight serve` process, as the reliability tests need it."""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ADDRESS = re.compile(r"http://127\.0\.0\.1:(\d+)/api/executions")


@dataclass
class Served:
    process: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_serve(db: Path, *extra: str, env: dict[str, str] | None = None) -> Served:
    """Start `hindsight serve` on a free port; return once it prints its address."""
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--db", str(db), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        start_new_session=True,  # a process group of its own: serve and its store process
    )
    assert process.stdout is not None
    first_line = process.stdout.readline()
    match = _ADDRESS.search(first_line)
    if not match:
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(f"serve did not start: {first_line!r} {err}")
    return Served(process, int(match.group(1)))


@contextmanager
def serving(db: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    served = start_serve(db, *extra, env=env)
    try:
        yield served
    finally:
        if served.process.poll() is None:
            served.process.terminate()
            try:
                served.process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                served.process.kill()
                served.process.communicate()


@dataclass
class Tally:
    """What a swarm of clients sent and what the receiver acknowledged."""

    acknowledged: set[str] = field(default_factory=set)
    refused: dict[int, int] = field(default_factory=dict)
    retry_after_missing: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def acked(self, run_id: str) -> None:
        with self.changed:
            self.acknowledged.add(run_id)
            self.changed.notify_all()

    def wait_for_acks(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.acknowledged) >= count, timeout)


def post_until_stopped(
    port: int,
    make: Any,
    prefix: str,
    tally: Tally,
    stop: threading.Event,
) -> None:
    """One keep-alive client posting fresh reports until `stop` or the server goes away."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sequence = 0
    try:
        while not stop.is_set():
            run_id = f"{prefix}-{sequence}"
            sequence += 1
            body = json.dumps(make(run_id)).encode()
            try:
                connection.request(
                    "POST",
                    "/api/executions",
                    body,
                    {"Content-Type": "application/json", "Host": f"127.0.0.1:{port}"},
                )
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                return  # the server died or went away: this client is done
            if response.status in (200, 201):
                tally.acked(run_id)
            else:
                with tally.lock:
                    tally.refused[response.status] = tally.refused.get(response.status, 0) + 1
                    if response.status == 503 and not response.getheader("Retry-After"):
                        tally.retry_after_missing += 1
    finally:
        connection.close()
