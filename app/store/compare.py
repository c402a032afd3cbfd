"""Two runs side by side: nodes aligned by (nodeId, attempt), what changed between them, and
the first node whose output diverged — the question "what is different this time?".

Run A is the baseline (the older run, or the last success); run B is the one under study.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from app.store import queries
from app.store.models import NodePayload, Run
from app.store.records import NodeSummary, RunSummary
from app.store.rows import tuple_rows
from app.store.status import Status

# Above this many characters of pretty-printed JSON a side gets no line diff: difflib is
# quadratic in the worst case, and nobody reads a diff of a 5 MB payload line by line.
MAX_DIFF_CHARS = 200_000
MAX_PATHS = 50
_CHUNK = 500


class _Keyed(Protocol):
    @property
    def node_id(self) -> str: ...
    @property
    def attempt(self) -> int: ...


K = TypeVar("K", bound=_Keyed)


def align(left: Sequence[K], right: Sequence[K]) -> list[tuple[K | None, K | None]]:
    """Pair the nodes of two runs by (node_id, attempt), in execution order.

    The order follows A; a node only B ran is placed just before the next node both ran
    that comes after it in B, so a node B inserted between two shared nodes shows there.
    """
    right_keys = {(n.node_id, n.attempt): i for i, n in enumerate(right)}
    left_keys = {(n.node_id, n.attempt) for n in left}
    pairs: list[tuple[K | None, K | None]] = []
    next_right = 0  # B's nodes before this index have been placed

    def place_right_only(until: int) -> None:
        nonlocal next_right
        while next_right < until:
            candidate = right[next_right]
            if (candidate.node_id, candidate.attempt) not in left_keys:
                pairs.append((None, candidate))
            next_right += 1

    for node in left:
        partner = right_keys.get((node.node_id, node.attempt))
        if partner is None:
            pairs.append((node, None))
            continue
        place_right_only(partner)
        next_right = max(next_right, partner + 1)
        pairs.append((node, right[partner]))
    place_right_only(len(right))
    return pairs


def _canonical(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def changed_paths(a: Any, b: Any, path: str = "$", limit: int = MAX_PATHS) -> list[str]:
    """JSON paths where two values differ, depth first: "$.total", "$.lines[3]"."""
    found: list[str] = []

    def walk(x: Any, y: Any, where: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(x, dict) and isinstance(y, dict):
            for key in sorted(x.keys() | y.keys()):
                child = f"{where}.{key}" if key.isidentifier() else f"{where}[{json.dumps(key)}]"
                if key not in x or key not in y:
                    found.append(child)
                else:
                    walk(x[key], y[key], child)
                if len(found) >= limit:
                    return
        elif isinstance(x, list) and isinstance(y, list):
            for i in range(max(len(x), len(y))):
                if i >= len(x) or i >= len(y):
                    found.append(f"{where}[{i}]")
                else:
                    walk(x[i], y[i], f"{where}[{i}]")
                if len(found) >= limit:
                    return
        elif type(x) is not type(y) or x != y:
            found.append(where)

    walk(a, b, path)
    return found


@dataclass(frozen=True)
class JsonDiff:
    equal: bool
    text: str  # a unified diff of the pretty-printed JSON ("" when equal)
    paths: tuple[str, ...]  # where the values differ (at most MAX_PATHS)


_ABSENT = "(not recorded)"


def json_diff(left: str | None, right: str | None) -> JsonDiff:
    """Compare two JSON texts by value (key order and spacing do not count).

    None is "the report did not carry this field", which differs from JSON null.
    """
    if left is None and right is None:
        return JsonDiff(True, "", ())
    a = None if left is None else json.loads(left)
    b = None if right is None else json.loads(right)
    a_text = _ABSENT if left is None else _canonical(a)
    b_text = _ABSENT if right is None else _canonical(b)
    if a_text == b_text and (left is None) == (right is None):
        return JsonDiff(True, "", ())
    if left is None or right is None:
        paths: tuple[str, ...] = ("$",)
    else:
        paths = tuple(changed_paths(a, b))
    if len(a_text) > MAX_DIFF_CHARS or len(b_text) > MAX_DIFF_CHARS:
        text = (
            f"Too large for a line diff ({len(a_text):,} and {len(b_text):,} characters "
            "pretty-printed); the values differ at the paths listed."
        )
    else:
        text = "\n".join(
            difflib.unified_diff(
                a_text.splitlines(), b_text.splitlines(), "run A", "run B", lineterm=""
            )
        )
    return JsonDiff(False, text, paths)


@dataclass(frozen=True)
class NodePair:
    left: NodeSummary | None
    right: NodeSummary | None
    input: JsonDiff
    output: JsonDiff

    @property
    def node_id(self) -> str:
        node = self.left or self.right
        assert node is not None
        return node.node_id

    @property
    def attempt(self) -> int:
        node = self.left or self.right
        assert node is not None
        return node.attempt

    @property
    def label(self) -> str:
        node = self.right or self.left
        assert node is not None
        return node.label

    @property
    def diverges(self) -> bool:
        """The node produced something different: another output, another status, or it ran
        in one run only."""
        if self.left is None or self.right is None:
            return True
        return self.left.status != self.right.status or not self.output.equal

    @property
    def duration_delta_ms(self) -> int | None:
        return _delta(
            self.left.duration_ms if self.left else None,
            self.right.duration_ms if self.right else None,
        )

    @property
    def tokens_delta(self) -> int | None:
        return _delta(
            self.left.total_tokens if self.left else None,
            self.right.total_tokens if self.right else None,
        )


def _delta(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else b - a


@dataclass(frozen=True)
class RunComparison:
    left: RunSummary
    right: RunSummary
    pairs: tuple[NodePair, ...]
    first_divergence: int | None  # index into pairs

    @property
    def duration_delta_ms(self) -> int | None:
        return _delta(self.left.duration_ms, self.right.duration_ms)

    @property
    def tokens_delta(self) -> int | None:
        return _delta(self.left.total_tokens, self.right.total_tokens)


def _payloads(nodes: Sequence[NodeSummary]) -> dict[int, tuple[str | None, str | None]]:
    """Input and output JSON per node pk, read in chunks."""
    pks = [n.pk for n in nodes]
    found: dict[int, tuple[str | None, str | None]] = {}
    for start in range(0, len(pks), _CHUNK):
        query = NodePayload.select(NodePayload.node, NodePayload.payload).where(
            NodePayload.node.in_(pks[start : start + _CHUNK])
        )
        for pk, payload in tuple_rows(query):
            found[pk] = (payload.input_json, payload.output_json)
    return found


def compare_runs(left_id: str, right_id: str, older_first: bool = False) -> RunComparison:
    """Raise LookupError naming the run that is not (or no longer) in the history.

    With `older_first` the run that started first becomes A, whatever the argument order
    (two runs picked in a list have no order of their own).
    """
    left = queries.get_run(left_id)
    right = queries.get_run(right_id)
    for run_id, detail in ((left_id, left), (right_id, right)):
        if detail is None:
            raise LookupError(f"run {run_id} is not in the history (deleted?)")
    assert left is not None and right is not None
    if older_first and (left.summary.started_at, left.summary.id) > (
        right.summary.started_at,
        right.summary.id,
    ):
        left, right = right, left
    payloads = _payloads(left.nodes) | _payloads(right.nodes)
    pairs = []
    for a, b in align(left.nodes, right.nodes):
        a_in, a_out = payloads.get(a.pk, (None, None)) if a else (None, None)
        b_in, b_out = payloads.get(b.pk, (None, None)) if b else (None, None)
        pairs.append(NodePair(a, b, json_diff(a_in, b_in), json_diff(a_out, b_out)))
    first = next((i for i, pair in enumerate(pairs) if pair.diverges), None)
    return RunComparison(left.summary, right.summary, tuple(pairs), first)


def last_success_before(run_id: str) -> str | None:
    """The newest successful run of the same workflow that started before this one."""
    run = Run.get_or_none(Run.id == run_id)
    if run is None:
        return None
    earlier = (
        Run.select(Run.id)
        .where(
            (Run.workflow_id == run.workflow_id)
            & (Run.status == Status.SUCCESS.value)
            & (
                (Run.started_at < run.started_at)
                | ((Run.started_at == run.started_at) & (Run.id < run.id))
            )
        )
        .order_by(Run.started_at.desc(), Run.id.desc())
        .first()
    )
    return earlier.id if earlier else None


def compare_with_last_success(run_id: str) -> RunComparison:
    """This run (B) against the newest earlier success of its workflow (A)."""
    baseline = last_success_before(run_id)
    if baseline is None:
        if Run.get_or_none(Run.id == run_id) is None:
            raise LookupError(f"run {run_id} is not in the history (deleted?)")
        raise LookupError("no earlier successful run of this workflow to compare with")
    return compare_runs(baseline, run_id)
