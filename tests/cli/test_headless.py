"""The command line runs where no Qt can load (servers, CI, containers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_commands_and_demo_never_import_qt() -> None:
    code = (
        "import sys, app.cli, app.commands.runs, app.commands.purge, app.commands.demo, app.demo;"
        "app.cli.build_parser();"
        "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
