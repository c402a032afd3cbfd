"""The pyqtgraph side of the waterfall. Imported on the first run that has nodes to draw,
so pyqtgraph (and numpy) stay out of the start-up path."""

from __future__ import annotations

import math
from functools import cache

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFontMetrics, QPalette
from PySide6.QtWidgets import QWidget

from app.store.status import Status
from app.ui.formatting import STATUS_COLOURS
from app.ui.plain_text import one_line
from app.ui.waterfall_layout import BAR_HEIGHT, WaterfallLayout

LABEL_FRACTION = 0.08  # bars at least this wide carry their node's name
MAX_LABELS = 100
LABEL_MARGIN_PX = 10  # the text item's own margins, and a gap before the next bar
MIN_LANES = 4
LANE_LABEL_SPACING_PX = 16  # below this, lane names are thinned so they never overlap


@cache
def _brushes() -> dict[Status, object]:
    # One brush and pen per status, shared by every bar: making 10,000 of each costs 150 ms.
    return {status: pg.mkBrush(colour) for status, colour in STATUS_COLOURS.items()}


@cache
def _pens() -> dict[Status, object]:
    return {
        status: pg.mkPen(QColor(colour).darker(130)) for status, colour in STATUS_COLOURS.items()
    }


@cache
def _open_end_pens() -> dict[Status, object]:
    """Dashed outlines: a bar whose node reported no end, drawn to "now" or the last report."""
    return {
        status: pg.mkPen(QColor(colour).darker(160), width=2, style=Qt.PenStyle.DashLine)
        for status, colour in STATUS_COLOURS.items()
    }


class LaneAxis(pg.AxisItem):
    """Lane names on the left, only for the lanes in view and as many as fit.

    Fixed ticks (`setTicks`) with one entry per lane are laid out on every paint, however
    few are visible: 180 ms for the thousands of lanes of a 10,000-node run.
    """

    def __init__(self) -> None:
        super().__init__("left")
        self.lanes: tuple[str, ...] = ()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N803
        low, high = sorted((minVal, maxVal))
        per_lane = size / max(high - low, 1e-9)
        # A name centred closer than half its height to either end would be cut in half.
        margin = LANE_LABEL_SPACING_PX / 2 / max(per_lane, 1e-9)
        first = max(0, math.ceil(low + margin))
        last = min(len(self.lanes) - 1, math.floor(high - margin))
        if last < first:
            return []
        step = max(1, math.ceil(LANE_LABEL_SPACING_PX / max(per_lane, 1e-9)))
        start = math.ceil(first / step) * step
        return [(float(step), [float(lane) for lane in range(start, last + 1, step)])]

    def tickStrings(self, values: list, scale: float, spacing: float) -> list[str]:
        return [self.lanes[int(v)] if 0 <= int(v) < len(self.lanes) else "" for v in values]


class WaterfallPlot(pg.PlotWidget):
    """Bars on lanes along the run's time axis, with an outline for the selected node."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.lane_axis = LaneAxis()
        palette = parent.palette() if parent is not None else QPalette()
        super().__init__(
            parent,
            background=palette.color(QPalette.ColorRole.Base),
            axisItems={"left": self.lane_axis},
        )
        self.setMinimumHeight(80)
        self._labels: list[pg.TextItem] = []
        self._label_texts: list[tuple[str, float]] = []  # each label's full name, bar width
        # Whether the user has zoomed or panned since the view was last fitted to the run.
        self._user_moved_view = False
        item = self.getPlotItem()
        item.invertY(True)  # the first lane on top, like the table
        item.setMouseEnabled(x=True, y=False)
        item.setMenuEnabled(False)
        item.hideButtons()
        item.showGrid(x=True, y=False, alpha=0.1)
        # With units, pyqtgraph picks the SI prefix (ms, s, ks) instead of a bare "(x0.001)".
        item.setLabel("bottom", "time since the run started", units="s")
        text_pen = pg.mkPen(palette.color(QPalette.ColorRole.Text))
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(text_pen)
            axis.setTextPen(text_pen)
        self.bars = pg.BarGraphItem(x0=[], y=[], width=[], height=BAR_HEIGHT)
        self.highlight_bar = pg.BarGraphItem(
            x0=[],
            y=[],
            width=[],
            height=BAR_HEIGHT + 0.2,
            pen=pg.mkPen(palette.color(QPalette.ColorRole.Highlight), width=3),
            brush=None,
        )
        self.highlight_bar.setZValue(10)
        item.addItem(self.bars)
        item.addItem(self.highlight_bar)
        view_box = item.getViewBox()
        view_box.sigRangeChangedManually.connect(self._on_user_moved_view)
        view_box.sigXRangeChanged.connect(self._fit_labels)
        view_box.sigResized.connect(self._fit_labels)

    def _on_user_moved_view(self, *_: object) -> None:
        self._user_moved_view = True

    @property
    def labels(self) -> list[pg.TextItem]:
        return self._labels

    def draw(self, layout: WaterfallLayout, keep_view: bool = False) -> None:
        """Draw the layout and fit the view to it; with `keep_view`, a view the user has
        zoomed or panned stays where it is (the same run redrawn as it grows)."""
        bars, minimum = layout.bars, layout.min_width()
        brushes, pens, open_end_pens = _brushes(), _pens(), _open_end_pens()
        # pyqtgraph 0.14 fails on empty per-bar pen lists, so an empty run passes None.
        self.bars.setOpts(
            x0=[b.start for b in bars],
            y=[b.lane for b in bars],
            width=[max(b.end - b.start, minimum) for b in bars],
            height=BAR_HEIGHT,
            brushes=[brushes[b.node.status] for b in bars] or None,
            pens=[(open_end_pens if b.open_end else pens)[b.node.status] for b in bars] or None,
        )
        self._place_labels(layout)
        self.lane_axis.lanes = layout.lanes
        self.lane_axis.picture = None  # lanes changed: lay the axis out again
        self.lane_axis.update()
        item = self.getPlotItem()
        # At least MIN_LANES lanes of height, so a one-lane run shows a bar, not a wall.
        lanes = max(len(layout.lanes), MIN_LANES)
        span = max(layout.span, 0.001)
        item.setLimits(yMin=-0.6, yMax=lanes - 0.4, xMin=-span * 0.05, xMax=span * 1.05)
        if keep_view and self._user_moved_view:
            return
        item.setXRange(0, span, padding=0.02)
        item.setYRange(-0.5, lanes - 0.5, padding=0)
        self._user_moved_view = False

    def _place_labels(self, layout: WaterfallLayout) -> None:
        item = self.getPlotItem()
        for label in self._labels:
            item.removeItem(label)
        self._labels = []
        self._label_texts = []
        wide = max(layout.span, 0.001) * LABEL_FRACTION
        for bar in layout.bars:
            if len(self._labels) == MAX_LABELS:
                break
            if bar.end - bar.start >= wide:
                text = one_line(bar.node.label, 40)
                label = pg.TextItem(text, color="w", anchor=(0, 0.5))
                label.setPos(bar.start, bar.lane)
                item.addItem(label)
                self._labels.append(label)
                self._label_texts.append((text, bar.end - bar.start))
        self._fit_labels()

    def _fit_labels(self, *_: object) -> None:
        """Cut each name to its bar's width on screen, with an ellipsis, and hide it where
        not even that fits: a name never runs over the next bar. Again on every zoom, pan
        and resize, since a bar's width on screen changes with them."""
        if not self._labels:
            return
        pixel_s = self.getPlotItem().getViewBox().viewPixelSize()[0]
        if not pixel_s > 0:  # not laid out yet: sigResized comes once it is
            return
        metrics = QFontMetrics(self._labels[0].textItem.font())
        for label, (text, width_s) in zip(self._labels, self._label_texts, strict=True):
            room = int(width_s / pixel_s) - LABEL_MARGIN_PX
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, room) if room > 0 else ""
            if shown == "…":
                shown = ""
            label.setText(shown)
            label.setVisible(bool(shown))

    def outline(self, start: float, lane: int, width: float) -> None:
        self.highlight_bar.setOpts(x0=[start], y=[lane], width=[width])

    def clear_outline(self) -> None:
        self.highlight_bar.setOpts(x0=[], y=[], width=[])
