"""The execution report workflows POST, validated in the same pass that decodes the JSON.

Field names are camelCase as the generated Python sends them; snake_case is accepted too.
Unknown fields are ignored so newer reporters can talk to an older Hindsight.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import to_json

from app.store.moments import to_millis
from app.store.records import ArtifactRecord, LlmRecord, LogRecord, NodeRecord, RunRecord
from app.store.status import Status, normalise_status
from app.store.streaming import StreamedLog

Identifier = Annotated[str, Field(min_length=1, max_length=200)]
# Bounds keep every number storable in SQLite's 64-bit INTEGER and every sum the statistics
# take of it (tokens per run and per workflow) far from overflow; anything beyond them is a
# broken reporter, answered 400 naming the field rather than 500 at the database.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_MILLIS = 100 * 366 * 24 * 3_600_000  # a century, in milliseconds
MAX_COUNT = 10**12
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
Millis = Annotated[int, Field(ge=0, le=MAX_MILLIS)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
# Attempts and log sequence numbers are counted on from the highest stored (+1): bounded by
# the integers every JSON reporter can send exactly, counting on can never overflow.
MAX_ORDINAL = 2**53 - 1


def _in_utc_range(moment: datetime) -> datetime:
    """Refuse a time with an offset that moves it out of years 1-9999 once in UTC (stored as
    UTC milliseconds, it could never be shown again)."""
    if moment.tzinfo is not None:
        try:
            moment.astimezone(UTC)
        except OverflowError:
            raise ValueError("time is out of range: it must fall in years 1 to 9999 UTC") from None
    return moment


Moment = Annotated[datetime, AfterValidator(_in_utc_range)]
# The last millisecond a stored time can be shown as (end of year 9999, UTC).
LATEST_MILLIS = to_millis(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))


def _as_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"  # as the report spelled it, not Python's True
    return str(value) if isinstance(value, int | float) else value


# Versions and tag values are often sent as numbers or booleans; keep them as text.
Text = Annotated[str, BeforeValidator(_as_text)]

LOG_LEVELS = ("debug", "info", "warn", "error")
_LEVEL_ALIASES = {"trace": "debug", "warning": "warn", "critical": "error", "fatal": "error"}


def normalise_level(raw: str) -> str:
    level = raw.strip().lower()
    level = _LEVEL_ALIASES.get(level, level)
    if level not in LOG_LEVELS:
        raise ValueError(f"unknown log level {raw!r}; expected one of: {', '.join(LOG_LEVELS)}")
    return level


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


class LlmCall(_ReportModel):
    model: str | None = None
    prompt: Any = None  # text, or a list of {"role", "content"} messages
    response: Any = None
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None
    total_tokens: Count | None = None
    cost_usd: Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)] | None = None
    finish_reason: str | None = None


class NodeExecutionReport(_HasStatus):
    node_id: Identifier
    node_name: str = ""
    node_type: str = ""
    started_at: Moment | None = None
    completed_at: Moment | None = None
    duration_ms: Millis | None = None
    attempt: Annotated[int, Field(ge=1, le=MAX_ORDINAL)] | None = None
    group: Int64 | None = None
    input: Any = None
    output: Any = None
    error: ErrorInfo | None = None
    metrics: Any = None
    llm: LlmCall | None = None


class LogReport(_ReportModel):
    level: str = "info"
    message: str
    sequence: Annotated[int, Field(ge=-MAX_ORDINAL, le=MAX_ORDINAL)] | None = None
    timestamp: Moment | None = None
    node_id: str | None = None
    data: Any = None

    @field_validator("level", mode="before")
    @classmethod
    def _known_level(cls, value: Any) -> Any:
        return normalise_level(value) if isinstance(value, str) else value


class ArtifactReport(_ReportModel):
    key: Identifier
    type: Annotated[str, Field(max_length=50)] = "artifact"
    node_id: str | None = None
    data: Any = None


class ExecutionReport(_HasStatus):
    id: Identifier
    workflow_id: Identifier
    workflow_name: str = ""
    workflow_version: Text | None = None
    project_id: Annotated[str, Field(max_length=200)] | None = None
    user_id: Annotated[str, Field(max_length=200)] | None = None
    started_at: Moment
    completed_at: Moment | None = None
    duration_ms: Millis | None = None
    trigger: Trigger | None = None
    params: dict[str, Any] | None = None
    output: Any = None
    error: ErrorInfo | None = None
    exit_code: Int64 | None = None
    tags: dict[Annotated[str, Field(max_length=200)], Text] | None = None
    metadata: Any = None
    node_executions: list[NodeExecutionReport] = Field(default_factory=list)
    logs: list[LogReport] = Field(default_factory=list)
    artifacts: list[ArtifactReport] = Field(default_factory=list)


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


MAX_BATCH = 1000
ReportBatch = Annotated[list[ExecutionReport], Field(min_length=1, max_length=MAX_BATCH)]
_BATCH: TypeAdapter[list[ExecutionReport]] = TypeAdapter(ReportBatch)


def _report_error(exc: ValidationError, what: str = "execution report") -> ReportError:
    details = [
        {"path": _path(err["loc"]) or "$", "message": err["msg"].removeprefix("Value error, ")}
        for err in exc.errors()
    ]
    invalid_json = any(err["type"] == "json_invalid" for err in exc.errors())
    message = "body is not valid JSON" if invalid_json else f"invalid {what}"
    return ReportError(message, details)


def parse_report(body: bytes) -> ExecutionReport:
    """Decode and validate one report; raise ReportError naming every bad field."""
    try:
        return ExecutionReport.model_validate_json(body)
    except ValidationError as exc:
        raise _report_error(exc) from None


def is_batch(body: bytes) -> bool:
    return body.lstrip()[:1] == b"["


def parse_reports(body: bytes) -> list[ExecutionReport]:
    """One report, or a JSON array of 1 to MAX_BATCH reports (paths then start `[i]`)."""
    if not is_batch(body):
        return [parse_report(body)]
    try:
        return _BATCH.validate_json(body)
    except ValidationError as exc:
        raise _report_error(exc) from None


def _millis(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return to_millis(moment)  # naive is UTC: the seed's generated Python sends utcnow()


def _duration(started: int | None, completed: int | None, reported: int | None) -> int | None:
    if reported is not None:
        return reported
    if started is not None and completed is not None and completed >= started:
        return completed - started
    return None


def payload_json(value: Any) -> str:
    """Compact JSON text of a decoded payload value (what the store keeps and indexes).

    pydantic-core's serializer takes a fifth of `json.dumps`'s time on report payloads. It
    writes NaN and Infinity (which the JSON parser accepts inside `Any` fields) as bare
    words, which are not JSON: when those letters appear at all, `json.dumps` decides,
    raising ValueError for a non-finite number.
    """
    text = to_json(value)
    if b"NaN" in text or b"Infinity" in text:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.decode()


_dumps = payload_json


def _artifact_json(value: Any) -> str:
    """Artifacts (a few per run at most, off the hot path) keep `json.dumps`'s spacing, in
    which their sizes have always been counted and shown."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _json_or_none(model: BaseModel, field: str, value: Any) -> str | None:
    """JSON text of a payload field; None when the report did not carry it at all."""
    if field not in model.model_fields_set:
        return None
    return _dumps(value)


def _llm_record(llm: LlmCall | None) -> LlmRecord | None:
    if llm is None:
        return None
    return LlmRecord(
        model=llm.model,
        prompt_json=_json_or_none(llm, "prompt", _parsed_prompt(llm.prompt)),
        response_json=_json_or_none(llm, "response", llm.response),
        prompt_tokens=llm.prompt_tokens,
        completion_tokens=llm.completion_tokens,
        total_tokens=llm.total_tokens,
        cost_usd=llm.cost_usd,
        finish_reason=llm.finish_reason,
    )


def _not_json(word: str) -> Any:
    """NaN and Infinity, which Python's parser takes but JSON has not: such a prompt is text."""
    raise ValueError(word)


def _parsed_prompt(prompt: Any) -> Any:
    """Seed 000 sends messages as a JSON string; keep text as text, decode what is JSON."""
    if isinstance(prompt, str) and prompt.lstrip().startswith(("[", "{")):
        try:
            return json.loads(prompt, parse_constant=_not_json)
        except (ValueError, RecursionError):
            return prompt
    return prompt


def _node_record(node: NodeExecutionReport, attempt: int) -> NodeRecord:
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
        attempt=attempt,
        group=node.group,
        metrics_json=_json_or_none(node, "metrics", node.metrics),
        llm=_llm_record(node.llm),
    )


def _attempts(nodes: list[NodeExecutionReport]) -> list[int]:
    """Each node's attempt: as reported, or counted up when a node id repeats in the run."""
    seen: dict[tuple[str, int], int] = {}
    counts: dict[str, int] = {}
    attempts = []
    problems = []
    for index, node in enumerate(nodes):
        attempt = node.attempt
        if attempt is None:
            attempt = counts.get(node.node_id, 0) + 1
            while (node.node_id, attempt) in seen:
                attempt += 1
        if (node.node_id, attempt) in seen:
            first = seen[(node.node_id, attempt)]
            problems.append(
                {
                    "path": f"nodeExecutions[{index}].attempt",
                    "message": f"node {node.node_id!r} attempt {attempt} is already "
                    f"nodeExecutions[{first}]",
                }
            )
            continue
        seen[(node.node_id, attempt)] = index
        counts[node.node_id] = max(counts.get(node.node_id, 0), attempt)
        attempts.append(attempt)
    if problems:
        raise ReportError("invalid execution report", problems)
    return attempts


def _repeated_artifact_keys(report: ExecutionReport) -> list[dict[str, str]]:
    keys: dict[str, int] = {}
    problems = []
    for index, artifact in enumerate(report.artifacts):
        if artifact.key in keys:
            problems.append(
                {
                    "path": f"artifacts[{index}].key",
                    "message": f"key {artifact.key!r} repeats artifacts[{keys[artifact.key]}]",
                }
            )
        else:
            keys[artifact.key] = index
    return problems


def _artifacts(report: ExecutionReport) -> tuple[ArtifactRecord, ...]:
    if problems := _repeated_artifact_keys(report):
        raise ReportError("invalid execution report", problems)
    return tuple(
        ArtifactRecord(key=a.key, type=a.type, node_id=a.node_id, data_json=_artifact_json(a.data))
        for a in report.artifacts
    )


def _logs(report: ExecutionReport) -> tuple[LogRecord, ...]:
    return tuple(
        LogRecord(
            sequence=log.sequence if log.sequence is not None else index,
            level=log.level,
            message=log.message,
            timestamp=_millis(log.timestamp),
            node_id=log.node_id,
            data_json=_json_or_none(log, "data", log.data),
        )
        for index, log in enumerate(report.logs)
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
        trigger_json=_dumps(trigger.data) if trigger and trigger.data is not None else None,
        error_message=report.error.message if report.error else None,
        error_stack=report.error.stack if report.error else None,
        error_node_id=report.error.node_id if report.error else None,
        workflow_version=report.workflow_version,
        project_id=report.project_id,
        user_id=report.user_id,
        params_json=_dumps(report.params) if report.params is not None else None,
        output_json=_json_or_none(report, "output", report.output),
        metadata_json=_json_or_none(report, "metadata", report.metadata),
        exit_code=report.exit_code,
        tags=tuple(sorted((report.tags or {}).items())),
        nodes=tuple(
            _node_record(node, attempt)
            for node, attempt in zip(
                report.node_executions, _attempts(report.node_executions), strict=True
            )
        ),
        logs=_logs(report),
        artifacts=_artifacts(report),
    )


def decode_report(body: bytes) -> RunRecord:
    """Bytes of a POST body holding one report to the record the store keeps, or ReportError."""
    return checked_record(parse_report(body))


def decode_reports(body: bytes) -> list[RunRecord]:
    """A POST body holding one report or an array of them; all valid, or ReportError."""
    reports = parse_reports(body)
    batch = is_batch(body)
    records = []
    for index, report in enumerate(reports):
        try:
            records.append(checked_record(report))
        except ReportError as error:
            if batch:
                for detail in error.details:
                    detail["path"] = f"[{index}].{detail['path']}"
            raise
    return records


def checked_record(report: ExecutionReport) -> RunRecord:
    """The record of a schema-valid report, or ReportError naming every problem left."""
    try:
        return to_record(report)
    except ValueError as exc:
        # to_record stops at the first problem; the answer names every one.
        details = problems_of(report) or [{"path": "$", "message": str(exc)}]
        raise ReportError("invalid execution report", details) from None


def problems_of(report: ExecutionReport) -> list[dict[str, str]]:
    """Every problem that makes a schema-valid report unstorable, each at its path: repeated
    attempts, repeated artifact keys, NaN or Infinity inside a payload. Only asked once
    to_record has failed, so storing a good report never pays for the search."""
    details: list[dict[str, str]] = []
    try:
        _attempts(report.node_executions)
    except ReportError as error:
        details += error.details
    details += _repeated_artifact_keys(report)
    details += _payload_problems(report)
    return details


def _payload_problems(report: ExecutionReport) -> list[dict[str, str]]:
    fields: list[tuple[str, Any]] = [
        ("trigger.data", report.trigger.data if report.trigger else None),
        ("params", report.params),
        ("output", report.output),
        ("metadata", report.metadata),
    ]
    for index, node in enumerate(report.node_executions):
        fields += _node_payloads(node, f"nodeExecutions[{index}].")
    fields += [(f"logs[{index}].data", entry.data) for index, entry in enumerate(report.logs)]
    fields += [(f"artifacts[{i}].data", item.data) for i, item in enumerate(report.artifacts)]
    return [problem for path, value in fields if (problem := _non_finite(path, value))]


def unstorable_payloads(
    payloads: Iterable[tuple[str, Any]], where: str, error: ValueError
) -> list[dict[str, str]]:
    """The payloads (path, value) that made a conversion fail, each at its path; when none
    of them is to blame, the error itself at `where`, so that nothing is dropped unsaid."""
    found = [problem for path, value in payloads if (problem := _non_finite(path, value))]
    return found or [{"path": where, "message": str(error)}]


def _node_payloads(node: NodeExecutionReport, prefix: str) -> list[tuple[str, Any]]:
    fields = [(prefix + name, getattr(node, name)) for name in ("input", "output", "metrics")]
    if node.llm is not None:
        fields.append((prefix + "llm.prompt", node.llm.prompt))
        fields.append((prefix + "llm.response", node.llm.response))
    return fields


def _non_finite(path: str, value: Any) -> dict[str, str] | None:
    """The problem with a payload holding NaN or Infinity (Python's parser takes them, JSON
    has no such numbers, so they cannot be stored as sent), or None."""
    try:
        payload_json(value)
    except ValueError:
        return {"path": path, "message": NON_FINITE_MESSAGE}
    except RecursionError:
        return None  # the schema already bounds nesting
    return None


NON_FINITE_MESSAGE = "NaN and Infinity are not JSON numbers; send null or a string instead"


# -- streamed progress: node executions and log lines posted while a run is going on --------

MAX_STREAMED_NODES = 1000
MAX_STREAMED_LOGS = 10_000
NodeBatch = Annotated[list[NodeExecutionReport], Field(min_length=1, max_length=MAX_STREAMED_NODES)]
LogBatch = Annotated[list[LogReport], Field(min_length=1, max_length=MAX_STREAMED_LOGS)]
_NODES: TypeAdapter[list[NodeExecutionReport]] = TypeAdapter(NodeBatch)
_LOGS: TypeAdapter[list[LogReport]] = TypeAdapter(LogBatch)


def decode_nodes(body: bytes) -> list[NodeRecord]:
    """One node execution or an array of them; a missing attempt means attempt 1."""
    try:
        if is_batch(body):
            nodes = _NODES.validate_json(body)
        else:
            nodes = [NodeExecutionReport.model_validate_json(body)]
    except ValidationError as exc:
        raise _report_error(exc, "node execution") from None
    records = []
    problems = []
    for index, node in enumerate(nodes):
        try:
            records.append(_node_record(node, node.attempt or 1))
        except ValueError as exc:  # NaN or Infinity inside a payload
            prefix = f"[{index}]." if is_batch(body) else ""
            where = prefix.rstrip(".") or "$"
            problems += unstorable_payloads(_node_payloads(node, prefix), where, exc)
    if problems:
        raise ReportError("invalid node execution", problems)
    return records


def decode_logs(body: bytes) -> list[StreamedLog]:
    """One log entry or an array of them, in the order given."""
    try:
        entries = (
            _LOGS.validate_json(body) if is_batch(body) else [LogReport.model_validate_json(body)]
        )
    except ValidationError as exc:
        raise _report_error(exc, "log entry") from None
    streamed = []
    problems = []
    for index, entry in enumerate(entries):
        try:
            data_json = _json_or_none(entry, "data", entry.data)
        except ValueError:
            path = f"[{index}].data" if is_batch(body) else "data"
            problems.append({"path": path, "message": NON_FINITE_MESSAGE})
            continue
        record = LogRecord(
            sequence=entry.sequence or 0,
            level=entry.level,
            message=entry.message,
            timestamp=_millis(entry.timestamp),
            node_id=entry.node_id,
            data_json=data_json,
        )
        streamed.append(StreamedLog(record, numbered=entry.sequence is not None))
    if problems:
        raise ReportError("invalid log entry", problems)
    return streamed
