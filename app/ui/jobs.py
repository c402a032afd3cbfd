"""Long history operations (delete thousands of runs, import, export) off the GUI thread,
with progress and cancel.

A job's work function runs on its own one-thread pool, so a long delete never takes the
threads the run list and the detail pane query with. It reports progress through
`JobControl.report`, which also tells it whether the user cancelled; the store's chunked
operations already take such a callback (`on_progress` returning False stops them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from app.store.models import db

REPORT_INTERVAL = 0.05


class JobCancelled(Exception):
    """Raised inside a work function to stop at a safe point after a cancel."""


class JobControl:
    """What the work function sees: report progress, learn about a cancel."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self._cancel = threading.Event()
        self._last_report = 0.0

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def report(self, done: int, total: int | None = None) -> bool:
        """Publish progress; return False once the user has cancelled (store callbacks stop).

        At most every REPORT_INTERVAL seconds, so a fast loop does not flood the GUI thread.
        """
        now = time.monotonic()
        if now - self._last_report >= REPORT_INTERVAL or done == total:
            self._last_report = now
            self._job.worker_side.progress.emit(done, total)
        return not self._cancel.is_set()

    def check(self) -> None:
        if self._cancel.is_set():
            raise JobCancelled


class _WorkerSide(QObject):
    """Signals the worker thread emits; queued onto the GUI thread's Job slots.

    A child of its Job, so it goes with the Job, on the GUI thread, and never with the
    last Python reference to it, wherever that is dropped (the worker's task, or a garbage
    collection of the Job's cycle with its JobControl run on any thread).
    """

    progress = Signal(int, object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()


class Job(QObject):
    """One running operation; its public signals are emitted on the GUI thread, so plain
    Python callables connected to them run there too."""

    progress = Signal(int, object)  # done, total (None when unknown)
    finished = Signal(object)  # the work function's result
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, title: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.control = JobControl(self)
        self.worker_side = _WorkerSide(self)
        queued = Qt.ConnectionType.QueuedConnection
        self.worker_side.progress.connect(self._relay_progress, queued)
        self.worker_side.finished.connect(self._relay_finished, queued)
        self.worker_side.failed.connect(self._relay_failed, queued)
        self.worker_side.cancelled.connect(self._relay_cancelled, queued)

    @Slot(int, object)
    def _relay_progress(self, done: int, total: object) -> None:
        self.progress.emit(done, total)

    @Slot(object)
    def _relay_finished(self, result: object) -> None:
        self.finished.emit(result)

    @Slot(str)
    def _relay_failed(self, message: str) -> None:
        self.failed.emit(message)

    @Slot()
    def _relay_cancelled(self) -> None:
        self.cancelled.emit()

    def cancel(self) -> None:
        self.control.cancel()


class _JobTask(QRunnable):
    def __init__(self, job: Job, work: Callable[[JobControl], Any]) -> None:
        super().__init__()
        self._job = job
        self._work = work

    def run(self) -> None:
        try:
            with db.connection_context():
                result = self._work(self._job.control)
        except JobCancelled:
            self._job.worker_side.cancelled.emit()
        except Exception as exc:
            self._job.worker_side.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            if self._job.control.cancelled:
                self._job.worker_side.cancelled.emit()
            else:
                self._job.worker_side.finished.emit(result)


class JobRunner(QObject):
    """Runs one job at a time; `busy` tells the window to hold back new history actions."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.current: Job | None = None

    @property
    def busy(self) -> bool:
        return self.current is not None

    def start(self, title: str, work: Callable[[JobControl], Any]) -> Job:
        if self.current is not None:
            raise RuntimeError(f"“{self.current.title}” is still running")
        job = Job(title, self)
        self.current = job
        # A bound method, never a lambda holding `self`: connected to the job's signals, such
        # a lambda is the runner's last reference when nothing else holds it (a runner with
        # no parent), so the job's deferred delete released the runner, whose destructor
        # deleted its child job a second time, mid-destruction (a crash in ~QObject).
        for signal in (job.finished, job.failed, job.cancelled):
            signal.connect(self._job_ended)
        self._pool.start(_JobTask(job, work))
        return job

    def _job_ended(self, *_outcome: object) -> None:
        """One job runs at a time and ends once, so the job that ended is the current one."""
        job, self.current = self.current, None
        if job is not None:
            job.deleteLater()  # its worker side goes with it

    def wait_for_done(self, msecs: int = 30_000) -> bool:
        if self.current is not None:
            self.current.cancel()
        return self._pool.waitForDone(msecs)
