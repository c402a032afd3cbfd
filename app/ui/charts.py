"""The history charts. Each chart says which store query feeds it (`query`, run on a worker
thread by the charts pane) and draws the plain data that comes back (`show_data`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from app.store import chart_data
from app.store.chart_data import DayOutcome, DurationSeries, UsageSeries
from app.store.filters import RunFilter
from app.store.stats import NodeStats
from app.ui.chart_style import (
    SUCCESS_COLOUR,
    ChartFrame,
    DurationAxis,
    LogDurationAxis,
    ThemedPlot,
    apply_palette,
    series_colour,
    set_category_ticks,
    text_colour,
)
from app.ui.formatting import STATUS_COLOURS, format_duration, format_timestamp

Query = Callable[[], Any]


def _log_ms(ms: int) -> float:
    return math.log10(max(ms, 1))


def _day_seconds(day: str) -> float:
    return chart_data.day_start_ms(day) / 1000


class Chart(ChartFrame):
    title = ""
    reloadWanted = Signal()  # a control of the chart changed what it needs from the store
    dataShown = Signal()  # the latest data is drawn (tests and screenshots wait on it)

    def query(self, where: RunFilter) -> Query:
        raise NotImplementedError

    def show_data(self, data: Any) -> None:
        raise NotImplementedError

    def show_error(self, message: str) -> None:
        self.show_empty(f"Could not read the history: {message}")


class DurationChart(Chart):
    """Run durations over time (log scale), one dot per run coloured by status, with p50 and
    p95 lines per time band; clicking a dot opens that run."""

    title = "Duration over time"
    runActivated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        plot = ThemedPlot(
            {"bottom": pg.DateAxisItem(orientation="bottom"), "left": LogDurationAxis("left")}
        )
        super().__init__(plot, parent)
        self.workflow_picker = QComboBox()
        self.workflow_picker.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.workflow_picker.addItem("All workflows", None)
        self.workflow_picker.activated.connect(lambda _: self.reloadWanted.emit())
        row = QHBoxLayout()
        row.addWidget(QLabel("Workflow:"))
        row.addWidget(self.workflow_picker)
        row.addStretch(1)
        self.controls.addLayout(row)

        self.scatter = pg.ScatterPlotItem(size=7, pen=None, hoverable=True, tip=self._tip)
        self.scatter.sigClicked.connect(self._on_clicked)
        self.p50_line = pg.PlotDataItem(name="p50")
        self.p95_line = pg.PlotDataItem(name="p95")
        plot.addLegend(offset=(10, 5))
        plot.addItem(self.scatter)
        plot.addItem(self.p50_line)
        plot.addItem(self.p95_line)
        apply_palette(plot)
        self._tips: dict[str, str] = {}

    def chosen_workflow(self) -> str | None:
        value = self.workflow_picker.currentData()
        return value if isinstance(value, str) else None

    def query(self, where: RunFilter) -> Query:
        return partial(chart_data.duration_series, where, self.chosen_workflow())

    def show_data(self, data: DurationSeries) -> None:
        self._fill_picker(data)
        if not data.points:
            self.scatter.clear()
            self.show_empty("No finished runs in the current filter, so no durations to plot.")
            self.dataShown.emit()
            return
        xs = np.array([p.started_at / 1000 for p in data.points])
        ys = np.array([_log_ms(p.duration_ms) for p in data.points])
        brushes = [pg.mkBrush(STATUS_COLOURS[p.status]) for p in data.points]
        self._tips = {
            p.run_id: f"{p.status.value} · {format_timestamp(p.started_at)} · "
            f"{format_duration(p.duration_ms)}\nrun {p.run_id}"
            for p in data.points
        }
        self.scatter.setData(x=xs, y=ys, brush=brushes, data=[p.run_id for p in data.points])
        text = text_colour(self)
        band_x = [(b.start_ms + b.end_ms) / 2000 for b in data.bands]
        self.p50_line.setData(
            band_x, [_log_ms(b.p50_ms) for b in data.bands], pen=pg.mkPen(text, width=2)
        )
        self.p95_line.setData(
            band_x,
            [_log_ms(b.p95_ms) for b in data.bands],
            pen=pg.mkPen(text, width=2, style=Qt.PenStyle.DashLine),
        )
        self.plot.getPlotItem().enableAutoRange()
        shown = len(data.points)
        count = (
            f"{shown:,} runs" if shown == data.total else f"newest {shown:,} of {data.total:,} runs"
        )
        self.show_plot(
            f"{count} · p50 {format_duration(data.p50_ms)} · p95 {format_duration(data.p95_ms)}"
            " · lines: p50 and p95 per time band · click a dot to open the run"
        )
        self.dataShown.emit()

    def _fill_picker(self, data: DurationSeries) -> None:
        chosen = self.chosen_workflow()
        self.workflow_picker.blockSignals(True)
        self.workflow_picker.clear()
        self.workflow_picker.addItem("All workflows", None)
        for choice in data.workflows:
            self.workflow_picker.addItem(f"{choice.label} ({choice.runs:,})", choice.workflow_id)
        index = self.workflow_picker.findData(chosen) if chosen is not None else 0
        if index < 0:  # the chosen workflow has no runs in this filter
            self.workflow_picker.addItem(f"{chosen} (0)", chosen)
            index = self.workflow_picker.count() - 1
        self.workflow_picker.setCurrentIndex(index)
        self.workflow_picker.blockSignals(False)

    def _tip(self, x: float, y: float, data: object) -> str:
        # The first line is ours (no markup), so Qt shows the tooltip as plain text.
        return self._tips.get(str(data), "")

    def _on_clicked(self, item: object, points: list[Any], event: object) -> None:
        if len(points):
            self.runActivated.emit(str(points[0].data()))


def _bucket_label(upper: int | None, lower: int | None) -> str:
    if upper is None:
        return f"> {format_duration(lower)}"
    return f"≤ {format_duration(upper)}"


class HistogramChart(Chart):
    title = "Duration histogram"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(ThemedPlot(), parent)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=series_colour(0))
        self.plot.addItem(self.bars)
        self.plot.setMouseEnabled(x=False, y=False)
        self.counts: list[int] = []

    def query(self, where: RunFilter) -> Query:
        return partial(chart_data.duration_histogram, where)

    def show_data(self, data: list[tuple[int | None, int]]) -> None:
        self.counts = [count for _, count in data]
        if not any(self.counts):
            self.show_empty("No finished runs in the current filter.")
            self.dataShown.emit()
            return
        labels = []
        previous: int | None = None
        for upper, _ in data:
            labels.append(_bucket_label(upper, previous))
            previous = upper
        self.bars.setOpts(x=list(range(len(data))), height=self.counts, width=0.8)
        set_category_ticks(self.plot.getAxis("bottom"), labels)
        self.plot.getPlotItem().enableAutoRange()
        self.show_plot(f"{sum(self.counts):,} finished runs by duration")
        self.dataShown.emit()


class NodeDurationChart(Chart):
    """p50 and p95 per node, slowest p95 at the top."""

    title = "Node durations"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(ThemedPlot({"bottom": DurationAxis("bottom")}), parent)
        self.p50_bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.38, brush=series_colour(0))
        self.p95_bars = pg.BarGraphItem(x0=[], y=[], width=[], height=0.38, brush=series_colour(1))
        legend = self.plot.addLegend(offset=(-10, -10))  # bottom right: the fastest, shortest bars
        self.plot.addItem(self.p95_bars)
        self.plot.addItem(self.p50_bars)
        legend.addItem(self.p50_bars, "p50")
        legend.addItem(self.p95_bars, "p95")
        apply_palette(self.plot)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        self.nodes: list[NodeStats] = []

    def query(self, where: RunFilter) -> Query:
        return partial(chart_data.slowest_nodes, where)

    def show_data(self, data: list[NodeStats]) -> None:
        self.nodes = data
        if not data:
            self.show_empty("No node timings in the current filter.")
            self.dataShown.emit()
            return
        rows = list(range(len(data)))[::-1]  # slowest at the top
        self.p95_bars.setOpts(
            x0=[0] * len(data), y=[r + 0.2 for r in rows], width=[n.p95_ms or 0 for n in data]
        )
        self.p50_bars.setOpts(
            x0=[0] * len(data), y=[r - 0.2 for r in rows], width=[n.p50_ms or 0 for n in data]
        )
        labels = [""] * len(data)
        for row, node in zip(rows, data, strict=True):
            labels[row] = node.node_name or node.node_id
        set_category_ticks(self.plot.getAxis("left"), labels)
        self.plot.getPlotItem().enableAutoRange()
        self.show_plot(f"{len(data)} slowest nodes by p95 across the runs in the filter")
        self.dataShown.emit()


class SuccessRateChart(Chart):
    title = "Success rate"

    def __init__(self, parent: QWidget | None = None) -> None:
        # Days are UTC days (as the store counts them), so the axis shows UTC too.
        super().__init__(ThemedPlot({"bottom": pg.DateAxisItem("bottom", utcOffset=0)}), parent)
        self.bars = pg.BarGraphItem(x=[], height=[], width=1, brush=SUCCESS_COLOUR)
        self.plot.addItem(self.bars)
        self.plot.setLabel("left", "success %")
        apply_palette(self.plot)
        self.plot.setMouseEnabled(x=True, y=False)
        self.days: list[DayOutcome] = []

    def query(self, where: RunFilter) -> Query:
        return partial(chart_data.outcomes_by_day, where)

    def show_data(self, data: list[DayOutcome]) -> None:
        self.days = [d for d in data if d.success_rate is not None]
        if not self.days:
            self.show_empty("No succeeded or failed runs in the current filter.")
            self.dataShown.emit()
            return
        self.bars.setOpts(
            x=[_day_seconds(d.day) + 43_200 for d in self.days],
            height=[100 * (d.success_rate or 0) for d in self.days],
            width=86_400 * 0.8,
        )
        self.plot.setYRange(0, 100, padding=0.02)
        self.plot.enableAutoRange(axis="x")
        successes = sum(d.successes for d in self.days)
        decided = successes + sum(d.failures for d in self.days)
        self.show_plot(
            f"{successes:,} of {decided:,} runs succeeded ({100 * successes / decided:.0f}%) · "
            "per UTC day: successes ÷ (successes + failures)"
        )
        self.dataShown.emit()


class UsageChart(Chart):
    """LLM tokens or cost per day, stacked by model or by project."""

    title = "Tokens and cost"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(ThemedPlot({"bottom": pg.DateAxisItem("bottom", utcOffset=0)}), parent)
        self.measure = QComboBox()
        self.measure.addItem("Tokens", "tokens")
        self.measure.addItem("Cost (USD)", "cost")
        self.split = QComboBox()
        self.split.addItem("by model", "model")
        self.split.addItem("by project", "project")
        self.measure.activated.connect(lambda _: self._draw())
        self.split.activated.connect(lambda _: self.reloadWanted.emit())
        row = QHBoxLayout()
        row.addWidget(self.measure)
        row.addWidget(self.split)
        row.addStretch(1)
        self.controls.addLayout(row)
        self.legend = self.plot.addLegend(offset=(10, 5))
        apply_palette(self.plot)
        self.plot.setMouseEnabled(x=True, y=False)
        self.bar_items: list[pg.BarGraphItem] = []
        self.series: UsageSeries | None = None

    def query(self, where: RunFilter) -> Query:
        return partial(chart_data.usage_by_day, where, str(self.split.currentData()))

    def show_data(self, data: UsageSeries) -> None:
        self.series = data
        self._draw()
        self.dataShown.emit()

    def _draw(self) -> None:
        for item in self.bar_items:
            self.plot.removeItem(item)
        self.bar_items = []
        self.legend.clear()
        data = self.series
        if data is None or not data.days:
            self.show_empty("No LLM calls (tokens or cost) in the current filter.")
            return
        cost = self.measure.currentData() == "cost"
        values = data.cost_usd if cost else data.tokens
        xs = [_day_seconds(d) + 43_200 for d in data.days]
        base = [0.0] * len(xs)
        for index, key in enumerate(data.keys):
            heights = [float(v) for v in values[key]]
            item = pg.BarGraphItem(
                x=xs, y0=list(base), height=heights, width=86_400 * 0.8, brush=series_colour(index)
            )
            self.plot.addItem(item)
            self.legend.addItem(item, key)
            self.bar_items.append(item)
            base = [b + h for b, h in zip(base, heights, strict=True)]
        self.plot.setLabel("left", "cost (USD)" if cost else "tokens")
        apply_palette(self.plot)
        self.plot.enableAutoRange(axis="x")
        # Headroom above the tallest day keeps the legend off the bars.
        self.plot.setYRange(0, max(max(base), 1e-9) * 1.3, padding=0)
        total = sum(base)
        shown = f"${total:,.4f}" if cost else f"{int(total):,} tokens"
        self.show_plot(f"{shown} over {len(data.days)} UTC days, {self.split.currentText()}")
