"""The OpenAPI document lists each operation's error responses with the one error shape (issue 13.2)."""

from __future__ import annotations

from typing import Any

from api.app import create_app
from db.engine import Database
from tests.conftest import test_settings


def _schema() -> dict[str, Any]:
    return create_app(test_settings(Database("sqlite://"))).openapi()


def _ref(op: dict[str, Any], code: str) -> str:
    return str(op["responses"][code]["content"]["application/json"]["schema"]["$ref"])


def test_every_operation_documents_its_errors_with_the_error_shape() -> None:
    schema = _schema()
    components = schema["components"]["schemas"]
    assert {"error", "message", "field"} <= set(components["ErrorBody"]["required"])
    assert "fields" in components["ValidationErrorBody"]["properties"]
    assert "HTTPValidationError" not in components  # FastAPI's default 422 shape is not what we send
    operations = [(m, p, op) for p, ops in schema["paths"].items() for m, op in ops.items()]
    assert len(operations) > 100
    for method, path, op in operations:
        codes = set(op["responses"])
        for code in {c for c in codes if c[0] in "45"}:
            if path != "/health":
                assert _ref(op, code).startswith("#/components/schemas/"), (method, path, code)
        if "{" in path:
            assert "404" in codes, (method, path)
        if op.get("requestBody"):
            assert {"400", "413", "422"} <= codes, (method, path)
            assert _ref(op, "422").endswith("/ValidationErrorBody") and _ref(op, "413").endswith(
                "/PayloadTooLargeBody"
            )
        if method in ("post", "put", "delete"):
            assert "409" in codes, (method, path)


def test_gates_and_processes_are_documented() -> None:
    paths = _schema()["paths"]
    users = paths["/users"]["get"]["responses"]
    assert {"401", "403"} <= set(users) and "503" not in users
    assert users["403"]["content"]["application/json"]["schema"]["$ref"].endswith("/ForbiddenBody")
    assert "401" in paths["/me"]["get"]["responses"] and "403" not in paths["/me"]["get"]["responses"]
    assert "503" in paths["/inbox/{item_id}/reply"]["post"]["responses"]  # it needs Temporal
    assert "401" not in paths["/campaigns/{campaign_id}/draw.json"]["get"]["responses"]  # public
    assert "409" in paths["/campaigns/{campaign_id}/draw.json"]["get"]["responses"]  # before the draw
    webhook = paths["/monitoring/ingest/{source_key}"]["post"]
    assert {"401", "413"} <= set(webhook["responses"]) and webhook["requestBody"]["required"] is True
    assert {p["name"] for p in webhook["parameters"]} >= {"x-socialops-timestamp", "x-socialops-signature"}
