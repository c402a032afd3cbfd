"""The application icon and one icon per run status load from the shipped SVGs."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtGui import QColor

from app.store.status import Status
from app.ui.icons import app_icon, status_icon

# The colour each status icon is filled with, sampled away from its white glyph.
FILL = {
    Status.SUCCESS: "#2e9d4f",
    Status.ERROR: "#d64541",
    Status.RUNNING: "#2f80ed",
    Status.CANCELLED: "#6e7681",
    Status.SKIPPED: "#a3aab3",
    Status.INTERRUPTED: "#e67e22",
    Status.SUSPENDED: "#b8901a",
}


def test_app_icon_renders_at_every_size(qtbot: Any) -> None:
    icon = app_icon()
    for size in (16, 32, 256):
        image = icon.pixmap(size, size).toImage()
        assert (image.width(), image.height()) == (size, size)
        centre = image.pixelColor(size // 2, size // 2)
        assert centre.alpha() == 255  # drawn, not a transparent placeholder
    assert app_icon() is icon  # cached


@pytest.mark.parametrize("status", list(Status))
def test_every_status_has_its_own_icon(qtbot: Any, status: Status) -> None:
    image = status_icon(status).pixmap(32, 32).toImage()
    assert not image.isNull()
    if status in FILL:
        sample = image.pixelColor(16, 3)  # on the filled disc, above any glyph
        expected = QColor(FILL[status])
        assert abs(sample.red() - expected.red()) < 12, sample.name()
        assert abs(sample.blue() - expected.blue()) < 12, sample.name()
    else:  # pending: an outline, transparent inside
        assert image.pixelColor(16, 3).alpha() == 0 or image.pixelColor(12, 12).alpha() == 0
    assert status_icon(status.value) is status_icon(status)


def test_unknown_status_is_refused(qtbot: Any) -> None:
    with pytest.raises(ValueError):
        status_icon("exploded")
