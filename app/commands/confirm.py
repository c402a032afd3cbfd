"""Asking before destroying history: only a person at a terminal can say yes."""

from __future__ import annotations

import sys

from app.commands.errors import UsageError


def confirm_deletion(what: str, assume_yes: bool) -> bool:
    """True to go ahead. Without a terminal and without --yes, refuse rather than guess."""
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"not deleting {what} without confirmation: add --yes")
    sys.stdout.write(f"Delete {what}? This cannot be undone. [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")
