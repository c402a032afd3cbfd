"""`GET /api/openapi.json`: an OpenAPI 3.1 description of every route the receiver answers.

Request bodies come from the very pydantic models and adapters that validate them, so the
document cannot drift from what is accepted. Responses are described by the models below;
the tests validate real answers against them (extra fields forbidden), which keeps them
honest too.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app import __version__
from app.ingest import read_api
from app.ingest.report import (
    ExecutionReport,
    LogBatch,
    LogReport,
    NodeBatch,
    NodeExecutionReport,
    ReportBatch,
)
from app.ingest.steps import StepBatch, StepExecution

REF = "#/components/schemas/{model}"


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(_Out):
    path: str = Field(
        description="where in the body or query the problem is, e.g. nodeExecutions[3].status"
    )
    message: str


class ErrorBody(_Out):
    error: str
    details: list[ErrorDetail] | None = None
    runId: str | None = None


class Health(_Out):
    status: str
    version: str
    # Where this receiver stores reports: a file path, or a URL without its password.
    database: str | None = None


class Created(_Out):
    id: str


class CreatedBatch(_Out):
    ids: list[str]


class NodesStored(_Out):
    id: str
    nodes: int


class LogsStored(_Out):
    id: str
    logs: int


class StepsCreated(_Out):
    runId: str


class StepsCreatedBatch(_Out):
    runIds: list[str]


class RunSummaryOut(_Out):
    id: str
    workflowId: str
    workflowName: str
    projectId: str | None
    status: str
    startedAt: str
    completedAt: str | None
    durationMs: int | None
    nodeCount: int
    failedNode: str | None
    totalTokens: int | None
    costUsd: float | None


class RunPage(_Out):
    items: list[RunSummaryOut]
    nextCursor: str | None
    total: int


class WorkflowOut(_Out):
    workflowId: str
    workflowName: str
    runCount: int
    successRate: float | None
    lastRun: RunSummaryOut | None


class WorkflowList(_Out):
    items: list[WorkflowOut]


class DayCount(_Out):
    day: str
    runs: int


class Bucket(_Out):
    upToMs: int | None
    runs: int


class WorkflowStatsOut(_Out):
    workflowId: str
    workflowName: str
    runs: int
    successes: int
    failures: int
    successRate: float | None
    p50Ms: int | float | None
    p95Ms: int | float | None
    maxMs: int | float | None
    runsPerDay: list[DayCount]
    durationBuckets: list[Bucket]


class NodeStatsOut(_Out):
    nodeId: str
    nodeName: str
    executions: int
    failures: int
    p50Ms: int | float | None
    p95Ms: int | float | None


class FailureGroupOut(_Out):
    workflowId: str
    nodeId: str | None
    nodeName: str | None
    error: str | None
    count: int
    firstSeen: str | None
    lastSeen: str | None
    runIds: list[str]


class StatsOut(_Out):
    workflows: list[WorkflowStatsOut]
    nodes: list[NodeStatsOut]
    failureGroups: list[FailureGroupOut]


# Request bodies: one item or an array, exactly as the receiver validates them.
REQUESTS: dict[str, Any] = {
    "ExecutionReportBody": ExecutionReport | ReportBatch,
    "NodeExecutionBody": NodeExecutionReport | NodeBatch,
    "LogEntryBody": LogReport | LogBatch,
    "StepExecutionBody": StepExecution | StepBatch,
}
RESPONSES: dict[str, Any] = {
    "ErrorBody": ErrorBody,
    "Health": Health,
    "ExecutionCreated": Created | CreatedBatch,
    "NodesStored": NodesStored,
    "LogsStored": LogsStored,
    "StepsCreated": StepsCreated | StepsCreatedBatch,
    "RunPage": RunPage,
    "Execution": ExecutionReport,
    "WorkflowList": WorkflowList,
    "Stats": StatsOut,
}


def _schemas() -> dict[str, Any]:
    """Every named schema, with the models they use hoisted into components."""
    components: dict[str, Any] = {}
    for table in (REQUESTS, RESPONSES):
        for name, annotation in table.items():
            # Validation mode throughout: a response in report shape is what a POST accepts.
            schema = TypeAdapter(annotation).json_schema(by_alias=True, ref_template=REF)
            components.update(schema.pop("$defs", {}))
            components[name] = schema
    return components


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": REF.format(model=name)}


def _json(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def _errors(*codes: int) -> dict[str, Any]:
    meaning = {
        400: "the body or a query parameter is invalid; `details` lists every problem",
        401: "the token is missing (required beyond loopback) or wrong",
        403: "a browser or a foreign Host: refused (DNS rebinding, cross-site requests)",
        404: "no such run",
        409: "the run id belongs to a run reported whole, which steps cannot join",
        408: "the body did not arrive whole within the read timeout (10 s); nothing stored",
        411: "Content-Length is missing, or the body was sent with Transfer-Encoding",
        413: "the body is larger than the limit (20 MiB by default)",
        415: "the body is not application/json",
        422: "not stored, and never will be here: storing it stopped the receiver's store "
        "process twice, the second time alone; the body is kept in the spool folder",
        503: "not stored: the receiver is busy, the database is locked past its timeout "
        "or read-only; retry after Retry-After seconds",
        507: "not stored: the disk holding the database is full",
    }
    answers = {}
    for code in codes:
        answer = _json("ErrorBody", meaning[code])
        if code == 503:
            answer["headers"] = {
                "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
            }
        answers[str(code)] = answer
    return answers


_POST_ERRORS = (400, 401, 403, 408, 411, 413, 415, 422, 503, 507)
_GET_ERRORS = (401, 403, 503)
_RUN_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "the run id, percent-encoded (an id may hold '/', sent as %2F)",
    "schema": {"type": "string"},
}


def _query(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


_FILTERS = [
    _query("workflowId", "only runs of this workflow"),
    _query("projectId", "only runs of this project"),
    _query("userId", "only runs of this user"),
    _query("status", "comma-separated statuses (success, error, running, ...)"),
    _query("since", "ISO-8601 time: runs started at or after it"),
    _query("until", "ISO-8601 time: runs started before it"),
    _query("q", "full-text search over inputs, outputs, errors, prompts and logs"),
]


def _post(summary: str, body: str, ok: str, ok_schema: str, *extra: int) -> dict[str, Any]:
    return {
        "summary": summary,
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(body)}}},
        "responses": {
            ok: _json(ok_schema, "stored and committed"),
            **_errors(*sorted({*_POST_ERRORS, *extra})),
        },
    }


def _get(summary: str, schema: str, *extra: int, **fields: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        **fields,
        "responses": {
            "200": _json(schema, "the answer"),
            **_errors(*sorted({*_GET_ERRORS, *extra})),
        },
    }


def _paths() -> dict[str, Any]:
    return {
        "/api/health": {"get": _get("Is the receiver up", "Health")},
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_errors(*_GET_ERRORS),
                },
            }
        },
        "/api/executions": {
            "post": _post(
                "Store one execution report or an array of up to 1,000 (all or none); "
                "re-posting an id replaces that run",
                "ExecutionReportBody",
                "201",
                "ExecutionCreated",
            ),
            "get": _get(
                "List runs, newest first",
                "RunPage",
                400,
                parameters=[
                    *_FILTERS,
                    _query(
                        "limit", f"1 to {read_api.MAX_LIMIT} (default {read_api.DEFAULT_LIMIT})"
                    ),
                    _query("cursor", "nextCursor of the previous page"),
                ],
            ),
        },
        "/api/executions/{id}": {
            "get": _get(
                "One run in report shape (posting it back reproduces it)",
                "Execution",
                404,
                parameters=[_RUN_ID],
            ),
        },
        "/api/executions/{id}/nodes": {
            "post": {
                **_post(
                    "Add or update node executions of a running run (upsert by nodeId + "
                    "attempt; a missing attempt is 1)",
                    "NodeExecutionBody",
                    "200",
                    "NodesStored",
                    404,
                ),
                "parameters": [_RUN_ID],
            }
        },
        "/api/executions/{id}/logs": {
            "post": {
                **_post(
                    "Append log lines to a run, in order; without a sequence number a "
                    "line continues after the last one, with one it replaces that line",
                    "LogEntryBody",
                    "200",
                    "LogsStored",
                    404,
                ),
                "parameters": [_RUN_ID],
            }
        },
        "/api/steps": {
            "post": _post(
                "Store LLM steps (StepExecution); steps of one project + workflow + run form "
                "one run, whose id is projectId:workflowId:runId (each percent-encoded)",
                "StepExecutionBody",
                "201",
                "StepsCreated",
                409,
            ),
        },
        "/api/workflows": {
            "get": _get(
                "Workflows with run count, last run and success rate",
                "WorkflowList",
                400,
                parameters=_FILTERS,
            ),
        },
        "/api/stats": {
            "get": _get(
                "Durations, failures and failure groups", "Stats", 400, parameters=_FILTERS
            ),
        },
    }


@functools.cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hindsight receiver",
            "version": __version__,
            "description": "Reports from workflows, acknowledged only once committed. Any "
            "other method on a listed path answers 405 with an Allow header; any other path "
            "404. Beyond loopback every request needs Authorization: Bearer <token>.",
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"token": []}],
        "paths": _paths(),
    }


def openapi_document() -> dict[str, Any]:
    return copy.deepcopy(_document())
