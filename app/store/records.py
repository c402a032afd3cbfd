"""Plain data that crosses the store's boundary: what gets written and what queries return.

Callers never hold peewee model instances, so results can move between threads freely.
Times are epoch milliseconds (UTC); JSON payloads are kept as JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.store.status import Status


@dataclass(frozen=True)
class NodeRecord:
    node_id: str
    status: Status
    node_name: str = ""
    node_type: str = ""
    started_at: int | None = None
    completed_at: int | None = None
    duration_ms: int | None = None
    input_json: str | None = None
    output_json: str | None = None
    error_message: str | None = None
    error_stack: str | None = None


@dataclass(frozen=True)
class RunRecord:
    id: str
    workflow_id: str
    status: Status
    started_at: int
    workflow_name: str = ""
    completed_at: int | None = None
    duration_ms: int | None = None
    trigger_type: str | None = None
    trigger_json: str | None = None
    error_message: str | None = None
    error_stack: str | None = None
    error_node_id: str | None = None
    nodes: tuple[NodeRecord, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RunSummary:
    """One row of the run list."""

    id: str
    workflow_id: str
    workflow_name: str
    status: Status
    started_at: int
    completed_at: int | None
    duration_ms: int | None
    node_count: int
    failed_node_name: str | None

    @property
    def workflow_label(self) -> str:
        return self.workflow_name or self.workflow_id


@dataclass(frozen=True)
class NodeSummary:
    """One row of a run's node table; payloads are fetched separately, on demand."""

    pk: int
    position: int
    node_id: str
    node_name: str
    node_type: str
    status: Status
    started_at: int | None
    completed_at: int | None
    duration_ms: int | None
    error_message: str | None

    @property
    def label(self) -> str:
        return self.node_name or self.node_id


@dataclass(frozen=True)
class RunDetail:
    summary: RunSummary
    trigger_type: str | None
    trigger_json: str | None
    error_message: str | None
    error_stack: str | None
    error_node_id: str | None
    nodes: tuple[NodeSummary, ...]

    def first_failed_node(self) -> NodeSummary | None:
        return next((n for n in self.nodes if n.status is Status.ERROR), None)


@dataclass(frozen=True)
class NodePayload:
    input_json: str | None
    output_json: str | None
    error_stack: str | None


@dataclass(frozen=True)
class WorkflowSummary:
    workflow_id: str
    workflow_name: str
    run_count: int

    @property
    def label(self) -> str:
        return self.workflow_name or self.workflow_id
