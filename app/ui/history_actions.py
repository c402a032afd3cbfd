"""Managing history from the window: delete, clear, export, import — each confirmed with the
exact number of runs it touches, each long one run as a cancellable background job."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from app.ingest.importer import import_records, read_report_file
from app.ingest.report import ReportError
from app.store import export, queries, retention, writes
from app.store.filters import RunFilter
from app.store.records import RunSummary, WorkflowSummary
from app.store.retention import PurgePlan, RetentionPolicy
from app.ui.background import BackgroundQueries
from app.ui.formatting import counted
from app.ui.jobs import JobControl, JobRunner
from app.ui.progress_panel import ProgressPanel
from app.ui.run_list_pane import RunListPane

DELETE_CHUNK = 500
EXPORT_FORMATS = {
    "JSON reports, re-importable (*.json)": ("json", ".json"),
    "CSV, one row per run (*.csv)": ("csv-run", ".csv"),
    "CSV, one row per node (*.csv)": ("csv-node", ".csv"),
}
MAX_PROBLEMS_SHOWN = 12


def _runs(count: int) -> str:
    return counted(count, "run")


def write_export(
    path: Path, kind: str, run_ids: list[str] | None, where: RunFilter, control: JobControl
) -> int:
    """Write the runs to `path` (complete or not at all: see `export.replacing`)."""
    total = len(run_ids) if run_ids is not None else queries.count_runs(where)
    source = export.iter_runs_by_id(run_ids) if run_ids is not None else export.iter_runs(where)

    def counted() -> Any:
        for done, detail in enumerate(source, start=1):
            control.check()
            yield detail
            if done % 50 == 0 or done == total:
                control.report(done, total)

    with export.replacing(path) as out:
        if kind == "json":
            return export.write_json(counted(), out)
        export.write_csv(counted(), out, per="node" if kind == "csv-node" else "run")
        return total


def import_paths(paths: list[Path], control: JobControl) -> int:
    """Validate every file first (nothing is stored if any is invalid), then store."""
    records = []
    for path in paths:
        try:
            records += read_report_file(path)
        except ReportError as error:
            raise ImportProblem(path, error) from None
        except OSError as exc:
            raise ImportProblem(
                path, ReportError(f"cannot read the file: {exc.strerror}", [])
            ) from None
        control.check()
    total = len(records)
    return import_records(records, lambda done: control.report(done, total))


class ImportProblem(Exception):
    def __init__(self, path: Path, error: ReportError) -> None:
        lines = [f"{detail['path']}: {detail['message']}" for detail in error.details]
        shown = lines[:MAX_PROBLEMS_SHOWN]
        if len(lines) > len(shown):
            shown.append(f"… and {len(lines) - len(shown):,} more problems")
        super().__init__(f"{path.name}: {error}\n" + "\n".join(shown))


class HistoryActions(QObject):
    """The History and File menu actions that change or copy out the history."""

    changed = Signal(object)  # ids of runs deleted, or None when many went or came
    message = Signal(str)

    def __init__(
        self,
        window: QWidget,
        pane: RunListPane,
        runner: BackgroundQueries,
        progress: ProgressPanel,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._pane = pane
        self._runner = runner
        self._progress = progress
        self.jobs = JobRunner(self)
        self.last_error: str | None = None

        self.delete_selected = self._action("&Delete Selected Runs…", self.ask_delete_selected)
        self.delete_selected.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_matching = self._action(
            "Delete Runs &Matching the Filter…", self.ask_delete_matching
        )
        self.clear_workflow = self._action("&Clear Workflow History…", self.choose_workflow)
        self.clear_all = self._action("Clear &Everything…", self.ask_clear_all)
        self.export_selected = self._action("&Export Selected Runs…", self.ask_export_selected)
        self.export_selected.setShortcut(QKeySequence("Ctrl+E"))
        self.export_filtered = self._action(
            "Export Runs Matching the &Filter…", self.ask_export_filtered
        )
        self.export_filtered.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.import_action = self._action("&Import Runs…", self.ask_import)
        self.import_action.setShortcut(QKeySequence("Ctrl+I"))
        self._changing = [
            self.delete_selected,
            self.delete_matching,
            self.clear_workflow,
            self.clear_all,
            self.import_action,
            self.export_selected,
            self.export_filtered,
        ]

    def _action(self, text: str, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self._window)
        action.triggered.connect(slot)
        return action

    # -- confirmations ---------------------------------------------------------------
    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self._window,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _busy(self) -> bool:
        if self.jobs.busy and self.jobs.current is not None:
            QMessageBox.information(
                self._window,
                "One thing at a time",
                f"“{self.jobs.current.title}” is still running. Wait for it to finish or "
                "cancel it in the status bar.",
            )
            return True
        return False

    # -- deleting --------------------------------------------------------------------
    def ask_delete_selected(self) -> None:
        runs = self._pane.selected_runs()
        if not runs:
            QMessageBox.information(self._window, "Delete runs", "Select the runs to delete first.")
            return
        if self._busy():
            return
        what = (
            f"run “{runs[0].workflow_label}” of {runs[0].id}"
            if len(runs) == 1
            else _runs(len(runs))
        )
        if not self._confirm(
            "Delete runs",
            f"Delete {what}? Their nodes, inputs, outputs and errors are removed from the "
            "history. This cannot be undone.",
        ):
            return
        ids = [run.id for run in runs]

        def work(control: JobControl) -> list[str]:
            deleted: list[str] = []
            for start in range(0, len(ids), DELETE_CHUNK):
                chunk = ids[start : start + DELETE_CHUNK]
                writes.delete_runs(chunk)
                deleted += chunk
                if not control.report(len(deleted), len(ids)):
                    break
            return deleted

        self._run("Deleting runs", work, self._after_delete_ids, total=len(ids))

    def ask_delete_matching(self) -> None:
        where = self._pane.current_filter()
        if where == RunFilter():
            self.ask_clear_all()
            return
        self._count_then(where, self._confirm_delete_matching)

    def _confirm_delete_matching(self, where: RunFilter, count: int) -> None:
        if count == 0:
            QMessageBox.information(self._window, "Delete runs", "No runs match the filter.")
            return
        if self._confirm(
            "Delete matching runs",
            f"Delete the {_runs(count)} matching the current filter? This cannot be undone.",
        ):
            self._delete_where("Deleting matching runs", where, count)

    def ask_clear_all(self) -> None:
        self._count_then(RunFilter(), self._confirm_clear_all)

    def _confirm_clear_all(self, where: RunFilter, count: int) -> None:
        if count == 0:
            QMessageBox.information(self._window, "Clear everything", "The history is empty.")
            return
        if self._confirm(
            "Clear everything",
            f"Delete all {_runs(count)} in the history? This cannot be undone.",
        ):
            self._delete_where("Clearing the history", where, count)

    def choose_workflow(self) -> None:
        self._runner.submit(queries.list_workflows, self._ask_workflow, self._query_failed)

    def _ask_workflow(self, workflows: list[WorkflowSummary]) -> None:
        if not workflows:
            QMessageBox.information(self._window, "Clear workflow history", "The history is empty.")
            return
        labels = [f"{w.label} ({w.workflow_id}) — {_runs(w.run_count)}" for w in workflows]
        current = self._pane.current_run()
        preselect = 0
        if current is not None:
            preselect = next(
                (i for i, w in enumerate(workflows) if w.workflow_id == current.workflow_id), 0
            )
        label, ok = QInputDialog.getItem(
            self._window,
            "Clear workflow history",
            "Delete every run of this workflow:",
            labels,
            preselect,
            False,
        )
        if ok:
            self.confirm_clear_workflow(workflows[labels.index(label)])

    def clear_workflow_of(self, run: RunSummary) -> None:
        self._runner.submit(
            queries.list_workflows,
            lambda workflows: self._confirm_clear_of(run.workflow_id, workflows),
            self._query_failed,
        )

    def _confirm_clear_of(self, workflow_id: str, workflows: list[WorkflowSummary]) -> None:
        match = next((w for w in workflows if w.workflow_id == workflow_id), None)
        if match is not None:  # None: its runs were deleted meanwhile
            self.confirm_clear_workflow(match)

    def confirm_clear_workflow(self, workflow: WorkflowSummary) -> None:
        if self._busy():
            return
        if self._confirm(
            "Clear workflow history",
            f"Delete all {_runs(workflow.run_count)} of “{workflow.label}”? This cannot be undone.",
        ):
            self._delete_where(
                f"Clearing “{workflow.label}”",
                RunFilter(workflow_id=workflow.workflow_id),
                workflow.run_count,
            )

    def _count_then(self, where: RunFilter, then: Callable[[RunFilter, int], None]) -> None:
        if self._busy():
            return
        self._runner.submit(
            lambda: queries.count_runs(where), lambda count: then(where, count), self._query_failed
        )

    def _delete_where(self, title: str, where: RunFilter, count: int) -> None:
        def work(control: JobControl) -> int:
            return writes.delete_matching(where, lambda done: control.report(done, count))

        self._run(title, work, self._after_bulk_delete, total=count)

    # -- retention -------------------------------------------------------------------
    def confirm_purge(self, plan: PurgePlan) -> None:
        if self._busy():
            return
        count = len(plan.run_ids)
        if self._confirm(
            "Apply retention rules",
            f"Delete {_runs(count)} now, as the retention rules say? This cannot be undone.",
        ):
            self.purge_ids("Applying retention rules", list(plan.run_ids))

    def purge_ids(self, title: str, ids: list[str]) -> None:
        def work(control: JobControl) -> int:
            deleted = 0
            for start in range(0, len(ids), DELETE_CHUNK):
                deleted += writes.delete_runs(ids[start : start + DELETE_CHUNK])
                if not control.report(deleted, len(ids)):
                    return deleted
            retention.reclaim_space()  # give the freed pages back to the file system
            return deleted

        self._run(title, work, self._after_bulk_delete, total=len(ids))

    def apply_retention(self, policy: RetentionPolicy) -> None:
        """Automatic retention (the user opted in): no question, but progress and cancel."""
        if self.jobs.busy or not policy.rules:
            return
        now = int(time.time() * 1000)

        def work(control: JobControl) -> int:
            ids = retention.runs_to_purge(policy, now)
            deleted = 0
            for start in range(0, len(ids), DELETE_CHUNK):
                deleted += writes.delete_runs(ids[start : start + DELETE_CHUNK])
                if not control.report(deleted, len(ids)):
                    return deleted
            if deleted:
                retention.reclaim_space()
            return deleted

        self._run("Applying retention rules", work, self._after_bulk_delete)

    def _after_delete_ids(self, deleted: list[str]) -> None:
        self.message.emit(f"Deleted {_runs(len(deleted))}.")
        self.changed.emit(deleted)

    def _after_bulk_delete(self, deleted: int) -> None:
        self.message.emit(f"Deleted {_runs(deleted)}.")
        self.changed.emit(None)

    # -- export / import -------------------------------------------------------------
    def ask_export_selected(self) -> None:
        runs = self._pane.selected_runs()
        if not runs:
            self.ask_export_filtered()
            return
        self._export([run.id for run in runs], self._pane.current_filter(), _runs(len(runs)))

    def ask_export_filtered(self) -> None:
        where = self._pane.current_filter()
        count = self._pane.matches
        what = "every run" if where == RunFilter() else "the runs matching the filter"
        if count is not None:
            what += f" ({_runs(count)})"
        self._export(None, where, what)

    def _export(self, run_ids: list[str] | None, where: RunFilter, what: str) -> None:
        if self._busy():
            return
        path_text, chosen = QFileDialog.getSaveFileName(
            self._window, f"Export {what}", "hindsight-runs.json", ";;".join(EXPORT_FORMATS)
        )
        if not path_text:
            return
        kind, suffix = EXPORT_FORMATS.get(chosen, ("json", ".json"))
        path = Path(path_text)
        if not path.suffix:
            path = path.with_suffix(suffix)
        self.export_to(path, kind, run_ids, where)

    def export_to(self, path: Path, kind: str, run_ids: list[str] | None, where: RunFilter) -> None:
        total = len(run_ids) if run_ids is not None else self._pane.matches
        self._run(
            f"Exporting to {path.name}",
            lambda control: write_export(path, kind, run_ids, where, control),
            lambda count: self.message.emit(f"Exported {_runs(count)} to {path}."),
            total=total,
        )

    def ask_import(self) -> None:
        if self._busy():
            return
        names, _chosen = QFileDialog.getOpenFileNames(
            self._window, "Import runs", "", "JSON reports (*.json);;All files (*)"
        )
        if names:
            self.import_files([Path(name) for name in names])

    def import_files(self, paths: list[Path]) -> None:
        if self._busy():
            return
        self._run(
            "Importing " + (paths[0].name if len(paths) == 1 else f"{len(paths)} files"),
            lambda control: import_paths(paths, control),
            self._after_import,
        )

    def _after_import(self, stored: int) -> None:
        self.message.emit(f"Imported {_runs(stored)}.")
        self.changed.emit(None)

    # -- running ---------------------------------------------------------------------
    def _run(
        self,
        title: str,
        work: Callable[[JobControl], Any],
        on_done: Callable[[Any], None],
        total: int | None = None,
    ) -> None:
        job = self.jobs.start(title, work)
        self._progress.watch(job, total)
        for action in self._changing:
            action.setEnabled(False)
        job.finished.connect(on_done)
        job.failed.connect(lambda message: self._failed(title, message))
        job.cancelled.connect(lambda: self._cancelled(title))
        for signal in (job.finished, job.failed, job.cancelled):
            signal.connect(self._enable_actions)

    def _enable_actions(self, *_args: object) -> None:
        for action in self._changing:
            action.setEnabled(True)

    def _cancelled(self, title: str) -> None:
        self.message.emit(f"{title}: cancelled. What was done before stays done.")
        self.changed.emit(None)

    def _failed(self, title: str, message: str) -> None:
        self.last_error = message
        self.changed.emit(None)
        QMessageBox.warning(
            self._window,
            title,
            f"{title} did not complete:\n\n{message}\n\nNothing already stored was lost. "
            "Fix the problem above and try again.",
        )

    def _query_failed(self, message: str) -> None:
        self.last_error = message
        self.message.emit(f"Could not read the history: {message}")
