"""Without a PostgreSQL server the `postgresql` tests skip on a developer's machine and fail
on CI, so CI can never pass by skipping them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_PG_TEST = "tests/store/test_store.py::test_round_trip_keeps_every_field[postgresql]"


def _run_with_unreachable_server(ci: bool) -> subprocess.CompletedProcess[str]:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["HINDSIGHT_TEST_PG_URL"] = f"postgresql://nobody@127.0.0.1:{port}/nothing"
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", ONE_PG_TEST],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_missing_server_skips_with_the_reason_outside_ci() -> None:
    result = _run_with_unreachable_server(ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "no PostgreSQL server: HINDSIGHT_TEST_PG_URL names a server that refuses" in (
        result.stdout
    )


def test_missing_server_fails_on_ci() -> None:
    result = _run_with_unreachable_server(ci=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "CI needs PostgreSQL" in result.stdout
    assert "skipped" not in result.stdout
