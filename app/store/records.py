"""Plain data that crosses the store's boundary: what gets written and what queries return.

Callers never hold peewee model instances, so results can move between threads freely.
Times are epoch milliseconds (UTC); JSON payloads are kept as JSON text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from app.store.status import Status


@dataclass(frozen=True)
class LlmRecord:
    """One LLM call made by a node (seeds 000 and 003)."""

    model: str | None = None
    prompt_json: str | None = None  # the messages (or prompt text) as JSON
    response_json: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None

    @property
    def tokens(self) -> int | None:
        if self.total_tokens is not None:
            return self.total_tokens
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


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
    attempt: int = 1
    group: int | None = None
    metrics_json: str | None = None
    llm: LlmRecord | None = None


@dataclass(frozen=True)
class LogRecord:
    sequence: int
    level: str  # debug, info, warn, error
    message: str
    timestamp: int | None = None
    node_id: str | None = None
    data_json: str | None = None


@dataclass(frozen=True)
class ArtifactRecord:
    key: str
    data_json: str
    type: str = "artifact"
    node_id: str | None = None


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
    workflow_version: str | None = None
    project_id: str | None = None
    user_id: str | None = None
    params_json: str | None = None
    output_json: str | None = None
    metadata_json: str | None = None
    exit_code: int | None = None
    tags: tuple[tuple[str, str], ...] = ()
    nodes: tuple[NodeRecord, ...] = field(default_factory=tuple)
    logs: tuple[LogRecord, ...] = ()
    artifacts: tuple[ArtifactRecord, ...] = ()

    @property
    def total_tokens(self) -> int | None:
        counts = [n.llm.tokens for n in self.nodes if n.llm and n.llm.tokens is not None]
        return sum(counts) if counts else None

    @property
    def cost_usd(self) -> float | None:
        costs = [n.llm.cost_usd for n in self.nodes if n.llm and n.llm.cost_usd is not None]
        return sum(costs) if costs else None


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
    project_id: str | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    trigger_type: str | None = None
    # When Hindsight stored the latest report of this run (its own clock): the last sign of
    # life of a run that was interrupted.
    last_report_at: int | None = None

    @property
    def workflow_label(self) -> str:
        return self.workflow_name or self.workflow_id

    @property
    def ran_at_least_ms(self) -> int | None:
        """How long an interrupted run is known to have run, from its start to its last
        report: it never reported an end, so this is all that is known of its duration.
        None for every other run."""
        if (
            self.duration_ms is not None
            or self.status is not Status.INTERRUPTED
            or self.last_report_at is None
        ):
            return None
        return max(0, self.last_report_at - self.started_at)


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
    attempt: int = 1
    group: int | None = None
    llm_model: str | None = None
    total_tokens: int | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def label(self) -> str:
        return self.node_name or self.node_id


class StatusChange(NamedTuple):
    """A status Hindsight set itself (a stale `running` run made `interrupted`), and why."""

    at: int
    from_status: str
    to_status: str
    reason: str


@dataclass(frozen=True)
class RunDetail:
    summary: RunSummary
    trigger_type: str | None
    trigger_json: str | None
    error_message: str | None
    error_stack: str | None
    error_node_id: str | None
    nodes: tuple[NodeSummary, ...]
    workflow_version: str | None = None
    user_id: str | None = None
    params_json: str | None = None
    output_json: str | None = None
    metadata_json: str | None = None
    exit_code: int | None = None
    tags: tuple[tuple[str, str], ...] = ()
    status_changes: tuple[StatusChange, ...] = ()  # oldest first

    @property
    def last_report_at(self) -> int | None:
        return self.summary.last_report_at

    def first_failed_node(self) -> NodeSummary | None:
        return next((n for n in self.nodes if n.status is Status.ERROR), None)


@dataclass(frozen=True)
class NodePayload:
    input_json: str | None
    output_json: str | None
    error_stack: str | None
    metrics_json: str | None = None
    llm_prompt_json: str | None = None
    llm_response_json: str | None = None


@dataclass(frozen=True)
class StoredLog:
    pk: int
    sequence: int
    level: str
    message: str
    timestamp: int | None
    node_id: str | None
    data_json: str | None


@dataclass(frozen=True)
class StoredArtifact:
    pk: int
    key: str
    type: str
    size: int
    node_id: str | None


@dataclass(frozen=True)
class WorkflowSummary:
    workflow_id: str
    workflow_name: str
    run_count: int

    @property
    def label(self) -> str:
        return self.workflow_name or self.workflow_id
