"""Full-text search over what runs carried: node input/output, errors and stacks, LLM
prompts and responses, and log messages (SQLite FTS5; on PostgreSQL each function hands
over to `search_pg.py`, which keeps the same query meaning).

The index is a contentless FTS5 table: it holds the inverted index only, never a second
copy of the text, which stays (compressed) in the payload tables. It has one row per node,
with a column per searchable field, and one row per log line (only the `log` column set).
Rowids are derived from the rows they index, so a hit names its run and node without stored
columns: a node's rowid is its primary key, a log line's is minus its primary key. The
index keeps only which rows hold a word (`detail = none`): not the column it is in nor its
position, nor column sizes (`columnsize = 0`: nothing here ranks by length). Every query
here asks for words (the last may be a prefix) anywhere in a row, which that answers.
Indexing the store benchmark's 100,000 runs, it took 0.66 ms of CPU a run instead of 0.87,
and 215 MB instead of 477. Databases created before keep `detail = column`, which answers
the same queries the same way. A contentless
table forgets what it indexed, so removing entries re-supplies the exact text that was
indexed (FTS5's 'delete' command); `node_entry` and `log_entry` are the one place that
decides that text. Which field a hit is in, and its snippet, are found in Python from the
original text of the few hits shown.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from peewee import JOIN, Database, OperationalError

from app.store import search_marks, search_pg
from app.store.backend import is_postgres
from app.store.models import LogEntry, NodeExecution, NodePayload, db
from app.store.records import NodePayload as NodePayloadRecord
from app.store.rows import tuple_rows

log = logging.getLogger(__name__)

SEARCH_TABLE = "search_index"
# The node fields, in column order (the order hits report a field in), then log messages.
NODE_FIELDS = ("input", "output", "error", "stack", "prompt", "response")
SEARCH_COLUMNS = (*NODE_FIELDS, "log")
CREATE_SEARCH_TABLE = (
    f'CREATE VIRTUAL TABLE IF NOT EXISTS "{SEARCH_TABLE}" USING fts5('
    f"{', '.join(SEARCH_COLUMNS)}, content = '', columnsize = 0, detail = none, "
    "tokenize = 'unicode61 remove_diacritics 2')"
)
# FTS5 merges a level's segments once this many have piled up (its default: 4). Stored
# reports are indexed a chunk per transaction, each chunk a segment. Merging half as often
# took indexing on 100,000 runs from 0.66 to 0.58 ms of CPU a run; the store benchmark's
# searches answered within 1.2 ms of before (3.7-33.5 ms).
AUTOMERGE = 8

_CHUNK = 500
_COLUMN_LIST = ", ".join(SEARCH_COLUMNS)
_VALUES = ", ".join("?" * len(SEARCH_COLUMNS))
_INSERT = f'INSERT INTO "{SEARCH_TABLE}" (rowid, {_COLUMN_LIST}) VALUES (?, {_VALUES})'
_DELETE = (
    f'INSERT INTO "{SEARCH_TABLE}" ("{SEARCH_TABLE}", rowid, {_COLUMN_LIST}) '
    f"VALUES ('delete', ?, {_VALUES})"
)
SNIPPET_TOKENS = 12
# Words as the unicode61 tokenizer sees them: letters and digits; everything else separates.
_TOKEN = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class SearchHit:
    run_id: str
    node_id: str | None  # None for a log entry not tied to a node
    field: str  # input, output, error, stack, prompt, response, log
    snippet: str


class SearchEntry(NamedTuple):
    """What one node or log line contributes to the index."""

    rowid: int  # a node's primary key, or minus a log line's
    run_id: str
    node_id: str | None
    texts: tuple[str | None, ...]  # one per SEARCH_COLUMNS; None where there is no text


def create_search_table(database: Database) -> None:
    if is_postgres(database):
        return search_pg.create_search_table(database)
    database.execute_sql(CREATE_SEARCH_TABLE)
    database.execute_sql(
        f'INSERT INTO "{SEARCH_TABLE}" ("{SEARCH_TABLE}", rank) VALUES (\'automerge\', ?)',
        [AUTOMERGE],
    )


def node_entry(
    node_pk: int,
    run_id: str,
    node_id: str,
    error_message: str | None,
    payload: NodePayloadRecord | None,
) -> SearchEntry:
    """The entry of a node; indexing and unindexing both build it here."""
    if payload is None:
        texts: tuple[str | None, ...] = (None, None, error_message, None, None, None)
    else:
        texts = (
            payload.input_json,
            payload.output_json,
            error_message,
            payload.error_stack,
            payload.llm_prompt_json,
            payload.llm_response_json,
        )
    return SearchEntry(node_pk, run_id, node_id, (*(text or None for text in texts), None))


def log_entry(log_pk: int, run_id: str, node_id: str | None, message: str) -> SearchEntry:
    return SearchEntry(-log_pk, run_id, node_id, (None,) * len(NODE_FIELDS) + (message or None,))


def _rows(entries: Iterable[SearchEntry]) -> list[tuple[int | str | None, ...]]:
    """The entries with text as (rowid, *texts), in ascending rowid order: FTS5 writes its
    pending words out as a new segment whenever a rowid is lower than the one before it,
    so log lines (rowid -pk, descending as pk grows) in their own order would cost a
    segment, and later a merge, each."""
    rows = [(entry.rowid, *entry.texts) for entry in entries if any(entry.texts)]
    return sorted(rows, key=itemgetter(0))


def index_entries(entries: Sequence[SearchEntry]) -> None:
    """Add the entries to the index (entries without any text are skipped). On SQLite only
    rows at or below the marks are added: rows above them are indexed by `catch_up`."""
    if is_postgres():
        return search_pg.index_entries(entries)
    _add(_indexed(entries))


def _add(entries: Iterable[SearchEntry]) -> None:
    rows = _rows(entries)
    if rows:
        db.cursor().executemany(_INSERT, rows)


def _indexed(entries: Iterable[SearchEntry]) -> list[SearchEntry]:
    """The entries whose rows the index holds (or is to hold now): those at or below the
    marks (see search_marks)."""
    marks = search_marks.indexed_up_to()
    return [
        entry
        for entry in entries
        if (entry.rowid <= marks.node if entry.rowid > 0 else -entry.rowid <= marks.log)
    ]


# Catching up indexes this many rows per step; about 20 ms of FTS5 work, so a writer that
# catches up between groups of reports keeps new reports waiting that long at most.
CATCH_UP_CHUNK = 400


def catch_up(limit: int | None = CATCH_UP_CHUNK) -> int:
    """Index rows stored since the index last caught up, oldest first, at most `limit`
    nodes and `limit` log lines (None: all); inside the caller's write transaction (SQLite;
    PostgreSQL indexes as it stores). Returns how many rows it indexed."""
    if is_postgres():
        return 0
    marks = search_marks.indexed_up_to()
    nodes = _node_entries(NodeExecution.id > marks.node, limit)
    logs = _log_entries(LogEntry.id > marks.log, limit)
    if not nodes and not logs:
        return 0
    _add(nodes + logs)
    search_marks.set_marks(
        search_marks.Marks(
            nodes[-1].rowid if nodes else marks.node, -logs[-1].rowid if logs else marks.log
        )
    )
    return len(nodes) + len(logs)


def catch_up_now() -> None:
    """Index everything waiting, a chunk per write transaction (SQLite), so that a search
    finds every run stored so far; writers wait at most one chunk at a time meanwhile.

    When the write lock cannot be had (another program holds it past the busy timeout, or
    the file is read-only), the search answers from what is indexed so far."""
    if is_postgres() or db.in_transaction() or not search_marks.pending_entries():
        return
    try:
        while True:
            with db.atomic(lock_type="IMMEDIATE"):
                if not catch_up():
                    return
    except OperationalError:
        log.warning("could not index recent runs; searching what is indexed", exc_info=True)


def raw_index_rows(
    entries: Sequence[SearchEntry],
) -> list[tuple[str, list[str], list[tuple[object, ...]]]]:
    """What `index_entries` inserts, as (table, columns, values) for plain `executemany`
    (the store benchmark's raw ceiling writes exactly the store's rows)."""
    return [(SEARCH_TABLE, ["rowid", *SEARCH_COLUMNS], list(_rows(entries)))]


def _remove(entries: Iterable[SearchEntry]) -> None:
    rows = _rows(_indexed(entries))
    if rows:
        db.cursor().executemany(_DELETE, rows)


def _node_entries(condition: Any, limit: int | None = None) -> list[SearchEntry]:
    """The entries of the nodes matching `condition`, rebuilt from what is stored; with a
    `limit`, the first ones by key."""
    query = (
        NodeExecution.select(
            NodeExecution.id,
            NodeExecution.run,
            NodeExecution.node_id,
            NodeExecution.error_message,
            NodePayload.payload,
        )
        .join(NodePayload, JOIN.LEFT_OUTER)
        .where(condition)
    )
    if limit is not None:
        query = query.order_by(NodeExecution.id).limit(limit)
    return [node_entry(*row) for row in tuple_rows(query)]


def _log_entries(condition: Any, limit: int | None = None) -> list[SearchEntry]:
    query = LogEntry.select(LogEntry.id, LogEntry.run, LogEntry.node_id, LogEntry.message).where(
        condition
    )
    if limit is not None:
        query = query.order_by(LogEntry.id).limit(limit)
    return [log_entry(*row) for row in tuple_rows(query)]


def unindex_runs(run_ids: Iterable[str]) -> None:
    """Remove the index entries of runs about to be deleted (virtual tables do not cascade)."""
    if is_postgres():
        return search_pg.unindex_runs(run_ids)
    ids = list(run_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        _remove(_node_entries(NodeExecution.run.in_(chunk)) + _log_entries(LogEntry.run.in_(chunk)))


def unindex_nodes(node_pks: Iterable[int]) -> None:
    """Remove the index entries of nodes about to be replaced or deleted."""
    if is_postgres():
        return search_pg.unindex_nodes(node_pks)
    pks = list(node_pks)
    for start in range(0, len(pks), _CHUNK):
        _remove(_node_entries(NodeExecution.id.in_(pks[start : start + _CHUNK])))


def unindex_logs(log_pks: Iterable[int]) -> None:
    """Remove the index entries of log lines about to be replaced (streamed re-posts)."""
    if is_postgres():
        return search_pg.unindex_logs(log_pks)
    pks = list(log_pks)
    for start in range(0, len(pks), _CHUNK):
        _remove(_log_entries(LogEntry.id.in_(pks[start : start + _CHUNK])))


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def match_expression(text: str) -> str | None:
    """User text as an FTS5 query: every word must appear; the last may be a prefix.

    Words are split where the tokenizer splits them and quoted, so FTS5 operators and
    punctuation in user text are taken literally. The index keeps which rows hold a word
    but not where in them (`detail = none`), so "customer_id" finds nodes holding both
    "customer" and "id" rather than that exact sequence.
    """
    words = _tokens(text)
    if not words:
        return None
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


# A prefix standing for more words than this is left to FTS5's own prefix query.
_MAX_EXPANSION = 64
_VOCAB_TABLE = "search_vocab"
_expansions: dict[tuple[int, int, int, str], list[str]] = {}


def _index_form(word: str) -> str:
    """A word as unicode61 (remove_diacritics 2) stores it: lower case, no accents."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _words_with_prefix(prefix: str) -> list[str] | None:
    """The indexed words that start with `prefix` (None: too many, or none found).

    FTS5 answers a prefix query by merging the position lists of every word with that
    prefix across the whole index before anything else, 40-80 ms for a common word on
    100,000 runs, even for a query limited to a few runs' rowids; the same words looked
    up in its vocabulary and asked for one by one take a millisecond each. The lookup is
    remembered until this connection sees the database change.
    """
    folded = _index_form(prefix)
    if not folded:
        return None
    connection = db.connection()
    version = db.execute_sql("PRAGMA data_version").fetchone()[0]
    key = (id(connection), version, connection.total_changes, folded)
    if key not in _expansions:
        db.execute_sql(
            f'CREATE VIRTUAL TABLE IF NOT EXISTS temp."{_VOCAB_TABLE}" '
            f'USING fts5vocab(main, "{SEARCH_TABLE}", row)'
        )
        upper = folded[:-1] + chr(ord(folded[-1]) + 1)
        rows = db.execute_sql(
            f'SELECT term FROM temp."{_VOCAB_TABLE}" WHERE term >= ? AND term < ? LIMIT ?',
            [folded, upper, _MAX_EXPANSION + 1],
        ).fetchall()
        if len(_expansions) > 256:
            _expansions.clear()
        _expansions[key] = [row[0] for row in rows]
    words = _expansions[key]
    return words if 0 < len(words) <= _MAX_EXPANSION else None


def _query_expression(text: str) -> str | None:
    """`match_expression` as it is run: the last word's prefix spelled out as the indexed
    words it stands for, when there are few (see `_words_with_prefix`)."""
    words = _tokens(text)
    if not words:
        return None
    catch_up_now()  # rows stored moments ago may not be indexed yet
    expanded = _words_with_prefix(words[-1])
    if expanded is None:
        return match_expression(text)
    alternatives = " OR ".join(f'"{w}"' for w in expanded)
    return " AND ".join([*(f'"{w}"' for w in words[:-1]), f"({alternatives})"])


def matching_runs_sql(text: str) -> tuple[str, list[str]] | None:
    """SQL selecting the ids of runs with a hit, for use in `Run.id IN (...)`."""
    if is_postgres():
        return search_pg.matching_runs_sql(text)
    expression = _query_expression(text)
    if expression is None:
        return None
    sql = (
        "(SELECT run_id FROM node_execution WHERE id IN "
        f'(SELECT rowid FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ? AND rowid > 0) '
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
    node_pks = sorted(rowid for rowid in rowids if rowid > 0)
    log_pks = sorted(-rowid for rowid in rowids if rowid < 0)
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
    expression = _query_expression(text)
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
    expression = _query_expression(text)
    if expression is None or not node_run:
        return set()
    rowids = _hit_rowids(expression, min(node_run), max(node_run))
    return {node_run[r] for r in rowids if r in node_run}


def runs_with_log_hits(text: str, run_ids: Sequence[str]) -> set[str]:
    """Which of the runs have a hit in a log line (SQLite only; as `runs_with_node_hits`)."""
    log_run: dict[int, str] = {}
    for start in range(0, len(run_ids), _CHUNK):
        chunk = list(run_ids[start : start + _CHUNK])
        query = LogEntry.select(LogEntry.id, LogEntry.run).where(LogEntry.run.in_(chunk))
        log_run.update(tuple_rows(query))
    expression = _query_expression(text)
    if expression is None or not log_run:
        return set()
    rowids = _hit_rowids(expression, -max(log_run), -min(log_run))
    return {log_run[-r] for r in rowids if -r in log_run}


def _fold(word: str) -> str:
    """As the unicode61 tokenizer compares words: case- and diacritic-insensitive."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _matches(query: str) -> tuple[Callable[[str], bool], int]:
    """Whether a word of some text matches a word of the query (the last as a prefix)."""
    words = [_fold(t) for t in _tokens(query)]
    exact, prefix = set(words[:-1]), words[-1] if words else ""

    def hit(token: str) -> bool:
        folded = _fold(token)
        return folded in exact or (bool(prefix) and folded.startswith(prefix))

    return hit, len(words)


def snippet(text: str, query: str, tokens: int = SNIPPET_TOKENS) -> str:
    """About `tokens` words of `text` around the first match, matches in [brackets]."""
    hit, _ = _matches(query)
    found = list(_TOKEN.finditer(text))
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


def _field_hit(texts: Sequence[str | None], query: str) -> tuple[str, str] | None:
    """(field, text) of the node field that holds the query best: the first that holds
    every word, else the one holding most of them (a node matches when its fields together
    hold them)."""
    hit, wanted = _matches(query)
    best: tuple[int, str, str] | None = None
    for field, text in zip(NODE_FIELDS, texts, strict=False):
        if not text:
            continue
        held = len({_fold(t) for t in _tokens(text) if hit(t)})
        if held >= wanted:
            return field, text
        if held and (best is None or held > best[0]):
            best = (held, field, text)
    return None if best is None else (best[1], best[2])


def search_hits(text: str, run_id: str | None = None, limit: int = 50) -> list[SearchHit]:
    """Where the text was found: which run, which node, which field, with a snippet."""
    if is_postgres():
        return search_pg.search_hits(text, run_id, limit)
    expression = _query_expression(text)
    if expression is None:
        return []
    sql = f'SELECT rowid FROM "{SEARCH_TABLE}" WHERE "{SEARCH_TABLE}" MATCH ?'
    params: list[object] = [expression]
    if run_id is not None:
        sql += (
            " AND ((rowid > 0 AND rowid IN (SELECT id FROM node_execution WHERE run_id = ?))"
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
    node_pks = sorted(rowid for rowid in rowids if rowid > 0)
    if node_pks:
        for entry in _node_entries(NodeExecution.id.in_(node_pks)):
            field_hit = _field_hit(entry.texts, text)
            if field_hit is not None:
                found[entry.rowid] = (entry.run_id, entry.node_id, *field_hit)
    log_pks = [-rowid for rowid in rowids if rowid < 0]
    if log_pks:
        for entry in _log_entries(LogEntry.id.in_(log_pks)):
            found[entry.rowid] = (entry.run_id, entry.node_id, "log", entry.texts[-1] or "")
    return [
        SearchHit(run, node, field, snippet(body, text))
        for rowid in rowids
        if rowid in found
        for run, node, field, body in [found[rowid]]
    ]
