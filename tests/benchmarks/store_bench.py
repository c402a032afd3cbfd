"""Store benchmark (issue 3, "Performance"): prints every figure and its target.

    .venv/bin/python tests/benchmarks/store_bench.py [--runs 1000000] [--db PATH-or-URL]

Figures:
- batched write of runs (the receiver's path: `replace_runs`, one transaction per group of
  reports) against the raw ceiling: plain `executemany` of the very same rows in the same
  number of transactions: `sqlite3` on a fresh file with the same schema and pragmas, or
  for a database URL psycopg on the same (emptied) PostgreSQL database;
- database bytes per run (search index included) against the reports' JSON bytes per run;
- with `--runs` runs (default 1,000,000; no node payloads): first page (50 rows) per single
  filter and for combined filters, total counts, one run with 20 nodes;
- with `--payload-runs` runs with full payloads (default 100,000): full-text query to the
  first 50 hits, per-workflow statistics, deleting them all with the longest write-lock
  hold of one chunk.

The two big data sets are built once and cached: for SQLite as files next to `--db`
(default /tmp/hindsight-bench-*.db), for a database URL in that database (rebuilt when it
holds another set). Timings are the median of several repetitions on a warm cache.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a plain script

from peewee import SqliteDatabase

from app.config import describe_database
from app.store import prepared, queries, search, search_pg, stats, writes
from app.store.backend import is_postgres
from app.store.connection import SQLITE_PRAGMAS, close_database, open_database
from app.store.filters import RunFilter
from app.store.models import ALL_MODELS, BaseModel, Run, SchemaInfo, db
from app.store.prepared import prepare_runs
from app.store.records import RunRecord
from app.store.schema import SCHEMA_VERSION
from app.store.status import Status
from tests.benchmarks.generator import (
    END_MS,
    RunGenerator,
    report_bytes,
)

GROUP = 200  # reports per transaction, as the receiver's writer groups them
DAY_MS = 86_400_000


def is_url(target: str) -> bool:
    return "://" in target


def shown(target: str) -> str:
    """The target as printed: a URL without its password."""
    return describe_database(target) if is_url(target) else target


def open_target(target: str) -> Any:
    """Open a path or URL through the store's own entry point (backend-agnostic)."""
    return open_database(target if is_url(target) else Path(target))  # type: ignore[arg-type]


def timed(fn: Callable[[], Any], repeat: int = 5) -> tuple[float, Any]:
    """Median wall time in ms over `repeat` calls (after one warm-up call) and the result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def line(label: str, value: str, target: str = "", ok: bool | None = None) -> None:
    mark = "" if ok is None else ("  ok" if ok else "  MISSED")
    suffix = f"  (target {target}){mark}" if target else ""
    print(f"  {label:<46} {value:>14}{suffix}", flush=True)


def database_bytes() -> int:
    """Bytes the database occupies: the SQLite file after a checkpoint, or PostgreSQL's size."""
    database = db.obj
    if isinstance(database, SqliteDatabase):
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return Path(database.database).stat().st_size
    return int(database.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0])


# -- data sets -----------------------------------------------------------------------------
def dataset_marker(runs: int, payloads: bool, seed: int) -> str:
    """What identifies a cached set. The payload set is rebuilt for each schema version
    (its bytes per run must be those of a file written by this version, not of an upgraded
    one full of freed pages); the listing set is upgraded by `open_database` like any user's
    history, which keeps its runs and is far quicker than building a million again."""
    marker = f"seed {seed}, {runs} runs, payloads {payloads}"
    return f"schema {SCHEMA_VERSION}, {marker}" if payloads else marker


def same_dataset(stored: str, marker: str) -> bool:
    # Listing sets built before schema 4 carry their schema in the marker too.
    return stored == marker or (
        marker.startswith("seed ") and re.sub(r"^schema \d+, ", "", stored) == marker
    )


def records(generator: RunGenerator, start: int, stop: int, payloads: bool) -> list[RunRecord]:
    return [
        generator.record(i, nodes=20 if i == generator.total_runs // 2 else None, payloads=payloads)
        for i in range(start, stop)
    ]


def ensure_dataset(target: str, runs: int, payloads: bool, seed: int) -> None:
    """Open `target` holding exactly the generated set, building it if it is not cached."""
    marker = dataset_marker(runs, payloads, seed)
    if not is_url(target) and Path(target).exists():
        open_target(target)
        row = SchemaInfo.get_or_none(SchemaInfo.key == "bench_dataset")
        if row is not None and same_dataset(row.value, marker):
            return
        close_database()
        for suffix in ("", "-wal", "-shm"):
            Path(target + suffix).unlink(missing_ok=True)
    open_target(target)
    row = SchemaInfo.get_or_none(SchemaInfo.key == "bench_dataset")
    if row is not None and same_dataset(row.value, marker):
        return
    if Run.select().exists():
        if is_postgres():
            _empty_postgres()  # the other set: TRUNCATE, not a million chunked deletes
        else:
            writes.delete_all()
    print(f"  building {marker} in {shown(target)} (once; cached) ...", flush=True)
    generator = RunGenerator(seed=seed, total_runs=runs)
    start = time.perf_counter()
    chunk = 2000
    for first in range(0, runs, chunk):
        batch = records(generator, first, min(first + chunk, runs), payloads)
        with writes.write_transaction():
            writes.store_prepared([prepare_runs(batch)], index_now=True)
        if first and first % 100_000 == 0:
            rate = first / (time.perf_counter() - start)
            print(f"    {first:,} runs ({rate:,.0f}/s)", flush=True)
    # An upsert both backends speak (SQLite's REPLACE does not exist on PostgreSQL).
    SchemaInfo.insert(key="bench_dataset", value=marker).on_conflict(
        conflict_target=[SchemaInfo.key], update={SchemaInfo.value: marker}
    ).execute()


# -- write throughput ----------------------------------------------------------------------
RawRows = list[tuple[str, list[str], list[tuple[Any, ...]]]]


@contextmanager
def captured_rows() -> Iterator[RawRows]:
    """Record the rows the store inserts (table, columns, values as stored) instead of
    inserting them, so the raw ceiling writes exactly the same rows."""
    captured: RawRows = []

    def capture(model: type[BaseModel], names: tuple[str, ...], rows: list[Any]) -> None:
        if rows:
            columns = [model._meta.fields[name].column_name for name in names]
            captured.append((model._meta.table_name, columns, list(rows)))

    def capture_index(entries: Any) -> None:
        raw = search_pg.raw_index_rows if is_postgres() else search.raw_index_rows
        captured.extend(raw(entries))

    original_rows, original_index = prepared._insert, prepared.index_entries
    prepared._insert, prepared.index_entries = capture, capture_index  # type: ignore[assignment]
    try:
        yield captured
    finally:
        prepared._insert, prepared.index_entries = original_rows, original_index  # type: ignore[assignment]


def store_rows(batches: list[list[RunRecord]]) -> list[RawRows]:
    """The rows the store writes for the batches, split into one list per batch (the open
    database is left as it was). The index rows are those SQLite adds when it catches up."""
    with db.atomic() as transaction, captured_rows() as rows:
        records = [record for batch in batches for record in batch]
        prepared.insert_prepared(prepare_runs(records, search_inline=True))
        transaction.rollback()
    return _split_by_batch(rows, batches)


def raw_ceiling(path: Path, batches: list[list[RunRecord]]) -> float:
    """Runs/s of plain sqlite3 executemany of the store's rows, one transaction per batch."""
    open_target(str(path))  # same schema as the store creates
    prepared = store_rows(batches)
    close_database()
    return _raw_insert(path, prepared)


def _split_by_batch(rows: RawRows, batches: list[list[RunRecord]]) -> list[RawRows]:
    """Every row goes into the transaction of the run it belongs to, as in the store."""
    batch_of_run = {record.id: k for k, batch in enumerate(batches) for record in batch}
    batch_of_pk: dict[str, dict[Any, int]] = {}
    parents = {
        "node_payload": "node_execution",
        "log_payload": "log_entry",
        "artifact_payload": "artifact",
    }
    prepared: list[RawRows] = [[] for _ in batches]
    for table, columns, values in rows:
        parts: list[list[tuple[Any, ...]]] = [[] for _ in batches]
        for value in values:
            row = dict(zip(columns, value, strict=True))
            if table == "run":
                k = batch_of_run[row["id"]]
            elif table in parents:
                k = batch_of_pk[parents[table]][value[0]]
            elif "run_id" not in row:  # SQLite's search index: rowid = node pk or -log pk
                rowid = row["rowid"]
                k = (
                    batch_of_pk["node_execution"][rowid]
                    if rowid > 0
                    else batch_of_pk["log_entry"][-rowid]
                )
            else:
                k = batch_of_run[row["run_id"]]
            if "id" in row and table != "run":
                batch_of_pk.setdefault(table, {})[row["id"]] = k
            parts[k].append(value)
        for k, part in enumerate(parts):
            if part:
                prepared[k].append((table, columns, part))
    return prepared


def _raw_insert(path: Path, prepared: list[RawRows]) -> float:
    runs = sum(len(values) for batch in prepared for table, _, values in batch if table == "run")
    connection = sqlite3.connect(path, isolation_level=None)
    for name, value in SQLITE_PRAGMAS.items():
        connection.execute(f"PRAGMA {name} = {value}")
    start = time.perf_counter()
    for rows in prepared:
        connection.execute("BEGIN IMMEDIATE")
        for table, columns, values in rows:
            placeholders = ", ".join("?" * len(columns))
            names = ", ".join(f'"{c}"' for c in columns)
            connection.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})', values
            )
        connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()
    return runs / elapsed


def store_write(path: Path, batches: list[list[RunRecord]]) -> float:
    open_target(str(path))
    start = time.perf_counter()
    for batch in batches:
        writes.replace_runs(batch)
    elapsed = time.perf_counter() - start
    close_database()
    return sum(len(b) for b in batches) / elapsed


def _empty_postgres() -> None:
    """Every history table emptied at once (the cached data sets are rebuilt next time)."""
    tables = ", ".join(
        f'"{model._meta.table_name}"' for model in ALL_MODELS if model is not SchemaInfo
    )
    db.execute_sql(f'TRUNCATE {tables}, "{search_pg.SEARCH_TABLE}" RESTART IDENTITY CASCADE')
    SchemaInfo.delete().where(SchemaInfo.key == "bench_dataset").execute()


def store_write_postgres(url: str, batches: list[list[RunRecord]]) -> float:
    open_target(url)
    _empty_postgres()
    start = time.perf_counter()
    for batch in batches:
        writes.replace_runs(batch)
    elapsed = time.perf_counter() - start
    _empty_postgres()
    close_database()
    return sum(len(b) for b in batches) / elapsed


def raw_ceiling_postgres(url: str, batches: list[list[RunRecord]]) -> float:
    """Runs/s of plain psycopg `executemany` of the store's rows (the search index's words
    through the same `array_to_tsvector` the store uses), one transaction per batch."""
    open_target(url)
    _empty_postgres()
    prepared = store_rows(batches)
    runs = sum(len(b) for b in batches)
    start = time.perf_counter()
    for rows in prepared:
        with db.atomic():
            cursor = db.cursor()
            for table, columns, values in rows:
                placeholders = ", ".join(
                    "array_to_tsvector(%s::text[])" if column == "words" else "%s"
                    for column in columns
                )
                names = ", ".join(f'"{c}"' for c in columns)
                cursor.executemany(
                    f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})', values
                )
    elapsed = time.perf_counter() - start
    _empty_postgres()
    close_database()
    return runs / elapsed


def bench_writes(target: str, write_runs: int, seed: int) -> None:
    print(f"\nBatched write: {write_runs:,} runs with payloads, {GROUP} per transaction")
    generator = RunGenerator(seed=seed + 1, total_runs=write_runs)
    batch_records = records(generator, 0, write_runs, True)
    batches = [batch_records[i : i + GROUP] for i in range(0, write_runs, GROUP)]
    store_rates, raw_rates = [], []
    if is_url(target):
        for _ in range(3):  # alternate, so both see the same machine load
            store_rates.append(store_write_postgres(target, batches))
            raw_rates.append(raw_ceiling_postgres(target, batches))
        raw_label = "raw ceiling (psycopg executemany)"
    else:
        with tempfile.TemporaryDirectory(prefix="hindsight-bench-") as folder:
            for attempt in range(3):
                store_rates.append(store_write(Path(folder) / f"store{attempt}.db", batches))
                raw_rates.append(raw_ceiling(Path(folder) / f"raw{attempt}.db", batches))
        raw_label = "raw ceiling (sqlite3 executemany)"
    store_rate, raw_rate = max(store_rates), max(raw_rates)
    share = store_rate / raw_rate * 100
    line("store (replace_runs)", f"{store_rate:,.0f} runs/s")
    line(raw_label, f"{raw_rate:,.0f} runs/s")
    line("store / raw ceiling", f"{share:.0f} %", "≥ 60 %", share >= 60)


# -- listing set ---------------------------------------------------------------------------
def bench_listing(target: str, runs: int, seed: int) -> None:
    print(f"\nListing: {runs:,} runs (10 nodes each, no payloads) in {shown(target)}")
    ensure_dataset(target, runs, payloads=False, seed=seed)
    generator = RunGenerator(seed=seed, total_runs=runs)
    probe = generator.report(runs // 3, payloads=False)
    week_ago = END_MS - 7 * DAY_MS
    single = {
        "status error": RunFilter(statuses=frozenset({Status.ERROR})),
        "status cancelled,running": RunFilter(
            statuses=frozenset({Status.CANCELLED, Status.RUNNING})
        ),
        "workflow (rare)": RunFilter(workflow_id=generator.workflow_ids[-1]),
        "workflow (common)": RunFilter(workflow_id=generator.workflow_ids[1]),
        "project": RunFilter(project_id=probe["projectId"]),
        "user": RunFilter(user_id=probe["userId"]),
        "tag team=legal": RunFilter(tag_key="team", tag_value="legal"),
        "date range (one day, a month ago)": RunFilter(
            since=END_MS - 30 * DAY_MS, until=END_MS - 29 * DAY_MS
        ),
        "duration ≥ 10 s": RunFilter(min_duration_ms=10_000),
        "duration 1-2 s": RunFilter(min_duration_ms=1_000, max_duration_ms=2_000),
        "has failed node": RunFilter(has_failed_node=True),
    }
    combined = {
        "error + workflow + last week": RunFilter(
            statuses=frozenset({Status.ERROR}),
            workflow_id=generator.workflow_ids[1],
            since=week_ago,
        ),
        "project + user + tag env=prod": RunFilter(
            project_id=probe["projectId"], user_id=probe["userId"], tag_key="env", tag_value="prod"
        ),
        "success + duration ≥ 5 s + team=ops": RunFilter(
            statuses=frozenset({Status.SUCCESS}),
            min_duration_ms=5_000,
            tag_key="team",
            tag_value="ops",
        ),
        "failed node + rare workflow + month": RunFilter(
            has_failed_node=True, workflow_id=generator.workflow_ids[-1], since=END_MS - 30 * DAY_MS
        ),
    }
    print("  first page (50 rows), single filters:")
    for label, where in single.items():
        ms, rows = timed(lambda where=where: queries.list_runs(50, where=where))
        line(f"  {label} [{len(rows)} rows]", f"{ms:.2f} ms", "≤ 10 ms", ms <= 10)
    print("  first page (50 rows), combined filters:")
    for label, where in combined.items():
        ms, rows = timed(lambda where=where: queries.list_runs(50, where=where))
        line(f"  {label} [{len(rows)} rows]", f"{ms:.2f} ms", "≤ 50 ms", ms <= 50)
    ms, first = timed(lambda: queries.list_runs(50))
    line("  no filter", f"{ms:.2f} ms", "≤ 10 ms", ms <= 10)
    last = first[-1]
    ms, _ = timed(lambda: queries.list_runs(50, after=(last.started_at, last.id)))
    line("  next page (keyset cursor)", f"{ms:.2f} ms", "≤ 10 ms", ms <= 10)
    print("  total count:")
    ms, total = timed(queries.count_runs)
    line(f"  all runs [{total:,}]", f"{ms:.1f} ms", "≤ 150 ms", ms <= 150)
    for label in ("status error", "workflow (common)", "tag team=legal", "duration ≥ 10 s"):
        where = single[label]
        ms, total = timed(lambda where=where: queries.count_runs(where), repeat=3)
        line(f"  {label} [{total:,}]", f"{ms:.1f} ms", "≤ 150 ms", ms <= 150)
    twenty = generator.report(runs // 2, nodes=20, payloads=False)["id"]
    ms, detail = timed(lambda: queries.get_run(twenty), repeat=20)
    assert detail is not None and len(detail.nodes) == 20
    line("one run with 20 nodes", f"{ms:.2f} ms", "≤ 5 ms", ms <= 5)
    close_database()


# -- payload set ---------------------------------------------------------------------------
def bench_payloads(target: str, runs: int, seed: int) -> None:
    print(f"\nFull payloads: {runs:,} runs in {shown(target)}")
    ensure_dataset(target, runs, payloads=True, seed=seed)
    generator = RunGenerator(seed=seed, total_runs=runs)
    sample = range(0, runs, max(runs // 2000, 1))
    json_bytes = statistics.mean(report_bytes(generator.report(i)) for i in sample)
    per_run = database_bytes() / runs
    line("database bytes per run (search index incl.)", f"{per_run:,.0f} B")
    line("JSON report bytes per run", f"{json_bytes:,.0f} B")
    line("database / JSON", f"{per_run / json_bytes:.2f}", "≤ 1.00", per_run <= json_bytes)
    for text in ("warehouse", "timeout refund", "KeyError customer_id", "invo"):
        where = RunFilter(text=text)
        ms, rows = timed(lambda where=where: queries.list_runs(50, where=where))
        line(
            f"full text {text!r}: first 50 runs [{len(rows)}]",
            f"{ms:.1f} ms",
            "≤ 100 ms",
            ms <= 100,
        )
        ms, hits = timed(lambda text=text: search.search_hits(text, limit=50))
        line(
            f"full text {text!r}: first 50 hits [{len(hits)}]",
            f"{ms:.1f} ms",
            "≤ 100 ms",
            ms <= 100,
        )
    ms, result = timed(stats.workflow_stats, repeat=3)
    line(
        f"per-workflow statistics [{len(result)} workflows]", f"{ms:.0f} ms", "≤ 300 ms", ms <= 300
    )
    close_database()
    bench_delete(target, runs)


def bench_delete(target: str, runs: int) -> None:
    if is_url(target):
        scratch = target  # the set is rebuilt next time
    else:
        scratch = target + ".delete.db"
        for suffix in ("", "-wal", "-shm"):
            if Path(target + suffix).exists():
                shutil.copyfile(target + suffix, scratch + suffix)
    open_target(scratch)
    holds: list[float] = []  # each delete transaction, BEGIN IMMEDIATE to COMMIT returned
    turns: list[float] = []  # between progress reports: a transaction and what follows it
    last = time.perf_counter()
    original_transaction = writes.write_transaction

    @contextmanager
    def timed_transaction() -> Iterator[Any]:
        begun = time.perf_counter()
        with original_transaction() as transaction:
            yield transaction
        holds.append((time.perf_counter() - begun) * 1000)

    def progress(_: int) -> bool:
        nonlocal last
        now = time.perf_counter()
        turns.append((now - last) * 1000)
        last = now
        return True

    writes.write_transaction = timed_transaction  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        deleted = writes.delete_all(on_progress=progress)
        elapsed = time.perf_counter() - start
    finally:
        writes.write_transaction = original_transaction  # type: ignore[assignment]
    line(f"delete {deleted:,} runs: total", f"{elapsed:.1f} s")
    line(f"  transactions {len(holds)}, median hold", f"{statistics.median(holds):.0f} ms")
    line("  longest between progress reports", f"{max(turns):.0f} ms")
    worst = max(holds)
    line("  longest write-lock hold (one transaction)", f"{worst:.0f} ms", "≤ 200 ms", worst <= 200)
    close_database()
    if not is_url(target):
        for suffix in ("", "-wal", "-shm"):
            Path(scratch + suffix).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000, help="runs in the listing set")
    parser.add_argument("--payload-runs", type=int, default=100_000)
    parser.add_argument("--write-runs", type=int, default=4_000)
    parser.add_argument(
        "--db",
        default="/tmp/hindsight-bench",
        help="SQLite path prefix for the cached sets (-listing-N.db, -payload-N.db) "
        "or a database URL (postgresql://...)",
    )
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument(
        "--only",
        choices=("write", "listing", "payload"),
        action="append",
        help="run only these parts (repeatable)",
    )
    args = parser.parse_args(argv)
    parts = set(args.only or ("write", "listing", "payload"))
    backend = "PostgreSQL" if is_url(args.db) else f"SQLite {sqlite3.sqlite_version}"
    print(f"Hindsight store benchmark — {backend}, schema {SCHEMA_VERSION}")

    def target(kind: str, runs: int) -> str:
        return args.db if is_url(args.db) else f"{args.db}-{kind}-{runs}.db"

    if "write" in parts:
        bench_writes(args.db, args.write_runs, args.seed)
    if "listing" in parts:
        bench_listing(target("listing", args.runs), args.runs, args.seed)
    if "payload" in parts:
        bench_payloads(target("payload", args.payload_runs), args.payload_runs, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
