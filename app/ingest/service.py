"""The receiver, its writer and the housekeeping thread, started and stopped together, as
the GUI and `serve` use them."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from app.config import DEFAULT_STALE_AFTER_HOURS, DatabaseTarget
from app.ingest.auth import TokenError, ensure_token, is_loopback
from app.ingest.server import Receiver
from app.ingest.spool import ingest_spool
from app.ingest.writer import ReportWriter
from app.ingest.writer_process import ProcessStore
from app.store.connection import close_database
from app.store.writes import interrupt_stale_runs

log = logging.getLogger(__name__)

STALE_CHECK_SECONDS = 300.0
SPOOL_CHECK_SECONDS = 5.0


class IngestService:
    def __init__(
        self,
        host: str,
        port: int,
        on_committed: Callable[[list[str]], None] | None = None,
        stale_after_hours: float = DEFAULT_STALE_AFTER_HOURS,
        spool: Path | None = None,
        spool_interval: float = SPOOL_CHECK_SECONDS,
        token: str | None = None,
        store_process: DatabaseTarget | None = None,
    ) -> None:
        """`token`: the install's token (default: read or create the token file). Beyond
        loopback it is required, so a token file that cannot be made raises TokenError.
        `store_process`: store reports in a process of its own that opens this database
        (writer_process.py); default: on a thread of this one."""
        self._on_committed = on_committed
        self._stale_after_ms = int(stale_after_hours * 3_600_000)
        self._spool = spool
        self._spool_interval = spool_interval
        self._stopping = threading.Event()
        self._housekeeper = threading.Thread(
            target=self._housekeep, name="hindsight-housekeeping", daemon=True
        )
        self.housekeeping_passes = 0
        if token is None:
            try:
                token = ensure_token()
            except TokenError:
                if not is_loopback(host):
                    raise
                log.warning(
                    "no token file; tokens sent to this receiver are not checked", exc_info=True
                )
        store = ProcessStore(store_process) if store_process is not None else None
        self.writer = ReportWriter(on_committed=on_committed, store=store)
        self.receiver = Receiver(self.writer, host=host, port=port, token=token, crashed_dir=spool)

    @property
    def url(self) -> str:
        return self.receiver.url

    def start(self) -> None:
        """Bind the socket first, so a taken port fails before any thread starts (OSError);
        a writer process that cannot open the database raises StoreError."""
        self.receiver.start()
        try:
            self.writer.start()
        except Exception:
            self.receiver.stop()
            raise
        self._housekeeper.start()

    def stop(self) -> None:
        # Housekeeping first: a spool pass in progress finishes (and removes the files it
        # stored) while the writer still accepts its last reports.
        self._stopping.set()
        if self._housekeeper.is_alive():
            self._housekeeper.join(30)
        self.receiver.stop()
        self.writer.stop()

    def _housekeep(self) -> None:
        """At start-up and then periodically: pick up spooled reports (every few seconds) and
        mark runs that stopped reporting as interrupted (every few minutes)."""
        next_stale_check = 0.0
        try:
            while not self._stopping.is_set():
                if self._spool is not None:
                    try:
                        ingest_spool(self._spool, self.writer, self._stopping)
                    except Exception:
                        log.exception("spool pick-up failed; retrying at the next pass")
                if time.monotonic() >= next_stale_check:
                    next_stale_check = time.monotonic() + STALE_CHECK_SECONDS
                    self._interrupt_stale_runs()
                self.housekeeping_passes += 1
                self._stopping.wait(self._spool_interval)
        finally:
            close_database()

    def _interrupt_stale_runs(self) -> None:
        try:
            changed = interrupt_stale_runs(self._stale_after_ms)
        except Exception:
            log.exception("marking stale runs failed; retrying at the next interval")
            return
        if changed and self._on_committed is not None:
            self._on_committed(changed)
