"""One run: its header, its nodes (table, waterfall, inspector) and its other tabs."""

from __future__ import annotations

import time
from functools import partial

from PySide6.QtCore import (
    QByteArray,
    QItemSelectionModel,
    QModelIndex,
    QSettings,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import (
    QSplitter,
    QStyle,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.store import queries
from app.store.records import NodeSummary, RunDetail, RunSummary
from app.store.status import Status
from app.ui.artifacts_tab import ArtifactsTab
from app.ui.background import BackgroundQueries
from app.ui.formatting import STATUS_COLOURS, counted, format_duration, format_timestamp
from app.ui.logs_tab import LogsTab
from app.ui.node_inspector import NodeInspector, plain_label
from app.ui.node_payload import PreparedNode, load_node
from app.ui.node_table import NodeTableModel
from app.ui.plain_text import one_line
from app.ui.raw_json_tab import RawJsonTab
from app.ui.record_table import record_view
from app.ui.run_info_tab import RunInfoTab
from app.ui.run_tab import RunTab
from app.ui.runner import alive
from app.ui.waterfall import Waterfall
from app.ui.waterfall_layout import WaterfallLayout, layout_run

CELL_PADDING = 8  # px: each of a cell's margins, and the gap between icon and word
NODE_NAME_WIDTH = 180  # px the node table starts with for names ("Search knowledge base")
NODES_SPLIT_UNIT = 1000  # nodes : inspector = 1 : 1 on first start (scaled to the pane)
_NODE_COLUMN_WIDTHS = (
    (NodeTableModel.COL_TYPE, 80),
    (NodeTableModel.COL_ATTEMPT, 60),
    (NodeTableModel.COL_TOKENS, 70),
)
# The longest texts the time columns show in a run of up to an hour: an estimated start, and
# a running node's time so far. Their columns are sized to them in the view's font.
_WIDEST_TIMES = (
    (NodeTableModel.COL_START, "≈+59 min 59 s"),
    (NodeTableModel.COL_DURATION, "59 min 59 s …"),
)


def status_column_width(view: QTableView) -> int:
    """Room for the longest status word ("interrupted") beside its icon, in the view's font."""
    words = max(view.fontMetrics().horizontalAdvance(status.value) for status in Status)
    icon = view.iconSize().width()
    if icon <= 0:  # unset: the style's small icon size applies
        icon = view.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
    return words + icon + 3 * CELL_PADDING


def header_text(detail: RunDetail) -> str:
    run = detail.summary
    return f"{run.status.value.upper()}  ·  {one_line(run.workflow_label, 120)}"


def _duration_text(run: RunSummary, now_ms: int | None) -> str:
    if run.ran_at_least_ms is not None:
        return f"ran ≥ {format_duration(run.ran_at_least_ms)} (to its last report)"
    if run.duration_ms is None and run.status is Status.RUNNING:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        return f"running for {format_duration(max(0, now - run.started_at))}"
    return format_duration(run.duration_ms)


def facts_text(detail: RunDetail, now_ms: int | None = None) -> str:
    """The header's line of facts; a running run's time so far is counted to `now_ms`
    (default: the clock)."""
    run = detail.summary
    parts = [
        f"started {format_timestamp(run.started_at)}",
        _duration_text(run, now_ms),
        counted(run.node_count, "node"),
        f"trigger: {one_line(detail.trigger_type, 60) or '—'}",
    ]
    if run.project_id:
        parts.append(f"project: {one_line(run.project_id, 60)}")
    if run.total_tokens is not None:
        parts.append(f"{run.total_tokens:,} tokens")
    if run.cost_usd is not None:
        parts.append(f"${run.cost_usd:.4f}")
    parts += [
        f"{change.to_status} by Hindsight: {change.reason} (last reported: {change.from_status})"
        for change in detail.status_changes
    ]
    return "  ·  ".join(parts)


def load_run(run_id: str) -> tuple[RunDetail, WaterfallLayout] | None:
    """A run and its waterfall layout, read and laid out together on a pool thread (for
    `RunDetailPane.show_run`); None when the run does not exist."""
    detail = queries.get_run(run_id)
    return None if detail is None else (detail, layout_run(detail))


# While a run runs, the bars of its running nodes grow this often: a redraw, no query.
LIVE_REFRESH_MS = 1000
# Measured offscreen (software drawing), laying out, drawing and painting takes 6 ms for 20
# nodes, 29 ms for 500 and 70 ms for 2,000. Bars of runs with more nodes than this grow only
# when the run's next report reloads it, so the GUI thread is never held longer once a second.
LIVE_REFRESH_MAX_NODES = 500


class RunDetailPane(QWidget):
    node_shown = Signal(int)  # node pk, once its payload is in the inspector

    def __init__(self, queries_runner: BackgroundQueries, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._queries = queries_runner
        runner = queries_runner.submit
        self._detail: RunDetail | None = None
        self._shown_node_pk: int | None = None
        self._live = QTimer(self)
        self._live.setInterval(LIVE_REFRESH_MS)
        self._live.timeout.connect(self._grow_running_bars)

        self.header = plain_label("Select a run.")
        self.header.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.facts = plain_label()
        # Wrapped: an interrupted run's reason can be longer than the window is wide, and an
        # unwrapped label would make the window that wide.
        self.facts.setWordWrap(True)
        self.run_error = plain_label()
        self.run_error.setWordWrap(True)
        self.run_error.setStyleSheet(f"color: {STATUS_COLOURS[Status.ERROR]};")
        self.run_error.hide()
        self.run_id = plain_label()
        self.run_id.setStyleSheet("color: #757575;")

        self.node_model = NodeTableModel(self)
        self.node_view = self._build_node_view()
        self.waterfall = Waterfall()
        self.waterfall.node_clicked.connect(self.select_node)
        self.inspector = NodeInspector(runner)
        self.nodes_top_split = top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.node_view)
        top.addWidget(self.waterfall)
        # The table starts wide enough for its fixed columns and a readable node name; the
        # waterfall takes the rest of the width, and what a larger window adds.
        top.setStretchFactor(0, 0)
        top.setStretchFactor(1, 1)
        top.setSizes([self._node_table_width(), 680])
        # Nodes and their inspector start level: at 2 : 3 a 740 px window left the table
        # two and a half rows. Both splits are remembered (save_layout).
        self.nodes_split = nodes_page = QSplitter(Qt.Orientation.Vertical)
        nodes_page.addWidget(top)
        nodes_page.addWidget(self.inspector)
        nodes_page.setStretchFactor(0, 1)
        nodes_page.setStretchFactor(1, 1)
        nodes_page.setSizes([NODES_SPLIT_UNIT, NODES_SPLIT_UNIT])

        self.logs_tab = LogsTab(runner)
        self.info_tab = RunInfoTab(runner)
        self.artifacts_tab = ArtifactsTab(runner)
        self.raw_tab = RawJsonTab(runner)
        self.tabs = QTabWidget()
        self.tabs.addTab(nodes_page, "Nodes")
        self.tabs.addTab(self.logs_tab, "Logs")
        self.tabs.addTab(self.info_tab, "Trigger && params")
        self.tabs.addTab(self.artifacts_tab, "Artifacts")
        self.tabs.addTab(self.raw_tab, "Raw JSON")
        self.tabs.currentChanged.connect(self._load_current_tab)

        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.facts)
        layout.addWidget(self.run_error)
        layout.addWidget(self.run_id)
        layout.addWidget(self.tabs, 1)

    def _remembered_splits(self) -> tuple[tuple[str, QSplitter], ...]:
        return (
            ("runDetail/nodesSplit", self.nodes_split),
            ("runDetail/nodesTopSplit", self.nodes_top_split),
        )

    def save_layout(self, settings: QSettings) -> None:
        for key, split in self._remembered_splits():
            settings.setValue(key, split.saveState())

    def restore_layout(self, settings: QSettings) -> None:
        """The splits the user left; the starting ones where none were saved."""
        for key, split in self._remembered_splits():
            state = settings.value(key)
            if isinstance(state, QByteArray):
                split.restoreState(state)

    def _build_node_view(self) -> QTableView:
        # Fixed widths, not fitted to contents: measuring a 10,000-node run would stall.
        view = record_view(self.node_model, NodeTableModel.COL_NAME)
        for column, width in _NODE_COLUMN_WIDTHS:
            view.setColumnWidth(column, width)
        for column, text in _WIDEST_TIMES:
            width = view.fontMetrics().horizontalAdvance(text) + 2 * CELL_PADDING
            view.setColumnWidth(column, max(80, width))
        view.setColumnWidth(NodeTableModel.COL_STATUS, status_column_width(view))
        view.selectionModel().currentRowChanged.connect(self._on_node_changed)
        return view

    def _node_table_width(self) -> int:
        """The node table's starting width: its fixed columns, the node name and the
        scroll bar."""
        view = self.node_view
        fixed = sum(
            view.columnWidth(column)
            for column in range(self.node_model.columnCount())
            if column != NodeTableModel.COL_NAME
        )
        scroll_bar = view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        return fixed + NODE_NAME_WIDTH + scroll_bar + 2 * view.frameWidth()

    def run_tabs(self) -> tuple[RunTab, ...]:
        return (self.logs_tab, self.info_tab, self.artifacts_tab, self.raw_tab)

    @property
    def run_id_shown(self) -> str | None:
        return self._detail.summary.id if self._detail else None

    def clear(self) -> None:
        self._live.stop()
        self._detail = None
        self._shown_node_pk = None
        self.header.setText("Select a run.")
        self.header.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.facts.setText("")
        self.run_error.hide()
        self.run_id.setText("")
        self.node_model.set_nodes([])
        self.waterfall.set_nodes([], 0)
        self.inspector.clear()
        for tab in self.run_tabs():
            tab.set_run(None)

    def show_run(self, detail: RunDetail, layout: WaterfallLayout | None = None) -> None:
        """Show a run; keep the selected node across a refresh of the same run.

        A run seen for the first time opens on its first failed node, else its first node.
        `layout` is the run's waterfall (`layout_run`), computed with the query off the GUI
        thread; without it, it is computed here.
        """
        previous = self._detail
        keep_node_id = None
        same_run = previous is not None and previous.summary.id == detail.summary.id
        if same_run:
            current = self.node_view.currentIndex()
            if current.isValid():
                keep_node_id = self.node_model.node_at(current.row()).node_id
        self._detail = detail
        self._shown_node_pk = None
        self.header.setText(header_text(detail))
        self.header.setStyleSheet(
            f"font-size: 13pt; font-weight: bold; color: {STATUS_COLOURS[detail.summary.status]};"
        )
        self.facts.setText(facts_text(detail))
        if detail.error_message:
            self.run_error.setText(one_line(detail.error_message, 500))
            self.run_error.show()
        else:
            self.run_error.hide()
        self.run_id.setText(
            f"Run {one_line(detail.summary.id, 100)}  ·  "
            f"workflow {one_line(detail.summary.workflow_id, 100)}"
        )
        layout = self.waterfall.show_layout(layout or layout_run(detail), keep_view=same_run)
        placed = {
            b.node.pk: round(b.start * 1000) for b in layout.bars if b.node.started_at is None
        }
        self.node_model.set_nodes(detail.nodes, layout.origin, placed)
        self.inspector.clear()
        for tab in self.run_tabs():
            tab.set_run(detail)
        self._load_current_tab()
        target = self._node_to_open(detail, keep_node_id)
        if target is not None:
            self.select_node(target)
        self._follow_running_bars(detail, layout)

    @property
    def bars_growing(self) -> bool:
        """Whether running nodes' bars are being grown with the clock."""
        return self._live.isActive()

    def _follow_running_bars(self, detail: RunDetail, layout: WaterfallLayout) -> None:
        """Grow the bars of running nodes, their durations in the table and the time the
        run has been running, with the clock while the run runs (n8n and Prefect show a
        live run's steps lengthening); stop once it has ended."""
        live = (
            detail.summary.status is Status.RUNNING
            and len(detail.nodes) <= LIVE_REFRESH_MAX_NODES
            and any(bar.open_end for bar in layout.bars)
        )
        if not live:
            self._live.stop()
        elif not self._live.isActive():
            self._live.start()
        self.node_model.set_clock(int(time.time() * 1000) if live else None)

    def _grow_running_bars(self) -> None:
        if self._detail is None:
            self._live.stop()
            return
        now_ms = int(time.time() * 1000)
        self.waterfall.refresh(layout_run(self._detail, now_ms))
        self.facts.setText(facts_text(self._detail, now_ms))
        self.node_model.set_clock(now_ms)

    @staticmethod
    def _node_to_open(detail: RunDetail, keep_node_id: str | None) -> NodeSummary | None:
        if keep_node_id is not None:
            kept = next((n for n in detail.nodes if n.node_id == keep_node_id), None)
            if kept is not None:
                return kept
        # The node that broke, else the one that was running when the run was cut off.
        interrupted = next((n for n in detail.nodes if n.status is Status.INTERRUPTED), None)
        return (
            detail.first_failed_node() or interrupted or (detail.nodes[0] if detail.nodes else None)
        )

    def _load_current_tab(self) -> None:
        current = self.tabs.currentWidget()
        if isinstance(current, RunTab):
            current.load_if_needed()

    def select_node(self, node: NodeSummary) -> None:
        """Select a node in the table (from the waterfall, or on opening a run)."""
        row = self.node_model.row_of(node.pk)
        if row is None:
            return
        index = self.node_model.index(row, 0)
        self.node_view.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.node_view.scrollTo(index)

    def selected_node(self) -> NodeSummary | None:
        current = self.node_view.currentIndex()
        return self.node_model.node_at(current.row()) if current.isValid() else None

    def _on_node_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        node = self.selected_node()
        self.waterfall.highlight(node.pk if node else None)
        if node is None:
            self.inspector.clear()
            return
        self._shown_node_pk = node.pk
        self.inspector.show_loading(node)
        self._queries.submit(partial(load_node, node), partial(self._on_payload, node))

    def _on_payload(self, node: NodeSummary, prepared: PreparedNode | None) -> None:
        if not alive(self) or node.pk != self._shown_node_pk:
            return  # the user moved on while it loaded
        self.inspector.show_node(node, prepared)
        self.node_shown.emit(node.pk)
