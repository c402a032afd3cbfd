"""Crash during ingest (issue 7, test 1): the short CI variant; the long one is
tests/benchmarks/crash_bench.py (20+ rounds)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.conftest import make_report, post_json
from tests.reliability.crash import crash_round
from tests.reliability.serve import serving

pytestmark = pytest.mark.reliability


def test_kill_9_during_ingest_loses_no_acknowledged_report(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    rng = random.Random(7)
    total_acknowledged = total_present = 0
    for round_number in range(3):
        result = crash_round(db, round_number, rng)
        assert result.integrity == "ok"
        assert result.half_written == 0
        assert result.present == result.acknowledged, result
        total_acknowledged += result.acknowledged
        total_present += result.present
    print(
        f"\nkill -9 x 3: {total_acknowledged} acknowledged, {total_present} present, "
        "0 half-written, integrity ok"
    )
    assert total_acknowledged > 0

    # The file the crashes left behind opens normally and keeps taking reports.
    with serving(db) as served:
        status, body, _ = post_json(served.url, "/api/executions", make_report("after-crash"))
        assert status == 201, body
