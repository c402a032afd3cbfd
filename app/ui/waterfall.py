"""A run's nodes along its time axis: one bar per node, parallel work on separate lanes
(placed by `waterfall_layout`). Bars are coloured by status; hovering shows the node,
clicking selects it.

The pyqtgraph plot is built when the first run with nodes is drawn, not with the window:
importing pyqtgraph and numpy costs a few hundred milliseconds that the first page of the
run list should not wait for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QToolTip, QVBoxLayout, QWidget

from app.store.records import NodeSummary
from app.ui.long_lived import freeze_long_lived
from app.ui.plain_text import tooltip
from app.ui.waterfall_layout import (
    BAR_HEIGHT,
    EMPTY_LAYOUT,
    Bar,
    WaterfallLayout,
    describe,
    layout_nodes,
    run_origin,
)

if TYPE_CHECKING:
    from app.ui.waterfall_plot import WaterfallPlot

__all__ = ["Bar", "Waterfall", "WaterfallLayout", "layout_nodes", "run_origin"]


class Waterfall(QWidget):
    node_clicked = Signal(object)  # the NodeSummary of the clicked bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = EMPTY_LAYOUT
        self._selected: int | None = None
        self._plot: WaterfallPlot | None = None
        self._box = QVBoxLayout(self)
        self._box.setContentsMargins(0, 0, 0, 0)
        self.setMinimumHeight(80)

    # -- the plot, built on first use -------------------------------------------------------
    @property
    def plot(self) -> WaterfallPlot:
        if self._plot is None:
            from app.ui.waterfall_plot import WaterfallPlot

            self._plot = WaterfallPlot(self)
            scene = self._plot.scene()
            scene.sigMouseMoved.connect(self._on_hover)
            scene.sigMouseClicked.connect(self._on_click)
            self._box.addWidget(self._plot)
            freeze_long_lived()  # pyqtgraph and numpy, just imported, stay for good
        return self._plot

    @property
    def _labels(self) -> list[Any]:
        return self._plot.labels if self._plot is not None else []

    @property
    def current_layout(self) -> WaterfallLayout:
        return self._layout

    @property
    def selected_pk(self) -> int | None:
        return self._selected

    def set_nodes(
        self, nodes: Sequence[NodeSummary], origin: int, run_end: int | None = None
    ) -> WaterfallLayout:
        """Lay out and draw the nodes; the time axis runs from `origin` to the later of the
        last node's end and `run_end` (epoch ms), so time spent outside any node shows too."""
        return self.show_layout(layout_nodes(nodes, origin, run_end))

    def show_layout(self, layout: WaterfallLayout, keep_view: bool = False) -> WaterfallLayout:
        """Draw a layout computed elsewhere (with the run's query, off the GUI thread);
        `keep_view`: the same run again, so a view the user zoomed or panned stays."""
        self._layout = layout
        if layout.bars or self._plot is not None:  # an empty run needs no pyqtgraph
            self.plot.draw(layout, keep_view)
        self._selected = None
        self._draw_highlight()
        return layout

    def refresh(self, layout: WaterfallLayout) -> None:
        """Redraw the same run with its running bars grown: the selection and a view the
        user zoomed or panned stay."""
        selected = self._selected
        self.show_layout(layout, keep_view=True)
        self.highlight(selected)

    def highlight(self, node_pk: int | None) -> None:
        """Outline a node's bar (the node selected in the table)."""
        self._selected = node_pk
        self._draw_highlight()

    def _draw_highlight(self) -> None:
        if self._plot is None:
            return
        bar = self.bar_of(self._selected) if self._selected is not None else None
        if bar is None:
            self._plot.clear_outline()
            return
        width = max(bar.end - bar.start, self._layout.min_width())
        self._plot.outline(bar.start, bar.lane, width)

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
        return describe(bar, self._layout.origin)

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
