"""Full-text search over what runs carried: node input/output, errors and stacks, LLM
prompts and responses, and log messages (SQLite FTS5; on PostgreSQL each function hands
over to `search_pg.py`, which keeps the same ids and the same query meaning).

The index is an FTS5 table whose rowids are derived from the rows they index, so a run's
entries can be found and deleted by rowid without scanning the index:
node fields use `node_pk * 8 + field`, log entries use `-log_pk`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from peewee import Database

from app.store import search_pg
from app.store.backend import is_postgres
from app.store.models import LogEntry, NodeExecution, db

SEARCH_TABLE = "search_index"
CREATE_SEARCH_TABLE = (
    f'CREATE VIRTUAL TABLE IF NOT EXISTS "{SEARCH_TABLE}" USING fts5('
    "run_id UNINDEXED, node_id UNINDEXED, field UNINDEXED, content, "
    "tokenize = 'unicode61 remove_diacritics 2')"
)

# Field codes are part of the rowid; never renumber them.
NODE_FIELDS = {"input": 0, "output": 1, "error": 2, "stack": 3, "prompt": 4, "response": 5}
_CHUNK = 500


@dataclass(frozen=True)
class SearchHit:
    run_id: str
    node_id: str | None  # None for a log entry not tied to a node
    field: str  # input, output, error, stack, prompt, response, log
    snippet: str


def create_search_table(database: Database) -> None:
    if is_postgres(database):
        return search_pg.create_search_table(database)
    database.execute_sql(CREATE_SEARCH_TABLE)


def node_rowid(node_pk: int, field: str) -> int:
    return node_pk * 8 + NODE_FIELDS[field]


def index_rows(rows: Sequence[tuple[int, str, str | None, str, str]]) -> None:
    """Add (rowid, run_id, node_id, field, content) rows to the index."""
    if is_postgres():
        return search_pg.index_rows(rows)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        placeholders = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))
        db.execute_sql(
            f'INSERT INTO "{SEARCH_TABLE}" (rowid, run_id, node_id, field, content) '
            f"VALUES {placeholders}",
            [value for row in chunk for value in row],
        )


def unindex_runs(run_ids: Iterable[str]) -> None:
    """Remove the index entries of runs about to be deleted (virtual tables do not cascade)."""
    if is_postgres():
        return search_pg.unindex_runs(run_ids)
    ids = list(run_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        node_pks = [
            node.id
            for node in NodeExecution.select(NodeExecution.id).where(NodeExecution.run.in_(chunk))
        ]
        rowids = [pk * 8 + code for pk in node_pks for code in NODE_FIELDS.values()]
        rowids += [-log.id for log in LogEntry.select(LogEntry.id).where(LogEntry.run.in_(chunk))]
        for offset in range(0, len(rowids), _CHUNK):
            part = rowids[offset : offset + _CHUNK]
            db.execute_sql(
                f'DELETE FROM "{SEARCH_TABLE}" WHERE rowid IN ({", ".join("?" * len(part))})',
                part,
            )


def match_expression(text: str) -> str | None:
    """User text as an FTS5 query: every word must appear; the last may be a prefix.

    Words are quoted, so FTS5 operators and punctuation in user text are taken literally.
    """
    words = [w.replace('"', '""') for w in text.split() if w.strip()]
    if not words:
        return None
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def matching_runs_sql(text: str) -> tuple[str, list[str]] | None:
    """SQL selecting the ids of runs with a hit, for use in `Run.id IN (...)`."""
    if is_postgres():
        return search_pg.matching_runs_sql(text)
    expression = match_expression(text)
    if expression is None:
        return None
    return f'(SELECT run_id FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ?)', [expression]


def search_hits(text: str, run_id: str | None = None, limit: int = 50) -> list[SearchHit]:
    """Where the text was found: which run, which node, which field, with a snippet."""
    if is_postgres():
        return search_pg.search_hits(text, run_id, limit)
    expression = match_expression(text)
    if expression is None:
        return []
    sql = (
        f"SELECT run_id, node_id, field, snippet(\"{SEARCH_TABLE}\", 3, '[', ']', '…', 12) "
        f'FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ?'
    )
    params: list[object] = [expression]
    if run_id is not None:
        sql += " AND run_id = ?"
        params.append(run_id)
    sql += " ORDER BY rank LIMIT ?"
    params.append(limit)
    return [SearchHit(*row) for row in db.execute_sql(sql, params).fetchall()]


def unindex_nodes(node_pks: Iterable[int]) -> None:
    """Remove the index entries of nodes about to be rewritten in place (streamed updates)."""
    rowids = [pk * 8 + code for pk in node_pks for code in NODE_FIELDS.values()]
    _delete_rowids(rowids)


def unindex_logs(log_pks: Iterable[int]) -> None:
    """Remove the index entries of log lines about to be replaced."""
    _delete_rowids([-pk for pk in log_pks])


def _delete_rowids(rowids: Sequence[int]) -> None:
    for offset in range(0, len(rowids), _CHUNK):
        part = rowids[offset : offset + _CHUNK]
        db.execute_sql(
            f'DELETE FROM "{SEARCH_TABLE}" WHERE rowid IN ({", ".join("?" * len(part))})',
            list(part),
        )
