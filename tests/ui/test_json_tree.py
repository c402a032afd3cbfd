"""The JSON tree: lazy rows, search, copy value/path, expand all, raw text, big payloads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QGuiApplication

from app.ui.background import BackgroundQueries
from app.ui.json_model import FETCH_CHUNK, JsonTreeModel, find_paths, json_path
from app.ui.json_payload import BIG_PAYLOAD_BYTES, prepare_json
from app.ui.json_tree import EXPAND_ALL_LIMIT, JsonTree

PAYLOAD = {
    "customer": {"name": "Ada", "tags": ["vip", "eu"]},
    "odd key": [1, 2.5, None, True],
    "note": "<b>x</b>",
}


def _texts(model: JsonTreeModel, parent: QModelIndex = QModelIndex()) -> list[tuple[str, str]]:  # noqa: B008
    return [
        (model.index(r, 0, parent).data(), model.index(r, 1, parent).data())
        for r in range(model.rowCount(parent))
    ]


def test_model_passes_qtmodeltester_and_opens_small_payloads(
    qtbot: Any, qtmodeltester: Any
) -> None:
    tree = JsonTree()
    qtbot.addWidget(tree)
    tree.set_json_text(json.dumps(PAYLOAD))
    qtmodeltester.check(tree.model, force_py=True)
    assert _texts(tree.model) == [
        ("customer", "{…} 2 keys"),
        ("odd key", "[…] 4 items"),
        ("note", '"<b>x</b>"'),
    ]
    customer = tree.model.index(0, 0)
    assert tree.view.isExpanded(customer)  # small payloads open one level
    assert _texts(tree.model, customer) == [("name", '"Ada"'), ("tags", "[…] 2 items")]


def test_big_containers_load_a_chunk_at_a_time(qtbot: Any, qtmodeltester: Any) -> None:
    tree = JsonTree()
    qtbot.addWidget(tree)
    tree.set_value({f"k{i}": i for i in range(FETCH_CHUNK * 3 + 7)})
    assert tree.model.rowCount() == FETCH_CHUNK
    assert tree.model.canFetchMore(QModelIndex())
    index = tree.model.index_for_path(("k1200",))
    assert index.data() == "k1200"
    assert tree.model.rowCount() == 1201
    assert not tree.model.index_for_path(("k9999",)).isValid()
    qtmodeltester.check(tree.model, force_py=True)


def test_scalar_payload_is_one_row_with_root_path(qtbot: Any, qtmodeltester: Any) -> None:
    tree = JsonTree()
    qtbot.addWidget(tree)
    tree.set_json_text('"just text"')
    qtmodeltester.check(tree.model, force_py=True)
    assert _texts(tree.model) == [("(value)", '"just text"')]
    assert tree.model.path_text(tree.model.index(0, 0)) == "$"


def test_json_paths_quote_what_is_not_an_identifier() -> None:
    assert json_path(("customer", "tags", 1)) == "$.customer.tags[1]"
    assert json_path(("odd key", 0)) == '$["odd key"][0]'
    assert find_paths(PAYLOAD, "EU") == [("customer", "tags", 1)]
    assert find_paths(PAYLOAD, "key") == [("odd key",)]
    assert find_paths(PAYLOAD, "2.5") == [("odd key", 1)]


def test_search_selects_matches_in_turn_and_copy_path_and_value(qtbot: Any) -> None:
    tree = JsonTree()
    qtbot.addWidget(tree)
    tree.set_value({"a": {"deep": {"x": "needle one"}}, "b": ["hay", "NEEDLE two"]})
    with qtbot.waitSignal(tree.searched) as found:
        tree.search("needle")
    assert found.args == [2]
    assert tree.match_label.text() == "1 of 2"
    current = tree.current_value_index()
    assert tree.model.path_text(current) == "$.a.deep.x"
    assert tree.view.isExpanded(current.parent())
    tree.copy_path()
    assert QGuiApplication.clipboard().text() == "$.a.deep.x"
    tree.copy_value()
    assert QGuiApplication.clipboard().text() == "needle one"
    tree.next_match()
    assert tree.match_label.text() == "2 of 2"
    assert tree.model.path_text(tree.current_value_index()) == "$.b[1]"
    tree.search("absent")
    assert tree.match_label.text() == "no match"


def test_copy_value_of_a_container_is_json(qtbot: Any) -> None:
    tree = JsonTree()
    qtbot.addWidget(tree)
    tree.set_value(PAYLOAD)
    tree.view.setCurrentIndex(tree.model.index(0, 1))
    tree.copy_value()
    assert json.loads(QGuiApplication.clipboard().text()) == PAYLOAD["customer"]


def test_expand_all_stops_at_the_limit(qtbot: Any) -> None:
    tree = JsonTree()
    qtbot.addWidget(tree)
    tree.set_value({"small": {"a": {"b": [1, 2]}}})
    assert tree.expand_all() == 5
    leaf_parent = tree.model.index_for_path(("small", "a", "b"))
    assert tree.view.isExpanded(leaf_parent)
    tree.set_value([{"n": list(range(50))} for _ in range(400)])
    shown = tree.expand_all()
    assert EXPAND_ALL_LIMIT <= shown < EXPAND_ALL_LIMIT + 600
    assert "opened the first 5,000 rows" in tree.match_label.text()


def test_raw_toggle_shows_formatted_text(qtbot: Any) -> None:
    tree = JsonTree()
    qtbot.addWidget(tree)
    tree.set_value(PAYLOAD)
    tree.raw_button.click()
    assert tree.pages.currentWidget() is tree.raw
    assert json.loads(tree.raw.toPlainText()) == PAYLOAD
    tree.raw_button.click()
    assert tree.pages.currentWidget() is tree.view


def test_absent_and_invalid_payloads_say_so(qtbot: Any) -> None:
    tree = JsonTree()
    qtbot.addWidget(tree)
    tree.set_json_text(None)
    assert tree.pages.currentWidget() is tree.note
    assert tree.note.text() == "(not reported)"
    assert not tree.search_field.isEnabled()
    tree.set_json_text("{not json")
    assert "not valid JSON" in tree.note.text()
    assert tree.save_button.isEnabled()


def test_big_payload_shows_badge_preview_and_saves_everything(
    qtbot: Any, tmp_path: Path, database: Path
) -> None:
    runner = BackgroundQueries()
    tree = JsonTree(runner.submit)
    qtbot.addWidget(tree)
    big = {"blob": "x" * (BIG_PAYLOAD_BYTES * 4), "lines": ["line"] * 100_000}
    text = json.dumps(big)
    tree.set_prepared(prepare_json(text))
    assert not tree.size_badge.isHidden()
    assert tree.size_badge.text() == "2.8 MB · preview"
    blob = tree.model.index(0, 1).data()
    assert blob.endswith(f'…" ({BIG_PAYLOAD_BYTES * 4:,} chars)') and len(blob) < 400
    tree.set_raw(True)
    qtbot.waitUntil(lambda: tree.raw.toPlainText().startswith("// Preview"))
    assert len(tree.raw.toPlainText()) < 300_000
    target = tmp_path / "saved.json"
    with qtbot.waitSignal(tree.saved) as saved:
        tree.save_to(str(target))
    assert saved.args == [str(target)]
    assert target.read_text(encoding="utf-8") == text
    runner.wait_for_done()
