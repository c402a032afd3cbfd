"""Payload text stored packed: compressed above a size threshold, plain bytes below.

A BlobField, so PostgreSQL gets `bytea` and SQLite a BLOB. The first byte says how the rest
is stored, so values written with and without compression read back the same, and nothing
is ever truncated: reading gives back exactly the text that was written.

A node's payload fields are packed together into one value (`NodePayloadField`): the fields
of one node share most of their words and keys, so one compressed stream over all of them is
about a fifth smaller than one stream per field, and costs one compress call instead of six.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Sequence
from typing import Any

import zstandard
from peewee import BlobField

from app.store.records import NodePayload

PLAIN = b"\x00"
DEFLATE = b"\x01"  # raw DEFLATE (zlib level 1): what earlier versions wrote; still read
ZSTD = b"\x02"  # a Zstandard frame: what is written now
# Below this many bytes compression rarely pays for its own header and CPU time.
COMPRESS_ABOVE = 96
# Zstandard's level 1: on a node's packed fields (~1 KB) it takes 6 µs where zlib's fastest
# level took 19 µs, for output 3 % larger; compressing was most of the CPU the receiver's one
# writer thread spent on a report beyond SQLite's own work. Decompressing is twice as fast.
LEVEL = 1
_WBITS = -15  # raw DEFLATE: no zlib header or checksum (SQLite pages are checksummed by WAL)
# A compressor or decompressor is not safe to share between threads; each thread keeps its
# own (they keep their working memory, which is what made small inputs cheap).
_per_thread = threading.local()


def _compressor() -> zstandard.ZstdCompressor:
    try:
        return _per_thread.compressor
    except AttributeError:
        _per_thread.compressor = zstandard.ZstdCompressor(level=LEVEL, write_checksum=False)
        return _per_thread.compressor


def _decompressor() -> zstandard.ZstdDecompressor:
    try:
        return _per_thread.decompressor
    except AttributeError:
        _per_thread.decompressor = zstandard.ZstdDecompressor()
        return _per_thread.decompressor


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
        packed = _compressor().compress(data)  # the frame records the length, for reading
        if len(packed) < len(data):
            return ZSTD + packed
    return PLAIN + data


def unpack_bytes(stored: bytes | memoryview) -> bytes:
    data = bytes(stored)
    if data[:1] == ZSTD:
        return _decompressor().decompress(data[1:])
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
