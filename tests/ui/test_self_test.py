"""`hindsight --self-test`: the smoke test CI runs on the built bundle, run here from source."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config import user_data_dir
from app.ui import self_test
from app.ui.app_settings import settings_path


def test_self_test_passes_and_leaves_the_users_data_alone(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    waiting = spool / "20260101T000000Z-run-7-abc.json"  # a report the user has not sent yet
    waiting.write_text(json.dumps({"id": "run-7", "workflowId": "w", "status": "success",
                                   "startedAt": "2026-01-01T00:00:00Z"}))  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "app", "--self-test"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HINDSIGHT_SPOOL_DIR": str(spool), "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("self-test passed: window shown after ")
    assert waiting.exists()  # the self-test used its own spool folder, not the user's
    assert not (user_data_dir() / "history.db").exists()  # nor the user's database
    assert not settings_path().exists()  # nor the window layout the user left


def test_self_test_reports_a_failure(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(self_test, "_post", lambda url, report: 500)
    assert self_test.run_self_test() == 1
    assert "self-test failed: the receiver answered 500 instead of 201" in capsys.readouterr().err
