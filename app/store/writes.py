"""Everything that changes the history: storing reports and deleting runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from peewee import (
    AutoField,
    BigIntegerField,
    CharField,
    Field,
    FloatField,
    ForeignKeyField,
    IntegerField,
    TextField,
    fn,
)

from app.store import search
from app.store.backend import is_postgres
from app.store.connection import write_transaction
from app.store.filters import RunFilter
from app.store.models import BaseModel, NodeExecution, Run, RunStatusChange, db
from app.store.prepared import PreparedRuns, insert_prepared, merge_prepared, prepare_runs
from app.store.records import RunRecord
from app.store.rows import tuple_rows
from app.store.search import unindex_runs
from app.store.status import Status

# SQLite limits bound parameters per statement (32,766 since 3.32); rows x columns stays below.
_ROWS_PER_INSERT = 500
_IDS_PER_DELETE = 500
# Deleting many runs: removing a run's search entries re-tokenises its text (~1-2 ms per
# run of 10 nodes) and ingest waits for the write lock meanwhile, so each transaction
# deletes as many runs as fit in about DELETE_HOLD_BUDGET_S, measured as it goes.
DELETE_HOLD_BUDGET_S = 0.03
_FIRST_DELETE_CHUNK = 25
_DELETE_CHUNK_RANGE = (5, 200)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _insert_rows(model: type[BaseModel], rows: list[dict[str, Any]]) -> None:
    """Insert dict rows (all with the same keys, named as the model's fields).

    On SQLite one prepared statement through `executemany`: building a multi-row INSERT
    through peewee's query builder costs more Python time than SQLite takes to store the
    rows. Other drivers run `executemany` as a loop of round trips, so they get multi-row
    inserts instead.
    """
    if not rows:
        return
    if is_postgres():
        for start in range(0, len(rows), _ROWS_PER_INSERT):
            model.insert_many(rows[start : start + _ROWS_PER_INSERT]).execute()
        return
    fields = [model._meta.fields[name] for name in rows[0]]
    columns = ", ".join(f'"{field.column_name}"' for field in fields)
    sql = (
        f'INSERT INTO "{model._meta.table_name}" ({columns}) '
        f"VALUES ({', '.join('?' * len(fields))})"
    )
    get = itemgetter(*(field.name for field in fields))
    values = [get(row) for row in rows]
    converted = [(i, field.db_value) for i, field in enumerate(fields) if _converts(field)]
    if len(fields) == 1:
        values = [(value,) for value in values]
    if converted:
        for k, row in enumerate(values):
            changed = list(row)
            for i, convert in converted:
                changed[i] = convert(changed[i])
            values[k] = tuple(changed)
    db.cursor().executemany(sql, values)


# Fields whose Python values the sqlite3 driver stores as they are (records hold them typed
# already); calling their db_value for every value of every row was a tenth of a write.
_STORED_AS_IS = (AutoField, BigIntegerField, CharField, FloatField, IntegerField, TextField)


def _converts(field: Field) -> bool:
    if isinstance(field, ForeignKeyField):
        field = field.rel_field
    return type(field) not in _STORED_AS_IS


def replace_runs(records: Sequence[RunRecord]) -> None:
    """Store the reports in one transaction; a report whose id exists replaces that run.

    Workflows post a run as `running` first and again when it finishes, so the latest report
    for an id is the truth. Either every record is stored or none is. Within one call a
    later record with the same id wins.
    """
    prepared = prepare_runs(records)
    search.catch_up_now()  # a receiver's backlog, in short transactions of its own
    with write_transaction():
        store_prepared([prepared], index_now=True)


def store_prepared(batches: Sequence[PreparedRuns], index_now: bool = False) -> None:
    """Store prepared reports (`prepared.prepare_runs`) inside the caller's write
    transaction, batch after batch: a run in a later batch replaces the same run in an
    earlier one.

    On SQLite the stored text is searchable once `search.catch_up` has indexed it: at the
    end of this transaction with `index_now`, else when the writer catches up (searching
    catches up first, so a search never misses a stored run)."""
    for prepared in merge_prepared(batches):
        _delete_ids(prepared.run_ids)
        insert_prepared(prepared)
    if index_now:
        search.catch_up(limit=None)


def _delete_ids(ids: list[str]) -> int:
    deleted = 0
    for start in range(0, len(ids), _IDS_PER_DELETE):
        chunk = _stored(ids[start : start + _IDS_PER_DELETE])
        if chunk:
            unindex_runs(chunk)
            deleted += Run.delete().where(Run.id.in_(chunk)).execute()
    return deleted


def _stored(ids: list[str]) -> list[str]:
    """Which of the run ids are stored. Most reports are of new runs: asking once in plain
    SQL spares them building the unindexing and delete queries."""
    if not ids:
        return []
    table = Run._meta.table_name
    sql = f'SELECT "id" FROM "{table}" WHERE "id" IN ({", ".join([db.param] * len(ids))})'
    return [row[0] for row in db.execute_sql(sql, ids).fetchall()]


def delete_runs(run_ids: Iterable[str]) -> int:
    """Delete the runs (nodes, payloads, tags, logs, artifacts cascade); return the count."""
    with write_transaction():
        return _delete_ids(list(run_ids))


def clear_workflow(workflow_id: str) -> int:
    """Delete every run of one workflow; return how many were deleted.

    Deletes a chunk per transaction so that reports keep being stored meanwhile.
    """
    return delete_matching(RunFilter(workflow_id=workflow_id))


def delete_matching(where: RunFilter, on_progress: Callable[[int], bool] | None = None) -> int:
    """Delete every run the filter selects, a chunk per transaction; return the count.

    Short transactions keep the write lock free for ingest between chunks: each chunk is
    sized from how long the previous ones took, to hold the lock for about
    DELETE_HOLD_BUDGET_S. `on_progress` gets the running total after each chunk and may
    return False to stop early (the runs already deleted stay deleted).
    """
    deleted, size = 0, _FIRST_DELETE_CHUNK
    with _bulk_delete_settings():
        while True:
            started = time.perf_counter()
            with write_transaction():
                ids = [row.id for row in where.apply(Run.select(Run.id)).limit(size)]
                if not ids:
                    return deleted
                deleted += _delete_ids(ids)
            size = _next_chunk_size(size, len(ids), time.perf_counter() - started)
            _checkpoint_outside_the_lock()
            if on_progress is not None and on_progress(deleted) is False:
                return deleted


def _next_chunk_size(size: int, done: int, elapsed_s: float) -> int:
    """Runs the next chunk may delete to take about DELETE_HOLD_BUDGET_S, from the last
    chunk's pace; it grows at most twofold at a time, so one quick chunk cannot lead to
    one far too long."""
    if done < size:
        return size
    per_run = elapsed_s / done
    wanted = DELETE_HOLD_BUDGET_S / per_run if per_run > 0 else size * 2
    low, high = _DELETE_CHUNK_RANGE
    return max(low, min(high, size * 2, int(wanted)))


@contextmanager
def _bulk_delete_settings() -> Iterator[None]:
    """Keep the disk work of deleting in chunks out of the write lock (SQLite).

    - This connection copies the WAL back into the file between chunks, rather than when
      a commit crosses the automatic checkpoint's threshold: that copy ran inside the
      commit call, and its tens of milliseconds counted against the chunk's turn.
    - Commits do not wait for the disk (synchronous NORMAL): an fsync took up to seconds
      while other programs wrote, all of it holding the lock. The checkpoints between
      chunks sync instead, so a power cut can at worst bring back the last chunks deleted
      (WAL mode never corrupts the file this way); reports stored meanwhile by the
      receiver's own connection stay synchronous FULL.
    """
    if is_postgres():
        yield
        return
    before = {
        pragma: int(db.execute_sql(f"PRAGMA {pragma}").fetchone()[0])
        for pragma in ("wal_autocheckpoint", "synchronous")
    }
    db.execute_sql("PRAGMA wal_autocheckpoint = 0")
    db.execute_sql("PRAGMA synchronous = NORMAL")
    try:
        yield
    finally:
        for pragma, value in before.items():
            db.execute_sql(f"PRAGMA {pragma} = {value}")


def _checkpoint_outside_the_lock() -> None:
    """A PASSIVE checkpoint: copies what it can without waiting for, or blocking, writers."""
    if not is_postgres():
        db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)")


def delete_all(on_progress: Callable[[int], bool] | None = None) -> int:
    """Empty the history, in chunks like `delete_matching`; return how many runs went."""
    return delete_matching(RunFilter(), on_progress)


def interrupt_stale_runs(stale_after_ms: int, now_ms: int | None = None) -> list[str]:
    """Mark runs still `running` with no report for `stale_after_ms` as `interrupted`.

    A workflow that crashed or was killed never sends its final report; without this rule it
    would look like it is running forever. The change is recorded, so the last reported
    status stays visible. The run's nodes still `running` become `interrupted` with it (as
    Prefect marks a crashed flow's tasks): a node cannot go on after its run stopped, and
    the reason counts them. Returns the ids of the runs that changed.
    """
    now = _now_ms() if now_ms is None else now_ms
    cutoff = now - stale_after_ms
    with write_transaction():
        stale = [
            row.id
            for row in Run.select(Run.id).where(
                (Run.status == Status.RUNNING.value) & (Run.received_at < cutoff)
            )
        ]
        if not stale:
            return []
        running_nodes = _running_node_counts(stale)
        hours = stale_after_ms / 3_600_000
        _insert_rows(
            RunStatusChange,
            [
                {
                    "run": run_id,
                    "at": now,
                    "from_status": Status.RUNNING.value,
                    "to_status": Status.INTERRUPTED.value,
                    "reason": f"no report for {hours:g} h while running"
                    + _nodes_still_running(running_nodes.get(run_id, 0)),
                }
                for run_id in stale
            ],
        )
        for start in range(0, len(stale), _IDS_PER_DELETE):
            chunk = stale[start : start + _IDS_PER_DELETE]
            Run.update(status=Status.INTERRUPTED.value).where(Run.id.in_(chunk)).execute()
            NodeExecution.update(status=Status.INTERRUPTED.value).where(
                NodeExecution.run.in_(chunk) & (NodeExecution.status == Status.RUNNING.value)
            ).execute()
        return stale


def _running_node_counts(run_ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for start in range(0, len(run_ids), _IDS_PER_DELETE):
        query = (
            NodeExecution.select(NodeExecution.run, fn.COUNT(NodeExecution.id))
            .where(
                NodeExecution.run.in_(run_ids[start : start + _IDS_PER_DELETE])
                & (NodeExecution.status == Status.RUNNING.value)
            )
            .group_by(NodeExecution.run)
        )
        counts.update((run_id, int(count)) for run_id, count in tuple_rows(query))
    return counts


def _nodes_still_running(count: int) -> str:
    if count == 0:
        return ""
    if count == 1:
        return "; 1 node was still running"
    return f"; {count} nodes were still running"
