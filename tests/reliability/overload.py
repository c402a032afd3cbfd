"""Open-loop load: reports offered at a fixed rate whatever the receiver answers.

Closed-loop clients (send, wait, send) slow down with the server and never overload it.
Workflows do not: each finished run posts on a new connection whether or not the receiver
kept up, so this generator schedules sends by the clock and lets connections pile up.
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.reliability.serve import Tally

_PLACEHOLDER = "@@RUN-ID@@"


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc/PID/status (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class OfferedLoad:
    """What the generator offered and how the receiver answered."""

    tally: Tally = field(default_factory=Tally)
    sent: int = 0
    errors: int = 0  # connection refused or reset: never expected from a live receiver
    latencies: list[float] = field(default_factory=list)


def body_factory(make: Callable[[str], dict[str, Any]]) -> Callable[[str], bytes]:
    """Encode the report once; each send only swaps in its id (keeps the client's CPU low)."""
    template = json.dumps(make(_PLACEHOLDER)).encode()
    return lambda run_id: template.replace(_PLACEHOLDER.encode(), run_id.encode())


def offer(
    port: int,
    body: Callable[[str], bytes],
    rate: float,
    seconds: float,
    connections: int,
    prefix: str = "load",
) -> OfferedLoad:
    """Offer `rate` reports per second for `seconds`, each on a new connection, with up to
    `connections` in flight; return once every send has been answered."""
    load = OfferedLoad()
    tickets: queue.Queue[str | None] = queue.Queue()

    def sender() -> None:
        while (run_id := tickets.get()) is not None:
            started = time.monotonic()
            status, retry_after = _post(port, body(run_id))
            with load.tally.lock:
                load.latencies.append(time.monotonic() - started)
                if status is None:
                    load.errors += 1
                elif status == 201:
                    load.tally.acknowledged.add(run_id)
                else:
                    load.tally.refused[status] = load.tally.refused.get(status, 0) + 1
                    if status == 503 and not retry_after:
                        load.tally.retry_after_missing += 1

    workers = [
        threading.Thread(target=sender, name=f"load-{n}", daemon=True) for n in range(connections)
    ]
    for worker in workers:
        worker.start()
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate)
        while load.sent < due:
            tickets.put(f"{prefix}-{load.sent}")
            load.sent += 1
        time.sleep(0.005)
    for _ in workers:
        tickets.put(None)
    for worker in workers:
        worker.join(120)
    return load


def _post(port: int, data: bytes) -> tuple[int | None, str | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(
            "POST",
            "/api/executions",
            data,
            {"Content-Type": "application/json", "Host": f"127.0.0.1:{port}"},
        )
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Retry-After")
    except (OSError, http.client.HTTPException):
        return None, None
    finally:
        connection.close()
