"""A JSON value as an expandable tree, built lazily: children exist once a node is opened.

Lazy building keeps a large payload from freezing the window: only what the user opens is
turned into items. Item text is always plain text, never interpreted as HTML.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

VALUE_ROLE = Qt.ItemDataRole.UserRole + 1
_POPULATED_ROLE = Qt.ItemDataRole.UserRole + 2
MAX_CHILDREN = 500  # per expansion; the rest is summarised in one row
MAX_SHOWN_CHARS = 300

_MUTED = QBrush(QColor("#757575"))


def summarise(value: Any) -> str:
    """One-line text for a value: containers by size, strings quoted and clipped."""
    if isinstance(value, dict):
        return f"{{…}} {len(value)} key" + ("" if len(value) == 1 else "s")
    if isinstance(value, list):
        return f"[…] {len(value)} item" + ("" if len(value) == 1 else "s")
    text = json.dumps(value, ensure_ascii=False)
    if len(text) > MAX_SHOWN_CHARS:
        text = text[:MAX_SHOWN_CHARS] + f"… ({len(text):,} chars)"
    return text.replace("\n", "⏎")


class JsonTree(QTreeWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(2)
        self.setHeaderLabels(["Key", "Value"])
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.header().setStretchLastSection(True)
        self.setColumnWidth(0, 180)
        self.itemExpanded.connect(self._populate)

    def set_json_text(self, text: str | None, absent_label: str = "(not reported)") -> None:
        """Show a stored payload; None means the report did not include it."""
        self.clear()
        if text is None:
            self._add_note(absent_label)
            return
        try:
            value = json.loads(text)
        except ValueError:
            self._add_note("(stored payload is not valid JSON)")
            return
        self.set_value(value)

    def set_value(self, value: Any) -> None:
        self.clear()
        if isinstance(value, dict | list):
            self._add_children(self.invisibleRootItem(), value)
            if self.topLevelItemCount() <= 10:  # small payloads open one level deep
                for row in range(self.topLevelItemCount()):
                    item = self.topLevelItem(row)
                    if item is not None:
                        item.setExpanded(True)
        else:
            self._add_item(self.invisibleRootItem(), "(value)", value)

    def _add_note(self, text: str) -> None:
        item = QTreeWidgetItem([text, ""])
        item.setForeground(0, _MUTED)
        self.addTopLevelItem(item)

    def _add_item(self, parent: QTreeWidgetItem, key: str, value: Any) -> QTreeWidgetItem:
        item = QTreeWidgetItem(parent, [key, summarise(value)])
        item.setData(0, VALUE_ROLE, value)
        if isinstance(value, dict | list) and value:
            item.setChildIndicatorPolicy(QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
        if isinstance(value, dict | list):
            item.setForeground(1, _MUTED)
        return item

    def _add_children(self, parent: QTreeWidgetItem, value: dict | list) -> None:
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for shown, (key, child) in enumerate(pairs):
            if shown == MAX_CHILDREN:
                rest = len(value) - MAX_CHILDREN
                note = QTreeWidgetItem(parent, [f"… {rest:,} more", ""])
                note.setForeground(0, _MUTED)
                break
            self._add_item(parent, str(key) if isinstance(value, dict) else f"[{key}]", child)

    def _populate(self, item: QTreeWidgetItem) -> None:
        if item.data(0, _POPULATED_ROLE):
            return
        item.setData(0, _POPULATED_ROLE, True)
        value = item.data(0, VALUE_ROLE)
        if isinstance(value, dict | list):
            self._add_children(item, value)
