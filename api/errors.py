"""Error mapping: every error body is JSON of one shape, ``{"error": code, "message": text, "field": name or
null, ...}`` — plus ``fields`` on a 422, ``required_roles``/``your_roles`` on a 403, ``request_id`` on a 500."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import pydantic
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

M = TypeVar("M", bound=pydantic.BaseModel)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message, "field": self.field or None}
        body.update(self.extra)
        return body


def bad_request(field: str, reason: str, status: int = 422) -> ApiError:
    return ApiError(
        status, "validation_error", f"{field}: {reason}", field=field, fields=[{"field": field, "reason": reason}]
    )


def not_found(what: str, ident: object) -> ApiError:
    return ApiError(404, "not_found", f"{what} {ident} does not exist")


def conflict(message: str, **extra: Any) -> ApiError:
    return ApiError(409, "conflict", message, **extra)


_NAMED = re.compile(r"^([a-z_][a-z0-9_.]*): (.+)$", re.DOTALL)


def from_request(model: type[M], **data: Any) -> M:
    """Build a domain model from request data: its validation errors are the client's (422, naming the
    field), not a server error."""
    try:
        return model(**data)
    except pydantic.ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        fields = []
        for err in exc.errors():
            reason = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            field = _field_name(tuple(err.get("loc", ())))
            if err.get("type") == "json_invalid":
                loc = tuple(err.get("loc", ()))
                at = f" (at character {loc[-1]})" if loc and isinstance(loc[-1], int) else ""
                detail = (err.get("ctx") or {}).get("error") or reason
                field, reason = "body", f"not valid JSON{at}: {detail}"
            named = _NAMED.match(reason)
            if named:  # a model-level check that names its field: "text: give …"
                prefix = "" if field == "body" else f"{field}."
                field, reason = prefix + named.group(1), named.group(2)
            if {"field": field, "reason": reason} not in fields:  # a path id read by the route and its record
                fields.append({"field": field, "reason": reason})
        first = fields[0] if fields else {"field": "body", "reason": "invalid"}
        return JSONResponse(
            {
                "error": "validation_error",
                "message": f"{first['field']}: {first['reason']}",
                "field": first["field"],
                "fields": fields,
            },
            status_code=422,
        )

    from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
    from temporalio.exceptions import WorkflowAlreadyStartedError
    from temporalio.service import RPCError

    async def _temporal(_: Request, exc: Exception) -> JSONResponse:
        from api.workflows import temporal_error

        err = temporal_error(exc)
        return JSONResponse(err.body(), status_code=err.status)

    for kind in (
        RPCError,
        WorkflowAlreadyStartedError,
        WorkflowUpdateFailedError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
    ):
        app.add_exception_handler(kind, _temporal)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = str(request.scope.get("state", {}).get("request_id", ""))
        structlog.get_logger("socialops.api").exception(
            "unhandled error", path=request.url.path, request_id=request_id
        )
        return JSONResponse(
            {"error": "internal_error", "message": "an unexpected error occurred; nothing was changed by it "
             "unless the response says otherwise. Quote the request id when reporting it.", "field": None,
             "request_id": request_id},
            status_code=500,
        )  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            {"error": code, "message": str(exc.detail), "field": None},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
