"""The status-bar strip that shows a long operation's progress and lets the user cancel it,
while the rest of the window stays usable."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from app.ui.jobs import Job


class ProgressPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._job: Job | None = None
        self._unit = "runs"
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(160)
        self.bar.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.hide()

    def watch(self, job: Job, total: int | None = None, unit: str = "runs") -> None:
        self._job = job
        self._unit = unit
        self.label.setText(f"{job.title}…")
        self.cancel_button.setEnabled(True)
        self._set_range(total)
        job.progress.connect(self._on_progress)
        for signal in (job.finished, job.failed, job.cancelled):
            signal.connect(lambda *_args, done=job: self._on_done(done))
        self.show()

    def _set_range(self, total: int | None) -> None:
        if total:
            self.bar.setRange(0, total)
        else:
            self.bar.setRange(0, 0)  # busy indicator: the total is not known

    def _on_progress(self, done: int, total: object) -> None:
        if isinstance(total, int) and total > 0:
            if self.bar.maximum() != total:
                self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
            self.label.setText(
                f"{self._job.title if self._job else ''}: {done:,} of {total:,} {self._unit}"
            )
        else:
            self.label.setText(f"{self._job.title if self._job else ''}: {done:,} {self._unit}")

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.cancel_button.setEnabled(False)
            self.label.setText("Stopping after the current step…")

    def _on_done(self, job: Job) -> None:
        if job is self._job:
            self._job = None
            self.hide()
