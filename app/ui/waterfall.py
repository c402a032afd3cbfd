"""A run's nodes along its time axis: one bar per node, parallel work on separate lanes.

Nodes that ran one after another share a lane; a node that overlaps another (it ran in
parallel) or belongs to another execution group goes on a lane of its own, so each
parallel group reads as a band of lanes. Bars are coloured by status; hovering shows the
node, clicking selects it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Signal
from PySide6.QtGui import QColor, QCursor, QPalette
from PySide6.QtWidgets import QToolTip, QVBoxLayout, QWidget

from app.store.records import NodeSummary
from app.ui.formatting import STATUS_COLOURS, format_duration, format_offset
from app.ui.plain_text import one_line, tooltip

BAR_HEIGHT = 0.7
MIN_BAR_FRACTION = 0.004  # of the run's span: instant nodes stay visible and clickable
LABEL_FRACTION = 0.08  # bars at least this wide carry their node's name
MAX_LABELS = 100
MIN_LANES = 4
# One brush and pen per status, shared by every bar: making 10,000 of each costs 150 ms.
_BRUSHES = {status: pg.mkBrush(colour) for status, colour in STATUS_COLOURS.items()}
_PENS = {status: pg.mkPen(QColor(colour).darker(130)) for status, colour in STATUS_COLOURS.items()}


@dataclass(frozen=True)
class Bar:
    node: NodeSummary
    lane: int
    start: float  # seconds since the run's origin
    end: float


@dataclass(frozen=True)
class WaterfallLayout:
    bars: tuple[Bar, ...]
    lanes: tuple[str, ...]
    span: float  # seconds from the origin to the last bar's end

    def min_width(self) -> float:
        return max(self.span, 0.001) * MIN_BAR_FRACTION


def run_origin(started_at: int, nodes: Sequence[NodeSummary]) -> int:
    """Time zero of the axis: the run's start, or an earlier node start if a clock drifted."""
    starts = [n.started_at for n in nodes if n.started_at is not None]
    return min([started_at, *starts])


def layout_nodes(nodes: Sequence[NodeSummary], origin: int) -> WaterfallLayout:
    """Place each node in time and on a lane.

    A node without a start time starts when the previous node (in report order) ended,
    which is how sequential reporters that only send `durationMs` ran them.
    """
    bars: list[Bar] = []
    lanes: list[str] = []
    lane_ends: list[float] = []
    lanes_of_group: dict[int | None, list[int]] = {}
    cursor = 0.0
    for node in nodes:
        start = (node.started_at - origin) / 1000 if node.started_at is not None else cursor
        if node.completed_at is not None and node.started_at is not None:
            end = (node.completed_at - origin) / 1000
        elif node.duration_ms is not None:
            end = start + node.duration_ms / 1000
        else:
            end = start
        end = max(start, end)
        own = lanes_of_group.setdefault(node.group, [])
        lane = next((i for i in own if lane_ends[i] <= start + 1e-9), None)
        if lane is None:
            lane = len(lanes)
            name = "main" if node.group is None else f"group {node.group}"
            lanes.append(name if not own else f"{name} · {len(own) + 1}")
            lane_ends.append(end)
            own.append(lane)
        lane_ends[lane] = max(lane_ends[lane], end)
        bars.append(Bar(node, lane, start, end))
        cursor = max(cursor, end)
    span = max((b.end for b in bars), default=0.0)
    return WaterfallLayout(tuple(bars), tuple(lanes), span)


def describe(bar: Bar, origin: int) -> str:
    """The hover text of a bar, plain."""
    node = bar.node
    name = one_line(node.label, 120)
    lines = [
        f"{name} ({one_line(node.node_type, 40)})" if node.node_type else name,
        f"{node.status.value} · {format_duration(node.duration_ms)}",
        f"starts {format_offset(node.started_at, origin)}"
        if node.started_at is not None
        else f"starts +{bar.start:.3f} s (after the previous node)",
    ]
    if node.attempt > 1:
        lines.append(f"attempt {node.attempt}")
    if node.group is not None:
        lines.append(f"group {node.group}")
    if node.total_tokens is not None:
        lines.append(f"{node.total_tokens:,} tokens")
    if node.error_message:
        lines.append(one_line(node.error_message, 200))
    return "\n".join(lines)


class Waterfall(QWidget):
    node_clicked = Signal(object)  # the NodeSummary of the clicked bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = WaterfallLayout((), (), 0.0)
        self._origin = 0
        self._selected: int | None = None
        self._labels: list[pg.TextItem] = []

        palette = self.palette()
        self.plot = pg.PlotWidget(background=palette.color(QPalette.ColorRole.Base))
        self.plot.setMinimumHeight(80)
        item = self.plot.getPlotItem()
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
        scene = self.plot.scene()
        scene.sigMouseMoved.connect(self._on_hover)
        scene.sigMouseClicked.connect(self._on_click)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    @property
    def current_layout(self) -> WaterfallLayout:
        return self._layout

    @property
    def selected_pk(self) -> int | None:
        return self._selected

    def set_nodes(
        self, nodes: Sequence[NodeSummary], origin: int, run_end: int | None = None
    ) -> WaterfallLayout:
        """Draw the nodes; the time axis runs from `origin` to the later of the last node's
        end and `run_end` (epoch ms), so time spent outside any node shows too."""
        self._origin = origin
        self._layout = layout_nodes(nodes, origin)
        if run_end is not None and (run_end - origin) / 1000 > self._layout.span:
            self._layout = replace(self._layout, span=(run_end - origin) / 1000)
        bars, minimum = self._layout.bars, self._layout.min_width()
        # pyqtgraph 0.14 fails on empty per-bar pen lists, so an empty run passes None.
        self.bars.setOpts(
            x0=[b.start for b in bars],
            y=[b.lane for b in bars],
            width=[max(b.end - b.start, minimum) for b in bars],
            height=BAR_HEIGHT,
            brushes=[_BRUSHES[b.node.status] for b in bars] or None,
            pens=[_PENS[b.node.status] for b in bars] or None,
        )
        self._place_labels()
        item = self.plot.getPlotItem()
        item.getAxis("left").setTicks([list(enumerate(self._layout.lanes))])
        # At least MIN_LANES lanes of height, so a one-lane run shows a bar, not a wall.
        lanes = max(len(self._layout.lanes), MIN_LANES)
        span = max(self._layout.span, 0.001)
        item.setLimits(yMin=-0.6, yMax=lanes - 0.4, xMin=-span * 0.05, xMax=span * 1.05)
        item.setXRange(0, span, padding=0.02)
        item.setYRange(-0.5, lanes - 0.5, padding=0)
        self._selected = None
        self._draw_highlight()
        return self._layout

    def _place_labels(self) -> None:
        item = self.plot.getPlotItem()
        for label in self._labels:
            item.removeItem(label)
        self._labels = []
        wide = max(self._layout.span, 0.001) * LABEL_FRACTION
        for bar in self._layout.bars:
            if len(self._labels) == MAX_LABELS:
                break
            if bar.end - bar.start >= wide:
                label = pg.TextItem(one_line(bar.node.label, 40), color="w", anchor=(0, 0.5))
                label.setPos(bar.start, bar.lane)
                item.addItem(label)
                self._labels.append(label)

    def highlight(self, node_pk: int | None) -> None:
        """Outline a node's bar (the node selected in the table)."""
        self._selected = node_pk
        self._draw_highlight()

    def _draw_highlight(self) -> None:
        bar = self.bar_of(self._selected) if self._selected is not None else None
        if bar is None:
            self.highlight_bar.setOpts(x0=[], y=[], width=[])
            return
        width = max(bar.end - bar.start, self._layout.min_width())
        self.highlight_bar.setOpts(x0=[bar.start], y=[bar.lane], width=[width])

    # -- lookup -------------------------------------------------------------------------
    def bar_of(self, node_pk: int) -> Bar | None:
        return next((b for b in self._layout.bars if b.node.pk == node_pk), None)

    def bar_at(self, x: float, y: float) -> Bar | None:
        minimum = self._layout.min_width()
        hits = [
            b
            for b in self._layout.bars
            if abs(y - b.lane) <= BAR_HEIGHT / 2 and b.start <= x <= max(b.end, b.start + minimum)
        ]
        # Of overlapping hits (an instant node inside a long one) the shortest is meant.
        return min(hits, key=lambda b: b.end - b.start, default=None)

    def scene_point_of(self, node_pk: int) -> QPointF | None:
        """Where a bar's middle is on the scene; for tests and keyboard-free clicking."""
        bar = self.bar_of(node_pk)
        if bar is None:
            return None
        width = max(bar.end - bar.start, self._layout.min_width())
        view_box = self.plot.getPlotItem().getViewBox()
        return view_box.mapViewToScene(QPointF(bar.start + width / 2, bar.lane))

    def _bar_under(self, scene_pos: QPointF) -> Bar | None:
        view_box = self.plot.getPlotItem().getViewBox()
        if not view_box.sceneBoundingRect().contains(scene_pos):
            return None
        point = view_box.mapSceneToView(scene_pos)
        return self.bar_at(point.x(), point.y())

    def hover_text(self, bar: Bar) -> str:
        return describe(bar, self._origin)

    def _on_hover(self, scene_pos: QPointF) -> None:
        bar = self._bar_under(scene_pos)
        if bar is None:
            QToolTip.hideText()
            return
        QToolTip.showText(QCursor.pos(), tooltip(self.hover_text(bar)), self.plot)

    def _on_click(self, event: object) -> None:
        bar = self._bar_under(event.scenePos())  # type: ignore[attr-defined]
        if bar is not None:
            self.node_clicked.emit(bar.node)
