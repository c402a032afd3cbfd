"""What the order of run ids costs the store as a history grows.

    .venv/bin/python -m tests.benchmarks.run_id_bench --runs 12000

Stores the store benchmark's runs into a fresh SQLite file the way the receiver's writer
does (groups of 50 runs, one transaction each), once with ids made by
`reporter.new_run_id` (time-ordered, UUID version 7) and once with their random ids, each
pass in a fresh process. Prints the time per run for each 2,000 runs stored, side by side.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from app.reporter import new_run_id
from app.store import writes
from app.store.connection import close_database, open_database, write_transaction
from app.store.prepared import prepare_runs
from tests.benchmarks.generator import RunGenerator, to_record

GROUP = 50
CHUNK = 2_000


def store_all(runs: int, ordered_ids: bool) -> list[float]:
    """Milliseconds per run stored, for each CHUNK runs."""
    generator = RunGenerator(total_runs=runs)
    figures: list[float] = []
    spent = 0.0
    with tempfile.TemporaryDirectory() as folder:
        open_database(Path(folder) / "history.db")
        try:
            for first in range(0, runs, GROUP):
                reports = [generator.report(i) for i in range(first, first + GROUP)]
                if ordered_ids:  # as a reporter names runs it starts one after another
                    for report in reports:
                        report["id"] = new_run_id()
                records = [to_record(report) for report in reports]
                began = time.perf_counter()
                prepared = prepare_runs(records)
                with write_transaction():
                    writes.store_prepared([prepared])
                spent += time.perf_counter() - began
                if (first + GROUP) % CHUNK == 0:
                    figures.append(spent / CHUNK * 1000)
                    spent = 0.0
        finally:
            close_database()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=12_000)
    args = parser.parse_args()
    if args.runs < CHUNK:
        parser.error(f"--runs must be at least {CHUNK:,}")
    # Each pass in a fresh process, so neither inherits the other's warmed-up state.
    spawn = multiprocessing.get_context("spawn")
    figures = {}
    for ordered_ids in (True, False):
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            figures[ordered_ids] = pool.submit(store_all, args.runs, ordered_ids).result()
    random_ids, ordered = figures[False], figures[True]
    print(f"{'runs stored':>12}  {'random ids':>12}  {'reporter ids':>13}")
    for index, (slow, fast) in enumerate(zip(random_ids, ordered, strict=True), start=1):
        print(f"{index * CHUNK:>12,}  {slow:>9.3f} ms  {fast:>10.3f} ms")
    print(
        f"last {CHUNK:,} runs: random ids cost {random_ids[-1] / ordered[-1]:.2f}x "
        "what time-ordered ids cost"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
