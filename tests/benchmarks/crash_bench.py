"""Long variant of the crash test: kill -9 `hindsight serve` N times while 8 clients post.

    .venv/bin/python -m tests.benchmarks.crash_bench --rounds 20

Prints, per round and in total, the reports acknowledged with a 2xx and how many of them
are in the database afterwards, half-written runs and PRAGMA integrity_check.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from tests.reliability.crash import crash_round


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    acknowledged = present = half = 0
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "history.db"
        for number in range(args.rounds):
            result = crash_round(db, number, rng)
            acknowledged += result.acknowledged
            present += result.present
            half += result.half_written
            ok = result.integrity == "ok" and result.present == result.acknowledged
            failures += not ok
            print(
                f"round {number + 1:2}: acknowledged {result.acknowledged:5}, "
                f"present {result.present:5}, half-written {result.half_written}, "
                f"integrity {result.integrity}"
            )
    print(
        f"kill -9 x {args.rounds}: {acknowledged:,} acknowledged, {present:,} present, "
        f"{half} half-written, {failures} failed rounds"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
