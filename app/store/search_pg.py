"""Full-text search on PostgreSQL: the same functions as `search.py`, over a GIN-indexed
tsvector table instead of SQLite's FTS5.

Words are cut and folded in Python, the same way for what is stored and what is asked:
letters and digits only (so URLs, paths and JSON split into their words as FTS5's
unicode61 tokenizer splits them, where PostgreSQL's own parser would keep a URL whole),
case folded and accents removed. Each entry keeps only its distinct words without
positions, because queries are "every word, the last one as a prefix"; the text a snippet
is cut from is read back from the payload tables for the hits shown, so the index never
holds a second copy of the payloads.

Each field of a node is an entry of its own, with id `node_pk * 8 + field code` (log lines:
`-log_pk`), so the index itself says which field matched; entries reference their run with
ON DELETE CASCADE, so deleting a run removes its entries with it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from peewee import Database

from app.store.models import LogEntry, NodeExecution, NodePayload, db
from app.store.rows import tuple_rows

if TYPE_CHECKING:
    from app.store.search import SearchEntry, SearchHit

SEARCH_TABLE = "search_index"
_CREATE = (
    f'CREATE TABLE IF NOT EXISTS "{SEARCH_TABLE}" ('
    "id BIGINT PRIMARY KEY, "
    'run_id VARCHAR(200) NOT NULL REFERENCES "run" (id) ON DELETE CASCADE, '
    "node_id VARCHAR(200), "
    "field VARCHAR(10) NOT NULL, "
    "words TSVECTOR NOT NULL)",
    f'CREATE INDEX IF NOT EXISTS "{SEARCH_TABLE}_words" ON "{SEARCH_TABLE}" USING GIN (words)',
    # The cascade from "run" looks entries up by run.
    f'CREATE INDEX IF NOT EXISTS "{SEARCH_TABLE}_run_id" ON "{SEARCH_TABLE}" (run_id)',
)

_WORD = re.compile(r"[^\W_]+")
# PostgreSQL refuses lexemes over 2 KB and tsvectors over 1 MB; a longer "word" is not
# something anyone types, and a payload with that many distinct words stays findable by
# its first ones.
_MAX_WORD_CHARS = 200
_MAX_ENTRY_BYTES = 768 * 1024  # a position-less lexeme takes its UTF-8 bytes + 4
_CHUNK = 500
_SNIPPET_WORDS = 12

# Field codes, the low three bits of a node entry's id (search.NODE_FIELDS' order).
_FIELD_BY_CODE = {0: "input", 1: "output", 2: "error", 3: "stack", 4: "prompt", 5: "response"}
_PAYLOAD_ATTRIBUTE = {
    "input": "input_json",
    "output": "output_json",
    "stack": "error_stack",
    "prompt": "llm_prompt_json",
    "response": "llm_response_json",
}


def create_search_table(database: Database) -> None:
    for statement in _CREATE:
        database.execute_sql(statement)


def fold(text: str) -> str:
    """Case folded, accents removed (é → e), as FTS5's `remove_diacritics` does."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text)) if len(w) <= _MAX_WORD_CHARS]


def distinct_words(text: str) -> list[str]:
    kept, size = [], 0
    for word in dict.fromkeys(words(text)):
        size += len(word.encode()) + 4
        if size > _MAX_ENTRY_BYTES:
            break
        kept.append(word)
    return kept


def _rows(entries: Sequence[SearchEntry]) -> list[tuple[int, str, str | None, str, list[str]]]:
    """search.py's entries (one per node or log line) as one row per field with words."""
    rows: list[tuple[int, str, str | None, str, list[str]]] = []
    for entry in entries:
        if entry.rowid < 0:
            fields: Iterable[tuple[int, str, str | None]] = [(entry.rowid, "log", entry.texts[-1])]
        else:
            fields = (
                (entry.rowid * 8 + code, name, entry.texts[code])
                for code, name in _FIELD_BY_CODE.items()
            )
        for entry_id, field, text in fields:
            if text and (found := distinct_words(text)):
                rows.append((entry_id, entry.run_id, entry.node_id, field, found))
    return rows


def index_entries(entries: Sequence[SearchEntry]) -> None:
    """Add search.py's entries to the index, one row per field that has words."""
    rows = _rows(entries)
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        placeholders = ", ".join(["(%s, %s, %s, %s, array_to_tsvector(%s::text[]))"] * len(chunk))
        db.execute_sql(
            f'INSERT INTO "{SEARCH_TABLE}" (id, run_id, node_id, field, words) '
            f"VALUES {placeholders}",
            [value for row in chunk for value in row],
        )


def raw_index_rows(
    entries: Sequence[SearchEntry],
) -> list[tuple[str, list[str], list[tuple[object, ...]]]]:
    """What `index_entries` inserts, as (table, columns, values) for plain `executemany`
    (the store benchmark's raw ceiling; `words` goes through `array_to_tsvector`)."""
    columns = ["id", "run_id", "node_id", "field", "words"]
    return [(SEARCH_TABLE, columns, list(_rows(entries)))]


def unindex_runs(run_ids: Iterable[str]) -> None:
    """Nothing to do: entries go with their run (ON DELETE CASCADE)."""


def unindex_nodes(node_pks: Iterable[int]) -> None:
    """Remove the entries of nodes about to be rewritten in place (streamed updates)."""
    _delete_ids([pk * 8 + code for pk in node_pks for code in _FIELD_BY_CODE])


def unindex_logs(log_pks: Iterable[int]) -> None:
    """Remove the entries of log lines about to be replaced."""
    _delete_ids([-pk for pk in log_pks])


def _delete_ids(entry_ids: Sequence[int]) -> None:
    for start in range(0, len(entry_ids), _CHUNK):
        chunk = list(entry_ids[start : start + _CHUNK])
        db.execute_sql(f'DELETE FROM "{SEARCH_TABLE}" WHERE id = ANY(%s)', [chunk])


def query_expression(text: str) -> str | None:
    """User text as a tsquery: every word must appear; the last may be a prefix.

    Only letters and digits reach the query, each quoted, so tsquery operators in user
    text (`&`, `|`, `!`, `:*`, parentheses) are never interpreted.
    """
    found = words(text)
    if not found:
        return None
    quoted = [f"'{w}'" for w in found]
    quoted[-1] += ":*"
    return " & ".join(quoted)


def matching_runs_sql(text: str) -> tuple[str, list[str]] | None:
    """SQL selecting the ids of runs with a hit, for use in `Run.id IN (...)`."""
    expression = query_expression(text)
    if expression is None:
        return None
    return f'(SELECT run_id FROM "{SEARCH_TABLE}" WHERE words @@ %s::tsquery)', [expression]


def search_hits(text: str, run_id: str | None = None, limit: int = 50) -> list[SearchHit]:
    """Where the text was found: which run, which node, which field, with a snippet."""
    from app.store.search import SearchHit  # search.py dispatches here: import when called

    expression = query_expression(text)
    if expression is None:
        return []
    sql = f'SELECT id, run_id, node_id, field FROM "{SEARCH_TABLE}" WHERE words @@ %s::tsquery'
    params: list[object] = [expression]
    if run_id is not None:
        sql += " AND run_id = %s"
        params.append(run_id)
    # Newest entries first, as on SQLite (ids grow as runs are stored), without ranking
    # every hit.
    sql += " ORDER BY id DESC LIMIT %s"
    params.append(limit)
    hits = db.execute_sql(sql, params).fetchall()
    sources = _source_texts([row[0] for row in hits])
    wanted = words(text)
    return [
        SearchHit(run, node, field, snippet(sources.get(entry_id, ""), wanted))
        for entry_id, run, node, field in hits
    ]


def _source_texts(entry_ids: list[int]) -> dict[int, str]:
    """The indexed text of each entry, read through the models (so payload columns decode
    however they are stored)."""
    node_pks = sorted({i // 8 for i in entry_ids if i >= 0})
    log_pks = sorted({-i for i in entry_ids if i < 0})
    texts: dict[int, str] = {}
    if node_pks:
        payloads = dict(
            tuple_rows(
                NodePayload.select(NodePayload.node, NodePayload.payload).where(
                    NodePayload.node.in_(node_pks)
                )
            )
        )
        errors = dict(
            tuple_rows(
                NodeExecution.select(NodeExecution.id, NodeExecution.error_message).where(
                    NodeExecution.id.in_(node_pks)
                )
            )
        )
        for entry_id in (i for i in entry_ids if i >= 0):
            pk, field = entry_id // 8, _FIELD_BY_CODE.get(entry_id % 8)
            if field == "error":
                value = errors.get(pk)
            elif field in _PAYLOAD_ATTRIBUTE and pk in payloads:
                value = getattr(payloads[pk], _PAYLOAD_ATTRIBUTE[field])
            else:
                value = None
            texts[entry_id] = value or ""
    if log_pks:
        for pk, message in tuple_rows(
            LogEntry.select(LogEntry.id, LogEntry.message).where(LogEntry.id.in_(log_pks))
        ):
            texts[-pk] = message
    return texts


def snippet(text: str, wanted: list[str]) -> str:
    """About a dozen words around the first match, matches in [brackets], … where cut
    (what FTS5's snippet() gives on SQLite)."""
    if not wanted:
        return ""
    exact, prefix = set(wanted[:-1]), wanted[-1]

    def matches(word: str) -> bool:
        folded = fold(word)
        return folded in exact or folded.startswith(prefix)

    tokens = list(_WORD.finditer(text))
    first = next((i for i, t in enumerate(tokens) if matches(t.group())), None)
    if first is None:
        return text[:80]
    start = max(0, min(first - 2, len(tokens) - _SNIPPET_WORDS))
    end = min(len(tokens), start + _SNIPPET_WORDS)
    parts = ["…" if start > 0 else text[: tokens[start].start()]]
    position = tokens[start].start()
    for token in tokens[start:end]:
        parts.append(text[position : token.start()])
        parts.append(f"[{token.group()}]" if matches(token.group()) else token.group())
        position = token.end()
    parts.append("…" if end < len(tokens) else text[position:])
    return "".join(parts)
