"""What every chart shares: a plot that follows the light or dark palette, series colours that
read on both, duration and category axes, and an empty state instead of a blank plot."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from app.ui.formatting import format_duration

# Tableau 10: mid-tone hues that stay distinct on white and on near-black backgrounds.
SERIES_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)
SUCCESS_COLOUR = "#59a14f"


def series_colour(index: int) -> str:
    return SERIES_COLOURS[index % len(SERIES_COLOURS)]


def text_colour(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.Text)


def apply_palette(plot: pg.PlotWidget) -> None:
    """Background, axes and labels in the widget's palette colours (light or dark)."""
    palette = plot.palette()
    plot.setBackground(palette.color(QPalette.ColorRole.Base))
    text = palette.color(QPalette.ColorRole.Text)
    line = palette.color(QPalette.ColorRole.Mid)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setTextPen(text)
        axis.setPen(line)
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        if axis.labelText:
            axis.setLabel(axis.labelText, color=text.name())
    legend = plot.getPlotItem().legend
    if legend is not None:
        legend.setLabelTextColor(text)


class ThemedPlot(pg.PlotWidget):
    """A PlotWidget that re-colours itself when the system switches light/dark."""

    def __init__(self, axis_items: dict[str, pg.AxisItem] | None = None) -> None:
        super().__init__(axisItems=axis_items or {})
        self.setMenuEnabled(False)
        self.getPlotItem().hideButtons()
        self.showGrid(x=False, y=True, alpha=0.25)
        apply_palette(self)
        self._built = True

    def changeEvent(self, event: QEvent) -> None:
        # PlotWidget's own constructor changes the palette before the plot item exists.
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "_built", False):
            apply_palette(self)
        super().changeEvent(event)


class LogDurationAxis(pg.AxisItem):
    """An axis of log10(duration in ms): ticks at 1-2-5 steps, labelled as durations."""

    def tickValues(
        self, min_value: float, max_value: float, size: float
    ) -> list[tuple[float, list[float]]]:
        if not (math.isfinite(min_value) and math.isfinite(max_value)) or max_value <= min_value:
            return []
        steps = [
            exponent + math.log10(m)
            for exponent in range(math.floor(min_value) - 1, math.ceil(max_value) + 1)
            for m in (1, 2, 5)
        ]
        shown = [v for v in steps if min_value <= v <= max_value]
        decades = [v for v in shown if abs(v - round(v)) < 1e-9]
        if len(decades) < 2:
            return [(1.0, shown)]
        return [(1.0, decades), (0.5, [v for v in shown if v not in decades])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [format_duration(round(10**v)) for v in values]


class DurationAxis(pg.AxisItem):
    """A linear axis of milliseconds labelled as durations."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [format_duration(round(v)) if v >= 0 else "" for v in values]


def set_category_ticks(axis: pg.AxisItem, labels: Sequence[str], max_chars: int = 28) -> None:
    """Label positions 0..n-1 with category names (shortened; the full name is elsewhere)."""
    shortened = [
        label if len(label) <= max_chars else label[: max_chars - 1] + "…" for label in labels
    ]
    axis.setTicks([list(enumerate(shortened)), []])


class ChartFrame(QWidget):
    """A plot with a caption, or a sentence saying why there is nothing to plot."""

    def __init__(self, plot: ThemedPlot, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = plot
        self.caption = QLabel()
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        self.caption.setWordWrap(True)
        self.empty_label = QLabel()
        self.empty_label.setTextFormat(Qt.TextFormat.PlainText)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.stack = QStackedWidget()
        self.stack.addWidget(plot)
        self.stack.addWidget(self.empty_label)
        self.controls = QVBoxLayout()  # charts add their pickers here
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.controls)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.caption)

    @property
    def is_empty(self) -> bool:
        return self.stack.currentWidget() is self.empty_label

    def show_empty(self, message: str) -> None:
        self.empty_label.setText(message)
        self.stack.setCurrentWidget(self.empty_label)
        self.caption.setText("")

    def show_plot(self, caption: str) -> None:
        self.stack.setCurrentWidget(self.plot)
        self.caption.setText(caption)
