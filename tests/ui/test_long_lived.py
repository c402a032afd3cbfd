"""Objects alive after start-up are frozen out of the collector's full passes, in the app
process only."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.ui import long_lived
from app.ui.application import DesktopSession


@pytest.fixture
def freezing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(long_lived, "_enabled", False)
    long_lived.enable()
    yield
    gc.unfreeze()  # hand this test's objects back to the collector


def test_off_unless_the_app_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(long_lived, "_enabled", False)
    before = gc.get_freeze_count()
    assert long_lived.freeze_long_lived() is False
    assert gc.get_freeze_count() == before


def test_the_session_freezes_what_start_up_built(qtbot: Any, db_path: Path, freezing: None) -> None:
    gc.unfreeze()
    session = DesktopSession(Settings(db_path=db_path, host="127.0.0.1", port=0))
    try:
        qtbot.addWidget(session.window)
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # modules, classes, the window's wrappers
        # A full pass now walks only what came after: far fewer than were frozen.
        assert len(gc.get_objects()) < frozen
    finally:
        session.shutdown()
