"""Keeping the garbage collector's full passes short while reports stream in.

A full collection walks every object the process holds: after start-up (Qt bindings,
peewee, pydantic, the window) and pyqtgraph's import that is a few hundred thousand, 60 ms
with the GIL held, whichever thread triggers it, so the GUI thread froze for that long
every few seconds of ingest. What exists once the window is built (or once the plots are)
lives as long as the app, so it is moved out of the collector's sight: later full passes
walk only what came after.
"""

from __future__ import annotations

import gc

_enabled = False


def enable() -> None:
    """The app process turns freezing on (`run_gui`); a test process, which builds and
    drops many windows, leaves it off so nothing it drops is kept."""
    global _enabled
    _enabled = True


def freeze_long_lived() -> bool:
    """Exempt every object alive now from later collections (cheap: no pass is run);
    True if it did.

    Garbage alive at this moment is never freed; called after start-up and after a
    one-time build (pyqtgraph's import), that is a bounded few kilobytes."""
    if _enabled:
        gc.freeze()
    return _enabled
