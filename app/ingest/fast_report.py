"""The common case of `POST /api/executions`, decoded by msgspec; pydantic decides the rest.

Why two decoders: on the benchmark's 16 KB reports pydantic's `validate_json` takes
0.24 ms a report and msgspec's typed decoder 0.05 ms. Decoding holds the GIL, so it bounds
what one receiver process acknowledges (batches of 50 at 3,000 runs/s leave 0.33 ms of CPU
a run for everything, the store's Python included). pydantic stays the schema and the judge
(`report.py`: the field rules, every problem listed in a 400, the OpenAPI document); this is
a narrower mirror of the same models for well-formed camelCase reports:

- each field here accepts a subset of what its pydantic field accepts: statuses and log
  levels only in their canonical spelling, versions and tag values only as strings, times
  only as plain RFC 3339 text (at most microseconds, never in year 1 or 9999), bounds as in
  report.py, payloads at most `MAX_PAYLOAD_DEPTH` levels deep (pydantic refuses values
  nested in more than 200 containers);
- a body with any field this schema does not know is left to pydantic: a snake_case
  spelling of a field name (pydantic reads it; here it would be ignored), or a field a newer
  reporter added (pydantic ignores it);
- whenever this decoder says no (`None`) nothing is lost: pydantic decodes the body as it
  always did and names every problem. `tests/ingest/test_fast_report.py` holds the two to
  the same records on generated, mutated and edge-case bodies.
The records come from report.py's own conversion, so what is stored cannot differ.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, cast

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from app.ingest.report import (
    INT64_MAX,
    INT64_MIN,
    MAX_BATCH,
    MAX_COUNT,
    MAX_MILLIS,
    MAX_ORDINAL,
    ExecutionReport,
    to_record,
)
from app.store.records import RunRecord
from app.store.status import Status

# Payload values sit inside at most 5 containers of the report (batch, report, node list,
# node, llm): 190 levels of their own stay clear of pydantic's limit of 200.
MAX_PAYLOAD_DEPTH = 190

_Identifier = Annotated[str, Meta(min_length=1, max_length=200)]
_Name = Annotated[str, Meta(max_length=200)]
_Int64 = Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX)]
_Millis = Annotated[int, Meta(ge=0, le=MAX_MILLIS)]
_Count = Annotated[int, Meta(ge=0, le=MAX_COUNT)]
# RFC 3339 as pydantic and datetime.fromisoformat read it alike, every part in its range
# (fromisoformat takes an offset of +00:60, pydantic does not; fractions beyond
# microseconds are rounded by some parsers and cut by others: all left to pydantic).
_TIME_PATTERN = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)
_Time = Annotated[str, Meta(pattern=_TIME_PATTERN)]
_Payload = Any | UnsetType  # absent (UNSET) and null are different things to the store


class _Carried:
    """`name in model_fields_set` for a mirror: whether the report carried that field."""

    __slots__ = ("_part",)

    def __init__(self, part: Struct) -> None:
        self._part = part

    def __contains__(self, name: str) -> bool:
        return getattr(self._part, name, UNSET) is not UNSET


class _Mirror(Struct, rename="camel", forbid_unknown_fields=True):
    """A report part. report.py asks pydantic models which payload fields a report carried
    (`model_fields_set`); a mirror answers the same from UNSET."""

    @property
    def model_fields_set(self) -> _Carried:
        return _Carried(self)


class _ErrorInfo(_Mirror):
    message: str = ""
    stack: str | None = None
    node_id: str | None = None


class _Trigger(_Mirror):
    type: str | None = None
    data: Any = None


class _LlmCall(_Mirror):
    model: str | None = None
    prompt: _Payload = UNSET
    response: _Payload = UNSET
    prompt_tokens: _Count | None = None
    completion_tokens: _Count | None = None
    total_tokens: _Count | None = None
    cost_usd: Annotated[float, Meta(ge=0, le=1e12)] | None = None
    finish_reason: str | None = None


class _Node(_Mirror):
    node_id: _Identifier
    status: Status
    node_name: str = ""
    node_type: str = ""
    started_at: _Time | None = None  # text as decoded; _read_times makes it a datetime
    completed_at: _Time | None = None
    duration_ms: _Millis | None = None
    attempt: Annotated[int, Meta(ge=1, le=MAX_ORDINAL)] | None = None
    group: _Int64 | None = None
    input: _Payload = UNSET
    output: _Payload = UNSET
    error: _ErrorInfo | None = None
    metrics: _Payload = UNSET
    llm: _LlmCall | None = None


class _Log(_Mirror):
    message: str
    level: Literal["debug", "info", "warn", "error"] = "info"
    sequence: Annotated[int, Meta(ge=-MAX_ORDINAL, le=MAX_ORDINAL)] | None = None
    timestamp: _Time | None = None
    node_id: str | None = None
    data: _Payload = UNSET


class _Artifact(_Mirror):
    key: _Identifier
    type: Annotated[str, Meta(max_length=50)] = "artifact"
    node_id: str | None = None
    data: Any = None


class _Report(_Mirror):
    id: _Identifier
    workflow_id: _Identifier
    status: Status
    started_at: _Time
    workflow_name: str = ""
    workflow_version: str | None = None
    project_id: _Name | None = None
    user_id: _Name | None = None
    completed_at: _Time | None = None
    duration_ms: _Millis | None = None
    trigger: _Trigger | None = None
    params: dict[str, Any] | None = None
    output: _Payload = UNSET
    error: _ErrorInfo | None = None
    exit_code: _Int64 | None = None
    tags: dict[_Name, str] | None = None
    metadata: _Payload = UNSET
    node_executions: list[_Node] = []
    logs: list[_Log] = []
    artifacts: list[_Artifact] = []


_ONE = msgspec.json.Decoder(_Report)
_BATCH = msgspec.json.Decoder(Annotated[list[_Report], Meta(min_length=1, max_length=MAX_BATCH)])


class _Declined(Exception):
    """This body is for pydantic to judge."""


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)  # ValueError: not a real date; pydantic says so
    if moment.year in (1, 9999):  # an offset may take it out of range: pydantic checks
        raise _Declined
    return moment


def _read_times(report: _Report) -> None:
    """Times arrive as checked text; the conversion reads datetimes, as pydantic gives them
    (struct attributes take any value once decoded)."""
    report.started_at = _moment(report.started_at)  # type: ignore[assignment]
    report.completed_at = _moment(report.completed_at)  # type: ignore[assignment]
    for node in report.node_executions:
        node.started_at = _moment(node.started_at)  # type: ignore[assignment]
        node.completed_at = _moment(node.completed_at)  # type: ignore[assignment]
    for entry in report.logs:
        entry.timestamp = _moment(entry.timestamp)  # type: ignore[assignment]


# Strings go first (they may hold brackets); what is left of each innermost container goes
# in one pass, so the number of passes is the nesting depth.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_INNERMOST = re.compile(r"\[[^][{}]*\]|\{[^][{}]*\}")


def _shallow(text: str | None) -> bool:
    """Whether a payload's JSON text nests at most MAX_PAYLOAD_DEPTH containers deep."""
    if text is None or len(text) <= 2 * MAX_PAYLOAD_DEPTH:
        return True  # each level takes two characters: too short to nest deeper
    if text.count("[") + text.count("{") <= MAX_PAYLOAD_DEPTH:
        return True  # fewer containers than the limit: cannot be deeper (the common case)
    rest = _STRING.sub("", text)
    for _ in range(MAX_PAYLOAD_DEPTH):
        rest, found = _INNERMOST.subn("", rest)
        if not found:
            return True
    return "[" not in rest and "{" not in rest


def _payload_texts(record: RunRecord) -> list[str | None]:
    texts = [record.trigger_json, record.params_json, record.output_json, record.metadata_json]
    for node in record.nodes:
        texts += (node.input_json, node.output_json, node.metrics_json)
        if node.llm is not None:
            texts += (node.llm.prompt_json, node.llm.response_json)
    texts += (entry.data_json for entry in record.logs)
    texts += (artifact.data_json for artifact in record.artifacts)
    return texts


def decode_reports_fast(body: bytes, batch: bool) -> list[RunRecord] | None:
    """The records of one report or of a batch, or None when pydantic must decide: whatever
    this narrower schema does not take, valid or not, and every invalid body."""
    try:
        reports = _BATCH.decode(body) if batch else [_ONE.decode(body)]
        for report in reports:
            _read_times(report)
    except (msgspec.DecodeError, ValueError, RecursionError, _Declined):
        return None
    records = []
    for report in reports:
        try:
            # Duck-typed: a mirror answers every attribute the conversion reads as pydantic's
            # model would (times as datetimes, absent payloads through model_fields_set).
            record = to_record(cast(ExecutionReport, report))
        except ValueError:  # ReportError (a repeated attempt...), NaN in a parsed prompt
            return None  # pydantic's path finds it again and words the answer
        if not all(_shallow(text) for text in _payload_texts(record)):
            return None
        records.append(record)
    return records
