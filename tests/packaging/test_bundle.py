"""Build the Linux bundle with packaging/hindsight.spec and smoke-test the executable.

Building takes about a minute on two cores, so it runs in CI (CI=true) or when asked for
(HINDSIGHT_BUILD_BUNDLE=1). PyInstaller comes with the `test` extra, so the README's test
command is all CI needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import __version__
from tests.conftest import make_report, post_json

ROOT = Path(__file__).resolve().parents[2]
WANTED = os.environ.get("CI") == "true" or os.environ.get("HINDSIGHT_BUILD_BUNDLE") == "1"

pytestmark = [
    pytest.mark.skipif(
        not WANTED,
        reason="builds the PyInstaller bundle (about a minute): runs when CI=true or "
        "HINDSIGHT_BUILD_BUNDLE=1",
    ),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="CI builds the Linux bundle"),
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    result = subprocess.run(
        ["bash", str(ROOT / "packaging" / "build.sh")],
        capture_output=True,
        text=True,
        timeout=1200,
        env={
            **os.environ,
            "PYTHON": sys.executable,
            "DIST_DIR": str(out / "dist"),
            "WORK_DIR": str(out / "work"),
        },
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    executable = out / "dist" / "hindsight" / "hindsight"
    assert executable.is_file(), result.stdout
    return executable


def _run(executable: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(executable), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def test_bundle_reports_its_version(bundle: Path) -> None:
    result = _run(bundle, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"hindsight {__version__}"


def test_bundle_passes_the_self_test(bundle: Path) -> None:
    """Offscreen window, temporary database, one report over HTTP shown in the run list."""
    result = _run(bundle, "--self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test passed" in result.stdout


def test_bundle_serve_stores_through_its_store_process(bundle: Path, tmp_path: Path) -> None:
    """`serve` starts a child process from the frozen executable (multiprocessing's spawn,
    which a bundle only supports through freeze_support)."""
    process = subprocess.Popen(
        [str(bundle), "serve", "--db", str(tmp_path / "b.db"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert " receiving on " in first_line, first_line + (
            process.stderr.read() if process.stderr else ""
        )
        url = first_line.split(" receiving on ")[1].split("/api/")[0]
        status, body, _ = post_json(url, "/api/executions", make_report("frozen"))
        assert status == 201, body
        status, body, _ = post_json(url, "/api/executions/frozen", b"", method="GET")
        assert status == 200 and body["id"] == "frozen"
        process.terminate()
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


def test_bundle_leaves_out_what_the_app_never_loads(bundle: Path) -> None:
    internal = bundle.parent / "_internal"
    names = {path.name for path in internal.rglob("*")}
    for unwanted in ("libQt6Qml.so.6", "libQt6Quick.so.6", "libQt6Pdf.so.6", "libgtk-3.so.0",
                     "QtQml.abi3.so", "libqgtk3.so", "tkinter"):  # fmt: skip
        assert unwanted not in names, unwanted
    assert not (internal / "PySide6" / "Qt" / "translations").exists()
    # ... but keeps what it does: SVG icons, the offscreen and X11/Wayland back-ends.
    for wanted in ("libqsvgicon.so", "libqsvg.so", "libqoffscreen.so", "libqxcb.so",
                   "libqwayland.so", "hindsight.svg", "empty_state.qss"):  # fmt: skip
        assert wanted in names, wanted
