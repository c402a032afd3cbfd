"""Help → About names the version, the open database and where reports go."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel

from app import __version__
from app.config import APP_ID, Settings
from app.ui.about import AboutDialog
from app.ui.application import DesktopSession, application


@pytest.fixture
def session(qtbot: Any, db_path: Path) -> Iterator[DesktopSession]:
    desktop = DesktopSession(Settings(db_path=db_path, host="127.0.0.1", port=0))
    qtbot.addWidget(desktop.window)
    yield desktop
    desktop.shutdown()


def test_help_menu_opens_about(qtbot: Any, session: DesktopSession) -> None:
    menus = [action.text() for action in session.window.menuBar().actions()]
    assert menus[-1] == "&Help"
    opened: list[AboutDialog] = []

    def close_when_open() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, AboutDialog)
        opened.append(dialog)
        dialog.reject()

    QTimer.singleShot(0, close_when_open)
    session.window.about_action.trigger()  # exec() returns once the timer closed it
    assert len(opened) == 1


def test_about_shows_version_database_and_receiver(qtbot: Any, db_path: Path) -> None:
    dialog = AboutDialog(str(db_path), "http://127.0.0.1:7999")
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert f"Hindsight {__version__}" in texts
    assert str(db_path) in texts
    assert "http://127.0.0.1:7999/api/executions" in texts
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert f"Database: {db_path}" in copied and f"Version: {__version__}" in copied


def test_about_says_when_the_receiver_is_off(qtbot: Any, db_path: Path) -> None:
    dialog = AboutDialog(str(db_path), None)
    qtbot.addWidget(dialog)
    assert "not running" in [label.text() for label in dialog.findChildren(QLabel)]


def test_application_is_named_for_settings_taskbar_and_desktop_file(qtbot: Any) -> None:
    app = application()
    assert (app.applicationName(), app.organizationName()) == ("Hindsight", "Hindsight")
    assert app.applicationDisplayName() == "Hindsight"
    assert app.desktopFileName() == APP_ID
    assert not app.windowIcon().isNull()
