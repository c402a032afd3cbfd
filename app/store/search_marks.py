"""How far the SQLite full-text index has caught up with the tables.

Tokenising a report's text into FTS5 is about two thirds of what storing it costs the one
writer thread, so the receiver stores and acknowledges reports first and indexes them
moments later (`search.catch_up`). Two high-water marks say what is indexed: every node
whose primary key is at most `node` and every log line whose key is at most `log` is in the
index; rows above the marks are not, whatever their text. The marks live in the
`hindsight_schema` table and move in the same transaction as the index rows they account
for, so a crash can only leave rows unindexed, never indexed twice: the next catch-up
indexes them. Keys of new rows are handed out above the marks (`prepared.allocate_ids`),
so a key freed by a delete is never reused below a mark.

PostgreSQL indexes inline and has no marks.
"""

from __future__ import annotations

from typing import NamedTuple

from app.store.models import LogEntry, NodeExecution, SchemaInfo, db

NODE_MARK = "search_indexed_node"
LOG_MARK = "search_indexed_log"


class Marks(NamedTuple):
    node: int
    log: int


# Plain SQL: the writer asks after every group, and building these through peewee's query
# builder took longer than SQLite takes to answer them.
_HIGHEST_KEYS = (
    f'SELECT (SELECT MAX(id) FROM "{NodeExecution._meta.table_name}"), '
    f'(SELECT MAX(id) FROM "{LogEntry._meta.table_name}")'
)
_READ_MARKS = (
    f'SELECT "key", "value" FROM "{SchemaInfo._meta.table_name}" '
    f"WHERE \"key\" IN ('{NODE_MARK}', '{LOG_MARK}')"
)


def _highest_keys() -> Marks:
    node, log = db.execute_sql(_HIGHEST_KEYS).fetchone()
    return Marks(node or 0, log or 0)


def indexed_up_to(record: bool = False) -> Marks:
    """The marks. A database without them was written before marks existed, when every row
    was indexed as it was stored: it counts as fully indexed, and with `record` (inside a
    write transaction, before it stores rows) the marks are written down as such."""
    stored = dict(db.execute_sql(_READ_MARKS).fetchall())
    if len(stored) == 2:
        return Marks(int(stored[NODE_MARK]), int(stored[LOG_MARK]))
    marks = _highest_keys()
    if record:
        set_marks(marks)
    return marks


def set_marks(marks: Marks) -> None:
    """Move the marks (inside the transaction that indexed up to them)."""
    for key, value in ((NODE_MARK, marks.node), (LOG_MARK, marks.log)):
        SchemaInfo.insert(key=key, value=str(value)).on_conflict(
            conflict_target=[SchemaInfo.key], update={SchemaInfo.value: str(value)}
        ).execute()


def pending_entries() -> int:
    """About how many rows wait to be indexed (keys above the marks; a deleted one counts
    until the next catch-up passes it)."""
    marks, highest = indexed_up_to(), _highest_keys()
    return max(0, highest.node - marks.node) + max(0, highest.log - marks.log)
