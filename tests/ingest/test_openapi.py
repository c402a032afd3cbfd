"""`GET /api/openapi.json` describes exactly the routes the receiver answers, with request
schemas taken from the validating models and response models that real answers satisfy."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from app.ingest import openapi
from app.ingest.report import ExecutionReport, NodeExecutionReport
from app.ingest.server import ROUTES
from tests.conftest import make_report, post_json
from tests.ingest.test_steps import step

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


def _document(ingest: Any) -> dict[str, Any]:
    status, document, response = post_json(ingest.url, "/api/openapi.json", b"", method="GET")
    assert status == 200 and response.getheader("Content-Type") == "application/json"
    return document


def _operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document["paths"].items() for method in item}


def test_document_lists_exactly_the_routes_the_server_has(ingest: Any) -> None:
    document = _document(ingest)
    assert document["openapi"] == "3.1.0"
    served = {(path, method) for path, methods in ROUTES.items() for method in methods}
    assert _operations(document) == served


def _request_body(path: str) -> Any:
    return {
        "/api/executions": make_report("probe"),
        "/api/executions/{id}/nodes": {"nodeId": "n", "status": "running"},
        "/api/executions/{id}/logs": {"message": "hello"},
        "/api/steps": step("s", "2026-11-22T09:00:00Z"),
    }.get(path, b"")


def test_every_documented_operation_is_answered_and_nothing_else(ingest: Any) -> None:
    assert post_json(ingest.url, "/api/executions", make_report("known"))[0] == 201
    document = _document(ingest)
    for path, item in document["paths"].items():
        concrete = path.replace("{id}", "known")
        for method in METHODS:
            status, body, response = post_json(
                ingest.url, concrete, _request_body(path), method=method
            )
            if method.lower() in item:
                declared = item[method.lower()]["responses"]
                assert str(status) in declared, (method, path, status, body)
                assert status < 300, (method, path, status, body)
            else:
                assert status == 405, (method, path, status)
                allowed = {m.upper() for m in item} | ({"HEAD"} if "get" in item else set())
                assert set(response.getheader("Allow").split(", ")) == allowed
    for unknown in ("/api", "/api/executions/known/other", "/api/step", "/openapi.json"):
        assert post_json(ingest.url, unknown, b"", method="GET")[0] == 404


def test_request_schemas_are_the_validating_models(ingest: Any) -> None:
    schemas = _document(ingest)["components"]["schemas"]
    ref = "#/components/schemas/{model}"
    expected = TypeAdapter(ExecutionReport).json_schema(by_alias=True, ref_template=ref)
    expected.pop("$defs", None)
    assert schemas["ExecutionReport"] == expected
    node = NodeExecutionReport.model_json_schema(by_alias=True, ref_template=ref)
    node.pop("$defs", None)
    assert schemas["NodeExecutionReport"] == node
    body = schemas["ExecutionReportBody"]["anyOf"]
    assert body[0] == {"$ref": "#/components/schemas/ExecutionReport"}
    assert body[1]["type"] == "array" and body[1]["maxItems"] == 1000
    assert "workflowId" in schemas["ExecutionReport"]["required"]
    assert "stepId" in schemas["StepExecution"]["required"]
    for item in _document(ingest)["paths"].values():
        for operation in item.values():
            for answer in operation["responses"].values():
                for media in answer.get("content", {}).values():
                    target = media["schema"].get("$ref", "")
                    assert not target or target.rsplit("/", 1)[1] in schemas


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/api/health", openapi.Health),
        ("/api/executions?limit=2", openapi.RunPage),
        ("/api/executions/run-1", ExecutionReport),
        ("/api/workflows", openapi.WorkflowList),
        ("/api/stats", openapi.StatsOut),
    ],
)
def test_real_answers_satisfy_the_documented_responses(
    ingest: Any, path: str, model: type[Any]
) -> None:
    reports = [make_report("run-1"), make_report("run-2", status="success")]
    assert post_json(ingest.url, "/api/executions", reports)[0] == 201
    status, body, _ = post_json(ingest.url, path, b"", method="GET")
    assert status == 200
    model.model_validate(body)  # response models forbid fields they do not describe


def test_error_answers_satisfy_the_error_schema(ingest: Any) -> None:
    bad = make_report()
    del bad["id"]
    for path, body in (
        ("/api/executions", bad),
        ("/api/executions/ghost/nodes", {"nodeId": "n", "status": "running"}),
    ):
        status, answer, _ = post_json(ingest.url, path, body)
        assert status in (400, 404)
        openapi.ErrorBody.model_validate(answer)
