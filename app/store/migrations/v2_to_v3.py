"""Schema 3: payloads packed (compressed above a threshold), a contentless search index,
no index that another one already covers, and runs indexed by (status, started_at).

Payload columns become BLOBs (bytea on PostgreSQL) holding the packed text; the SQLite
full-text index is rebuilt as a contentless FTS5 table, so it no longer keeps a second copy
of every payload. Everything this step writes is defined here, frozen, not taken from the
current models or search module.
"""

from __future__ import annotations

import zlib

from peewee import Database, SqliteDatabase

_PAYLOAD_COLUMNS = {
    "run_payload": (
        "run_id",
        ("trigger_json", "error_stack", "params_json", "output_json", "metadata_json"),
    ),
    "node_payload": (
        "node_id",
        (
            "input_json",
            "output_json",
            "error_stack",
            "metrics_json",
            "llm_prompt_json",
            "llm_response_json",
        ),
    ),
    "log_payload": ("log_id", ("data_json",)),
    "artifact_payload": ("artifact_id", ("data_json",)),
}
_CHUNK = 1000

# Format 1 of packed payloads: b"\x00" + UTF-8, or b"\x01" + raw DEFLATE of the UTF-8.
_COMPRESS_ABOVE = 96


def _pack(text: str) -> bytes:
    data = text.encode()
    if len(data) > _COMPRESS_ABOVE:
        squeezer = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = squeezer.compress(data) + squeezer.flush()
        if len(packed) < len(data):
            return b"\x01" + packed
    return b"\x00" + data


def _unpack(stored: bytes) -> str:
    data = bytes(stored)
    return zlib.decompress(data[1:], -15).decode() if data[:1] == b"\x01" else data[1:].decode()


_NEW_SEARCH_TABLE = (
    "CREATE VIRTUAL TABLE search_index USING fts5("
    "body, content = '', detail = column, tokenize = 'unicode61 remove_diacritics 2')"
)
_NODE_FIELDS = (  # (code, column) in rowid order: rowid = node_pk * 8 + code
    (0, "np.input_json"),
    (1, "np.output_json"),
    (2, "ne.error_message"),
    (3, "np.error_stack"),
    (4, "np.llm_prompt_json"),
    (5, "np.llm_response_json"),
)


def _pack_sqlite(database: SqliteDatabase) -> None:
    """SQLite keeps a BLOB as a BLOB whatever the declared column type, so values are packed
    in place, keyset-paged by primary key."""
    for table, (key, columns) in _PAYLOAD_COLUMNS.items():
        last = None
        while True:
            sql = f'SELECT "{key}", {", ".join(columns)} FROM "{table}"'
            params: list[object] = []
            if last is not None:
                sql += f' WHERE "{key}" > ?'
                params.append(last)
            sql += f' ORDER BY "{key}" LIMIT {_CHUNK}'
            rows = database.execute_sql(sql, params).fetchall()
            if not rows:
                break
            assignments = ", ".join(f'"{c}" = ?' for c in columns)
            database.cursor().executemany(
                f'UPDATE "{table}" SET {assignments} WHERE "{key}" = ?',
                [(*(None if v is None else _pack(v) for v in row[1:]), row[0]) for row in rows],
            )
            last = rows[-1][0]


def _pack_postgres(database: Database) -> None:
    """Existing text becomes the uncompressed form of the packed format, in SQL."""
    for table, (_, columns) in _PAYLOAD_COLUMNS.items():
        for column in columns:
            database.execute_sql(
                f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE bytea '
                f"USING ('\\x00'::bytea || convert_to(\"{column}\", 'UTF8'))"
            )


def _rebuild_search(database: SqliteDatabase) -> None:
    database.execute_sql("DROP TABLE IF EXISTS search_index")
    database.execute_sql(_NEW_SEARCH_TABLE)
    insert = "INSERT INTO search_index (rowid, body) VALUES (?, ?)"
    columns = ", ".join(column for _, column in _NODE_FIELDS)
    last = 0
    while True:
        rows = database.execute_sql(
            f"SELECT ne.id, {columns} FROM node_execution AS ne "
            "LEFT JOIN node_payload AS np ON np.node_id = ne.id "
            f"WHERE ne.id > ? ORDER BY ne.id LIMIT {_CHUNK}",
            [last],
        ).fetchall()
        if not rows:
            break
        entries = []
        for pk, *values in rows:
            for (code, column), value in zip(_NODE_FIELDS, values, strict=True):
                if value is None:
                    continue
                text = value if column.startswith("ne.") else _unpack(value)
                if text:
                    entries.append((pk * 8 + code, text))
        database.cursor().executemany(insert, entries)
        last = rows[-1][0]
    # Every log message is indexed, empty ones too, as the store does when writing.
    database.execute_sql(
        "INSERT INTO search_index (rowid, body) SELECT -id, message FROM log_entry"
    )


# Indexes on a foreign key that a composite index already leads with.
_REDUNDANT_INDEXES = ("node_execution_run_id", "log_entry_run_id", "run_tag_run_id")


def upgrade(database: Database) -> None:
    for index in _REDUNDANT_INDEXES:
        database.execute_sql(f'DROP INDEX IF EXISTS "{index}"')
    # A status filter's first page reads runs of that status newest first from one index.
    database.execute_sql('DROP INDEX IF EXISTS "run_status"')
    database.execute_sql(
        'CREATE INDEX IF NOT EXISTS "run_status_started_at" ON "run" ("status", "started_at")'
    )
    if isinstance(database, SqliteDatabase):
        _pack_sqlite(database)
        _rebuild_search(database)
    else:
        _pack_postgres(database)
