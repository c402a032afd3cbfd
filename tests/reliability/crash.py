"""kill -9 a receiver while clients post; every acknowledged report must survive whole."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import make_report
from tests.reliability.serve import Tally, post_until_stopped, start_serve

CLIENTS = 8


@dataclass(frozen=True)
class CrashRound:
    acknowledged: int
    present: int
    half_written: int
    integrity: str


def _audit(db: Path, acknowledged: set[str]) -> CrashRound:
    """Read the file the killed process left, with plain sqlite3 (recovers the WAL)."""
    connection = sqlite3.connect(db)
    try:
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
        stored = {
            run_id: (declared, nodes, payloads)
            for run_id, declared, nodes, payloads in connection.execute(
                """
                SELECT r.id, r.node_count,
                       (SELECT COUNT(*) FROM node_execution n WHERE n.run_id = r.id),
                       (SELECT COUNT(*) FROM node_execution n
                          JOIN node_payload p ON p.node_id = n.id WHERE n.run_id = r.id)
                FROM run r
                """
            )
        }
    finally:
        connection.close()
    half = sum(
        1 for declared, nodes, payloads in stored.values() if not declared == nodes == payloads
    )
    present = sum(1 for run_id in acknowledged if run_id in stored and stored[run_id][1] == 2)
    return CrashRound(len(acknowledged), present, half, integrity)


def crash_round(db: Path, round_number: int, rng: random.Random) -> CrashRound:
    """Start serve, let 8 clients post, kill -9 after a random number of acks, audit."""
    served = start_serve(db)
    tally = Tally()
    stop = threading.Event()
    clients = [
        threading.Thread(
            target=post_until_stopped,
            args=(served.port, make_report, f"r{round_number}c{c}", tally, stop),
            name=f"crash-client-{c}",
        )
        for c in range(CLIENTS)
    ]
    for client in clients:
        client.start()
    try:
        tally.wait_for_acks(rng.randint(5, 150), timeout=60)
        # SIGKILL to serve and its store process at once: no handler, no flush, no goodbye,
        # and the process that writes dies wherever it is in its transaction.
        os.killpg(served.process.pid, signal.SIGKILL)
        served.process.communicate(timeout=10)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=20)
        if served.process.poll() is None:
            served.process.kill()
    with tally.lock:
        acknowledged = set(tally.acknowledged)
    return _audit(db, acknowledged)
