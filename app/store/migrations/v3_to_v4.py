"""Schema 4: smaller and faster to write. A node's payload fields are packed together into
one value; the SQLite search index has one row per node (a column per field) instead of one
per field, and no column sizes; the (run, position) node index is gone, because the
(run, node_id, attempt) index finds a run's nodes as well.

Everything this step writes is defined here, frozen, not taken from the current models or
search module. The step reads and writes in keyset-paged chunks, reporting progress.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

from peewee import Database, SqliteDatabase

from app.store.migrations.progress import MigrationProgress

_CHUNK = 500  # nodes per step: well under the half second between progress reports
_OLD_COLUMNS = (
    "input_json",
    "output_json",
    "error_stack",
    "metrics_json",
    "llm_prompt_json",
    "llm_response_json",
)

# Format 1 of one packed text (schema 3): b"\x00" + UTF-8, or b"\x01" + raw DEFLATE of it.
# Format of a packed node payload (schema 4): the same two forms over a frame of six
# little-endian int32 lengths (-1: absent) followed by the fields' UTF-8 bytes, in the
# order of _OLD_COLUMNS.
_COMPRESS_ABOVE = 96
_FRAME = struct.Struct("<6i")


def _unpack(stored: bytes | memoryview | None) -> str | None:
    if stored is None:
        return None
    data = bytes(stored)
    return zlib.decompress(data[1:], -15).decode() if data[:1] == b"\x01" else data[1:].decode()


def _pack_fields(values: Sequence[str | None]) -> bytes:
    encoded = [None if value is None else value.encode() for value in values]
    frame = _FRAME.pack(*(-1 if data is None else len(data) for data in encoded))
    data = frame + b"".join(part for part in encoded if part)
    if len(data) > _COMPRESS_ABOVE:
        squeezer = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = squeezer.compress(data) + squeezer.flush()
        if len(packed) < len(data):
            return b"\x01" + packed
    return b"\x00" + data


_NEW_PAYLOAD_TABLE = (
    'CREATE TABLE "node_payload_v4" ("node_id" INTEGER NOT NULL PRIMARY KEY, '
    '"payload" BLOB NOT NULL, FOREIGN KEY ("node_id") REFERENCES "node_execution" ("id") '
    "ON DELETE CASCADE)"
)
_SEARCH_COLUMNS = "input, output, error, stack, prompt, response, log"
_NEW_SEARCH_TABLE = (
    f"CREATE VIRTUAL TABLE search_index USING fts5({_SEARCH_COLUMNS}, content = '', "
    "columnsize = 0, detail = column, tokenize = 'unicode61 remove_diacritics 2')"
)
_INSERT_NODE = (
    "INSERT INTO search_index (rowid, input, output, error, stack, prompt, response) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def upgrade(database: Database, progress: MigrationProgress) -> None:
    with progress.watching(database):
        if isinstance(database, SqliteDatabase):
            # Dropping an index of every node frees its pages in one step (seconds for a
            # million runs), so it runs on a worker thread while progress is reported.
            connection = database.connection()
            progress.run(
                "Removing an index no longer needed",
                lambda: connection.execute('DROP INDEX IF EXISTS "node_execution_run_id_position"'),
            )
        else:
            database.execute_sql('DROP INDEX IF EXISTS "node_execution_run_id_position"')
        if isinstance(database, SqliteDatabase):
            _upgrade_sqlite(database, progress)
        else:
            _upgrade_postgres(database, progress)


def _upgrade_sqlite(database: SqliteDatabase, progress: MigrationProgress) -> None:
    """One pass over the nodes repacks their payloads and indexes them anew; then log lines
    are indexed. The old payload table and index are dropped at the end."""
    database.execute_sql(_NEW_PAYLOAD_TABLE)
    # FTS5 keeps its structure record at rowid 10 (and averages at 1) of the data table;
    # the segments, the bulk, come after. The table is dropped whole right after.
    _empty_in_chunks(
        database, "search_index_data", progress, "Removing the old search index", keep_upto=10
    )
    database.execute_sql("DROP TABLE IF EXISTS search_index")
    database.execute_sql(_NEW_SEARCH_TABLE)
    highest = database.execute_sql("SELECT MAX(id) FROM node_execution").fetchone()[0] or 0
    progress.phase("Repacking node payloads and rebuilding the search index", highest)
    columns = ", ".join(f"np.{c}" for c in _OLD_COLUMNS)
    last = 0
    cursor = database.cursor()
    while True:
        rows = database.execute_sql(
            f"SELECT ne.id, ne.error_message, np.node_id IS NOT NULL, {columns} "
            "FROM node_execution AS ne LEFT JOIN node_payload AS np ON np.node_id = ne.id "
            f"WHERE ne.id > ? ORDER BY ne.id LIMIT {_CHUNK}",
            [last],
        ).fetchall()
        if not rows:
            break
        payloads, entries = [], []
        for pk, error_message, has_payload, *packed in rows:
            texts = [_unpack(value) for value in packed]
            if has_payload:
                payloads.append((pk, _pack_fields(texts)))
            indexed = (texts[0], texts[1], error_message, texts[2], texts[4], texts[5])
            if any(indexed):
                entries.append((pk, *(text or None for text in indexed)))
        cursor.executemany('INSERT INTO "node_payload_v4" VALUES (?, ?)', payloads)
        cursor.executemany(_INSERT_NODE, entries)
        last = rows[-1][0]
        progress.advance(last)
    progress.finish_phase()
    highest = database.execute_sql("SELECT MAX(id) FROM log_entry").fetchone()[0] or 0
    progress.phase("Indexing log messages", highest)
    # Highest id first, so the rowids (-id) ascend: FTS5 starts a new segment whenever a
    # rowid is lower than the one before.
    for high in range(highest, 0, -_CHUNK * 40):
        database.execute_sql(
            "INSERT INTO search_index (rowid, log) SELECT -id, message FROM log_entry "
            "WHERE id > ? AND id <= ? AND message != '' ORDER BY id DESC",
            [high - _CHUNK * 40, high],
        )
        progress.advance(highest - high + _CHUNK * 40)
    progress.finish_phase()
    _empty_in_chunks(database, "node_payload", progress, "Removing the old node payloads")
    database.execute_sql('DROP TABLE "node_payload"')
    database.execute_sql('ALTER TABLE "node_payload_v4" RENAME TO "node_payload"')
    progress.finish_phase()


def _empty_in_chunks(
    database: SqliteDatabase,
    table: str,
    progress: MigrationProgress,
    message: str,
    keep_upto: int = 0,
) -> None:
    """Delete a big table's rows a chunk at a time before it is dropped: one DROP of a
    gigabyte table frees every page in a single step, seconds without a progress report."""
    if not database.table_exists(table):
        return
    total = database.execute_sql(
        f'SELECT COUNT(*) FROM "{table}" WHERE rowid > ?', [keep_upto]
    ).fetchone()[0]
    progress.phase(message, total)
    done = 0
    while True:
        deleted = database.execute_sql(
            f'DELETE FROM "{table}" WHERE rowid IN (SELECT rowid FROM "{table}" '
            f"WHERE rowid > ? ORDER BY rowid LIMIT {_CHUNK * 20})",
            [keep_upto],
        ).rowcount
        if deleted <= 0:
            break
        done += deleted
        progress.advance(done)
    progress.finish_phase()


def _upgrade_postgres(database: Database, progress: MigrationProgress) -> None:
    """The payload columns become one packed column; the search index (one entry per
    field, see search_pg.py) keeps its layout."""
    database.execute_sql('ALTER TABLE "node_payload" ADD COLUMN "payload" BYTEA')
    highest = database.execute_sql("SELECT MAX(node_id) FROM node_payload").fetchone()[0] or 0
    progress.phase("Repacking node payloads", highest)
    columns = ", ".join(f'"{c}"' for c in _OLD_COLUMNS)
    last = 0
    while True:
        rows = database.execute_sql(
            f'SELECT "node_id", {columns} FROM "node_payload" WHERE "node_id" > %s '
            f'ORDER BY "node_id" LIMIT {_CHUNK}',
            [last],
        ).fetchall()
        if not rows:
            break
        database.cursor().executemany(
            'UPDATE "node_payload" SET "payload" = %s WHERE "node_id" = %s',
            [(_pack_fields([_unpack(v) for v in packed]), pk) for pk, *packed in rows],
        )
        last = rows[-1][0]
        progress.advance(last)
    progress.finish_phase()
    for column in _OLD_COLUMNS:
        database.execute_sql(f'ALTER TABLE "node_payload" DROP COLUMN "{column}"')
    database.execute_sql('ALTER TABLE "node_payload" ALTER COLUMN "payload" SET NOT NULL')
