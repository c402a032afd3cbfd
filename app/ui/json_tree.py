"""A JSON payload as a searchable, lazy tree, with copy, expand-all, raw text and save.

The tree never holds more rows than the user opened, every text it shows is plain and
clipped, and the slow parts (formatting raw text, searching, writing a file) run through a
`Runner` so a 10 MB payload never stalls the window.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QStackedWidget,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.sizes import byte_size
from app.ui.json_model import VALUE_ROLE, JsonTreeModel, Path, copy_text, find_paths
from app.ui.json_payload import (
    ABSENT,
    PayloadState,
    PreparedJson,
    prepare_json,
    raw_text,
)
from app.ui.runner import Runner, alive, run_now

EXPAND_ALL_LIMIT = 5_000  # rows; "Expand all" on a huge payload stops here
AUTO_EXPAND_ROWS = 10  # small payloads open one level deep
SEARCH_DELAY_MS = 250


def _label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _button(text: str, tip: str) -> QToolButton:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    return button


class JsonTree(QWidget):
    saved = Signal(str)  # path written by "Save as…"
    searched = Signal(int)  # number of matches of the latest search

    def __init__(
        self, runner: Runner = run_now, save_name: str = "payload", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._run = runner
        self._save_name = save_name
        self._prepared: PreparedJson = ABSENT
        self._generation = 0  # answers for an older payload are dropped
        self._matches: list[Path] = []
        self._match_at = -1
        self._searched_for = ""
        self._raw_loaded = False

        self.model = JsonTreeModel(self)
        self.view = QTreeView()
        self.view.setModel(self.model)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.header().setStretchLastSection(True)
        self.view.setColumnWidth(0, 180)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._show_menu)
        copy = QShortcut(QKeySequence(QKeySequence.StandardKey.Copy), self.view)
        copy.setContext(Qt.ShortcutContext.WidgetShortcut)
        copy.activated.connect(self.copy_value)

        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        self.raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.raw.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.note = _label()
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setStyleSheet("color: #757575;")
        self.pages = QStackedWidget()
        for page in (self.view, self.raw, self.note):
            self.pages.addWidget(page)

        self.search_field = QLineEdit()
        self.search_field.setPlaceholderText("Search keys and values")
        self.search_field.setClearButtonEnabled(True)
        self.search_field.returnPressed.connect(self._search_or_next)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(lambda: self.search(self.search_field.text()))
        self.search_field.textChanged.connect(lambda _text: self._search_timer.start())
        self.match_label = _label()
        self.match_label.setStyleSheet("color: #757575;")
        self.size_badge = _label()
        self.size_badge.setStyleSheet(
            "background: #fff3e0; color: #e65100; border-radius: 3px; padding: 1px 6px;"
        )
        self.size_badge.hide()
        self.expand_button = _button("Expand all", "Open every row (stops after 5,000 rows)")
        self.expand_button.clicked.connect(self.expand_all)
        self.copy_button = _button("Copy", "Copy the selected value (Ctrl+C) or its path")
        copy_menu = QMenu(self.copy_button)
        copy_menu.addAction("Copy value", self.copy_value)
        copy_menu.addAction("Copy path", self.copy_path)
        self.copy_button.setMenu(copy_menu)
        self.copy_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.copy_button.clicked.connect(self.copy_value)
        self.raw_button = _button("Raw", "Show the payload as JSON text")
        self.raw_button.setCheckable(True)
        self.raw_button.toggled.connect(self.set_raw)
        self.save_button = _button("Save as…", "Write the whole payload to a JSON file")
        self.save_button.clicked.connect(self.save_as)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(2)
        bar.addWidget(self.search_field, 1)
        bar.addWidget(self.match_label)
        bar.addWidget(self.size_badge)
        for button in (self.expand_button, self.copy_button, self.raw_button, self.save_button):
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.pages, 1)
        self.clear()

    # -- content ----------------------------------------------------------------------
    @property
    def prepared(self) -> PreparedJson:
        return self._prepared

    def clear(self, note: str = "") -> None:
        self.set_prepared(ABSENT, absent_label=note)

    def set_json_text(self, text: str | None, absent_label: str = "(not reported)") -> None:
        """Decode on the calling thread: for small payloads and tests. The panes prepare
        payloads on a worker and call `set_prepared`."""
        self.set_prepared(prepare_json(text), absent_label)

    def set_value(self, value: Any) -> None:
        self.set_prepared(PreparedJson(PayloadState.OK, value=value, text=None))

    def set_prepared(self, prepared: PreparedJson, absent_label: str = "(not reported)") -> None:
        self._generation += 1
        self._prepared = prepared
        self._matches, self._match_at, self._searched_for = [], -1, ""
        self._raw_loaded = False
        self.raw.clear()
        self.match_label.setText("")
        usable = prepared.state is PayloadState.OK
        for widget in (self.search_field, self.expand_button, self.copy_button, self.raw_button):
            widget.setEnabled(usable)
        self.save_button.setEnabled(prepared.text is not None)
        if prepared.is_big:
            self.size_badge.setText(f"{byte_size(prepared.size)} · preview")
            self.size_badge.setToolTip(
                "A large payload: rows and text are shown clipped. Use Save as… to get all of it."
            )
            self.size_badge.show()
        else:
            self.size_badge.hide()
        if prepared.state is PayloadState.OK:
            self.model.set_value(prepared.value)
            self.model.fetchMore(QModelIndex())
            if self.model.rowCount() <= AUTO_EXPAND_ROWS:
                for index in self.model.iter_loaded():
                    self.view.expand(index)
            self.pages.setCurrentWidget(self.raw if self.raw_button.isChecked() else self.view)
            if self.raw_button.isChecked():
                self._load_raw()
        else:
            self.model.clear()
            self.note.setText(
                absent_label
                if prepared.state is PayloadState.ABSENT
                else "(stored payload is not valid JSON; Save as… to see it)"
            )
            self.pages.setCurrentWidget(self.note)

    # -- raw text ---------------------------------------------------------------------
    def set_raw(self, raw: bool) -> None:
        if self.raw_button.isChecked() != raw:
            self.raw_button.setChecked(raw)  # re-enters through toggled
            return
        if self._prepared.state is not PayloadState.OK:
            return
        self.pages.setCurrentWidget(self.raw if raw else self.view)
        if raw:
            self._load_raw()

    def _load_raw(self) -> None:
        if self._raw_loaded:
            return
        self._raw_loaded = True
        self.raw.setPlainText("Formatting…")
        generation, prepared = self._generation, self._prepared
        self._run(
            lambda: raw_text(prepared),
            lambda result: self._on_raw(generation, result),
            self._on_worker_error,
        )

    def _on_raw(self, generation: int, result: tuple[str, bool]) -> None:
        if not alive(self) or generation != self._generation:
            return
        text, cut = result
        if cut:
            text = (
                f"// Preview: lines and length are clipped. The payload is "
                f"{byte_size(self._prepared.size)}; use Save as… for all of it.\n" + text
            )
        self.raw.setPlainText(text)

    # -- search -----------------------------------------------------------------------
    def search(self, text: str) -> None:
        """Find rows whose key or value contains `text`; the first match is selected."""
        self._search_timer.stop()
        if self.search_field.text() != text:
            self.search_field.blockSignals(True)
            self.search_field.setText(text)
            self.search_field.blockSignals(False)
        self._searched_for = text
        if not text or self._prepared.state is not PayloadState.OK:
            self._matches, self._match_at = [], -1
            self.match_label.setText("")
            return
        self.match_label.setText("searching…")
        generation, value = self._generation, self._prepared.value
        self._run(
            lambda: find_paths(value, text),
            lambda found: self._on_found(generation, text, found),
            self._on_worker_error,
        )

    def _on_found(self, generation: int, text: str, found: list[Path]) -> None:
        if not alive(self) or generation != self._generation or text != self._searched_for:
            return
        self._matches, self._match_at = found, -1
        if not found:
            self.match_label.setText("no match")
        else:
            self.next_match()
        self.searched.emit(len(found))

    def _search_or_next(self) -> None:
        if self.search_field.text() != self._searched_for:
            self.search(self.search_field.text())
        else:
            self.next_match()

    def next_match(self) -> None:
        if not self._matches:
            return
        self._match_at = (self._match_at + 1) % len(self._matches)
        index = self.model.index_for_path(self._matches[self._match_at])
        if index.isValid():
            self.set_raw(False)
            parent = index.parent()
            while parent.isValid():
                self.view.expand(parent)
                parent = parent.parent()
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)
        more = "+" if len(self._matches) >= 1_000 else ""
        self.match_label.setText(f"{self._match_at + 1} of {len(self._matches):,}{more}")

    # -- expand, copy, save --------------------------------------------------------------
    def expand_all(self) -> int:
        """Open rows breadth first until EXPAND_ALL_LIMIT rows are loaded; returns rows shown."""
        queue = list(self.model.iter_loaded())
        shown = len(queue)
        while queue and shown < EXPAND_ALL_LIMIT:
            index = queue.pop(0)
            if not self.model.hasChildren(index):
                continue
            self.view.expand(index)
            if self.model.canFetchMore(index):
                self.model.fetchMore(index)
            children = list(self.model.iter_loaded(index))
            shown += len(children)
            queue.extend(children)
        if shown >= EXPAND_ALL_LIMIT:
            self.match_label.setText(f"opened the first {EXPAND_ALL_LIMIT:,} rows")
        return shown

    def current_value_index(self) -> QModelIndex:
        return self.view.currentIndex().siblingAtColumn(0)

    def copy_value(self) -> None:
        index = self.current_value_index()
        if index.isValid():
            QGuiApplication.clipboard().setText(copy_text(index.data(VALUE_ROLE)))

    def copy_path(self) -> None:
        index = self.current_value_index()
        if index.isValid():
            QGuiApplication.clipboard().setText(self.model.path_text(index))

    def _show_menu(self, position: QPoint) -> None:
        menu = QMenu(self)
        menu.addAction("Copy value", self.copy_value)
        menu.addAction("Copy path", self.copy_path)
        menu.addSeparator()
        menu.addAction("Expand all", self.expand_all)
        menu.exec(self.view.viewport().mapToGlobal(position))

    def save_as(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save payload", f"{self._save_name}.json", "JSON (*.json);;All files (*)"
        )
        if path:
            self.save_to(path)

    def save_to(self, path: str) -> None:
        """Write the stored JSON text, unchanged, on a worker; `saved` says when it is done."""
        text = self._prepared.text
        if text is None and self._prepared.state is PayloadState.OK:
            text = copy_text(self._prepared.value)
        if text is None:
            return
        data = text
        self._run(
            lambda: FilePath(path).write_text(data, encoding="utf-8"),
            lambda _written: self.saved.emit(path) if alive(self) else None,
            self._on_save_error,
        )

    def _on_save_error(self, message: str) -> None:
        if alive(self):
            QMessageBox.warning(
                self,
                "Not saved",
                f"The payload could not be written: {message}\n\n"
                "Choose a folder you can write to and try again.",
            )

    def _on_worker_error(self, message: str) -> None:
        if alive(self):
            self.match_label.setText(f"failed: {message}")
