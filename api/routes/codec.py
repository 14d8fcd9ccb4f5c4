"""The codec server the Temporal Web UI and CLI call to show encrypted payloads: ``POST /codec/decode`` and
``POST /codec/encode`` with Temporal's codec-server JSON (``{"payloads": [{"metadata": {k: base64},
"data": base64}]}``, the protobuf JSON of ``temporal.api.common.v1.Payloads``).

Decrypted payloads hold personal data: a caller must be signed in (bearer token) and hold one of
``SOCIALOPS_CODEC_ROLES`` (default admin), else 401/403. Browsers call from the UI's origin, so the
origins in ``SOCIALOPS_CODEC_CORS_ORIGINS`` get CORS headers — on errors too, so the UI can show them.
Point the UI at ``https://<api>/codec`` (it appends ``/decode``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from google.protobuf import json_format
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from api.deps import SettingsDep, require_roles
from api.errors import ApiError
from core.codec import PayloadDecryptError, codec_from_spec
from core.settings import Settings
from db.accounts import Principal

router = APIRouter(prefix="/codec", tags=["codec"])
log = structlog.get_logger("socialops.codec")

PREFIX = "/codec/"
CORS_ALLOW_HEADERS = "authorization, content-type, x-namespace"

# Authentication here; the roles are configuration (SOCIALOPS_CODEC_ROLES), checked in the handler.
SignedInDep = Annotated[Principal, Depends(require_roles())]

_PAYLOADS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["payloads"],
                    "properties": {
                        "payloads": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "metadata": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string", "format": "byte"},
                                    },
                                    "data": {"type": "string", "format": "byte"},
                                },
                            },
                        }
                    },
                }
            }
        },
    }
}


def _authorize(principal: Principal, settings: Settings) -> None:
    allowed = set(settings.codec_roles)
    if not allowed & set(principal.role_names):
        raise ApiError(
            403,
            "forbidden",
            f"seeing decrypted workflow payloads needs one of the roles: {', '.join(sorted(allowed))} "
            f"(SOCIALOPS_CODEC_ROLES); you have: {', '.join(principal.role_names) or 'none'}",
            required_roles=sorted(allowed),
            your_roles=principal.role_names,
        )


async def _apply(request: Request, fn: Callable[[Iterable[Payload]], Awaitable[list[Payload]]] | None) -> Response:
    body = await request.body()
    try:
        payloads = json_format.Parse(body or b"{}", Payloads())
    except (json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(
            422,
            "validation_error",
            f"body: not a Temporal Payloads JSON document ({str(exc)[:200]})",
            field="body",
            fields=[{"field": "body", "reason": 'expected {"payloads": [{"metadata": {…}, "data": …}]}'}],
        ) from None
    out = list(payloads.payloads) if fn is None else await fn(payloads.payloads)
    return Response(json_format.MessageToJson(Payloads(payloads=out)), media_type="application/json")


def _codec_fn(settings: Settings, decode: bool) -> Callable[[Iterable[Payload]], Awaitable[list[Payload]]] | None:
    codec = codec_from_spec(settings.payload_keys.get_secret_value())
    if codec is None:
        return None  # encryption is off: payloads are plain already, both ways
    return codec.decode if decode else codec.encode


@router.post(
    "/decode", summary="Decrypt payloads for the Temporal UI / CLI (codec server)", openapi_extra=_PAYLOADS_BODY
)
async def decode(request: Request, principal: SignedInDep, settings: SettingsDep) -> Response:
    _authorize(principal, settings)
    try:
        response = await _apply(request, _codec_fn(settings, decode=True))
    except PayloadDecryptError as exc:
        raise ApiError(422, "undecryptable_payload", str(exc)) from None
    log.info("payloads decoded", user=principal.name, namespace=request.headers.get("x-namespace", ""))
    return response


@router.post(
    "/encode", summary="Encrypt payloads for the Temporal UI / CLI (codec server)", openapi_extra=_PAYLOADS_BODY
)
async def encode(request: Request, principal: SignedInDep, settings: SettingsDep) -> Response:
    _authorize(principal, settings)
    return await _apply(request, _codec_fn(settings, decode=False))


class CodecCorsMiddleware:
    """CORS for ``/codec/*`` only: answers the preflight (before authentication, as browsers send no token
    with it) and adds the allow headers to every response for a configured origin."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        self.app = app
        self.origins = frozenset(o.rstrip("/") for o in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode("latin-1")
        allowed = origin in self.origins
        if scope["method"] == "OPTIONS" and headers.get(b"access-control-request-method"):
            status = 204 if allowed else 403
            await send({"type": "http.response.start", "status": status, "headers": self._cors(origin, allowed)})
            await send({"type": "http.response.body", "body": b""})
            return

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start" and allowed:
                message["headers"] = list(message.get("headers", [])) + self._cors(origin, True)
            await send(message)

        await self.app(scope, receive, _send)

    @staticmethod
    def _cors(origin: str, allowed: bool) -> list[tuple[bytes, bytes]]:
        out = [(b"vary", b"Origin")]
        if allowed:
            out += [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", b"POST, OPTIONS"),
                (b"access-control-allow-headers", CORS_ALLOW_HEADERS.encode()),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-max-age", b"600"),
            ]
        return out


def install(app: FastAPI, settings: Settings) -> None:
    """The codec routes and their CORS (one call from the app factory)."""
    app.include_router(router)
    app.add_middleware(CodecCorsMiddleware, origins=settings.codec_cors_origins)


# The roles these routes admit come from a setting, not from the gate (the route table says so).
decode.roles_setting = "codec_roles"  # type: ignore[attr-defined]
encode.roles_setting = "codec_roles"  # type: ignore[attr-defined]
