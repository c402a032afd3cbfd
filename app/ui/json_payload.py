"""Stored JSON text decoded and measured off the GUI thread, ready for a JsonTree.

Decoding a 10 MB payload takes tens of milliseconds and formatting it takes more, so both
happen on a worker; the GUI thread only receives a `PreparedJson` and builds a lazy model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from app.ui.plain_text import multi_line

BIG_PAYLOAD_BYTES = 512 * 1024  # above this: size badge, preview only, "Save as…"
RAW_PREVIEW_CHARS = 256 * 1024  # the raw text view never holds more than this
RAW_LINE_CHARS = 2_000  # nor a line longer than this (one long line lays out slowly)


class PayloadState(Enum):
    ABSENT = "absent"  # the report did not carry the field
    INVALID = "invalid"  # stored text that is not JSON (should not happen; never hide it)
    OK = "ok"


@dataclass(frozen=True)
class PreparedJson:
    state: PayloadState
    text: str | None = None  # the stored JSON text, saved as is by "Save as…"
    value: Any = None
    size: int = 0  # bytes of the UTF-8 JSON text

    @property
    def is_big(self) -> bool:
        return self.size > BIG_PAYLOAD_BYTES


ABSENT = PreparedJson(PayloadState.ABSENT)


def prepare_json(text: str | None) -> PreparedJson:
    """Decode stored JSON text; call on a worker thread."""
    if text is None:
        return ABSENT
    size = len(text.encode("utf-8", errors="replace"))
    try:
        value = json.loads(text)
    except ValueError:
        return PreparedJson(PayloadState.INVALID, text=text, size=size)
    return PreparedJson(PayloadState.OK, text=text, value=value, size=size)


def prepare_value(value: Any) -> PreparedJson:
    """An already decoded value (trigger data, report JSON) treated like a stored payload."""
    return prepare_json(json.dumps(value, ensure_ascii=False))


def raw_text(prepared: PreparedJson) -> tuple[str, bool]:
    """The payload pretty-printed for the raw view, and whether it was cut to a preview.

    Lines and total length are clipped so the text editor lays it out in milliseconds."""
    if prepared.state is PayloadState.ABSENT:
        return "", False
    if prepared.state is PayloadState.INVALID:
        full = prepared.text or ""
    else:
        full = json.dumps(prepared.value, indent=2, ensure_ascii=False)
    cut = len(full) > RAW_PREVIEW_CHARS or max(map(len, full.split("\n"))) > RAW_LINE_CHARS
    return multi_line(full, RAW_PREVIEW_CHARS, RAW_LINE_CHARS), cut
