"""`hindsight install-desktop`: put Hindsight in a Linux user's applications menu.

Installs the launcher (.desktop file), the icons (hicolor theme) and the AppStream metainfo
into the user's XDG data folder, so no root and no package manager are needed; `--uninstall`
removes exactly those files. The launcher starts this installation: the bundle's executable,
or the `hindsight-app` script of the environment Hindsight was installed into.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from app.config import APP_ID
from app.launcher import gui_launcher
from app.resources import resource_path

ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
# Characters the Desktop Entry spec says force an Exec argument into double quotes.
_EXEC_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    parser = commands.add_parser(
        "install-desktop",
        help="add Hindsight to your applications menu (Linux)",
        description="Install the Hindsight launcher and icons into your XDG data folder "
        "($XDG_DATA_HOME, default ~/.local/share) so it appears in the applications menu.",
    )
    parser.add_argument(
        "--uninstall", action="store_true", help="remove the launcher and icons again"
    )


def data_home() -> Path:
    configured = os.environ.get("XDG_DATA_HOME", "")
    # The spec says a relative value is invalid and must be ignored.
    return Path(configured) if os.path.isabs(configured) else Path.home() / ".local" / "share"


def desktop_file_path(base: Path) -> Path:
    return base / "applications" / f"{APP_ID}.desktop"


def installed_files(base: Path) -> list[Path]:
    """Every file install-desktop writes, in the order it writes them."""
    hicolor = base / "icons" / "hicolor"
    icons = [hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png" for size in ICON_SIZES]
    return [
        *icons,
        hicolor / "scalable" / "apps" / f"{APP_ID}.svg",
        base / "metainfo" / f"{APP_ID}.metainfo.xml",
        desktop_file_path(base),  # last: the menu entry appears only once its icon is there
    ]


def exec_quote(argument: str) -> str:
    """Quote one Exec argument as the Desktop Entry spec requires (two escaping levels)."""
    argument = argument.replace("%", "%%")
    if not _EXEC_RESERVED.intersection(argument):
        return argument
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in argument)
    return '"' + quoted.replace("\\", "\\\\") + '"'


def desktop_entry(command: list[str]) -> str:
    """The shipped .desktop file with Exec pointing at this installation."""
    template = resource_path(f"linux/{APP_ID}.desktop").read_text(encoding="utf-8")
    exec_line = "Exec=" + " ".join(exec_quote(arg) for arg in command)
    lines = [exec_line if line.startswith("Exec=") else line for line in template.splitlines()]
    return "\n".join(lines) + "\n"


def install(base: Path, command: list[str]) -> list[Path]:
    *icons, svg, metainfo, desktop = installed_files(base)
    sources = [resource_path(f"icons/app/hindsight-{size}.png") for size in ICON_SIZES]
    sources += [
        resource_path("icons/app/hindsight.svg"),
        resource_path(f"linux/{APP_ID}.metainfo.xml"),
    ]
    for source, target in zip(sources, [*icons, svg, metainfo], strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    desktop.parent.mkdir(parents=True, exist_ok=True)
    temporary = desktop.with_suffix(".desktop.tmp")
    temporary.write_text(desktop_entry(command), encoding="utf-8")
    temporary.chmod(0o755)  # some desktops only trust launchers marked executable
    temporary.replace(desktop)  # menus watch this folder: never show a half-written file
    _refresh_caches(base)
    return installed_files(base)


def uninstall(base: Path) -> list[Path]:
    removed = []
    for path in installed_files(base):
        if path.exists():
            path.unlink()
            removed.append(path)
    _refresh_caches(base)
    return removed


def _refresh_caches(base: Path) -> None:
    """Menus notice new files by themselves; these caches only speed it up, if present."""
    for tool, *args in (
        ("update-desktop-database", "-q", str(base / "applications")),
        ("gtk-update-icon-cache", "-q", "-t", "-f", str(base / "icons" / "hicolor")),
    ):
        found = shutil.which(tool)
        if found and Path(args[-1]).is_dir():
            subprocess.run([found, *args], check=False, capture_output=True, timeout=60)


def main(uninstall_requested: bool = False) -> int:
    if not sys.platform.startswith("linux"):
        print(
            "hindsight: install-desktop is for Linux desktops. On macOS drag Hindsight.app "
            "into Applications; on Windows pin Hindsight.exe to Start.",
            file=sys.stderr,
        )
        return 2
    base = data_home()
    try:
        if uninstall_requested:
            removed = uninstall(base)
            for path in removed:
                print(f"removed {path}")
            if removed:
                print("Hindsight removed from the applications menu.")
            else:
                print(f"Nothing to remove: Hindsight is not installed in {base}.")
            return 0
        command = gui_launcher()
        for path in install(base, command):
            print(f"installed {path}")
    except OSError as exc:
        print(f"hindsight: cannot write to {base}: {exc}", file=sys.stderr)
        return 1
    print(f"Hindsight is in your applications menu; it starts: {' '.join(command)}")
    return 0
