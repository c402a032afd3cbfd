"""Byte counts as people read them, for the command line and the window alike."""

from __future__ import annotations


def byte_size(count: int) -> str:
    """`812 bytes`, `1,024 bytes`, `3.4 KB`, `12.0 MB`, `1.5 GB` (powers of 1024)."""
    value = float(count)
    for unit in ("bytes", "KB", "MB"):
        if value < 1024:
            return f"{count:,} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GB"
