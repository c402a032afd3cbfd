"""LLM steps as seed 000's step loggers send them (`StepExecution`), one row per LLM call.

Steps of the same project + workflow + run form one Hindsight run; each step becomes a node
whose start is the step's `timestamp`. The prompt is kept exactly as sent (the node's input)
and, when it is JSON, parsed into messages for the LLM view; the result becomes both the
node's output and the LLM response.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from app.ingest.report import (
    LATEST_MILLIS,
    Count,
    Identifier,
    Millis,
    Moment,
    ReportError,
    _dumps,
    _json_or_none,
    _millis,
    _parsed_prompt,
    _report_error,
    _ReportModel,
    is_batch,
    unstorable_payloads,
)
from app.store.records import LlmRecord, NodeRecord
from app.store.status import Status
from app.store.streaming import StepRun

MAX_STEPS = 1000
RUN_ID_LIMIT = 200  # the store's run id column


class StepExecution(_ReportModel):
    project_id: Identifier
    workflow_id: Identifier
    run_id: Identifier
    step_id: Identifier
    timestamp: Moment
    duration_ms: Millis | None = None
    model: str | None = None
    prompt: Any = None  # seed 000: a JSON-serialised message array, as text
    result: Any = None  # the LLM output, text or JSON
    prompt_tokens: Count | None = None
    completion_tokens: Count | None = None
    total_tokens: Count | None = None
    finish_reason: str | None = None
    status: Literal["success", "error"]
    error: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _ends_in_range(self) -> StepExecution:
        """The step's end (timestamp + durationMs) is stored too and must stay showable."""
        started = _millis(self.timestamp)
        ends = None if started is None or self.duration_ms is None else started + self.duration_ms
        if ends is not None and ends > LATEST_MILLIS:
            raise ValueError("timestamp plus durationMs ends after the year 9999")
        return self


StepBatch = Annotated[list[StepExecution], Field(min_length=1, max_length=MAX_STEPS)]
_STEPS: TypeAdapter[list[StepExecution]] = TypeAdapter(StepBatch)


def step_run_id(project_id: str, workflow_id: str, run_id: str) -> str:
    """The Hindsight run id of a step run: the three ids, each percent-encoded, joined by ':'.

    Seed 000 only promises that a run id is unique within its project and workflow, so all
    three take part; encoding keeps the join unambiguous and the id readable.
    """
    return ":".join(quote(part, safe="") for part in (project_id, workflow_id, run_id))


def _node(step: StepExecution) -> NodeRecord:
    started = _millis(step.timestamp)
    assert started is not None  # required field
    completed = started + step.duration_ms if step.duration_ms is not None else None
    llm = LlmRecord(
        model=step.model,
        prompt_json=_json_or_none(step, "prompt", _parsed_prompt(step.prompt)),
        response_json=_json_or_none(step, "result", step.result),
        prompt_tokens=step.prompt_tokens,
        completion_tokens=step.completion_tokens,
        total_tokens=step.total_tokens,
        finish_reason=step.finish_reason,
    )
    return NodeRecord(
        node_id=step.step_id,
        node_name=step.step_id,
        node_type="llm",
        status=Status(step.status),
        started_at=started,
        completed_at=completed,
        duration_ms=step.duration_ms,
        input_json=_dumps(step.prompt) if "prompt" in step.model_fields_set else None,
        output_json=_json_or_none(step, "result", step.result),
        error_message=step.error if step.status == "error" else None,
        llm=llm,
    )


def decode_steps(body: bytes) -> tuple[list[tuple[StepRun, list[NodeRecord]]], list[str]]:
    """One step or an array of them: the steps grouped by the run they belong to (first seen
    first), and each step's run id in the order the steps came."""
    batch = is_batch(body)
    try:
        steps = _STEPS.validate_json(body) if batch else [StepExecution.model_validate_json(body)]
    except ValidationError as exc:
        raise _report_error(exc, "step execution") from None
    runs: dict[str, tuple[StepRun, list[NodeRecord]]] = {}
    run_ids = []
    problems = []
    for index, step in enumerate(steps):
        prefix = f"[{index}]." if batch else ""
        run_id = step_run_id(step.project_id, step.workflow_id, step.run_id)
        if len(run_id) > RUN_ID_LIMIT:
            problems.append(
                {
                    "path": f"{prefix}runId",
                    "message": f"projectId, workflowId and runId together make a run id "
                    f"of {len(run_id)} characters; the limit is {RUN_ID_LIMIT}",
                }
            )
        try:
            node = _node(step)
        except ValueError as exc:  # NaN or Infinity in the prompt or the result
            payloads = ((f"{prefix}prompt", step.prompt), (f"{prefix}result", step.result))
            problems += unstorable_payloads(payloads, prefix.rstrip(".") or "$", exc)
            continue
        run = StepRun(id=run_id, workflow_id=step.workflow_id, project_id=step.project_id)
        runs.setdefault(run_id, (run, []))[1].append(node)
        run_ids.append(run_id)
    if problems:
        raise ReportError("invalid step execution", problems)
    return list(runs.values()), run_ids
