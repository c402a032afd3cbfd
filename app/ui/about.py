"""Help → About: what is running, which history it shows and where reports go."""

from __future__ import annotations

import platform

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.config import APP_NAME
from app.ui.icons import app_icon
from app.ui.node_inspector import plain_label

ABOUT_WIDTH = 560


class AboutDialog(QDialog):
    def __init__(self, db_path: str, receiver_url: str | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(96, 96))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        name = plain_label(f"{APP_NAME} {__version__}")
        name.setStyleSheet("font-size: 16pt; font-weight: bold;")
        blurb = plain_label(
            "A desktop flight recorder for workflow runs: it receives execution reports and "
            "shows every run, node, input, output and error."
        )
        blurb.setWordWrap(True)
        self.details = {
            "Version": __version__,
            "Database": db_path,
            "Receiver": f"{receiver_url}/api/executions" if receiver_url else "not running",
            "Qt": f"{qVersion()} (PySide6 {pyside_version}), Python {platform.python_version()}",
        }
        form = QFormLayout()
        for label, value in self.details.items():
            field = plain_label(value)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            field.setWordWrap(True)
            form.addRow(f"{label}:", field)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy Details")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)

        text = QVBoxLayout()
        text.addWidget(name)
        text.addWidget(blurb)
        text.addSpacing(8)
        text.addLayout(form)
        text.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addSpacing(12)
        top.addLayout(text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)
        self.setMinimumWidth(ABOUT_WIDTH)
        # Wrapped labels make the plain size hint too tall; size to the text at this width.
        self.resize(ABOUT_WIDTH, self.heightForWidth(ABOUT_WIDTH))

    def details_text(self) -> str:
        return "\n".join(f"{label}: {value}" for label, value in self.details.items())

    def copy_details(self) -> None:
        """For bug reports: versions and paths in one paste."""
        QGuiApplication.clipboard().setText(self.details_text())
        self.copy_button.setText("Copied")


def add_help_menu(window: QMainWindow, db_path: str, receiver_url: str | None) -> QAction:
    """Adds Help → About Hindsight to the window's menu bar; returns the action."""
    about = QAction(f"&About {APP_NAME}", window)
    about.setMenuRole(QAction.MenuRole.AboutRole)  # macOS moves it to the application menu
    about.triggered.connect(lambda: AboutDialog(db_path, receiver_url, window).exec())
    window.menuBar().addMenu("&Help").addAction(about)
    return about
