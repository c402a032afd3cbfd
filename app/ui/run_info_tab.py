"""How a run was started: its trigger and parameters, plus its output, metadata and tags."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGroupBox, QLabel, QSplitter, QVBoxLayout, QWidget

from app.store.records import RunDetail
from app.ui.json_payload import PreparedJson, prepare_json
from app.ui.json_tree import JsonTree
from app.ui.plain_text import one_line
from app.ui.run_tab import RunTab
from app.ui.runner import Runner, run_now

Prepared = tuple[PreparedJson, PreparedJson, PreparedJson, PreparedJson]


def facts(detail: RunDetail) -> str:
    """One line of the run's scalar facts, plain."""
    parts = [f"trigger: {one_line(detail.trigger_type, 60) or 'not reported'}"]
    if detail.workflow_version:
        parts.append(f"version: {one_line(detail.workflow_version, 60)}")
    if detail.user_id:
        parts.append(f"user: {one_line(detail.user_id, 60)}")
    if detail.exit_code is not None:
        parts.append(f"exit code: {detail.exit_code}")
    if detail.tags:
        tags = ", ".join(f"{one_line(k, 40)}={one_line(v, 60)}" for k, v in detail.tags)
        parts.append(f"tags: {tags}")
    return "  ·  ".join(parts)


def _boxed(title: str, widget: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.setContentsMargins(4, 4, 4, 4)
    layout.addWidget(widget)
    return box


class RunInfoTab(RunTab):
    def __init__(self, runner: Runner = run_now, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self.facts = QLabel()
        self.facts.setTextFormat(Qt.TextFormat.PlainText)
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.trigger_tree = JsonTree(runner, save_name="trigger")
        self.params_tree = JsonTree(runner, save_name="params")
        self.output_tree = JsonTree(runner, save_name="run-output")
        self.metadata_tree = JsonTree(runner, save_name="metadata")
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(_boxed("Trigger data", self.trigger_tree))
        top.addWidget(_boxed("Params", self.params_tree))
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(_boxed("Run output", self.output_tree))
        bottom.addWidget(_boxed("Metadata", self.metadata_tree))
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        layout = QVBoxLayout(self)
        layout.addWidget(self.facts)
        layout.addWidget(split, 1)

    def read(self, detail: RunDetail) -> Prepared:
        return (
            prepare_json(detail.trigger_json),
            prepare_json(detail.params_json),
            prepare_json(detail.output_json),
            prepare_json(detail.metadata_json),
        )

    def show_loading(self) -> None:
        if self.detail is not None:
            self.facts.setText(facts(self.detail))
        for tree in self._trees():
            tree.clear("loading…")

    def show_empty(self) -> None:
        self.facts.setText("")
        for tree in self._trees():
            tree.clear()

    def show_failure(self, message: str) -> None:
        self.facts.setText(f"could not read the run: {message}")

    def show_result(self, result: object) -> None:
        prepared: Prepared = result  # type: ignore[assignment]
        for tree, payload in zip(self._trees(), prepared, strict=True):
            tree.set_prepared(payload)

    def _trees(self) -> tuple[JsonTree, JsonTree, JsonTree, JsonTree]:
        return (self.trigger_tree, self.params_tree, self.output_tree, self.metadata_tree)
