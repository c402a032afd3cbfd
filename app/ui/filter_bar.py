"""The filter bar above the run list: search inside runs, status toggles, workflow and
project pickers, time presets, "slower than", and the match count.

It only builds a `RunFilter`; querying is the window's job. Edits are debounced (typing
waits for a pause, clicks go out at once but still coalesced) so a burst of changes becomes
one query.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import fields, replace

from PySide6.QtCore import QDateTime, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.store.filters import RunFilter
from app.store.records import WorkflowSummary
from app.store.status import Status
from app.ui.formatting import STATUS_COLOURS, counted

TYPING_DEBOUNCE_MS = 250
CLICK_DEBOUNCE_MS = 30
HOUR_MS = 3_600_000

# The toggles shown; "other" stands for the statuses rarely filtered on.
STATUS_TOGGLES: tuple[tuple[str, frozenset[Status]], ...] = (
    ("Error", frozenset({Status.ERROR})),
    ("Running", frozenset({Status.RUNNING})),
    ("Success", frozenset({Status.SUCCESS})),
    ("Interrupted", frozenset({Status.INTERRUPTED})),
    ("Cancelled", frozenset({Status.CANCELLED})),
    ("Other", frozenset({Status.PENDING, Status.SUSPENDED, Status.SKIPPED})),
)
TIME_PRESETS: tuple[tuple[str, int], ...] = (  # span in ms; 0 any time, -1 custom
    ("Any time", 0),
    ("Last hour", HOUR_MS),
    ("Last 24 hours", 24 * HOUR_MS),
    ("Last 7 days", 7 * 24 * HOUR_MS),
    ("Custom range…", -1),
)
CUSTOM_RANGE = len(TIME_PRESETS) - 1
# Item data for "all workflows/projects". Never None: PySide6 6.12 on Python 3.11 drops a
# reference to None each time an item holding None is added or read back (currentData),
# which ends in "Fatal Python error: none_dealloc". Every item here carries real data.
EVERYTHING = ""
# RunFilter fields the bar has widgets for; others set through `set_filter` are kept aside.
_BAR_FIELDS = {
    "text",
    "statuses",
    "workflow_id",
    "project_id",
    "since",
    "until",
    "min_duration_ms",
}


def status_dot(status: Status, size: int = 10) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(STATUS_COLOURS[status]))
    painter.drawEllipse(0, 0, size - 1, size - 1)
    painter.end()
    return QIcon(pixmap)


def _describe_extra(extra: RunFilter) -> str:
    parts = []
    if extra.user_id:
        parts.append(f"user {extra.user_id}")
    if extra.tag_key:
        parts.append(
            f"tag {extra.tag_key}" + (f"={extra.tag_value}" if extra.tag_value is not None else "")
        )
    if extra.has_failed_node:
        parts.append("has a failed node")
    if extra.max_duration_ms is not None:
        parts.append(f"at most {extra.max_duration_ms / 1000:g} s")
    return "Also: " + ", ".join(parts)


class FilterBar(QWidget):
    filterChanged = Signal(object)  # RunFilter, after the debounce

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._extra = RunFilter()
        self._custom_range: tuple[int, int] | None = None
        self._last_emitted: RunFilter | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._emit_now)

        self.search = QLineEdit()
        self.search.setPlaceholderText(
            "Search inside runs: inputs, outputs, errors, logs, LLM text (Ctrl+F)"
        )
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(lambda: self._schedule(TYPING_DEBOUNCE_MS))

        self.status_buttons: list[tuple[QToolButton, frozenset[Status]]] = []
        statuses = QHBoxLayout()
        statuses.setSpacing(2)
        for label, members in STATUS_TOGGLES:
            button = QToolButton()
            button.setText(label)
            button.setCheckable(True)
            button.setAutoRaise(False)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setIcon(status_dot(min(members)))
            button.setToolTip(
                "Show only runs with status " + " or ".join(sorted(s.value for s in members))
            )
            button.toggled.connect(lambda _on: self._schedule(CLICK_DEBOUNCE_MS))
            statuses.addWidget(button)
            self.status_buttons.append((button, members))

        self.workflow_picker = self._picker("All workflows", width_chars=16)
        self.project_picker = self._picker("All projects", width_chars=10)

        self.time_picker = QComboBox()
        for label, span in TIME_PRESETS:
            self.time_picker.addItem(label, span)
        self.time_picker.currentIndexChanged.connect(self._on_time_preset)
        now = QDateTime.currentDateTime()
        self.range_from = QDateTimeEdit(now.addDays(-1))
        self.range_to = QDateTimeEdit(now)
        for edit in (self.range_from, self.range_to):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.dateTimeChanged.connect(lambda _dt: self._schedule(TYPING_DEBOUNCE_MS))
            edit.hide()
        self.range_dash = QLabel("to")
        self.range_dash.hide()

        self.slower_than = QDoubleSpinBox()
        self.slower_than.setRange(0, 7 * 24 * 3600)
        self.slower_than.setDecimals(1)
        self.slower_than.setSuffix(" s")
        self.slower_than.setSpecialValueText("any duration")
        self.slower_than.setToolTip("Show only runs that took at least this long")
        self.slower_than.valueChanged.connect(lambda _v: self._schedule(TYPING_DEBOUNCE_MS))

        self.extra_label = QLabel()
        self.extra_label.setTextFormat(Qt.TextFormat.PlainText)
        self.extra_clear = QToolButton()
        self.extra_clear.setText("Clear")
        self.extra_clear.setToolTip("Drop the conditions set elsewhere (charts, failure groups)")
        self.extra_clear.clicked.connect(self._clear_extra)
        self.extra_label.hide()
        self.extra_clear.hide()

        self.match_count = QLabel()
        self.match_count.setTextFormat(Qt.TextFormat.PlainText)
        self.match_count.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.reset_button = QToolButton()
        self.reset_button.setText("Reset filters")
        self.reset_button.clicked.connect(self.reset)

        first = QHBoxLayout()
        first.addWidget(self.search, 1)
        first.addLayout(statuses)
        second = QHBoxLayout()
        second.addWidget(self.workflow_picker)
        second.addWidget(self.project_picker)
        second.addWidget(self.time_picker)
        second.addWidget(self.range_from)
        second.addWidget(self.range_dash)
        second.addWidget(self.range_to)
        second.addWidget(QLabel("Slower than"))
        second.addWidget(self.slower_than)
        second.addWidget(self.extra_label)
        second.addWidget(self.extra_clear)
        second.addStretch(1)
        second.addWidget(self.match_count)
        second.addWidget(self.reset_button)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 6, 6, 2)
        column.setSpacing(4)
        column.addLayout(first)
        column.addLayout(second)

    # -- reading -------------------------------------------------------------------
    def current_filter(self) -> RunFilter:
        statuses: set[Status] = set()
        for button, members in self.status_buttons:
            if button.isChecked():
                statuses |= members
        since, until = self._time_range()
        slower = self.slower_than.value()
        text = self.search.text().strip()
        return replace(
            self._extra,
            text=text or None,
            statuses=frozenset(statuses),
            workflow_id=self.workflow_picker.currentData() or None,
            project_id=self.project_picker.currentData() or None,
            since=since,
            until=until,
            min_duration_ms=int(slower * 1000) if slower > 0 else None,
        )

    def is_filtering(self) -> bool:
        return self.current_filter() != RunFilter()

    def _time_range(self) -> tuple[int | None, int | None]:
        span = self.time_picker.currentData()
        if not span:
            return None, None
        if span == -1:
            return (
                self.range_from.dateTime().toMSecsSinceEpoch(),
                self.range_to.dateTime().toMSecsSinceEpoch(),
            )
        return int(time.time() * 1000) - span, None

    # -- writing -------------------------------------------------------------------
    def set_filter(self, where: RunFilter) -> None:
        """Show `where` in the widgets (conditions without a widget are listed aside)."""
        blockers = [self.search, self.workflow_picker, self.project_picker, self.time_picker]
        blockers += [self.slower_than, self.range_from, self.range_to]
        blockers += [button for button, _ in self.status_buttons]
        for widget in blockers:
            widget.blockSignals(True)
        try:
            self.search.setText(where.text or "")
            for button, members in self.status_buttons:
                button.setChecked(bool(members) and members <= where.statuses)
            self._select_data(self.workflow_picker, where.workflow_id)
            self._select_data(self.project_picker, where.project_id)
            if where.since is None and where.until is None:
                self.time_picker.setCurrentIndex(0)
            else:
                self.time_picker.setCurrentIndex(CUSTOM_RANGE)
                now = int(time.time() * 1000)
                self.range_from.setDateTime(
                    QDateTime.fromMSecsSinceEpoch(where.since if where.since else 0)
                )
                self.range_to.setDateTime(QDateTime.fromMSecsSinceEpoch(where.until or now))
            self._show_custom_range(self.time_picker.currentIndex() == CUSTOM_RANGE)
            self.slower_than.setValue((where.min_duration_ms or 0) / 1000)
        finally:
            for widget in blockers:
                widget.blockSignals(False)
        self._extra = replace(where, **{name: getattr(RunFilter(), name) for name in _BAR_FIELDS})
        self._show_extra()
        self._schedule(0)

    def reset(self) -> None:
        self.set_filter(RunFilter())

    @staticmethod
    def _select_data(combo: QComboBox, value: str | None) -> None:
        index = combo.findData(value or EVERYTHING)
        if index < 0 and value:
            combo.addItem(value, value)  # not listed (yet): still show it
            index = combo.count() - 1
        combo.setCurrentIndex(max(index, 0))

    def set_workflows(self, workflows: Sequence[WorkflowSummary]) -> None:
        self._refill(
            self.workflow_picker, "All workflows", [(w.label, w.workflow_id) for w in workflows]
        )

    def set_projects(self, projects: Sequence[str]) -> None:
        self._refill(self.project_picker, "All projects", [(p, p) for p in projects])

    @staticmethod
    def _refill(combo: QComboBox, everything: str, items: list[tuple[str, str]]) -> None:
        chosen = combo.currentData()
        combo.blockSignals(True)
        try:
            combo.clear()
            combo.addItem(everything, EVERYTHING)
            for label, value in items:
                combo.addItem(label, value)
                combo.setItemData(combo.count() - 1, value, Qt.ItemDataRole.ToolTipRole)
            index = combo.findData(chosen)
            if index < 0 and chosen:
                combo.addItem(chosen, chosen)
                index = combo.count() - 1
            combo.setCurrentIndex(max(index, 0))
        finally:
            combo.blockSignals(False)

    def set_match_count(self, count: int | None) -> None:
        if count is None:
            self.match_count.setText("counting…")
        else:
            self.match_count.setText(counted(count, "run"))

    def focus_search(self) -> None:
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # -- internals -----------------------------------------------------------------
    def _on_time_preset(self, index: int) -> None:
        self._show_custom_range(index == CUSTOM_RANGE)
        self._schedule(CLICK_DEBOUNCE_MS)

    def _show_custom_range(self, shown: bool) -> None:
        for widget in (self.range_from, self.range_dash, self.range_to):
            widget.setVisible(shown)

    def _clear_extra(self) -> None:
        self._extra = RunFilter()
        self._show_extra()
        self._schedule(0)

    def _show_extra(self) -> None:
        has_extra = any(
            getattr(self._extra, f.name) != getattr(RunFilter(), f.name)
            for f in fields(RunFilter)
            if f.name not in _BAR_FIELDS
        )
        self.extra_label.setText(_describe_extra(self._extra) if has_extra else "")
        self.extra_label.setVisible(has_extra)
        self.extra_clear.setVisible(has_extra)

    def _picker(self, everything_label: str, width_chars: int) -> QComboBox:
        """A combo box whose first entry selects everything; a choice filters at once."""
        picker = QComboBox()
        picker.setMinimumContentsLength(width_chars)
        picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        picker.addItem(everything_label, EVERYTHING)
        picker.currentIndexChanged.connect(lambda _i: self._schedule(CLICK_DEBOUNCE_MS))
        return picker

    def _schedule(self, delay_ms: int) -> None:
        # A typing pause restarts the wait; a click never waits longer than it must.
        if (
            (self._timer.isActive() and delay_ms < self._timer.remainingTime())
            or not self._timer.isActive()
            or delay_ms >= TYPING_DEBOUNCE_MS
        ):
            self._timer.start(delay_ms)

    def flush(self) -> None:
        """Emit a pending change now (tests, and Enter in the search field)."""
        if self._timer.isActive():
            self._timer.stop()
            self._emit_now()

    def _emit_now(self) -> None:
        where = self.current_filter()
        self._last_emitted = where
        self.filterChanged.emit(where)
