"""What an empty history shows: how to send the first report."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from app.examples import curl_example
from app.ui.node_inspector import plain_label


class EmptyState(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("No runs yet")
        title.setStyleSheet("font-size: 18pt; font-weight: bold;")
        self.explanation = plain_label()
        self.explanation.setWordWrap(True)
        self.example = QPlainTextEdit()
        self.example.setReadOnly(True)
        self.example.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.example.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.example.setMinimumHeight(300)
        self.copy_button = QPushButton("Copy command")
        self.copy_button.clicked.connect(self._copy)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(title)
        column.addWidget(self.explanation)
        column.addWidget(self.example)
        column.addLayout(buttons)
        column.addStretch(2)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 6)
        outer.addStretch(1)

    def set_receiver(self, url: str | None) -> None:
        if url is None:
            self.explanation.setText(
                "The receiver is not running in this window (see the status bar), so reports "
                "cannot arrive here. Close the other Hindsight, or start this one with another "
                "--port, then post a report like this:"
            )
        else:
            self.explanation.setText(
                f"Workflows report their runs to {url}/api/executions. Paste this into a "
                "terminal to send a first report; it appears here at once."
            )
        self.example.setPlainText(curl_example(url or "http://127.0.0.1:7341"))

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.example.toPlainText())
        self.copy_button.setText("Copied")
