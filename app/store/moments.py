"""Times as the store keeps them: whole milliseconds since the Unix epoch, UTC.

Converted with integer arithmetic, not through `datetime.timestamp()`: a float of seconds
holds only about 16 significant digits, so past the 23rd century (and before 1900) a
millisecond could come back one less than was sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def to_millis(moment: datetime) -> int:
    """Milliseconds since the epoch (sub-millisecond digits dropped); naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // _MILLISECOND


def from_millis(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)
