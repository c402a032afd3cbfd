"""Where a run's nodes go on the waterfall: plain data, no Qt, so it can be computed with
the run's query on a pool thread (a 10,000-node run takes tens of milliseconds).

Nodes that ran one after another share a lane; a node that overlaps another (it ran in
parallel) or belongs to another execution group goes on a lane of its own, so each
parallel group reads as a band of lanes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from app.store.records import NodeSummary, RunDetail
from app.store.status import Status
from app.ui.formatting import format_duration, format_offset
from app.ui.plain_text import one_line

MIN_BAR_FRACTION = 0.004  # of the run's span: instant nodes stay visible and clickable
BAR_HEIGHT = 0.7  # in lanes


@dataclass(frozen=True)
class Bar:
    node: NodeSummary
    lane: int
    start: float  # seconds since the run's origin
    end: float
    open_end: str | None = None  # no end reported: says where the bar was drawn to instead


@dataclass(frozen=True)
class OpenEnd:
    """Where a node that reported no end is drawn to, rather than as a bar of no width."""

    at: int  # epoch ms
    statuses: frozenset[Status]  # of the nodes drawn so
    note: str  # for the hover text


@dataclass(frozen=True)
class WaterfallLayout:
    bars: tuple[Bar, ...]
    lanes: tuple[str, ...]
    span: float  # seconds from the origin to the last bar's end (or the run's end)
    origin: int = 0  # epoch ms of time zero

    def min_width(self) -> float:
        return max(self.span, 0.001) * MIN_BAR_FRACTION


EMPTY_LAYOUT = WaterfallLayout((), (), 0.0)


def run_origin(started_at: int, nodes: Sequence[NodeSummary]) -> int:
    """Time zero of the axis: the run's start, or an earlier node start if a clock drifted."""
    starts = [n.started_at for n in nodes if n.started_at is not None]
    return min([started_at, *starts])


def layout_nodes(
    nodes: Sequence[NodeSummary],
    origin: int,
    run_end: int | None = None,
    open_end: OpenEnd | None = None,
) -> WaterfallLayout:
    """Place each node in time and on a lane; the span reaches `run_end` (epoch ms) when
    the run lasted longer than its nodes, so time spent outside any node shows too.

    A node without a start time starts when the previous node (in report order) ended,
    which is how sequential reporters that only send `durationMs` ran them. A node that
    reported no end reaches `open_end` when its status is one of it: a bar of no width
    would hide the node a user most wants to see, the one that was running.
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
        open_note = None
        if (
            open_end is not None
            and node.status in open_end.statuses
            and node.completed_at is None
            and node.duration_ms is None
        ):
            end, open_note = (open_end.at - origin) / 1000, open_end.note
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
        bars.append(Bar(node, lane, start, end, open_note))
        cursor = max(cursor, end)
    span = max((b.end for b in bars), default=0.0)
    if run_end is not None:
        span = max(span, (run_end - origin) / 1000)
    return WaterfallLayout(tuple(bars), tuple(lanes), span, origin)


def layout_run(detail: RunDetail, now_ms: int | None = None) -> WaterfallLayout:
    """The waterfall of a whole run: from its origin to its end. Nodes still running reach
    `now_ms` (default: the clock, read with the run) while the run runs; in an interrupted
    run they reach its last report, the last moment anything was known to run."""
    run = detail.summary
    run_end = run.started_at + run.duration_ms if run.duration_ms is not None else None
    open_end = None
    if run.status is Status.RUNNING:
        open_end = OpenEnd(
            int(time.time() * 1000) if now_ms is None else now_ms,
            frozenset({Status.RUNNING}),
            "still running: drawn up to the last refresh",
        )
    elif run.status is Status.INTERRUPTED and detail.last_report_at is not None:
        open_end = OpenEnd(
            detail.last_report_at,
            frozenset({Status.RUNNING, Status.INTERRUPTED}),
            "no end reported: drawn to the run's last report",
        )
    origin = run_origin(run.started_at, detail.nodes)
    return layout_nodes(detail.nodes, origin, run_end, open_end)


def describe(bar: Bar, origin: int) -> str:
    """The hover text of a bar, plain."""
    node = bar.node
    name = one_line(node.label, 120)
    lines = [
        f"{name} ({one_line(node.node_type, 40)})" if node.node_type else name,
        f"{node.status.value} · {format_duration(node.duration_ms)}",
        f"starts {format_offset(node.started_at, origin)}"
        if node.started_at is not None
        else "not started"
        if node.status is Status.PENDING
        else f"starts +{bar.start:.3f} s (after the previous node)",
    ]
    if bar.open_end:
        lines.append(bar.open_end)
    if node.attempt > 1:
        lines.append(f"attempt {node.attempt}")
    if node.group is not None:
        lines.append(f"group {node.group}")
    if node.total_tokens is not None:
        lines.append(f"{node.total_tokens:,} tokens")
    if node.error_message:
        lines.append(one_line(node.error_message, 200))
    return "\n".join(lines)
