from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from app.store import writes
from app.store.compare import (
    MAX_DIFF_CHARS,
    align,
    changed_paths,
    compare_runs,
    compare_with_last_success,
    json_diff,
    last_success_before,
)
from app.store.records import LlmRecord
from app.store.status import Status
from tests.store.history_seed import T0, node, run


@dataclass(frozen=True)
class N:
    node_id: str
    attempt: int = 1


def _keys(pairs: list[tuple[N | None, N | None]]) -> list[tuple[str | None, str | None]]:
    return [(a.node_id if a else None, b.node_id if b else None) for a, b in pairs]


def test_align_pairs_by_node_and_attempt_in_execution_order() -> None:
    left = [N("fetch"), N("parse"), N("parse", 2), N("store")]
    right = [N("fetch"), N("clean"), N("parse"), N("store"), N("notify")]
    pairs = align(left, right)
    assert _keys(pairs) == [
        ("fetch", "fetch"),
        (None, "clean"),  # B inserted it between fetch and parse
        ("parse", "parse"),
        ("parse", None),  # the retry only A needed
        ("store", "store"),
        (None, "notify"),
    ]
    assert [(a.attempt if a else None) for a, _ in pairs][3] == 2
    assert align([], []) == [] and _keys(align([], [N("x")])) == [(None, "x")]


def test_align_keeps_every_node_when_b_reorders() -> None:
    pairs = align([N("a"), N("b"), N("c")], [N("c"), N("b"), N("a")])
    assert sorted(_keys(pairs)) == [("a", "a"), ("b", "b"), ("c", "c")]


def test_json_diff_compares_values_not_spelling() -> None:
    assert json_diff('{"a": 1, "b": [1, 2]}', '{"b":[1,2],"a":1}').equal
    assert json_diff(None, None).equal
    assert not json_diff("null", None).equal  # JSON null is not "not recorded"
    assert not json_diff("1", "1.0").equal and not json_diff("true", "1").equal
    diff = json_diff('{"total": "19.99", "lines": [1, 2, 3]}', '{"total": 20, "lines": [1, 2]}')
    assert not diff.equal
    assert diff.paths == ("$.lines[2]", "$.total")
    assert '-  "total": "19.99"' in diff.text and '+  "total": 20' in diff.text
    assert diff.text.startswith("--- run A\n+++ run B")


def test_json_diff_of_a_huge_payload_lists_paths_only() -> None:
    big = '{"blob": "%s", "n": 1}' % ("x" * (MAX_DIFF_CHARS + 10))
    diff = json_diff(big, big.replace('"n": 1', '"n": 2'))
    assert diff.paths == ("$.n",) and diff.text.startswith("Too large for a line diff")


def test_changed_paths() -> None:
    assert changed_paths({"a": {"b": 1, "weird key": 2}}, {"a": {"b": 2}}) == [
        "$.a.b",
        '$.a["weird key"]',
    ]
    assert changed_paths([1, {"x": None}], [1, {"x": False}]) == ["$[1].x"]
    assert changed_paths(list(range(100)), [], limit=3) == ["$[0]", "$[1]", "$[2]"]


@pytest.fixture
def two_runs(database: Path) -> None:
    writes.replace_runs(
        [
            run(
                "good",
                T0,
                300,
                nodes=(
                    node("fetch", duration=100, input_={"id": 1}, output={"rows": 3}),
                    node("parse", duration=50, input_={"rows": 3}, output={"total": 10}),
                    node("llm", duration=100, llm=LlmRecord(model="m", total_tokens=100)),
                ),
            ),
            run(
                "bad",
                T0 + 1000,
                900,
                Status.ERROR,
                nodes=(
                    node("fetch", duration=400, input_={"id": 1}, output={"rows": 3}),
                    node("parse", duration=60, input_={"rows": 3}, output={"total": 11}),
                    node("llm", Status.ERROR, 20, error="boom", llm=LlmRecord(total_tokens=40)),
                    node("llm", duration=30, attempt=2),
                ),
            ),
        ]
    )


def test_compare_runs_aligns_deltas_and_first_divergence(two_runs: None) -> None:
    comparison = compare_runs("good", "bad")
    assert [(p.node_id, p.attempt) for p in comparison.pairs] == [
        ("fetch", 1),
        ("parse", 1),
        ("llm", 1),
        ("llm", 2),
    ]
    fetch, parse, llm, retry = comparison.pairs
    assert fetch.input.equal and fetch.output.equal and not fetch.diverges
    assert fetch.duration_delta_ms == 300
    assert parse.output.paths == ("$.total",) and parse.diverges
    assert comparison.first_divergence == 1
    assert llm.tokens_delta == -60 and llm.left is not None and llm.right is not None
    assert llm.right.status is Status.ERROR
    assert retry.left is None and retry.diverges and retry.duration_delta_ms is None
    assert comparison.duration_delta_ms == 600
    assert compare_runs("good", "good").first_divergence is None
    swapped = compare_runs("bad", "good", older_first=True)
    assert (swapped.left.id, swapped.right.id) == ("good", "bad")
    assert compare_runs("bad", "good").left.id == "bad"


def test_compare_names_a_missing_run(two_runs: None) -> None:
    with pytest.raises(LookupError, match="run gone is not in the history"):
        compare_runs("good", "gone")


def test_last_success_before(database: Path) -> None:
    writes.replace_runs(
        [
            run("s1", T0, 10),
            run("s2", T0 + 10, 10),
            run("other-wf", T0 + 15, 10, workflow="agent"),
            run("f1", T0 + 20, 10, Status.ERROR),
            run("s3", T0 + 30, 10),
        ]
    )
    assert last_success_before("f1") == "s2"
    assert last_success_before("s3") == "s2"
    assert last_success_before("s1") is None
    assert last_success_before("missing") is None
    comparison = compare_with_last_success("f1")
    assert (comparison.left.id, comparison.right.id) == ("s2", "f1")
    with pytest.raises(LookupError, match="no earlier successful run"):
        compare_with_last_success("s1")
    with pytest.raises(LookupError, match="run missing is not in the history"):
        compare_with_last_success("missing")
