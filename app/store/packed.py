"""Payload text stored packed: raw DEFLATE above a size threshold, plain bytes below.

A BlobField, so PostgreSQL gets `bytea` and SQLite a BLOB. The first byte says how the rest
is stored, so values written with and without compression read back the same, and nothing
is ever truncated: reading gives back exactly the text that was written.

A node's payload fields are packed together into one value (`NodePayloadField`): the fields
of one node share most of their words and keys, so one DEFLATE stream over all of them is
about a fifth smaller than one stream per field, and costs one compress call instead of six.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Any

from peewee import BlobField

from app.store.records import NodePayload

PLAIN = b"\x00"
DEFLATE = b"\x01"
# Below this many bytes compression rarely pays for its own header and CPU time.
COMPRESS_ABOVE = 96
# zlib's fastest level: on a node's packed fields (~2 KB) it compresses about 2 % less than
# the default level 6 in about 60 % of the time, and compression was most of the Python
# time a batched write spends beyond SQLite's own.
LEVEL = 1
_WBITS = -15  # raw DEFLATE: no zlib header or checksum (SQLite pages are checksummed by WAL)

# The fields of a packed node payload, in their stored order; never reorder.
NODE_PAYLOAD_FIELDS = (
    "input_json",
    "output_json",
    "error_stack",
    "metrics_json",
    "llm_prompt_json",
    "llm_response_json",
)
# Fields framed as: one little-endian int32 length per field (-1: the field is absent),
# then the fields' UTF-8 bytes one after the other.
_FRAME = struct.Struct(f"<{len(NODE_PAYLOAD_FIELDS)}i")
_ABSENT = -1


def pack_bytes(data: bytes) -> bytes:
    if len(data) > COMPRESS_ABOVE:
        packed = zlib.compress(data, LEVEL, _WBITS)  # one call: no compressor object
        if len(packed) < len(data):
            return DEFLATE + packed
    return PLAIN + data


def unpack_bytes(stored: bytes | memoryview) -> bytes:
    data = bytes(stored)
    if data[:1] == DEFLATE:
        return zlib.decompress(data[1:], _WBITS)
    if data[:1] == PLAIN:
        return data[1:]
    raise ValueError(f"unknown payload encoding {data[:1]!r}")


def pack(text: str) -> bytes:
    return pack_bytes(text.encode())


def unpack(stored: bytes | memoryview) -> str:
    return unpack_bytes(stored).decode()


def pack_fields(values: Sequence[str | None]) -> bytes:
    """Several optional texts as one packed value (None and "" stay distinct)."""
    encoded = [None if value is None else value.encode() for value in values]
    lengths = [_ABSENT if data is None else len(data) for data in encoded]
    return pack_bytes(_FRAME.pack(*lengths) + b"".join(data for data in encoded if data))


def unpack_fields(stored: bytes | memoryview) -> list[str | None]:
    data = unpack_bytes(stored)
    lengths = _FRAME.unpack_from(data)
    values: list[str | None] = []
    offset = _FRAME.size
    for length in lengths:
        if length == _ABSENT:
            values.append(None)
        else:
            values.append(data[offset : offset + length].decode())
            offset += length
    if offset != len(data):
        raise ValueError("packed payload fields do not add up to the stored length")
    return values


def pack_node_payload(payload: NodePayload) -> bytes:
    return pack_fields([getattr(payload, name) for name in NODE_PAYLOAD_FIELDS])


def unpack_node_payload(stored: bytes | memoryview) -> NodePayload:
    return NodePayload(*unpack_fields(stored))


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


class NodePayloadField(BlobField):
    """A node's payload fields (a `records.NodePayload`) in Python, one packed value in the
    database."""

    def db_value(self, value: Any) -> Any:
        if value is None:
            return None
        return super().db_value(pack_node_payload(value))

    def python_value(self, value: Any) -> Any:
        if value is None:
            return None
        return unpack_node_payload(value)
