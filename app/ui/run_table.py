"""The run list: a lazily paged model over the store, merged in place on live updates.

Rows arrive a keyset page at a time (`canFetchMore`/`fetchMore`), each page queried off the
GUI thread, so a million runs open as fast as a hundred. A newer query (another filter or
sort) supersedes older ones: their answers are dropped by generation number. Live updates
merge only the runs that changed, so the selection, the current row and the scroll
position stay where the user left them.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal

from app.store import queries
from app.store.filters import RunFilter
from app.store.queries import RunOrder, cursor_of
from app.store.records import RunSummary
from app.store.status import Status
from app.ui.background import BackgroundQueries, Ticket
from app.ui.formatting import format_duration, format_timestamp
from app.ui.icons import status_icon
from app.ui.record_table import Index, RecordTableModel

RUN_ROLE = Qt.ItemDataRole.UserRole + 1  # the RunSummary of a row
SORT_ROLE = Qt.ItemDataRole.UserRole + 2  # the raw value a column sorts by

PAGE_SIZE = 200
INTERRUPTED_DURATION_TIP = (
    "interrupted: it never reported an end; it ran at least this long (to its last report)"
)
# A full-text query's first page is one screenful: its cost grows with the rows asked for
# (the index is checked window by window in listing order), and the rest arrives as the
# user scrolls. 60 rows fill a full-height window on a large screen.
FIRST_SEARCH_PAGE = 60


def _now_ms() -> int:
    return int(time.time() * 1000)


def relative_time(ms: int, now_ms: int) -> str:
    """How long ago, like "3 min ago", for the tooltip of the started column."""
    seconds = max(0, (now_ms - ms) // 1000)
    for unit, size in (("day", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            count = seconds // size
            plural = "s" if unit == "day" and count != 1 else ""
            return f"{count} {unit}{plural} ago"
    return "just now" if seconds < 5 else f"{seconds} s ago"


def _sort_key(run: RunSummary, order: RunOrder) -> tuple[Any, ...]:
    """A key whose ascending order is the listing's order (mirrors `queries.list_runs`)."""
    if order is RunOrder.NEWEST:
        return (-run.started_at, _desc(run.id))
    if order is RunOrder.OLDEST:
        return (run.started_at, run.id)
    if run.duration_ms is None:  # still running: after every timed run, by id
        return (1, 0, _desc(run.id) if order.descending else run.id)
    if order is RunOrder.SLOWEST:
        return (0, -run.duration_ms, _desc(run.id))
    return (0, run.duration_ms, run.id)


class _desc(str):  # noqa: N801 - a str that sorts backwards, for descending id tie-breaks
    __slots__ = ()

    def __lt__(self, other: object) -> bool:
        return str.__gt__(self, str(other))

    def __gt__(self, other: object) -> bool:
        return str.__lt__(self, str(other))

    def __le__(self, other: object) -> bool:
        return str.__ge__(self, str(other))

    def __ge__(self, other: object) -> bool:
        return str.__le__(self, str(other))


class RunTableModel(RecordTableModel[RunSummary]):
    (
        COL_STATUS,
        COL_WORKFLOW,
        COL_PROJECT,
        COL_STARTED,
        COL_DURATION,
        COL_NODES,
        COL_FAILED,
        COL_TOKENS,
        COL_COST,
        COL_TRIGGER,
    ) = range(10)
    _HEADERS = (
        "Status",
        "Workflow",
        "Project",
        "Started",
        "Duration",
        "Nodes",
        "Failing node",
        "Tokens",
        "Cost",
        "Trigger",
    )
    _RIGHT_ALIGNED = frozenset({COL_DURATION, COL_NODES, COL_TOKENS, COL_COST})
    # Which sort a click on a header asks for: (ascending, descending).
    SORTABLE: ClassVar[dict[int, tuple[RunOrder, RunOrder]]] = {
        COL_STARTED: (RunOrder.OLDEST, RunOrder.NEWEST),
        COL_DURATION: (RunOrder.FASTEST, RunOrder.SLOWEST),
    }

    first_page_loaded = Signal()  # a new query's first rows are in (or it has none)
    page_loaded = Signal(int)  # rows loaded so far, after any page lands
    query_failed = Signal(str)

    def __init__(
        self,
        runner: BackgroundQueries | None = None,
        parent: QObject | None = None,
        page_size: int = PAGE_SIZE,
        now_ms: Callable[[], int] = _now_ms,
    ) -> None:
        super().__init__(parent)
        self._runner = runner
        self._page_size = page_size
        self._now_ms = now_ms
        self._filter = RunFilter()
        self._order = RunOrder.NEWEST
        self._generation = 0
        self._has_more = False
        self._fetching: Ticket | None = None
        self._first_page: Ticket | None = None
        self.status_decoration: Callable[[Status], Any] = status_icon

    # -- what is listed ---------------------------------------------------------------
    @property
    def run_filter(self) -> RunFilter:
        return self._filter

    @property
    def order(self) -> RunOrder:
        return self._order

    @property
    def loading(self) -> bool:
        return self._first_page is not None

    def set_query(self, where: RunFilter, order: RunOrder | None = None) -> None:
        """List the runs matching `where` (in `order`): the first page is fetched now."""
        self._filter = where
        if order is not None:
            self._order = order
        self.reload()

    def reload(self) -> None:
        if self._runner is None:
            return
        self._generation += 1
        generation = self._generation
        for ticket in (self._first_page, self._fetching):
            if ticket is not None:
                ticket.cancel()
        self._fetching = None
        where, order, size = self._filter, self._order, self._page_size
        if where.text:
            size = min(size, FIRST_SEARCH_PAGE)
        self._first_page = self._runner.submit(
            lambda: queries.list_runs(limit=size, where=where, order=order),
            lambda runs: self._on_first_page(generation, runs, size),
            lambda message: self._on_error(generation, message),
        )

    def _on_first_page(self, generation: int, runs: list[RunSummary], size: int) -> None:
        if generation != self._generation:
            return  # a newer query superseded this one
        self._first_page = None
        self.beginResetModel()
        self._rows = list(runs)
        self._has_more = len(runs) == size
        self.endResetModel()
        self.first_page_loaded.emit()
        self.page_loaded.emit(len(self._rows))

    def _on_error(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._first_page = None
            self._fetching = None
            self.query_failed.emit(message)

    # -- lazy paging ------------------------------------------------------------------
    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or self._runner is None:
            return False
        return self._has_more and self._fetching is None and self._first_page is None

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent) or self._runner is None or not self._rows:
            return
        generation = self._generation
        where, order, size = self._filter, self._order, self._page_size
        after = cursor_of(self._rows[-1], order)
        self._fetching = self._runner.submit(
            lambda: queries.list_runs(limit=size, after=after, where=where, order=order),
            lambda runs: self._on_page(generation, runs),
            lambda message: self._on_error(generation, message),
        )

    def _on_page(self, generation: int, runs: list[RunSummary]) -> None:
        if generation != self._generation:
            return
        self._fetching = None
        self._has_more = len(runs) == self._page_size
        known = {run.id for run in self._rows}
        fresh = [run for run in runs if run.id not in known]  # a live merge got there first
        if fresh:
            start = len(self._rows)
            # The last row is start + n - 1 (the official PySide6 example is off by one).
            self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
            self._rows.extend(fresh)
            self.endInsertRows()
        self.page_loaded.emit(len(self._rows))

    def has_more(self) -> bool:
        return self._has_more

    # -- display ----------------------------------------------------------------------
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        run = self.row_at(index)
        if run is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(run, column)
        if role == RUN_ROLE:
            return run
        if role == SORT_ROLE:
            return self._sort_value(run, column)
        if role == Qt.ItemDataRole.DecorationRole and column == self.COL_STATUS:
            return self.status_decoration(run.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(run, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in self._RIGHT_ALIGNED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _duration_ms(self, run: RunSummary) -> int | None:
        if run.duration_ms is None and run.status is Status.RUNNING:
            return max(0, self._now_ms() - run.started_at)  # elapsed so far, ticking
        return run.duration_ms

    def _display(self, run: RunSummary, column: int) -> str:
        if column == self.COL_STATUS:
            return run.status.value
        if column == self.COL_WORKFLOW:
            return run.workflow_label
        if column == self.COL_PROJECT:
            return run.project_id or ""
        if column == self.COL_STARTED:
            return format_timestamp(run.started_at)
        if column == self.COL_DURATION:
            if run.ran_at_least_ms is not None:
                return f"≥ {format_duration(run.ran_at_least_ms)}"
            text = format_duration(self._duration_ms(run))
            return text + " …" if run.duration_ms is None and run.status is Status.RUNNING else text
        if column == self.COL_NODES:
            return f"{run.node_count:,}"
        if column == self.COL_FAILED:
            return run.failed_node_name or ""
        if column == self.COL_TOKENS:
            return "" if run.total_tokens is None else f"{run.total_tokens:,}"
        if column == self.COL_COST:
            return "" if run.cost_usd is None else f"${run.cost_usd:,.4f}"
        return run.trigger_type or ""

    def _tooltip(self, run: RunSummary, column: int) -> str | None:
        if column == self.COL_STARTED:
            moment = datetime.fromtimestamp(run.started_at / 1000).astimezone()
            return f"{relative_time(run.started_at, self._now_ms())} ({moment:%Z, UTC%z})"
        if column == self.COL_WORKFLOW:
            return f"{run.workflow_label} ({run.workflow_id})\nrun {run.id}"
        if column == self.COL_DURATION and run.duration_ms is None:
            if run.ran_at_least_ms is not None:
                return INTERRUPTED_DURATION_TIP
            return "still running: time elapsed so far" if run.status is Status.RUNNING else None
        return None

    def _sort_value(self, run: RunSummary, column: int) -> Any:
        values = (
            run.status.value,
            run.workflow_label.lower(),
            run.project_id or "",
            run.started_at,
            run.duration_ms if run.duration_ms is not None else -1,
            run.node_count,
            run.failed_node_name or "",
            run.total_tokens or 0,
            run.cost_usd or 0.0,
            run.trigger_type or "",
        )
        return values[column]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Header clicks: started and duration sort in the store; other columns do not."""
        orders = self.SORTABLE.get(column)
        if orders is None:
            return
        wanted = orders[0] if order == Qt.SortOrder.AscendingOrder else orders[1]
        if wanted is not self._order:
            self.set_query(self._filter, wanted)

    def sort_column(self) -> tuple[int, Qt.SortOrder]:
        for column, (ascending, descending) in self.SORTABLE.items():
            if self._order is ascending:
                return column, Qt.SortOrder.AscendingOrder
            if self._order is descending:
                return column, Qt.SortOrder.DescendingOrder
        return self.COL_STARTED, Qt.SortOrder.DescendingOrder

    # -- rows -------------------------------------------------------------------------
    def run_at(self, row: int) -> RunSummary:
        return self._rows[row]

    def row_of(self, run_id: str) -> int | None:
        return next((i for i, run in enumerate(self._rows) if run.id == run_id), None)

    def running_rows(self) -> list[int]:
        return [i for i, run in enumerate(self._rows) if run.status is Status.RUNNING]

    def tick(self, rows: Iterable[int] | None = None) -> None:
        """Repaint the elapsed time of running runs (the view only repaints visible cells)."""
        for row in self.running_rows() if rows is None else rows:
            cell = self.index(row, self.COL_DURATION)
            self.dataChanged.emit(cell, cell, [Qt.ItemDataRole.DisplayRole])

    def set_runs(self, runs: Sequence[RunSummary], has_more: bool = False) -> None:
        """Replace the rows by merging (tests and callers without a store runner)."""
        self._generation += 1
        self._has_more = has_more
        wanted = {run.id for run in runs}
        self.remove_runs([run.id for run in self._rows if run.id not in wanted])
        self.merge_runs(runs)

    def merge_runs(self, runs: Iterable[RunSummary]) -> int:
        """Insert or update runs at their place in the current order; return rows added.

        A run that would sort after the last loaded row is left for `fetchMore` to bring
        (unless everything is loaded), so paging never skips or repeats a run. One pass
        over the loaded rows per call, however big the burst, and no sort key computed for
        them (streaming at 1,000 runs/s grows the list by 60,000 rows a minute: keying every
        row cost 100 ms per burst).
        """
        incoming = {run.id: run for run in runs}
        rows_by_id = {run.id: row for row, run in enumerate(self._rows) if run.id in incoming}
        moved: list[RunSummary] = []
        for run in incoming.values():
            row = rows_by_id.get(run.id)
            if row is None:
                moved.append(run)
                continue
            old = self._rows[row]
            if _sort_key(old, self._order) != _sort_key(run, self._order):
                moved.append(run)
            elif old != run:
                self._rows[row] = run
                self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
        if not moved:
            return 0
        removed = self.remove_runs(run.id for run in moved if run.id in rows_by_id)
        order = self._order

        def key(run: RunSummary) -> tuple[Any, ...]:
            return _sort_key(run, order)

        # Runs landing between the same two rows go in as one block (a burst of new runs at
        # the top is one insert for the view, not one per run). Positions are found by
        # bisection, keying only the rows it probes.
        blocks: list[tuple[int, list[RunSummary]]] = []
        for run in sorted(moved, key=key):
            position = bisect.bisect_left(self._rows, key(run), key=key)
            if position == len(self._rows) and self._has_more:
                continue  # beyond what is loaded: a later page brings it
            if blocks and blocks[-1][0] == position:
                blocks[-1][1].append(run)
            else:
                blocks.append((position, [run]))
        added = 0
        for position, block in reversed(blocks):  # from the end: earlier positions hold
            self.beginInsertRows(QModelIndex(), position, position + len(block) - 1)
            self._rows[position:position] = block
            self.endInsertRows()
            added += len(block)
        return added - removed

    def remove_runs(self, run_ids: Iterable[str]) -> int:
        """Remove the rows of these runs, a contiguous range at a time."""
        gone = set(run_ids)
        if not gone:
            return 0
        rows = [row for row, run in enumerate(self._rows) if run.id in gone]
        removed = len(rows)
        while rows:
            last = rows.pop()
            first = last
            while rows and rows[-1] == first - 1:
                first = rows.pop()
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._rows[first : last + 1]
            self.endRemoveRows()
        return removed
