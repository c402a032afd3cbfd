"""How to start Hindsight again from inside Hindsight (the demo button, the menu launcher)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def is_frozen() -> bool:
    """True inside the PyInstaller bundle, where sys.executable is Hindsight itself."""
    return bool(getattr(sys, "frozen", False))


def hindsight_command(*args: str) -> list[str]:
    """argv that runs `hindsight ARGS` with this same installation."""
    if is_frozen():
        return [sys.executable, *args]
    return [sys.executable, "-m", "app", *args]


def gui_launcher() -> list[str]:
    """argv that opens the window without a terminal: the bundle, else the gui-script."""
    if is_frozen():
        return [sys.executable]
    scripts = Path(sys.executable).parent
    for name in ("hindsight-app", "hindsight-app.exe"):
        if (scripts / name).is_file():
            return [str(scripts / name)]
    found = shutil.which("hindsight-app")
    return [found] if found else hindsight_command()
