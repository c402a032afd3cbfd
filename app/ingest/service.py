"""The receiver and its writer started and stopped together, as the GUI and `serve` use them."""

from __future__ import annotations

from collections.abc import Callable

from app.ingest.server import Receiver
from app.ingest.writer import ReportWriter


class IngestService:
    def __init__(
        self, host: str, port: int, on_committed: Callable[[list[str]], None] | None = None
    ) -> None:
        self.writer = ReportWriter(on_committed=on_committed)
        self.receiver = Receiver(self.writer, host=host, port=port)

    @property
    def url(self) -> str:
        return self.receiver.url

    def start(self) -> None:
        """Bind the socket first, so a taken port fails before any thread starts."""
        self.receiver.start()
        self.writer.start()

    def stop(self) -> None:
        self.receiver.stop()
        self.writer.stop()
