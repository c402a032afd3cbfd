"""Packed payloads give back exactly the text stored, compressed or not."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from app.ingest.report import decode_report
from app.store import queries, writes
from app.store.models import db
from app.store.packed import (
    COMPRESS_ABOVE,
    DEFLATE,
    PLAIN,
    ZSTD,
    pack,
    pack_fields,
    pack_node_payload,
    unpack,
    unpack_fields,
    unpack_node_payload,
)
from app.store.records import NodePayload
from tests.conftest import make_report


@pytest.mark.parametrize(
    "text",
    [
        "",
        "null",
        '"é ✓ 漢字"',
        "x" * COMPRESS_ABOVE,
        "y" * (COMPRESS_ABOVE + 1),
        json.dumps({"k": "ab\u0000cd" * 500}),
    ],
)
def test_round_trip(text: str) -> None:
    assert unpack(pack(text)) == text
    assert unpack(memoryview(pack(text))) == text  # PostgreSQL hands back memoryviews


def test_small_text_stays_plain_and_large_text_is_compressed() -> None:
    assert pack("short") == PLAIN + b"short"
    large = json.dumps({"words": ["invoice approved"] * 100})
    packed = pack(large)
    assert packed[:1] == ZSTD and len(packed) < len(large) / 4
    incompressible = bytes(range(256)).hex()  # 512 chars of hex digits still compress a bit
    assert unpack(pack(incompressible)) == incompressible


def test_values_packed_by_earlier_versions_still_read() -> None:
    """Schema 4 files written before Zstandard hold raw DEFLATE values; both kinds mix."""
    text = json.dumps({"words": ["invoice approved"] * 100})
    old = DEFLATE + zlib.compress(text.encode(), 1, -15)
    assert unpack(old) == text
    fields = ["in", None, "", "x" * 500, None, "out"]
    data = b"".join(
        [struct.pack("<6i", *(-1 if f is None else len(f) for f in fields))]
        + [f.encode() for f in fields if f]
    )
    assert unpack_fields(DEFLATE + zlib.compress(data, 1, -15)) == fields
    assert unpack_fields(pack_fields(fields)) == fields


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown payload encoding"):
        unpack(b"\x07abc")


def test_store_keeps_large_payloads_compressed_and_whole(database: Path) -> None:
    big = {"rows": [{"id": i, "note": "ledger entry reconciled"} for i in range(2_000)]}
    report = make_report("big")
    report["nodeExecutions"][0]["output"] = big
    writes.replace_runs([decode_report(json.dumps(report).encode())])
    detail = queries.get_run("big")
    assert detail is not None
    payload = queries.get_node_payload(detail.nodes[0].pk)
    assert payload is not None and json.loads(payload.output_json or "") == big
    stored = db.execute_sql("SELECT MAX(length(payload)) FROM node_payload").fetchone()[0]
    assert stored < len(json.dumps(big)) / 5


@pytest.mark.parametrize(
    "values",
    [
        [None] * 6,
        ["", None, "", None, "", None],  # an empty text is not an absent one
        ['{"a": 1}', "null", "Traceback ...", None, '[{"role": "user"}]', '"é ✓ 漢字"'],
        ["ab\u0000cd" * 500, None, None, None, None, "x"],
    ],
)
def test_node_payload_fields_pack_together_and_round_trip(values: list[str | None]) -> None:
    payload = NodePayload(*values)
    packed = pack_node_payload(payload)
    assert unpack_node_payload(packed) == payload
    assert unpack_node_payload(memoryview(packed)) == payload
    assert unpack_fields(packed) == values


def test_fields_packed_together_are_smaller_than_packed_apart() -> None:
    words = " ".join(f"invoice {i} customer approved" for i in range(40))
    fields = [json.dumps({"text": words}), json.dumps({"summary": words}), None, None, None, None]
    together = len(pack_fields(fields))
    apart = sum(len(pack(text)) for text in fields if text is not None)
    assert together < apart * 0.75


def test_corrupt_packed_fields_are_refused() -> None:
    packed = pack_fields(["abc", None, None, None, None, None])
    with pytest.raises(ValueError, match="do not add up"):
        unpack_fields(packed + b"extra")
