"""A decoded JSON value as a lazy tree model: rows exist only once their parent is opened.

A dict with a million keys or a 10 MB string costs nothing until the user opens it, and
then only a chunk of rows at a time (`canFetchMore`/`fetchMore`). Display text is computed
once per row, from a clipped copy of the value, so painting never touches a huge string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from app.ui.formatting import counted
from app.ui.plain_text import LINE_CHARS, one_line, tooltip, visible

Index = QModelIndex | QPersistentModelIndex
Key = str | int
Path = tuple[Key, ...]

VALUE_ROLE = Qt.ItemDataRole.UserRole + 1  # the decoded value under a row
PATH_ROLE = Qt.ItemDataRole.UserRole + 2  # the JSONPath text of a row
FETCH_CHUNK = 500
_MUTED = QColor("#757575")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def json_path(path: Path) -> str:
    """`$.items[0]["odd key"]`: a JSONPath that jq-like tools and people both read."""
    parts = ["$"]
    for key in path:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENTIFIER.match(key):
            parts.append(f".{key}")
        else:
            parts.append(f"[{json.dumps(key, ensure_ascii=False)}]")
    return "".join(parts)


def summarise(value: Any) -> str:
    """One line for a value: containers by size, strings quoted and clipped before encoding."""
    if isinstance(value, dict):
        return "{…} " + counted(len(value), "key")
    if isinstance(value, list):
        return "[…] " + counted(len(value), "item")
    if isinstance(value, str):
        text = json.dumps(value[:LINE_CHARS], ensure_ascii=False)
        if len(value) > LINE_CHARS:
            text = f'{text[:-1]}…" ({len(value):,} chars)'
        return visible(text)
    return json.dumps(value)


def copy_text(value: Any) -> str:
    """What "Copy value" puts on the clipboard: a string as itself, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _matches(value: Any, needle: str) -> bool:
    if isinstance(value, str):
        return needle in value.casefold()
    if isinstance(value, dict | list):
        return False
    return needle in json.dumps(value).casefold()


def find_paths(value: Any, needle: str, limit: int = 1_000) -> list[Path]:
    """Paths of rows whose key or scalar value contains `needle` (case-insensitive), in
    tree order. Pure Python on plain data, so it can run on a worker thread."""
    needle = needle.casefold()
    if not needle:
        return []
    found: list[Path] = []
    stack: list[tuple[Path, Any]] = [((), value)]
    while stack and len(found) < limit:
        path, current = stack.pop()
        key = path[-1] if path else None
        if (isinstance(key, str) and needle in key.casefold()) or _matches(current, needle):
            found.append(path)
        if isinstance(current, dict):
            stack.extend(((*path, k), v) for k, v in reversed(list(current.items())))
        elif isinstance(current, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(current))))
    return found


class _Row:
    """One key/value row; its children are made on demand, a chunk at a time."""

    __slots__ = ("children", "display", "entries", "key", "parent", "row", "value")

    def __init__(self, parent: _Row | None, row: int, key: Key | None, value: Any) -> None:
        self.parent = parent
        self.row = row
        self.key = key
        self.value = value
        self.children: list[_Row] = []
        self.entries: list[tuple[Key, Any]] | None = None
        self.display: tuple[str, str] | None = None

    def total(self) -> int:
        value = self.value
        return len(value) if isinstance(value, dict | list) else 0

    def entry_list(self) -> list[tuple[Key, Any]]:
        if self.entries is None:
            value = self.value
            self.entries = (
                list(value.items()) if isinstance(value, dict) else list(enumerate(value))
            )
        return self.entries

    def path(self) -> Path:
        keys: list[Key] = []
        row: _Row | None = self
        while row is not None and row.parent is not None:
            assert row.key is not None
            keys.append(row.key)
            row = row.parent
        return tuple(reversed(keys))


class JsonTreeModel(QAbstractItemModel):
    COL_KEY, COL_VALUE = range(2)
    _HEADERS = ("Key", "Value")

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._root = _Row(None, 0, None, [])
        self._scalar = False  # a top-level scalar is shown as one "(value)" row

    # -- content ------------------------------------------------------------------------
    def set_value(self, value: Any) -> None:
        self.beginResetModel()
        self._scalar = not isinstance(value, dict | list)
        self._root = _Row(None, 0, None, [value] if self._scalar else value)
        self.endResetModel()

    def clear(self) -> None:
        self.beginResetModel()
        self._root = _Row(None, 0, None, [])
        self._scalar = False
        self.endResetModel()

    def root_value(self) -> Any:
        return self._root.value[0] if self._scalar else self._root.value

    # -- structure ------------------------------------------------------------------------
    def _row(self, index: Index) -> _Row:
        return index.internalPointer() if index.isValid() else self._root

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        owner = self._row(parent)
        if not (0 <= row < len(owner.children) and 0 <= column < 2):
            return QModelIndex()
        return self.createIndex(row, column, owner.children[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        owner = self._row(index).parent
        if owner is None or owner is self._root:
            return QModelIndex()
        return self.createIndex(owner.row, 0, owner)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.column() > 0:
            return 0
        return len(self._row(parent).children)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 2

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        if parent.column() > 0:
            return False
        return self._row(parent).total() > 0

    def canFetchMore(self, parent: Index) -> bool:
        if parent.column() > 0:
            return False
        row = self._row(parent)
        return len(row.children) < row.total()

    def fetchMore(self, parent: Index) -> None:
        self._load(parent, FETCH_CHUNK)

    def _load(self, parent: Index, count: int) -> None:
        owner = self._row(parent)
        start = len(owner.children)
        entries = owner.entry_list()
        end = min(len(entries), start + count)
        if end <= start:
            return
        self.beginInsertRows(parent, start, end - 1)
        for position in range(start, end):
            key, value = entries[position]
            if self._scalar and owner is self._root:
                key = "(value)"
            owner.children.append(_Row(owner, position, key, value))
        self.endInsertRows()

    # -- data -----------------------------------------------------------------------------
    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self._HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self._row(index)
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if row.display is None:
                key = f"[{row.key}]" if isinstance(row.key, int) else one_line(str(row.key))
                row.display = (key, summarise(row.value))
            return row.display[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == self.COL_KEY:
                return tooltip(self.path_text(index))
            if isinstance(row.value, str):
                return tooltip(row.value)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column == self.COL_VALUE:
            return _MUTED if isinstance(row.value, dict | list) else None
        if role == VALUE_ROLE:
            return row.value
        if role == PATH_ROLE:
            return self.path_text(index)
        return None

    def path_of(self, index: Index) -> Path:
        if self._scalar:
            return ()
        return self._row(index).path() if index.isValid() else ()

    def path_text(self, index: Index) -> str:
        return json_path(self.path_of(index))

    def index_for_path(self, path: Path) -> QModelIndex:
        """The index of a row, loading the rows on the way to it."""
        parent = QModelIndex()
        steps: list[Key] = [0] if self._scalar else list(path)
        for key in steps:
            owner = self._row(parent)
            position = (
                key
                if isinstance(owner.value, list)
                else next((i for i, (k, _) in enumerate(owner.entry_list()) if k == key), None)
            )
            if not isinstance(position, int) or not 0 <= position < owner.total():
                return QModelIndex()
            if position >= len(owner.children):
                self._load(parent, position + 1 - len(owner.children))
            parent = self.index(position, 0, parent)
        return parent

    def iter_loaded(self, parent: Index = QModelIndex()) -> Iterator[QModelIndex]:  # noqa: B008
        for row in range(self.rowCount(parent)):
            yield self.index(row, 0, parent)
