"""The application icon and the run-status icons, loaded once from the shipped SVGs."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from app.resources import resource_path
from app.store.status import Status

APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


@cache
def app_icon() -> QIcon:
    """The SVG scales to any size; the PNGs are what the pixel-exact small sizes look like."""
    icon = QIcon(str(resource_path("icons/app/hindsight.svg")))
    for size in APP_ICON_SIZES:
        icon.addFile(str(resource_path(f"icons/app/hindsight-{size}.png")))
    return icon


def status_icon(status: Status | str) -> QIcon:
    """The icon for a status in the store's vocabulary; raises ValueError for anything else."""
    return _status_icon(Status(status).value)  # one cache entry per status, however spelled


@cache
def _status_icon(value: str) -> QIcon:
    return QIcon(str(resource_path(f"icons/status/{value}.svg")))
