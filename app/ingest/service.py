"""The receiver, its writer and the housekeeping thread, started and stopped together, as
the GUI and `serve` use them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from app.config import DEFAULT_STALE_AFTER_HOURS
from app.ingest.server import Receiver
from app.ingest.writer import ReportWriter
from app.store.connection import close_database
from app.store.writes import interrupt_stale_runs

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL_SECONDS = 300.0


class IngestService:
    def __init__(
        self,
        host: str,
        port: int,
        on_committed: Callable[[list[str]], None] | None = None,
        stale_after_hours: float = DEFAULT_STALE_AFTER_HOURS,
        housekeeping_interval: float = HOUSEKEEPING_INTERVAL_SECONDS,
    ) -> None:
        self._on_committed = on_committed
        self._stale_after_ms = int(stale_after_hours * 3_600_000)
        self._interval = housekeeping_interval
        self._stopping = threading.Event()
        self._housekeeper = threading.Thread(
            target=self._housekeep, name="hindsight-housekeeping", daemon=True
        )
        self.housekeeping_passes = 0
        self.writer = ReportWriter(on_committed=on_committed)
        self.receiver = Receiver(self.writer, host=host, port=port)

    @property
    def url(self) -> str:
        return self.receiver.url

    def start(self) -> None:
        """Bind the socket first, so a taken port fails before any thread starts."""
        self.receiver.start()
        self.writer.start()
        self._housekeeper.start()

    def stop(self) -> None:
        self._stopping.set()
        self.receiver.stop()
        self.writer.stop()
        if self._housekeeper.is_alive():
            self._housekeeper.join(10)

    def _housekeep(self) -> None:
        """At start-up and then periodically: runs that stopped reporting become interrupted."""
        try:
            while not self._stopping.is_set():
                try:
                    changed = interrupt_stale_runs(self._stale_after_ms)
                except Exception:
                    log.exception("housekeeping failed; retrying at the next interval")
                else:
                    if changed and self._on_committed is not None:
                        self._on_committed(changed)
                self.housekeeping_passes += 1
                self._stopping.wait(self._interval)
        finally:
            close_database()
