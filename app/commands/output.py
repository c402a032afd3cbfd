"""Printing for people (aligned tables, short times and durations) and for machines (JSON)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from app.store.records import RunSummary

_ELLIPSIS = "…"


def print_json(value: Any, out: TextIO | None = None) -> None:
    """Indented, UTF-8 as is, one document per command so `jq` can read it."""
    target = out or sys.stdout
    target.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def local_time(ms: int | None) -> str:
    """Epoch milliseconds as the reader's local wall-clock time."""
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def run_duration(run: RunSummary) -> str:
    """A run's duration; for an interrupted run, what is known: at least up to its last
    report."""
    if run.ran_at_least_ms is not None:
        return f">= {duration(run.ran_at_least_ms)}"
    return duration(run.duration_ms)


def duration(ms: int | None) -> str:
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def cost(usd: float | None) -> str:
    return "-" if usd is None else f"${usd:.4f}"


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def clip(text: str, width: int) -> str:
    """One line of at most `width` characters; report text may hold newlines."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + _ELLIPSIS


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Sequence[int] = (),
    max_widths: dict[int, int] | None = None,
) -> str:
    """Columns padded to their widest cell; the columns in `right` (numbers) right-aligned."""
    limits = max_widths or {}
    cells = [[clip(cell, limits.get(i, 10_000)) for i, cell in enumerate(row)] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), *(line(row) for row in cells)])


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())
