"""How panes hand slow work to a worker thread without knowing which one.

Panes take a `Runner` (in the app, `BackgroundQueries.submit`: a pool thread inside a
database connection context) so that decoding, formatting, searching and file writes stay
off the GUI thread; widgets used on their own default to `run_now`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6

Job = Callable[[], Any]
# The runner may return a handle (BackgroundQueries returns a cancellable Ticket); panes ignore it.
Runner = Callable[[Job, Callable[[Any], None], Callable[[str], None]], object]


def run_now(job: Job, on_done: Callable[[Any], None], on_error: Callable[[str], None]) -> None:
    """Run on the calling thread; the same contract as `BackgroundQueries.submit`."""
    try:
        result = job()
    except Exception as exc:
        on_error(f"{type(exc).__name__}: {exc}")
        return
    on_done(result)


def alive(widget: object) -> bool:
    """False once Qt has deleted the widget a late answer was meant for."""
    return shiboken6.isValid(widget)
