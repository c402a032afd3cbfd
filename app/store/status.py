"""The status vocabulary, and the other spellings reports use for it."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUSPENDED = "suspended"
    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"


# Spellings used by the seed systems, mapped onto the vocabulary above.
_ALIASES = {
    "completed": Status.SUCCESS,
    "succeeded": Status.SUCCESS,
    "failed": Status.ERROR,
    "failure": Status.ERROR,
    "notstarted": Status.PENDING,
    "paused": Status.SUSPENDED,
    "canceled": Status.CANCELLED,
}

FINISHED = frozenset(
    {Status.SUCCESS, Status.ERROR, Status.CANCELLED, Status.SKIPPED, Status.INTERRUPTED}
)


def normalise_status(raw: str) -> Status:
    """Map a reported status onto the vocabulary; raise ValueError naming the valid ones."""
    key = raw.strip().lower().replace("_", "").replace(" ", "")
    if key in _ALIASES:
        return _ALIASES[key]
    try:
        return Status(key)
    except ValueError:
        valid = ", ".join(s.value for s in Status)
        raise ValueError(f"unknown status {raw!r}; expected one of: {valid}") from None
