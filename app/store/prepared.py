"""Reports turned into table rows, then inserted as they are, with plain `executemany`.

Turning records into rows and packing payloads (`prepare_runs`) needs no database;
inserting them (`insert_prepared`) only adds what the write transaction alone knows: the
primary keys of new nodes, log lines and artifacts, and the time of storing. Building tuples
in column order instead of dicts through peewee's query builder, and inserting them without
indexing their text (SQLite indexes it a moment later, see search_marks.py), took the
writer's share of a 10-node run from ~0.85 ms to ~0.35 ms with packing included.

The receiver's writer thread prepares the rows itself: measured, its eight request threads
each preparing their own report got fewer runs per second through, not more.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from app.store import search_marks
from app.store.backend import is_postgres
from app.store.models import (
    Artifact,
    ArtifactPayload,
    BaseModel,
    LogEntry,
    LogPayload,
    NodeExecution,
    NodePayload,
    Run,
    RunPayload,
    RunTag,
    db,
)
from app.store.packed import pack, pack_node_payload
from app.store.records import NodePayload as NodePayloadRecord
from app.store.records import NodeRecord, RunRecord
from app.store.search import SearchEntry, index_entries, log_entry, node_entry
from app.store.search_marks import Marks
from app.store.status import Status

# Column orders of the prepared tuples (model field names). Keys the writer allocates come
# first and the time of storing last, so it adds them without copying the middle.
RUN_FIELDS = (
    "id",
    "workflow_id",
    "workflow_name",
    "workflow_version",
    "project_id",
    "user_id",
    "status",
    "started_at",
    "completed_at",
    "duration_ms",
    "trigger_type",
    "error_message",
    "error_node_id",
    "exit_code",
    "node_count",
    "failed_node_name",
    "total_tokens",
    "cost_usd",
    "received_at",
)
RUN_PAYLOAD_FIELDS = (
    "run",
    "trigger_json",
    "error_stack",
    "params_json",
    "output_json",
    "metadata_json",
)
TAG_FIELDS = ("run", "key", "value")
NODE_FIELDS = (
    "id",
    "run",
    "position",
    "node_id",
    "node_name",
    "node_type",
    "status",
    "started_at",
    "completed_at",
    "duration_ms",
    "error_message",
    "attempt",
    "exec_group",
    "llm_model",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cost_usd",
    "finish_reason",
)
LOG_FIELDS = ("id", "run", "node_id", "sequence", "timestamp", "level", "message")
ARTIFACT_FIELDS = ("id", "run", "node_id", "key", "type", "size")


@dataclass
class PreparedRuns:
    """Reports as rows for every table, all but what only the write transaction knows.

    Row tuples follow the *_FIELDS orders without the leading key (nodes, log lines,
    artifacts) or the trailing time of storing (runs). Payload lists run parallel to the
    rows they belong to; each `None` in `log_payloads` is a log line without data."""

    run_ids: list[str] = field(default_factory=list)
    runs: list[tuple[Any, ...]] = field(default_factory=list)
    run_payloads: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    nodes: list[tuple[Any, ...]] = field(default_factory=list)
    node_payloads: list[bytes] = field(default_factory=list)
    # Search entries (rowid 0 until the writer has the keys), only for a store that indexes
    # as it writes (PostgreSQL); SQLite indexes the stored rows a moment later.
    search_inline: bool = False
    node_search: list[SearchEntry] = field(default_factory=list)
    logs: list[tuple[Any, ...]] = field(default_factory=list)
    log_payloads: list[bytes | None] = field(default_factory=list)
    log_search: list[SearchEntry] = field(default_factory=list)
    artifacts: list[tuple[Any, ...]] = field(default_factory=list)
    artifact_payloads: list[bytes] = field(default_factory=list)

    def extend(self, other: PreparedRuns) -> None:
        self.search_inline = other.search_inline
        for name in self.__dataclass_fields__:
            if name != "search_inline":
                getattr(self, name).extend(getattr(other, name))


def _failed_node_name(record: RunRecord) -> str | None:
    for node in record.nodes:
        if node.status is Status.ERROR:
            return node.node_name or node.node_id
    if record.status is Status.ERROR and record.error_node_id:
        match = next((n for n in record.nodes if n.node_id == record.error_node_id), None)
        return (match.node_name or match.node_id) if match else record.error_node_id
    return None


def node_values(node: NodeRecord) -> tuple[Any, ...]:
    """A node's listing columns, NODE_FIELDS from `node_id` on."""
    own = (
        node.node_id,
        node.node_name,
        node.node_type,
        node.status.value,
        node.started_at,
        node.completed_at,
        node.duration_ms,
        node.error_message,
        node.attempt,
        node.group,
    )
    llm = node.llm
    if llm is None:
        return (*own, None, None, None, None, None, None)
    return (
        *own,
        llm.model,
        llm.prompt_tokens,
        llm.completion_tokens,
        llm.tokens,
        llm.cost_usd,
        llm.finish_reason,
    )


def node_columns(node: NodeRecord) -> dict[str, Any]:
    """A node's listing columns by field name (for streamed nodes, updated in place)."""
    return dict(zip(NODE_FIELDS[3:], node_values(node), strict=True))


def node_search_entry(
    pk: int, run_id: str, node: NodeRecord, payload: NodePayloadRecord
) -> SearchEntry:
    return node_entry(pk, run_id, node.node_id, node.error_message, payload)


def node_payload(node: NodeRecord) -> NodePayloadRecord:
    """A node's payload fields (NodePayload), kept apart so listings never read them."""
    llm = node.llm
    return NodePayloadRecord(
        input_json=node.input_json,
        output_json=node.output_json,
        error_stack=node.error_stack,
        metrics_json=node.metrics_json,
        llm_prompt_json=llm.prompt_json if llm else None,
        llm_response_json=llm.response_json if llm else None,
    )


def _pack_optional(text: str | None) -> bytes | None:
    return None if text is None else pack(text)


def prepare_runs(records: Sequence[RunRecord], search_inline: bool | None = None) -> PreparedRuns:
    """Rows for the records; a later record with the same id as an earlier one wins.

    `search_inline`: carry search entries, indexed as the rows are inserted (default: on
    PostgreSQL only). On SQLite `index_entries` skips rows above the marks, so there it only
    serves the store benchmark, which captures the index rows instead of writing them."""
    latest = list({record.id: record for record in records}.values())
    prepared = PreparedRuns(search_inline=is_postgres() if search_inline is None else search_inline)
    for record in latest:
        _prepare_run(record, prepared)
    return prepared


def _prepare_run(record: RunRecord, out: PreparedRuns) -> None:
    run_id = record.id
    out.run_ids.append(run_id)
    out.runs.append(
        (
            run_id,
            record.workflow_id,
            record.workflow_name,
            record.workflow_version,
            record.project_id,
            record.user_id,
            record.status.value,
            record.started_at,
            record.completed_at,
            record.duration_ms,
            record.trigger_type,
            record.error_message,
            record.error_node_id,
            record.exit_code,
            len(record.nodes),
            _failed_node_name(record),
            record.total_tokens,
            record.cost_usd,
        )
    )
    out.run_payloads.append(
        (
            run_id,
            _pack_optional(record.trigger_json),
            _pack_optional(record.error_stack),
            _pack_optional(record.params_json),
            _pack_optional(record.output_json),
            _pack_optional(record.metadata_json),
        )
    )
    out.tags.extend((run_id, key, value) for key, value in record.tags)
    for position, node in enumerate(record.nodes):
        payload = node_payload(node)
        out.nodes.append((run_id, position, *node_values(node)))
        out.node_payloads.append(pack_node_payload(payload))
        if out.search_inline:
            out.node_search.append(node_search_entry(0, run_id, node, payload))
    for log in record.logs:
        out.logs.append((run_id, log.node_id, log.sequence, log.timestamp, log.level, log.message))
        out.log_payloads.append(_pack_optional(log.data_json))
        if out.search_inline:
            out.log_search.append(log_entry(0, run_id, log.node_id, log.message))
    for artifact in record.artifacts:
        out.artifacts.append(
            (
                run_id,
                artifact.node_id,
                artifact.key,
                artifact.type,
                len(artifact.data_json.encode()),
            )
        )
        out.artifact_payloads.append(pack(artifact.data_json))


def merge_prepared(batches: Sequence[PreparedRuns]) -> list[PreparedRuns]:
    """The batches as few as can be inserted together: consecutive batches merge while their
    run ids stay distinct (a run reported twice in one group must be replaced in order)."""
    merged: list[PreparedRuns] = []
    seen: set[str] = set()
    for batch in batches:
        if merged and seen.isdisjoint(batch.run_ids):
            merged[-1].extend(batch)
        else:
            merged.append(PreparedRuns())
            merged[-1].extend(batch)
            seen = set()
        seen.update(batch.run_ids)
    return merged


def insert_prepared(prepared: PreparedRuns) -> None:
    """Insert the rows, inside the caller's write transaction (the runs must not exist)."""
    received_at = int(time.time() * 1000)
    _insert(Run, RUN_FIELDS, [(*row, received_at) for row in prepared.runs])
    _insert(RunPayload, RUN_PAYLOAD_FIELDS, prepared.run_payloads)
    _insert(RunTag, TAG_FIELDS, prepared.tags)

    # Read once for both kinds of key: every statement costs the writer a GIL hand-over.
    marks = None if prepared.search_inline else search_marks.indexed_up_to(record=True)
    node_pks = allocate_ids(NodeExecution, len(prepared.nodes), marks)
    _insert(NodeExecution, NODE_FIELDS, _keyed(node_pks, prepared.nodes))
    _insert(NodePayload, ("node", "payload"), _paired(node_pks, prepared.node_payloads))

    log_pks = allocate_ids(LogEntry, len(prepared.logs), marks)
    _insert(LogEntry, LOG_FIELDS, _keyed(log_pks, prepared.logs))
    _insert(LogPayload, ("log", "data_json"), _paired(log_pks, prepared.log_payloads))
    if prepared.search_inline:  # else (SQLite) the rows wait for `search.catch_up`
        logs = zip(log_pks, prepared.log_search, strict=True)
        nodes = zip(node_pks, prepared.node_search, strict=True)
        index_entries(
            [entry._replace(rowid=-pk) for pk, entry in logs]
            + [entry._replace(rowid=pk) for pk, entry in nodes]
        )

    artifact_pks = allocate_ids(Artifact, len(prepared.artifacts))
    _insert(Artifact, ARTIFACT_FIELDS, _keyed(artifact_pks, prepared.artifacts))
    _insert(
        ArtifactPayload,
        ("artifact", "data_json"),
        _paired(artifact_pks, prepared.artifact_payloads),
    )


def _keyed(keys: list[int], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [(key, *row) for key, row in zip(keys, rows, strict=True)]


def _paired(keys: list[int], payloads: Sequence[bytes | None]) -> list[tuple[int, bytes]]:
    """(key, payload) rows for the payloads there are."""
    return [(key, data) for key, data in zip(keys, payloads, strict=True) if data is not None]


def allocate_ids(model: type[BaseModel], count: int, marks: Marks | None = None) -> list[int]:
    """Primary keys for rows about to be inserted, so their payload rows can refer to them.

    On SQLite every write runs in a transaction holding the write lock (BEGIN IMMEDIATE), so
    nobody else inserts between reading the highest key and using the next ones. On
    PostgreSQL the keys come from the table's own sequence, which never hands a number out
    twice, so no lock is needed at all. Nodes and log lines get keys above the search
    index's marks too (search_marks), so a key freed by a delete is never handed out again
    where the index counts rows as indexed (`marks`: the caller read them already).
    """
    if count == 0:
        return []
    key = model._meta.primary_key
    assert key is not False, f"{model.__name__} has a primary key"
    if is_postgres():
        cursor = db.execute_sql(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            (f'"{model._meta.table_name}"', key.column_name, count),
        )
        return [row[0] for row in cursor.fetchall()]
    sql = f'SELECT MAX("{key.column_name}") FROM "{model._meta.table_name}"'
    highest = db.execute_sql(sql).fetchone()[0] or 0
    if model is NodeExecution or model is LogEntry:
        marks = marks or search_marks.indexed_up_to(record=True)
        highest = max(highest, marks.node if model is NodeExecution else marks.log)
    return list(range(highest + 1, highest + 1 + count))


@cache
def _insert_sql(model: type[BaseModel], names: tuple[str, ...], param: str) -> str:
    columns = ", ".join(f'"{model._meta.fields[name].column_name}"' for name in names)
    return (
        f'INSERT INTO "{model._meta.table_name}" ({columns}) '
        f"VALUES ({', '.join([param] * len(names))})"
    )


def _insert(model: type[BaseModel], names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """One prepared statement for all the rows. Values are stored as they are: every
    conversion a field would make (packing) was made when the rows were prepared. On
    PostgreSQL psycopg sends `executemany` in one pipeline, not a round trip per row."""
    if rows:
        sql = _insert_sql(model, names, "%s" if is_postgres() else "?")
        db.cursor().executemany(sql, rows)
