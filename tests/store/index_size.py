"""How much the full-text index holds, for tests that check it stays exact.

SQLite's index is a contentless FTS5 table without column sizes, which cannot be scanned;
its size is the number of (word, entry) postings, read through an `fts5vocab` table.
PostgreSQL's index is a plain table of entries.
"""

from __future__ import annotations

from app.store.backend import is_postgres
from app.store.models import db


def index_size() -> int:
    if is_postgres():
        return int(db.execute_sql("SELECT COUNT(*) FROM search_index").fetchone()[0])
    db.execute_sql(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_vocab "
        "USING fts5vocab(main, search_index, row)"
    )
    return int(db.execute_sql("SELECT COALESCE(SUM(doc), 0) FROM temp.search_vocab").fetchone()[0])
