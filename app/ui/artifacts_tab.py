"""A run's artifacts: the list, a preview of the selected one, and "Save as…"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QLabel,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.sizes import byte_size
from app.store import queries
from app.store.records import RunDetail, StoredArtifact
from app.ui.formatting import counted
from app.ui.json_payload import PreparedJson, prepare_json
from app.ui.json_tree import JsonTree
from app.ui.plain_text import one_line, tooltip
from app.ui.record_table import Index, RecordTableModel, record_view
from app.ui.run_tab import RunTab
from app.ui.runner import Runner, alive, run_now

ARTIFACT_ROLE = Qt.ItemDataRole.UserRole + 1
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


class ArtifactTableModel(RecordTableModel[StoredArtifact]):
    COL_KEY, COL_TYPE, COL_NODE, COL_SIZE = range(4)
    _HEADERS = ("Key", "Type", "Node", "Size")

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        artifact = self.row_at(index)
        if artifact is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                one_line(artifact.key, 120),
                one_line(artifact.type, 40),
                one_line(artifact.node_id, 60),
                byte_size(artifact.size),
            )[column]
        if role == ARTIFACT_ROLE:
            return artifact
        if role == Qt.ItemDataRole.ToolTipRole and column == self.COL_KEY:
            return tooltip(artifact.key)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == self.COL_SIZE:
            return _RIGHT
        return None

    def set_artifacts(self, artifacts: Sequence[StoredArtifact]) -> None:
        self.beginResetModel()
        self._rows = list(artifacts)
        self.endResetModel()


NO_ARTIFACTS = (
    "No artifacts were reported for this run. A workflow attaches named results (a file's "
    "summary, a table preview) with run.artifact(key, data) in the reporter, or an "
    '"artifacts" list in its report.'
)


def _read_artifact(pk: int) -> PreparedJson:
    return prepare_json(queries.get_artifact_data(pk))


class ArtifactsTab(RunTab):
    def __init__(self, runner: Runner = run_now, parent: QWidget | None = None) -> None:
        super().__init__(runner, parent)
        self._shown_pk: int | None = None
        self.model = ArtifactTableModel(self)
        self.view = record_view(self.model, ArtifactTableModel.COL_KEY, fit_to_contents=True)
        self.view.selectionModel().currentRowChanged.connect(self._on_current)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setStyleSheet("color: #757575;")
        self.status.setWordWrap(True)
        self.preview = JsonTree(runner, save_name="artifact")
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.view)
        self.split.addWidget(self.preview)
        self.split.setStretchFactor(0, 1)
        self.split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.split, 1)
        layout.addStretch()  # takes the room while the split is hidden (no artifacts)
        self.show_empty()

    def read(self, detail: RunDetail) -> list[StoredArtifact]:
        return queries.list_artifacts(detail.summary.id)

    def show_loading(self) -> None:
        self.status.setText("loading…")

    def show_empty(self) -> None:
        self.model.set_artifacts([])
        self.preview.clear("Select an artifact to preview it.")
        self.status.setText("")

    def show_failure(self, message: str) -> None:
        self.status.setText(f"could not read the artifacts: {message}")

    def show_result(self, result: object) -> None:
        artifacts: list[StoredArtifact] = result  # type: ignore[assignment]
        self.model.set_artifacts(artifacts)
        self._shown_pk = None
        self.split.setVisible(bool(artifacts))
        if artifacts:
            total = sum(a.size for a in artifacts)
            count = counted(len(artifacts), "artifact")
            self.status.setText(f"{count}, {byte_size(total)}")
            self.view.selectRow(0)
        else:
            self.status.setText(NO_ARTIFACTS)
            self.preview.clear("No artifacts.")

    def _on_current(self, current: QModelIndex | QPersistentModelIndex, previous: object) -> None:
        artifact: StoredArtifact | None = current.data(ARTIFACT_ROLE) if current.isValid() else None
        if artifact is None:
            return
        self._shown_pk = artifact.pk
        self.preview.clear("loading…")
        pk = artifact.pk
        self._run(
            lambda: _read_artifact(pk),
            lambda prepared: self._on_data(pk, prepared),
            self.show_failure,
        )

    def _on_data(self, pk: int, prepared: PreparedJson) -> None:
        if alive(self) and pk == self._shown_pk:
            self.preview.set_prepared(prepared, absent_label="(artifact has no data)")
