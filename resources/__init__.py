"""Files the app ships (icons, style sheets), found the same way in every install.

The top-level `resources/` folder is installed as the package `app.resources` (see
pyproject's package-dir), so a wheel carries the files as package data. A source checkout
and an installed wheel find them next to this module; the frozen app (PyInstaller) unpacks
them under `sys._MEIPASS/app/resources`, which the spec collects them into.
"""

from __future__ import annotations

import sys
from pathlib import Path


class ResourceMissing(FileNotFoundError):
    """A file the app needs is not where the install put it (a broken install or bundle)."""


def resource_root() -> Path:
    frozen_root = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and frozen_root:
        return Path(frozen_root) / "app" / "resources"
    return Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """The file `name` (a relative path such as "icons/app/hindsight.svg"), which must exist."""
    path = resource_root() / name
    if not path.is_file():
        raise ResourceMissing(f"Hindsight's resource {name!r} is missing (looked in {path})")
    return path
