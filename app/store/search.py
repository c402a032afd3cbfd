"""Full-text search over what runs carried: node input/output, errors and stacks, LLM
prompts and responses, and log messages (SQLite FTS5; on PostgreSQL each function hands
over to `search_pg.py`, which keeps the same ids and the same query meaning).

The index is a contentless FTS5 table: it holds the inverted index only, never a second
copy of the text, which stays (compressed) in the payload tables. Its rowids are derived
from the rows they index, so a hit names its run, node and field without stored columns:
node fields use `node_pk * 8 + field`, log entries use `-log_pk`. A contentless table
forgets what it indexed, so removing entries re-supplies the exact text that was indexed
(FTS5's 'delete' command); `searchable_node_fields` is the one place that decides that text.
Snippets are cut from the original text in Python for the few hits shown.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from peewee import JOIN, Database

from app.store import search_pg
from app.store.backend import is_postgres
from app.store.models import LogEntry, NodeExecution, NodePayload, db
from app.store.rows import tuple_rows

SEARCH_TABLE = "search_index"
CREATE_SEARCH_TABLE = (
    f'CREATE VIRTUAL TABLE IF NOT EXISTS "{SEARCH_TABLE}" USING fts5('
    "body, content = '', detail = column, tokenize = 'unicode61 remove_diacritics 2')"
)

# Field codes are part of the rowid; never renumber them.
NODE_FIELDS = {"input": 0, "output": 1, "error": 2, "stack": 3, "prompt": 4, "response": 5}
_FIELD_NAMES = {code: name for name, code in NODE_FIELDS.items()}
_CHUNK = 500
_INSERT = f'INSERT INTO "{SEARCH_TABLE}" (rowid, body) VALUES (?, ?)'
_DELETE = f'INSERT INTO "{SEARCH_TABLE}" ("{SEARCH_TABLE}", rowid, body) VALUES (\'delete\', ?, ?)'
SNIPPET_TOKENS = 12
# Words as the unicode61 tokenizer sees them: letters and digits; everything else separates.
_TOKEN = re.compile(r"[^\W_]+")


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


def searchable_node_fields(
    input_json: str | None,
    output_json: str | None,
    error_message: str | None,
    error_stack: str | None,
    prompt_json: str | None,
    response_json: str | None,
) -> list[tuple[str, str]]:
    """(field, text) a node contributes to the index; indexing and unindexing both use it."""
    fields = (
        ("input", input_json),
        ("output", output_json),
        ("error", error_message),
        ("stack", error_stack),
        ("prompt", prompt_json),
        ("response", response_json),
    )
    return [(field, text) for field, text in fields if text]


def index_rows(rows: Sequence[tuple[int, str, str | None, str, str]]) -> None:
    """Add (rowid, run_id, node_id, field, content) rows to the index.

    run_id, node_id and field follow from the rowid here; other backends may store them.
    """
    if is_postgres():
        return search_pg.index_rows(rows)
    if rows:
        db.cursor().executemany(_INSERT, [(row[0], row[4]) for row in rows])


def raw_index_rows(
    rows: Sequence[tuple[int, str, str | None, str, str]],
) -> list[tuple[str, list[str], list[tuple[object, ...]]]]:
    """What `index_rows` inserts, as (table, columns, values) for plain `executemany`
    (the store benchmark's raw ceiling writes exactly the store's rows)."""
    return [(SEARCH_TABLE, ["rowid", "body"], [(row[0], row[4]) for row in rows])]


def _node_texts(condition: Any) -> list[tuple[int, str]]:
    """(rowid, text) of every indexed field of the nodes matching `condition`."""
    query = (
        NodeExecution.select(
            NodeExecution.id,
            NodePayload.input_json,
            NodePayload.output_json,
            NodeExecution.error_message,
            NodePayload.error_stack,
            NodePayload.llm_prompt_json,
            NodePayload.llm_response_json,
        )
        .join(NodePayload, JOIN.LEFT_OUTER)
        .where(condition)
    )
    entries = []
    for pk, *texts in tuple_rows(query):
        for field, text in searchable_node_fields(*texts):
            entries.append((node_rowid(pk, field), text))
    return entries


def unindex_runs(run_ids: Iterable[str]) -> None:
    """Remove the index entries of runs about to be deleted (virtual tables do not cascade)."""
    if is_postgres():
        return search_pg.unindex_runs(run_ids)
    ids = list(run_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        entries = _node_texts(NodeExecution.run.in_(chunk))
        entries += [
            (-pk, message)
            for pk, message in tuple_rows(
                LogEntry.select(LogEntry.id, LogEntry.message).where(LogEntry.run.in_(chunk))
            )
        ]
        if entries:
            db.cursor().executemany(_DELETE, entries)


def unindex_nodes(node_pks: Iterable[int]) -> None:
    """Remove the index entries of nodes about to be replaced or deleted."""
    if is_postgres():
        return search_pg.unindex_nodes(node_pks)
    pks = list(node_pks)
    for start in range(0, len(pks), _CHUNK):
        entries = _node_texts(NodeExecution.id.in_(pks[start : start + _CHUNK]))
        if entries:
            db.cursor().executemany(_DELETE, entries)


def unindex_logs(log_pks: Iterable[int]) -> None:
    """Remove the index entries of log lines about to be replaced (streamed re-posts)."""
    if is_postgres():
        return search_pg.unindex_logs(log_pks)
    pks = list(log_pks)
    for start in range(0, len(pks), _CHUNK):
        query = LogEntry.select(LogEntry.id, LogEntry.message).where(
            LogEntry.id.in_(pks[start : start + _CHUNK])
        )
        entries = [(-pk, message) for pk, message in tuple_rows(query)]
        if entries:
            db.cursor().executemany(_DELETE, entries)


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def match_expression(text: str) -> str | None:
    """User text as an FTS5 query: every word must appear; the last may be a prefix.

    Words are split where the tokenizer splits them and quoted, so FTS5 operators and
    punctuation in user text are taken literally. The index keeps which field a word is in
    but not its position (`detail = column`, about half the size), so "customer_id" finds
    fields holding both "customer" and "id" rather than that exact sequence.
    """
    words = _tokens(text)
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
    sql = (
        "(SELECT run_id FROM node_execution WHERE id IN "
        f'(SELECT rowid / 8 FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ? AND rowid > 0) '
        "UNION ALL SELECT run_id FROM log_entry WHERE id IN "
        f'(SELECT -rowid FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ? AND rowid < 0))'
    )
    return sql, [expression, expression]


def _hit_rowids(expression: str, low: int | None = None, high: int | None = None) -> list[int]:
    sql = f'SELECT rowid FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ?'
    params: list[object] = [expression]
    if low is not None:
        sql += " AND rowid BETWEEN ? AND ?"
        params += [low, high]
    return [row[0] for row in db.execute_sql(sql, params).fetchall()]


def _owners(rowids: Iterable[int]) -> set[str]:
    """The runs the index entries belong to."""
    node_pks = sorted({rowid // 8 for rowid in rowids if rowid > 0})
    log_pks = sorted({-rowid for rowid in rowids if rowid < 0})
    runs: set[str] = set()
    for start in range(0, len(node_pks), _CHUNK):
        chunk = node_pks[start : start + _CHUNK]
        query = NodeExecution.select(NodeExecution.run).where(NodeExecution.id.in_(chunk))
        runs.update(row[0] for row in tuple_rows(query))
    for start in range(0, len(log_pks), _CHUNK):
        chunk = log_pks[start : start + _CHUNK]
        runs.update(
            row[0]
            for row in tuple_rows(LogEntry.select(LogEntry.run).where(LogEntry.id.in_(chunk)))
        )
    return runs


def runs_with_few_hits(text: str, cap: int) -> set[str] | None:
    """Every run with a hit, when the text has fewer than `cap` index entries; else None
    (SQLite only: a common word is better checked run by run, see `runs_with_hits`)."""
    expression = match_expression(text)
    if expression is None:
        return None
    sql = (
        f'SELECT rowid FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ? '
        "ORDER BY rowid DESC LIMIT ?"
    )
    rowids = [row[0] for row in db.execute_sql(sql, [expression, cap]).fetchall()]
    return _owners(rowids) if len(rowids) < cap else None


def runs_with_node_hits(text: str, run_ids: Sequence[str]) -> set[str]:
    """Which of the runs have a hit in a node (SQLite only).

    The index is asked only for the rowid range the runs' nodes span, which FTS5 seeks to
    directly: nodes of runs listed together were mostly stored together, so the range is
    narrow; hits in it from other runs' nodes are dropped.
    """
    node_run: dict[int, str] = {}
    for start in range(0, len(run_ids), _CHUNK):
        chunk = list(run_ids[start : start + _CHUNK])
        query = NodeExecution.select(NodeExecution.id, NodeExecution.run).where(
            NodeExecution.run.in_(chunk)
        )
        node_run.update(tuple_rows(query))
    expression = match_expression(text)
    if expression is None or not node_run:
        return set()
    rowids = _hit_rowids(expression, min(node_run) * 8, max(node_run) * 8 + 7)
    return {node_run[r // 8] for r in rowids if r // 8 in node_run}


def runs_with_log_hits(text: str, run_ids: Sequence[str]) -> set[str]:
    """Which of the runs have a hit in a log line (SQLite only; as `runs_with_node_hits`)."""
    log_run: dict[int, str] = {}
    for start in range(0, len(run_ids), _CHUNK):
        chunk = list(run_ids[start : start + _CHUNK])
        query = LogEntry.select(LogEntry.id, LogEntry.run).where(LogEntry.run.in_(chunk))
        log_run.update(tuple_rows(query))
    expression = match_expression(text)
    if expression is None or not log_run:
        return set()
    rowids = _hit_rowids(expression, -max(log_run), -min(log_run))
    return {log_run[-r] for r in rowids if -r in log_run}


def _fold(word: str) -> str:
    """As the unicode61 tokenizer compares words: case- and diacritic-insensitive."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def snippet(text: str, query: str, tokens: int = SNIPPET_TOKENS) -> str:
    """About `tokens` words of `text` around the first match, matches in [brackets]."""
    words = [_fold(t) for t in _tokens(query)]
    exact, prefix = set(words[:-1]), words[-1] if words else ""
    found = list(_TOKEN.finditer(text))

    def hit(token: str) -> bool:
        folded = _fold(token)
        return folded in exact or (bool(prefix) and folded.startswith(prefix))

    first = next((i for i, m in enumerate(found) if hit(m.group())), 0)
    start = max(0, min(first - tokens // 4, len(found) - tokens))
    window = found[start : start + tokens]
    if not window:
        return text[:80]
    parts, cursor = [], window[0].start()
    for match in window:
        parts.append(text[cursor : match.start()])
        parts.append(f"[{match.group()}]" if hit(match.group()) else match.group())
        cursor = match.end()
    head = "…" if start > 0 else ""
    tail = "…" if start + tokens < len(found) else text[cursor:]
    return head + "".join(parts) + tail


def search_hits(text: str, run_id: str | None = None, limit: int = 50) -> list[SearchHit]:
    """Where the text was found: which run, which node, which field, with a snippet."""
    if is_postgres():
        return search_pg.search_hits(text, run_id, limit)
    expression = match_expression(text)
    if expression is None:
        return []
    sql = f'SELECT rowid FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ?'
    params: list[object] = [expression]
    if run_id is not None:
        sql += (
            " AND ((rowid > 0 AND rowid / 8 IN (SELECT id FROM node_execution WHERE run_id = ?))"
            " OR (rowid < 0 AND -rowid IN (SELECT id FROM log_entry WHERE run_id = ?)))"
        )
        params += [run_id, run_id]
    # Newest entries first (rowids grow as runs are stored; nodes before log lines): FTS5
    # streams the hits in rowid order and stops at the limit, where ordering by rank would
    # score every hit first (most hits, for the words most nodes carry).
    sql += " ORDER BY rowid DESC LIMIT ?"
    params.append(limit)
    rowids = [row[0] for row in db.execute_sql(sql, params).fetchall()]
    found: dict[int, tuple[str, str | None, str, str]] = {}
    node_pks = {rowid // 8 for rowid in rowids if rowid > 0}
    if node_pks:
        texts = dict(_node_texts(NodeExecution.id.in_(sorted(node_pks))))
        owners = {
            pk: (run, node)
            for pk, run, node in tuple_rows(
                NodeExecution.select(
                    NodeExecution.id, NodeExecution.run, NodeExecution.node_id
                ).where(NodeExecution.id.in_(sorted(node_pks)))
            )
        }
        for rowid in rowids:
            if rowid > 0 and rowid in texts:
                run, node = owners[rowid // 8]
                found[rowid] = (run, node, _FIELD_NAMES[rowid % 8], texts[rowid])
    log_pks = [-rowid for rowid in rowids if rowid < 0]
    if log_pks:
        for pk, run, node, message in tuple_rows(
            LogEntry.select(LogEntry.id, LogEntry.run, LogEntry.node_id, LogEntry.message).where(
                LogEntry.id.in_(log_pks)
            )
        ):
            found[-pk] = (run, node, "log", message)
    return [
        SearchHit(run, node, field, snippet(body, text))
        for rowid in rowids
        if rowid in found
        for run, node, field, body in [found[rowid]]
    ]
