"""pyproject lists its packages by hand (resources/ ships as app.resources): keep it complete."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_under_app_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "app").rglob("__init__.py")
    }
    data_folders = {
        ".".join(("app", *folder.relative_to(ROOT).parts))
        for folder in (ROOT / "resources").rglob("*")
        if folder.is_dir() and folder.name != "__pycache__"
    }
    listed = set(config["packages"])
    assert on_disk | {"app.resources"} | data_folders == listed
    assert config["package-dir"] == {"app.resources": "resources"}
    assert (ROOT / "resources" / "__init__.py").is_file()
