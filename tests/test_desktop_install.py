"""`hindsight install-desktop` as a user runs it: real process, real XDG data folder."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import APP_ID
from app.desktop_install import exec_quote, installed_files

ROOT = Path(__file__).resolve().parents[1]
LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG is Linux")


def _hindsight(*args: str, data_home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XDG_DATA_HOME": str(data_home)},
    )


def _entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path)
    return parser["Desktop Entry"]


@LINUX_ONLY
def test_install_then_uninstall(tmp_path: Path) -> None:
    data = tmp_path / "data home"  # a space, as in real home folders, must survive quoting
    result = _hindsight("install-desktop", data_home=data)
    assert result.returncode == 0, result.stderr
    files = installed_files(data)
    for path in files:
        assert path.is_file() and path.stat().st_size > 0, path
        assert f"installed {path}" in result.stdout

    desktop = data / "applications" / f"{APP_ID}.desktop"
    entry = _entry(desktop)
    assert (entry["Name"], entry["Icon"], entry["Terminal"]) == ("Hindsight", APP_ID, "false")
    # Exec starts this installation's window launcher (the gui-script of this venv).
    launcher = shlex.split(entry["Exec"].replace("\\\\", "\\"))
    assert launcher[0] == str(Path(sys.executable).parent / "hindsight-app")
    png = data / "icons" / "hicolor" / "48x48" / "apps" / f"{APP_ID}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = _hindsight("install-desktop", data_home=data)  # idempotent: overwrites in place
    assert again.returncode == 0, again.stderr

    removed = _hindsight("install-desktop", "--uninstall", data_home=data)
    assert removed.returncode == 0, removed.stderr
    assert not [path for path in files if path.exists()]
    assert "removed from the applications menu" in removed.stdout

    nothing = _hindsight("install-desktop", "--uninstall", data_home=data)
    assert nothing.returncode == 0 and "Nothing to remove" in nothing.stdout


@LINUX_ONLY
def test_unwritable_data_folder_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-folder"
    blocker.write_text("")
    result = _hindsight("install-desktop", data_home=blocker)
    assert result.returncode == 1
    assert f"cannot write to {blocker}" in result.stderr


@pytest.mark.parametrize(
    ("argument", "quoted"),
    [
        ("/opt/hindsight/hindsight", "/opt/hindsight/hindsight"),
        ("/home/a b/hindsight-app", '"/home/a b/hindsight-app"'),
        ('/x/"q"$`\\', '"/x/\\\\"q\\\\"\\\\$\\\\`\\\\\\\\"'),
        ("/100%/app", "/100%%/app"),
    ],
)
def test_exec_arguments_are_quoted_as_the_spec_says(argument: str, quoted: str) -> None:
    assert exec_quote(argument) == quoted


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils absent")
def test_shipped_desktop_file_is_valid() -> None:
    path = ROOT / "packaging" / "linux" / f"{APP_ID}.desktop"
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(not shutil.which("appstreamcli"), reason="appstream (appstreamcli) absent")
def test_shipped_metainfo_is_valid() -> None:
    path = ROOT / "packaging" / "linux" / f"{APP_ID}.metainfo.xml"
    result = subprocess.run(
        ["appstreamcli", "validate", "--no-net", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_packaging_linux_files_are_the_shipped_ones() -> None:
    """packaging/linux links to the copies the wheel ships, so they cannot drift apart."""
    for suffix in (".desktop", ".metainfo.xml"):
        link = ROOT / "packaging" / "linux" / f"{APP_ID}{suffix}"
        shipped = ROOT / "resources" / "linux" / f"{APP_ID}{suffix}"
        assert link.resolve() == shipped.resolve()
