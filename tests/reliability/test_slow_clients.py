"""Slow clients (issue 7, test 6): idle and byte-at-a-time connections starve nobody."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import make_report, post_json
from tests.reliability.serve import serving

pytestmark = pytest.mark.reliability

IDLE = 100
TRICKLING = 100
TRICKLE_REQUEST = b"POST /api/executions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999\r\n"


def _trickle(sockets: list[socket.socket], stop: threading.Event) -> None:
    """Send one byte on every trickling connection per round, like a slowloris client."""
    position = 0
    while not stop.is_set():
        byte = TRICKLE_REQUEST[
            position % len(TRICKLE_REQUEST) : position % len(TRICKLE_REQUEST) + 1
        ]
        for sock in sockets:
            # The server may drop a connection that is too slow: that is fine.
            with contextlib.suppress(OSError):
                sock.send(byte)
        position += 1
        stop.wait(0.05)


def test_idle_and_trickling_connections_do_not_delay_ordinary_posts(tmp_path: Path) -> None:
    with serving(tmp_path / "history.db") as served:
        idle = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(IDLE)]
        trickling = [socket.create_connection(("127.0.0.1", served.port)) for _ in range(TRICKLING)]
        stop = threading.Event()
        trickler = threading.Thread(target=_trickle, args=(trickling, stop), name="trickler")
        trickler.start()
        try:
            latencies = []
            for number in range(30):
                began = time.perf_counter()
                status, body, _ = post_json(
                    served.url, "/api/executions", make_report(f"ordinary-{number}")
                )
                latencies.append(time.perf_counter() - began)
                assert status == 201, body
        finally:
            stop.set()
            trickler.join(timeout=5)
            for sock in idle + trickling:
                sock.close()
    print(
        f"\nslow clients: {IDLE} idle + {TRICKLING} byte-at-a-time connections; "
        f"{len(latencies)} ordinary posts, slowest {max(latencies) * 1000:.0f} ms"
    )
    assert max(latencies) < 1.0, f"slowest ordinary post took {max(latencies):.3f} s"
