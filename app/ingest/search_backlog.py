"""When the writer thread indexes for full-text search what it has stored.

The writer stores and acknowledges reports without indexing their text (about two thirds of
what storing one costs it; `app/store/search_marks.py`). It indexes the backlog a chunk at a
time, each chunk a short transaction of its own:
- when no report has arrived for IDLE_S, so a burst is absorbed at full speed;
- after every group once the backlog passes MAX_BACKLOG rows, so under sustained load it
  stays bounded (and throughput falls to what storing and indexing together allow).
A search in the meantime indexes what is left first (`search.catch_up_now`), so it never
misses a stored run; it only takes longer right after a burst.
"""

from __future__ import annotations

import logging
import time

from peewee import OperationalError

from app.store import search
from app.store.backend import is_postgres
from app.store.connection import write_transaction
from app.store.search_marks import pending_entries

log = logging.getLogger(__name__)

# A pause in arrivals this long counts as idle time to index in.
IDLE_S = 0.05
# Rows (nodes + log lines) left unindexed at most under load: about 2 s of indexing here,
# some 4,000 runs of 10 nodes and 3 log lines.
MAX_BACKLOG = 50_000
# After a failed chunk (the database locked by another program, say) wait this long.
RETRY_AFTER_S = 5.0


class SearchBacklog:
    """The writer's view of the rows waiting to be indexed (on the writer's thread only)."""

    def __init__(self) -> None:
        self.pending = 0
        self._retry_at = 0.0

    def refresh(self) -> None:
        """Count the backlog again (at start-up, or when the count may be off)."""
        if is_postgres():  # indexes as it stores
            return
        try:
            self.pending = pending_entries()
        except OperationalError:
            log.warning("could not count the rows waiting for the search index", exc_info=True)

    def retry_in(self) -> float:
        """Seconds until indexing may be tried again after a failure (0: now)."""
        return max(0.0, self._retry_at - time.monotonic())

    def index_chunk(self) -> None:
        """Index one chunk of the backlog in a transaction of its own."""
        try:
            with write_transaction():
                search.catch_up()
            self.pending = pending_entries()
        except Exception:
            # Reports keep being stored meanwhile; a search indexes them when it runs.
            log.warning("indexing stored reports for search failed; retrying", exc_info=True)
            self._retry_at = time.monotonic() + RETRY_AFTER_S

    def grew(self, rows: int) -> None:
        """After a group that stored `rows` nodes and log lines: index until the backlog is
        back within MAX_BACKLOG. Counted, not asked for, while it is within: a query per
        group cost the busy writer more than its answer was worth."""
        self.pending += rows
        if self.pending <= MAX_BACKLOG:
            return
        self.refresh()
        while self.pending > MAX_BACKLOG and not self.retry_in():
            self.index_chunk()
