"""The charts, one per tab, all within the run list's current filter.

Only the chart on screen is queried: a filter change marks every chart stale and reloads the
visible one; another tab loads when it is opened. Queries run on the pool; an answer that
arrives after a newer request for the same chart is dropped.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from app.store.filters import RunFilter
from app.ui.background import BackgroundQueries
from app.ui.charts import (
    Chart,
    DurationChart,
    HistogramChart,
    NodeDurationChart,
    SuccessRateChart,
    UsageChart,
)


class ChartsPane(QWidget):
    runActivated = Signal(str)  # a run id, from a click on the duration chart

    def __init__(self, queries: BackgroundQueries, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._queries = queries
        self._filter = RunFilter()
        self.duration = DurationChart()
        self.histogram = HistogramChart()
        self.nodes = NodeDurationChart()
        self.success = SuccessRateChart()
        self.usage = UsageChart()
        self.charts: tuple[Chart, ...] = (
            self.duration,
            self.histogram,
            self.nodes,
            self.success,
            self.usage,
        )
        self._stale = set(range(len(self.charts)))
        self._generation = [0] * len(self.charts)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for index, chart in enumerate(self.charts):
            self.tabs.addTab(chart, chart.title)
            chart.reloadWanted.connect(lambda index=index: self._load(index))
        self.tabs.currentChanged.connect(self._load_if_stale)
        self.duration.runActivated.connect(self.runActivated)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

    @property
    def current_filter(self) -> RunFilter:
        return self._filter

    def set_filter(self, where: RunFilter) -> None:
        self._filter = where
        self.refresh()

    def refresh(self) -> None:
        """Mark every chart stale and reload the one on screen (history changed)."""
        self._stale = set(range(len(self.charts)))
        if self.isVisible():
            self._load_if_stale(self.tabs.currentIndex())

    def show_chart(self, chart: Chart) -> None:
        self.tabs.setCurrentWidget(chart)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._load_if_stale(self.tabs.currentIndex())

    def _load_if_stale(self, index: int) -> None:
        if index in self._stale:
            self._load(index)

    def _load(self, index: int) -> None:
        self._stale.discard(index)
        self._generation[index] += 1
        generation = self._generation[index]
        chart = self.charts[index]
        self._queries.submit(
            chart.query(self._filter),
            lambda data: self._landed(index, generation, data),
            lambda message: self._failed(index, generation, message),
        )

    def _landed(self, index: int, generation: int, data: Any) -> None:
        if generation == self._generation[index]:
            self.charts[index].show_data(data)

    def _failed(self, index: int, generation: int, message: str) -> None:
        if generation == self._generation[index]:
            self.charts[index].show_error(message)
