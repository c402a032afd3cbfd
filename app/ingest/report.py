"""The execution report workflows POST, validated in the same pass that decodes the JSON.

Field names are camelCase as the generated Python sends them; snake_case is accepted too.
Unknown fields are ignored so newer reporters can talk to an older Hindsight.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from app.store.records import NodeRecord, RunRecord
from app.store.status import Status, normalise_status

Identifier = Annotated[str, Field(min_length=1, max_length=200)]
Millis = Annotated[int, Field(ge=0)]


class _ReportModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )


class ErrorInfo(_ReportModel):
    message: str = ""
    stack: str | None = None
    node_id: str | None = None


class Trigger(_ReportModel):
    type: str | None = None
    data: Any = None


class _HasStatus(_ReportModel):
    status: Status

    @field_validator("status", mode="before")
    @classmethod
    def _known_status(cls, value: Any) -> Any:
        if isinstance(value, str):
            return normalise_status(value)
        return value


class NodeExecutionReport(_HasStatus):
    node_id: Identifier
    node_name: str = ""
    node_type: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: Millis | None = None
    input: Any = None
    output: Any = None
    error: ErrorInfo | None = None


class ExecutionReport(_HasStatus):
    id: Identifier
    workflow_id: Identifier
    workflow_name: str = ""
    started_at: datetime
    completed_at: datetime | None = None
    duration_ms: Millis | None = None
    trigger: Trigger | None = None
    error: ErrorInfo | None = None
    node_executions: list[NodeExecutionReport] = Field(default_factory=list)


class ReportError(ValueError):
    """A request body that is not a valid report; `details` lists every problem found."""

    def __init__(self, message: str, details: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def _path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


def parse_report(body: bytes) -> ExecutionReport:
    """Decode and validate one report; raise ReportError naming every bad field."""
    try:
        return ExecutionReport.model_validate_json(body)
    except ValidationError as exc:
        details = [
            {"path": _path(err["loc"]) or "$", "message": err["msg"].removeprefix("Value error, ")}
            for err in exc.errors()
        ]
        invalid_json = any(err["type"] == "json_invalid" for err in exc.errors())
        message = "body is not valid JSON" if invalid_json else "invalid execution report"
        raise ReportError(message, details) from None


def _millis(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # the seed's generated Python sends naive UTC (utcnow())
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _duration(started: int | None, completed: int | None, reported: int | None) -> int | None:
    if reported is not None:
        return reported
    if started is not None and completed is not None and completed >= started:
        return completed - started
    return None


def _json_or_none(model: BaseModel, field: str, value: Any) -> str | None:
    """JSON text of a payload field; None when the report did not carry it at all."""
    if field not in model.model_fields_set:
        return None
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _node_record(node: NodeExecutionReport) -> NodeRecord:
    started, completed = _millis(node.started_at), _millis(node.completed_at)
    return NodeRecord(
        node_id=node.node_id,
        status=node.status,
        node_name=node.node_name,
        node_type=node.node_type,
        started_at=started,
        completed_at=completed,
        duration_ms=_duration(started, completed, node.duration_ms),
        input_json=_json_or_none(node, "input", node.input),
        output_json=_json_or_none(node, "output", node.output),
        error_message=node.error.message if node.error else None,
        error_stack=node.error.stack if node.error else None,
    )


def to_record(report: ExecutionReport) -> RunRecord:
    started = _millis(report.started_at)
    assert started is not None  # required field
    completed = _millis(report.completed_at)
    trigger = report.trigger
    return RunRecord(
        id=report.id,
        workflow_id=report.workflow_id,
        workflow_name=report.workflow_name,
        status=report.status,
        started_at=started,
        completed_at=completed,
        duration_ms=_duration(started, completed, report.duration_ms),
        trigger_type=trigger.type if trigger else None,
        trigger_json=json.dumps(trigger.data, ensure_ascii=False, allow_nan=False)
        if trigger and trigger.data is not None
        else None,
        error_message=report.error.message if report.error else None,
        error_stack=report.error.stack if report.error else None,
        error_node_id=report.error.node_id if report.error else None,
        nodes=tuple(_node_record(node) for node in report.node_executions),
    )


def decode_report(body: bytes) -> RunRecord:
    """Bytes of a POST body to the record the store keeps, or ReportError."""
    report = parse_report(body)
    try:
        return to_record(report)
    except ValueError as exc:  # NaN or Infinity inside a payload: not JSON, not storable
        raise ReportError(
            "invalid execution report", [{"path": "$", "message": str(exc)}]
        ) from None
