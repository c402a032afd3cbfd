"""Shipped files are found from a checkout, an installed wheel and the frozen bundle."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from app import resources
from app.resources import ResourceMissing, resource_path, resource_root
from app.store.status import Status

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = [
    "icons/app/hindsight.svg",
    "icons/app/hindsight.ico",
    "icons/app/hindsight.icns",
    *(f"icons/app/hindsight-{size}.png" for size in (16, 24, 32, 48, 64, 128, 256, 512)),
    *(f"icons/status/{status.value}.svg" for status in Status),
    "styles/empty_state.qss",
    "linux/io.github.hindsight.Hindsight.desktop",
    "linux/io.github.hindsight.Hindsight.metainfo.xml",
]


def _shipped_files() -> list[str]:
    root = resource_root()
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc")
    )


def test_every_resource_is_found_from_the_checkout() -> None:
    for name in EXPECTED:
        assert resource_path(name).stat().st_size > 0, name
    assert sorted(EXPECTED) == _shipped_files()  # nothing shipped that is not listed here


def test_a_missing_resource_names_where_it_looked() -> None:
    with pytest.raises(ResourceMissing, match=r"icons/nope\.svg"):
        resource_path("icons/nope.svg")


def test_frozen_app_looks_under_meipass(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    unpacked = tmp_path / "_internal" / "app" / "resources" / "styles"
    unpacked.mkdir(parents=True)
    (unpacked / "empty_state.qss").write_text("QLabel {}")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "_internal"), raising=False)
    assert resource_path("styles/empty_state.qss") == unpacked / "empty_state.qss"


def test_package_data_globs_cover_every_shipped_file() -> None:
    """What pyproject puts in the wheel, checked without building one (see the next test)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["app.resources"]
    root = resource_root()
    covered = {p.relative_to(root).as_posix() for g in globs for p in root.glob(g) if p.is_file()}
    assert covered == set(_shipped_files())


def test_the_wheel_carries_the_resources(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0 and "No matching distribution" in result.stderr:
        pytest.skip(f"cannot fetch the build backend here: {result.stderr.strip()[-200:]}")
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("hindsight-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(next(n for n in names if n.endswith("entry_points.txt")))
    for name in EXPECTED:
        assert f"app/resources/{name}" in names, name
    assert b"[gui_scripts]\nhindsight-app = app.__main__:main" in entry_points
    assert resources.__file__  # the locator itself is a module of the package
