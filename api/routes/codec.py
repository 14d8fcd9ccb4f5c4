"""The codec server the Temporal Web UI and CLI call to show encrypted payloads: ``POST /codec/decode`` and
``POST /codec/encode`` with Temporal's codec-server JSON (``{"payloads": [{"metadata": {k: base64},
"data": base64}]}``, the protobuf JSON of ``temporal.api.common.v1.Payloads``).

Decrypted payloads hold personal data: a caller must be signed in and hold one of
``SOCIALOPS_CODEC_ROLES`` (default admin), else 401/403. Signed in means a bearer token (the CLI:
``--codec-auth``), or — for the Temporal web UI, which cannot send our tokens — the codec sign-in cookie:
a person opens ``/codec/sign-in`` once, pastes their token, and gets an HttpOnly cookie (``Path=/codec``,
``SOCIALOPS_CODEC_SESSION_HOURS``) that the UI sends with ``TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true``. The
cookie is an HMAC over the token's id, hash and expiry: revoking the token or deactivating the user ends it.
It is accepted only on JSON requests, which a foreign page cannot send without a CORS preflight.
Browsers call from the UI's origin, so the origins in ``SOCIALOPS_CODEC_CORS_ORIGINS`` get CORS headers
(with credentials) — on errors too, so the UI can show them. Point the UI at ``https://<api>/codec``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from google.protobuf import json_format
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from api.deps import DbDep, SettingsDep, require_roles
from api.errors import ApiError
from core.codec import PayloadDecryptError, codec_from_spec
from core.settings import Environment, Settings
from db.accounts import Principal, authenticate_token_id
from db.engine import Database

router = APIRouter(prefix="/codec", tags=["codec"])
log = structlog.get_logger("socialops.codec")

PREFIX = "/codec/"
CORS_ALLOW_HEADERS = "authorization, content-type, x-namespace"

COOKIE = "socialops_codec"
_bearer = require_roles()


def _cookie_key(settings: Settings) -> bytes:
    secret = settings.secret_key.get_secret_value().encode("utf-8")
    return hmac.new(secret, b"socialops/codec-session", hashlib.sha256).digest()


def _cookie_mac(settings: Settings, token_id: int, expires: int, token_hash: str) -> str:
    msg = f"{token_id}.{expires}.{token_hash}".encode()
    return hmac.new(_cookie_key(settings), msg, hashlib.sha256).hexdigest()


def session_cookie(settings: Settings, principal: Principal, token_hash: str, now: float) -> tuple[str, int]:
    """The cookie value for ``principal``'s token, and its expiry (Unix seconds)."""
    assert principal.token_id is not None
    expires = int(now) + settings.codec_session_hours * 3600
    return (
        f"v1.{principal.token_id}.{expires}.{_cookie_mac(settings, principal.token_id, expires, token_hash)}",
        expires,
    )


def _from_cookie(value: str, settings: Settings, db: Database) -> Principal | None:
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != "v1" or not parts[1].isascii() or not parts[2].isascii():
        return None
    if not (parts[1].isdigit() and parts[2].isdigit()) or len(parts[1]) > 18 or len(parts[2]) > 12:
        return None
    token_id, expires = int(parts[1]), int(parts[2])
    if expires < time.time():
        return None
    with db.session() as session:
        found = authenticate_token_id(session, token_id)
    if found is None:
        return None
    principal, token_hash = found
    expected = _cookie_mac(settings, token_id, expires, token_hash)
    return principal if hmac.compare_digest(parts[3].encode("utf-8"), expected.encode("ascii")) else None


async def codec_principal(request: Request, db: DbDep, settings: SettingsDep) -> Principal:
    """A bearer token (CLI, scripts) or the codec sign-in cookie (the web UI), on JSON requests only."""
    cookie = request.cookies.get(COOKIE)
    if request.headers.get("authorization") or not cookie:
        return await _bearer(request, db)
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ApiError(401, "unauthenticated", "the codec sign-in cookie is accepted on application/json requests")
    principal = await run_in_threadpool(_from_cookie, cookie, settings, db)
    if principal is None:
        raise ApiError(
            401,
            "unauthenticated",
            "the codec sign-in has expired, or its token was revoked: sign in again at /codec/sign-in",
        )
    request.scope.setdefault("state", {})["principal"] = principal
    structlog.contextvars.bind_contextvars(user=principal.name)
    return principal


# A gate like require_roles()'s (any signed-in user): the OpenAPI documents its 401/403, the role table reads it.
codec_principal.allowed_roles = frozenset()  # type: ignore[attr-defined]

# Authentication here; the roles are configuration (SOCIALOPS_CODEC_ROLES), checked in the handler.
SignedInDep = Annotated[Principal, Depends(codec_principal)]
BearerDep = Annotated[Principal, Depends(_bearer)]

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


class CodecSession(BaseModel):
    user: str
    expires_at: datetime


@router.post(
    "/session",
    response_model=CodecSession,
    summary="Sign the browser in for the Temporal web UI's codec calls (sets an HttpOnly cookie)",
)
async def sign_in(principal: BearerDep, settings: SettingsDep, db: DbDep) -> Response:
    """Send the bearer token once; the answer sets ``socialops_codec`` (``Path=/codec``), which the UI sends
    with its decode calls when ``TEMPORAL_CODEC_INCLUDE_CREDENTIALS`` is on. Needs a codec role (403)."""
    _authorize(principal, settings)
    assert principal.token_id is not None

    def token_hash() -> str:
        with db.session() as session:
            found = authenticate_token_id(session, principal.token_id or 0)
        if found is None:
            raise ApiError(401, "unauthenticated", "the bearer token was revoked meanwhile")
        return found[1]

    value, expires = session_cookie(settings, principal, await run_in_threadpool(token_hash), time.time())
    body = CodecSession(user=principal.name, expires_at=datetime.fromtimestamp(expires, UTC))
    response = JSONResponse(body.model_dump(mode="json"))
    response.set_cookie(
        COOKIE,
        value,
        max_age=settings.codec_session_hours * 3600,
        path="/codec",
        httponly=True,
        secure=settings.environment is Environment.production or settings.codec_cookie_samesite == "none",
        samesite=settings.codec_cookie_samesite,
    )
    log.info("codec sign-in", user=principal.name, expires_at=body.expires_at.isoformat())
    return response


@router.delete("/session", status_code=204, summary="Sign the browser out of the codec (clears the cookie)")
async def sign_out(_: SignedInDep) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/codec")
    return response


_SIGN_IN_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>socialops · 解密查看登录</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
input{width:100%;padding:.5rem;font-family:monospace}button{margin-top:.75rem;padding:.5rem 1rem}
#out{margin-top:1rem}</style></head>
<body><h1>Temporal 界面解密查看 · 登录</h1>
<p>工作流数据已加密。在此粘贴你的 socialops API 令牌（需具备解密查看角色），本浏览器即可在 Temporal 界面中看到解密后的内容。
令牌只用于本次登录，不会保存在页面中；登录凭证为仅限 <code>/codec</code> 的 HttpOnly Cookie。</p>
<p lang="en">Paste your socialops API token to let this browser see decrypted payloads in the Temporal web UI.</p>
<form id="f"><label>API 令牌 / API token<input id="t" type="password" autocomplete="off" required></label>
<button type="submit">登录 / Sign in</button> <button type="button" id="o">退出 / Sign out</button></form>
<div id="out" role="status"></div>
<script>
const out = document.getElementById("out");
document.getElementById("f").addEventListener("submit", async (e) => {
  e.preventDefault();
  const r = await fetch("session", {method: "POST", credentials: "same-origin",
    headers: {"Authorization": "Bearer " + document.getElementById("t").value.trim()}});
  const b = await r.json().catch(() => ({}));
  document.getElementById("t").value = "";
  out.textContent = r.ok ? `已登录：${b.user}，有效期至 ${b.expires_at}。现在可以打开 Temporal 界面。`
                         : `登录失败（${r.status}）：${b.message || ""}`;
});
document.getElementById("o").addEventListener("click", async () => {
  const r = await fetch("session", {method: "DELETE", credentials: "same-origin",
    headers: {"Content-Type": "application/json"}});
  out.textContent = r.ok ? "已退出。" : `退出失败（${r.status}）`;
});
</script></body></html>
"""


@router.get("/sign-in", response_class=HTMLResponse, include_in_schema=False)
def sign_in_page() -> HTMLResponse:
    """The one page a person opens before using the Temporal UI (public: it holds no data)."""
    return HTMLResponse(
        _SIGN_IN_PAGE,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        },
    )


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
sign_in.roles_setting = "codec_roles"  # type: ignore[attr-defined]
