"""What the run detail's secondary tabs share: they load when first shown, not before.

Selecting runs quickly through the list should not read every run's logs and artifacts;
a tab reads its data when it becomes visible and again only when the run changes.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.store.records import RunDetail
from app.ui.runner import Runner, alive, run_now


class RunTab(QWidget):
    def __init__(self, runner: Runner = run_now, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._run = runner
        self._detail: RunDetail | None = None
        self._loaded_for: RunDetail | None = None
        self._generation = 0

    @property
    def detail(self) -> RunDetail | None:
        return self._detail

    def set_run(self, detail: RunDetail | None) -> None:
        """Remember the run; the data is read by `load_if_needed` once the tab is shown."""
        self._detail = detail
        self._generation += 1
        if detail is None:
            self._loaded_for = None
            self.show_empty()

    def load_if_needed(self) -> None:
        if self._detail is None or self._loaded_for is self._detail:
            return
        self._loaded_for = self._detail
        generation = self._generation
        detail = self._detail
        self.show_loading()
        self._run(
            lambda: self.read(detail),
            lambda result: self._deliver(generation, result),
            lambda message: self._deliver_error(generation, message),
        )

    def _deliver(self, generation: int, result: object) -> None:
        if alive(self) and generation == self._generation:
            self.show_result(result)

    def _deliver_error(self, generation: int, message: str) -> None:
        if alive(self) and generation == self._generation:
            self._loaded_for = None  # try again next time the tab is shown
            self.show_failure(message)

    # -- for subclasses -------------------------------------------------------------------
    def read(self, detail: RunDetail) -> object:
        """Runs on a worker thread: read and prepare everything the tab shows."""
        raise NotImplementedError

    def show_result(self, result: object) -> None:
        raise NotImplementedError

    def show_loading(self) -> None:
        pass

    def show_empty(self) -> None:
        pass

    def show_failure(self, message: str) -> None:
        pass
