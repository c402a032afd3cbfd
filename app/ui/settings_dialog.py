"""Settings: receiver port, where the history is stored, when a silent run counts as
interrupted. Retention has its own dialog (it needs a preview); this one links to it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.config import DEFAULT_PORT, DEFAULT_STALE_AFTER_HOURS, Settings
from app.ui.app_settings import StoredSettings

DATABASE_SCHEMES = ("postgresql://", "postgres://", "sqlite://")


def database_problem(text: str) -> str | None:
    """Why the database field cannot be used, or None when it can."""
    location = text.strip()
    if not location:
        return "Enter a database file or a PostgreSQL URL."
    if "://" in location:
        if not location.startswith(DATABASE_SCHEMES):
            return "A database URL starts with postgresql:// (or sqlite:// for a file)."
        return None
    path = Path(location).expanduser()
    if path.is_dir():
        return f"{path} is a folder; enter a file name inside it, such as {path / 'history.db'}."
    return None


class SettingsDialog(QDialog):
    retentionRequested = Signal()

    def __init__(
        self, current: Settings, stored: StoredSettings, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Hindsight Settings")
        self._stored = stored
        self._current = current

        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(stored.port or current.port or DEFAULT_PORT)
        self.port.setToolTip("Workflows send their reports to http://127.0.0.1:PORT")
        self.database = QLineEdit(stored.database or str(current.db_path))
        self.database.setPlaceholderText("history.db file, or postgresql://user@host/name")
        browse = QPushButton("Choose File…")
        browse.clicked.connect(self._browse)
        database_row = QHBoxLayout()
        database_row.addWidget(self.database, 1)
        database_row.addWidget(browse)
        self.stale_hours = QDoubleSpinBox()
        self.stale_hours.setRange(0.1, 24 * 365)
        self.stale_hours.setDecimals(1)
        self.stale_hours.setSuffix(" h")
        self.stale_hours.setValue(
            stored.stale_after_hours or current.stale_after_hours or DEFAULT_STALE_AFTER_HOURS
        )
        self.stale_hours.setToolTip(
            "A run still 'running' with no report for this long becomes 'interrupted'"
        )
        retention = QPushButton("Retention Rules…")
        retention.clicked.connect(self.retentionRequested)
        self.retention_summary = QLabel(_retention_text(stored))
        self.retention_summary.setTextFormat(Qt.TextFormat.PlainText)
        retention_row = QHBoxLayout()
        retention_row.addWidget(self.retention_summary, 1)
        retention_row.addWidget(retention)

        form = QFormLayout()
        form.addRow("Receiver port:", self.port)
        form.addRow("Database:", database_row)
        form.addRow("Mark runs interrupted after:", self.stale_hours)
        form.addRow("Retention:", retention_row)
        note = QLabel(
            "A new port or timeout applies at once; a new database applies when Hindsight "
            "starts again. Command-line flags and HINDSIGHT_* variables still win."
        )
        note.setWordWrap(True)
        note.setTextFormat(Qt.TextFormat.PlainText)
        self.problem = QLabel()
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #d32f2f;")
        self.problem.hide()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)
        self.resize(560, self.sizeHint().height())

    def _browse(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self,
            "History database",
            self.database.text(),
            "SQLite database (*.db *.sqlite);;All files (*)",
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if name:
            self.database.setText(name)

    def set_stored(self, stored: StoredSettings) -> None:
        self._stored = stored
        self.retention_summary.setText(_retention_text(stored))

    def accept(self) -> None:
        problem = database_problem(self.database.text())
        if problem is not None:
            self.problem.setText(problem)
            self.problem.show()
            self.database.setFocus()
            return
        super().accept()

    def chosen(self) -> StoredSettings:
        return replace(
            self._stored,
            port=self.port.value(),
            database=self.database.text().strip(),
            stale_after_hours=self.stale_hours.value(),
        )


def _retention_text(stored: StoredSettings) -> str:
    rules = stored.retention
    if not rules.enabled:
        return "keep every run"
    parts = []
    if rules.success_days:
        parts.append(f"successes {rules.success_days} d")
    if rules.failure_days:
        parts.append(f"failures {rules.failure_days} d")
    if rules.other_days:
        parts.append(f"others {rules.other_days} d")
    text = ", ".join(parts) + f"; newest {rules.keep_last} per workflow kept"
    return text + (" (automatic)" if rules.automatic else "")
