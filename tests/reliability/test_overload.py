"""Overload (issue 7, test 2): reports offered at several times the rate the receiver can
store get 503 with Retry-After at once; memory stays bounded; every acknowledged report is
stored. The 60-second variant is tests/benchmarks/ingest_bench.py."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_report, post_json
from tests.reliability.overload import body_factory, offer, rss_kib
from tests.reliability.serve import Tally, post_until_stopped, serving

pytestmark = pytest.mark.reliability

NODES = 40  # ~130 KB of JSON per report: parsing, not the socket, sets the pace
OVERLOAD_FACTOR = 5
OVERLOAD_SECONDS = 8.0
CONNECTIONS = 300
# The admission gate holds at most 32 reports (or 64 MB) at once: measured growth ~30 MiB.
# Without the gate the backlog of 300 parsed reports grew the receiver by ~100 MiB.
RSS_GROWTH_LIMIT_MIB = 64


def bulky_report(run_id: str) -> dict[str, Any]:
    report = make_report(run_id)
    fetch = report["nodeExecutions"][0]
    report["nodeExecutions"] = [
        {
            **fetch,
            "nodeId": f"n{i}",
            "output": {"rows": [{"n": n, "v": "x" * 8} for n in range(80)]},
        }
        for i in range(NODES)
    ]
    return report


def sustainable_rate(port: int, seconds: float = 3.0) -> float:
    """Reports per second four keep-alive clients get stored when they wait for answers."""
    tally, stop = Tally(), threading.Event()
    clients = [
        threading.Thread(
            target=post_until_stopped, args=(port, bulky_report, f"cal{c}", tally, stop)
        )
        for c in range(4)
    ]
    started = time.monotonic()
    for client in clients:
        client.start()
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    stop.set()
    for client in clients:
        client.join(30)
    return len(tally.acknowledged) / (time.monotonic() - started)


def stored_runs(db: Path) -> dict[str, int]:
    connection = sqlite3.connect(db)
    try:
        return dict(
            connection.execute(
                "SELECT r.id, (SELECT COUNT(*) FROM node_execution n WHERE n.run_id = r.id) "
                "FROM run r"
            )
        )
    finally:
        connection.close()


def test_overload_is_refused_with_retry_after_and_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with serving(db) as served:
        pid = served.process.pid
        rate = sustainable_rate(served.port)
        rss_start = rss_kib(pid)
        peak = [rss_start]
        done = threading.Event()

        def watch_memory() -> None:
            while not done.wait(0.1):
                peak.append(rss_kib(pid))

        watcher = threading.Thread(target=watch_memory)
        watcher.start()
        try:
            load = offer(
                served.port,
                body_factory(bulky_report),
                rate * OVERLOAD_FACTOR,
                OVERLOAD_SECONDS,
                CONNECTIONS,
            )
        finally:
            done.set()
            watcher.join()
        # Once the flood stops the receiver answers normally again.
        status, body, _ = post_json(served.url, "/api/executions", make_report("after-flood"))
        assert status == 201, body

    refused_503 = load.tally.refused.get(503, 0)
    acknowledged = load.tally.acknowledged
    stored = stored_runs(db)
    present = sum(1 for run_id in acknowledged if stored.get(run_id) == NODES)
    growth_mib = (max(peak) - rss_start) / 1024
    print(
        f"\noverload: sustainable {rate:.0f}/s, offered {rate * OVERLOAD_FACTOR:.0f}/s for "
        f"{OVERLOAD_SECONDS:.0f} s on up to {CONNECTIONS} connections: {load.sent} sent, "
        f"{len(acknowledged)} acknowledged, {refused_503} got 503 "
        f"({refused_503 - load.tally.retry_after_missing} with Retry-After), "
        f"max latency {max(load.latencies):.2f} s, RSS {rss_start / 1024:.0f}->"
        f"{max(peak) / 1024:.0f} MiB, {present} of {len(acknowledged)} present"
    )
    assert load.errors == 0
    assert set(load.tally.refused) == {503}, load.tally.refused
    assert refused_503 > 0, "the offered load did not overload the receiver"
    assert load.tally.retry_after_missing == 0
    assert len(acknowledged) + refused_503 == load.sent
    assert growth_mib < RSS_GROWTH_LIMIT_MIB
    assert present == len(acknowledged)
    # A refused report was not half-stored either: every run in the file is complete.
    assert all(nodes in (NODES, 2) for nodes in stored.values())
