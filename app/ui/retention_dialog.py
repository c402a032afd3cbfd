"""Retention rules with a live preview of what they would delete and free.

The preview is the store's dry run (`plan_purge`), recomputed off the GUI thread a moment
after the last edit; "Delete Now" hands the plan's runs to a cancellable background job.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.sizes import byte_size
from app.store import retention
from app.store.retention import PurgePlan
from app.ui.app_settings import RetentionSettings
from app.ui.background import BackgroundQueries, Ticket

PREVIEW_DEBOUNCE_MS = 300


def describe_plan(plan: PurgePlan) -> str:
    runs = len(plan.run_ids)
    if runs == 0:
        return "These rules delete nothing right now."
    return (
        f"Would delete {runs:,} run{'s' if runs != 1 else ''} "
        f"({plan.nodes:,} nodes, {plan.logs:,} log lines), "
        f"freeing about {byte_size(plan.payload_bytes)} of stored data."
    )


def _days(maximum: int = 3650) -> QSpinBox:
    box = QSpinBox()
    box.setRange(0, maximum)
    box.setSuffix(" days")
    box.setSpecialValueText("keep forever")
    return box


class RetentionDialog(QDialog):
    purgeRequested = Signal(object)  # PurgePlan to carry out

    def __init__(
        self,
        runner: BackgroundQueries,
        current: RetentionSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Retention Rules")
        self._runner = runner
        self._ticket: Ticket | None = None
        self.plan: PurgePlan | None = None

        self.success_days = _days()
        self.success_days.setValue(current.success_days)
        self.failure_days = _days()
        self.failure_days.setValue(current.failure_days)
        self.other_days = _days()
        self.other_days.setValue(current.other_days)
        self.keep_last = QSpinBox()
        self.keep_last.setRange(0, 1_000_000)
        self.keep_last.setValue(current.keep_last)
        self.keep_last.setToolTip("No rule deletes a workflow's newest runs")
        self.automatic = QCheckBox("Apply at start-up and once a day")
        self.automatic.setChecked(current.automatic)

        form = QFormLayout()
        form.addRow("Delete successful runs older than:", self.success_days)
        form.addRow("Delete failed and interrupted runs older than:", self.failure_days)
        form.addRow("Delete cancelled, skipped and other runs older than:", self.other_days)
        form.addRow("Always keep the newest runs per workflow:", self.keep_last)
        form.addRow("", self.automatic)

        self.preview = QLabel("Working out what these rules delete…")
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setWordWrap(True)
        self.purge_button = QPushButton("Delete Now…")
        self.purge_button.setEnabled(False)
        self.purge_button.clicked.connect(self._purge)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.addButton(self.purge_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addWidget(buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._timer.timeout.connect(self.refresh_preview)
        for box in (self.success_days, self.failure_days, self.other_days, self.keep_last):
            box.valueChanged.connect(lambda _v: self._timer.start())
        self.refresh_preview()

    def chosen(self) -> RetentionSettings:
        return RetentionSettings(
            success_days=self.success_days.value(),
            failure_days=self.failure_days.value(),
            other_days=self.other_days.value(),
            keep_last=self.keep_last.value(),
            automatic=self.automatic.isChecked(),
        )

    def refresh_preview(self) -> None:
        if self._ticket is not None:
            self._ticket.cancel()
        policy = self.chosen().policy()
        now = int(time.time() * 1000)
        self.purge_button.setEnabled(False)
        self.preview.setText("Working out what these rules delete…")
        ticket: Ticket | None = None

        def done(plan: PurgePlan) -> None:
            if ticket is not self._ticket:
                return
            self._ticket = None
            self.plan = plan
            self.preview.setText(describe_plan(plan))
            self.purge_button.setEnabled(bool(plan.run_ids))

        def failed(message: str) -> None:
            if ticket is self._ticket:
                self._ticket = None
                self.preview.setText(f"The preview failed: {message}")

        ticket = self._runner.submit(lambda: retention.plan_purge(policy, now), done, failed)
        self._ticket = ticket

    def _purge(self) -> None:
        if self.plan is not None and self.plan.run_ids:
            self.purgeRequested.emit(self.plan)
