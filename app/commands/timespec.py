"""Times and durations as people type them: `2026-01-05`, `2026-01-05T09:30`, `2h`, `7d`."""

from __future__ import annotations

import re
import time
from datetime import datetime

from app.commands.errors import UsageError
from app.store.moments import to_millis

_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def now_ms() -> int:
    return int(time.time() * 1000)


def parse_duration_ms(raw: str, option: str) -> int:
    """`90s`, `30m`, `2h`, `7d`, `1w` as milliseconds."""
    match = _DURATION.match(raw)
    if match is None:
        raise UsageError(f"{option}: expected a duration like 30m, 2h, 7d or 2w, got {raw!r}")
    return int(float(match.group(1)) * _UNITS_MS[match.group(2).lower()])


def parse_moment_ms(raw: str, option: str, now: int | None = None) -> int:
    """An ISO date or date-time, or a duration meaning "that long ago".

    A date-time without an offset is the user's local time, as a person typing it means it;
    `Z` or `+02:00` make it exact.
    """
    if _DURATION.match(raw):
        return (now_ms() if now is None else now) - parse_duration_ms(raw, option)
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{option}: expected an ISO date or time (2026-01-05, 2026-01-05T09:30) "
            f"or an age like 2h or 7d, got {raw!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive: interpreted as local time
    return to_millis(moment)
