"""How times, durations and statuses read on screen."""

from __future__ import annotations

from datetime import datetime

from app.store.status import Status

STATUS_COLOURS = {
    Status.PENDING: "#9e9e9e",
    Status.RUNNING: "#1e88e5",
    Status.SUSPENDED: "#8e24aa",
    Status.SUCCESS: "#2e7d32",
    Status.ERROR: "#d32f2f",
    Status.CANCELLED: "#757575",
    Status.SKIPPED: "#bdbdbd",
    Status.INTERRUPTED: "#ef6c00",
}


def format_duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_timestamp(ms: int | None) -> str:
    """Local wall-clock time, the way the user reads their own clock."""
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def format_offset(ms: int | None, origin: int) -> str:
    if ms is None:
        return "—"
    return "+" + format_duration(max(0, ms - origin))


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """ "1 run", "2,000 runs", "1 entry", "3 entries"."""
    noun = singular if count == 1 else (plural or singular + "s")
    return f"{count:,} {noun}"
