"""Payload text stored packed: raw DEFLATE above a size threshold, plain UTF-8 below.

A BlobField, so PostgreSQL gets `bytea` and SQLite a BLOB. The first byte says how the rest
is stored, so values written with and without compression read back the same, and nothing
is ever truncated: reading gives back exactly the text that was written.
"""

from __future__ import annotations

import zlib
from typing import Any

from peewee import BlobField

PLAIN = b"\x00"
DEFLATE = b"\x01"
# Below this many bytes compression rarely pays for its own header and CPU time.
COMPRESS_ABOVE = 96
LEVEL = 6  # zlib's default: most of level 9's ratio at a fraction of its time
_WBITS = -15  # raw DEFLATE: no zlib header or checksum (SQLite pages are checksummed by WAL)


def pack(text: str) -> bytes:
    data = text.encode()
    if len(data) > COMPRESS_ABOVE:
        squeezer = zlib.compressobj(LEVEL, zlib.DEFLATED, _WBITS)
        packed = squeezer.compress(data) + squeezer.flush()
        if len(packed) < len(data):
            return DEFLATE + packed
    return PLAIN + data


def unpack(stored: bytes | memoryview) -> str:
    data = bytes(stored)
    if data[:1] == DEFLATE:
        return zlib.decompress(data[1:], _WBITS).decode()
    if data[:1] == PLAIN:
        return data[1:].decode()
    raise ValueError(f"unknown payload encoding {data[:1]!r}")


class PackedTextField(BlobField):
    """Text in Python, packed bytes in the database."""

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        return super().db_value(pack(value))

    def python_value(self, value: Any) -> Any:
        if value is None:
            return None
        return unpack(value)
