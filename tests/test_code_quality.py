"""Lint and type checks run with the suite, so CI holds the code to them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_ruff_lint_is_clean() -> None:
    result = _run("ruff", "check", "app", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
    # resources/ ships as app.resources, a mapping mypy cannot follow from `packages`.
    resources = _run("mypy", "--disallow-untyped-defs", "resources/__init__.py")
    assert resources.returncode == 0, resources.stdout + resources.stderr


def test_store_and_ingest_never_import_qt() -> None:
    """The headless receiver and the CLI must run where no Qt can load."""
    code = (
        "import sys, app.store.queries, app.store.writes, app.ingest.service, app.cli; "
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
