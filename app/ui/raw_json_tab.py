"""The whole run as the JSON report it came from (posting it back reproduces the run)."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.sizes import byte_size
from app.store.export import run_to_report
from app.store.records import RunDetail
from app.ui.json_payload import PayloadState, PreparedJson
from app.ui.json_tree import JsonTree
from app.ui.run_tab import RunTab
from app.ui.runner import Runner, run_now


def report_json(detail: RunDetail) -> PreparedJson:
    """Runs on a worker: the report shape, as text and as the decoded value."""
    report = run_to_report(detail)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    return PreparedJson(PayloadState.OK, text=text, value=report, size=len(text.encode()))


class RawJsonTab(RunTab):
    def __init__(self, runner: Runner = run_now, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setStyleSheet("color: #757575;")
        self.tree = JsonTree(runner, save_name="run")
        self.tree.set_raw(True)  # the text is what this tab is for; the tree is one click away
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.tree, 1)

    def read(self, detail: RunDetail) -> PreparedJson:
        return report_json(detail)

    def show_loading(self) -> None:
        self.status.setText("building the report…")
        self.tree.clear("loading…")

    def show_empty(self) -> None:
        self.status.setText("")
        self.tree.clear()

    def show_failure(self, message: str) -> None:
        self.status.setText(f"could not build the report: {message}")

    def show_result(self, result: object) -> None:
        prepared: PreparedJson = result  # type: ignore[assignment]
        self.status.setText(
            f"The run in the report shape ({byte_size(prepared.size)}); "
            "POST it to /api/executions or import it to reproduce the run."
        )
        self.tree.set_prepared(prepared)
