"""The error responses in the OpenAPI document: each operation lists the 4xx (and 503) it can give, with the
one JSON shape every error has (``ErrorBody``; ``api/errors.py``).

Which codes an operation gives is read from the route itself, so the document cannot drift from the code:

- 401 / 403: it authenticates (a role gate), or it is one of the self-authenticated routes (401 only);
  403 also when a finer rule (owner, stage role) can refuse a signed-in caller: every change does.
- 404: its path names a record.
- 409: it changes something (a double click, a race, a process in the wrong stage) or asks a process.
- 400 / 413 / 422: it takes a body (malformed length or body / over the size limit / invalid); 422 also
  for any parameter.
- 503: it needs Temporal (``TemporalDep``): ``temporal_unavailable`` while Temporal cannot be reached.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from api.deps import get_temporal


class FieldProblem(BaseModel):
    field: str = Field(description="dotted path of the offending field, e.g. items.0.text")
    reason: str


class ErrorBody(BaseModel):
    """Every error response: a code, a sentence for people, and the field it is about (or null)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="machine-readable code, e.g. not_found, conflict, payload_too_large")
    message: str
    field: str | None = Field(description="the request field, parameter or header it is about, if any")


class ValidationErrorBody(ErrorBody):
    fields: list[FieldProblem] = Field(description="every problem found, the first also in field/message")


class ForbiddenBody(ErrorBody):
    required_roles: list[str] = Field(default_factory=list)
    your_roles: list[str] = Field(default_factory=list)


class PayloadTooLargeBody(ErrorBody):
    limit_bytes: int = Field(description="the body limit of this route")


_MODELS: tuple[type[BaseModel], ...] = (ErrorBody, ValidationErrorBody, ForbiddenBody, PayloadTooLargeBody)
_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _response(description: str, model: type[BaseModel]) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def documented_error(description: str) -> dict[str, Any]:
    """For a route's own ``responses={code: …}``: a code the route gives that its shape does not imply
    (e.g. a public read that answers 409 before the draw)."""
    return _response(description, ErrorBody)


def _dependants(dependant: Dependant) -> Iterable[Dependant]:
    for dep in dependant.dependencies:
        yield dep
        yield from _dependants(dep)


def error_responses(route: APIRoute, *, self_authenticated: bool, ingest: bool) -> dict[str, dict[str, Any]]:
    dependants = list(_dependants(route.dependant))
    calls = [d.call for d in dependants]
    gates: list[Any] = [c for c in calls if hasattr(c, "allowed_roles")]
    mutating = bool((route.methods or set()) & _MUTATING)
    has_body = route.body_field is not None or ingest or "requestBody" in (route.openapi_extra or {})
    has_params = bool(
        route.dependant.path_params
        or route.dependant.query_params
        or route.dependant.header_params
        or any(d.path_params or d.query_params or d.header_params for d in dependants)
    )
    out: dict[str, dict[str, Any]] = {}
    if has_body:
        out["400"] = _response("Malformed Content-Length or an unreadable body", ErrorBody)
    if gates or self_authenticated:
        out["401"] = _response("Missing, invalid or revoked credentials", ErrorBody)
    if any(c.allowed_roles for c in gates) or (gates and mutating):
        out["403"] = _response("Signed in, but not allowed (roles, or a finer rule)", ForbiddenBody)
    if "{" in route.path_format:
        out["404"] = _response("The record named in the path does not exist", ErrorBody)
    uses_process = get_temporal in calls
    if mutating or uses_process:
        out["409"] = _response("Conflicts with the current state (retry after reading it)", ErrorBody)
    if has_body:
        out["413"] = _response("The body is over this route's size limit", PayloadTooLargeBody)
    if has_body or has_params:
        out["422"] = _response("Invalid parameters or body", ValidationErrorBody)
    if uses_process:
        out["503"] = _response("Temporal is not reachable (temporal_unavailable); nothing was changed", ErrorBody)
    return out


def install_openapi(
    app: FastAPI, routes: Iterable[APIRoute], *, self_authenticated: frozenset[str], ingest: frozenset[str]
) -> None:
    """Replace ``app.openapi`` with one that adds the error responses (FastAPI's "extending OpenAPI")."""
    route_list = list(routes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in _MODELS:
            js = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(js.pop("$defs", {}))
            components[model.__name__] = js
        for route in route_list:
            codes = error_responses(
                route, self_authenticated=route.path in self_authenticated, ingest=route.path in ingest
            )
            for method in route.methods or ():
                operation = schema["paths"].get(route.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for code, response in codes.items():
                    if code == "422" or code not in responses:  # ours replaces FastAPI's default 422 shape
                        responses[code] = response
        for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's default 422, no longer used
            if not _referenced(schema, name):
                components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _referenced(schema: dict[str, Any], name: str) -> bool:
    return f'"#/components/schemas/{name}"' in json.dumps(schema["paths"])
