"""Dependencies: settings, database session, Temporal client, and role-gated authentication."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Annotated, Any, NoReturn, cast

import structlog
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlmodel import Session
from temporalio.client import Client

from api.errors import ApiError, bad_request
from core.settings import Settings
from core.temporal import connect
from db.accounts import Principal, authenticate, get_user_by_name, roles_of
from db.engine import Database
from domain.roles import Role


class TemporalGateway:
    """Connects lazily and reconnects after failures, so the API starts even while Temporal is down."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def get(self, timeout: float = 5.0) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.wait_for(connect(self._settings), timeout)
        return self._client


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def get_session(db: Annotated[Database, Depends(get_db)]) -> Iterator[Session]:
    with db.session() as session:
        yield session


class TemporalUnreachable:
    """Stands in for the client while Temporal cannot be reached: the first use answers 503.

    Failing at first use rather than while dependencies are solved lets FastAPI finish validating the
    request first, so an invalid request is a 422 naming its field whether Temporal is up or not."""

    def __init__(self, reason: str) -> None:
        self._reason = reason

    def __getattr__(self, name: str) -> NoReturn:
        raise ApiError(503, "temporal_unavailable", f"Temporal is not reachable: {self._reason}")


async def get_temporal(request: Request) -> Client:
    gateway: TemporalGateway = request.app.state.temporal
    try:
        return await gateway.get()
    except Exception as exc:  # connection refused, timeout
        return cast(Client, TemporalUnreachable(str(exc)))


async def get_temporal_if_up(request: Request) -> Client | None:
    """The client, or None while Temporal is unreachable — for routes that record work and start it later."""
    gateway: TemporalGateway = request.app.state.temporal
    try:
        return await gateway.get()
    except Exception:
        return None


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


SessionDep = Annotated[Session, Depends(get_session)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
MaybeTemporalDep = Annotated[Client | None, Depends(get_temporal_if_up)]
DbDep = Annotated[Database, Depends(get_db)]
RequestIdDep = Annotated[str, Depends(request_id)]

AuthDependency = Callable[..., Coroutine[Any, Any, Principal]]


def _unauthenticated(message: str) -> ApiError:
    err = ApiError(401, "unauthenticated", message)
    err.headers = {"WWW-Authenticate": "Bearer"}
    return err


def require_roles(*roles: Role) -> AuthDependency:
    """A dependency that authenticates the bearer token and checks the caller holds one of ``roles``.

    With no roles, any authenticated user passes. The allowed roles are kept on the function
    (``allowed_roles``) so a test can check that every route declares its roles.
    """
    allowed = frozenset(roles)

    async def dependency(request: Request, db: Annotated[Database, Depends(get_db)]) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise _unauthenticated("missing bearer token: send the header 'Authorization: Bearer <token>'")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthenticated("the Authorization header must be 'Bearer <token>'")

        def _lookup() -> Principal | None:
            with db.session() as session:
                return authenticate(session, token.strip())

        principal = await run_in_threadpool(_lookup)
        if principal is None:
            raise _unauthenticated("the bearer token is invalid, revoked, or belongs to a deactivated user")
        request.scope.setdefault("state", {})["principal"] = principal
        structlog.contextvars.bind_contextvars(user=principal.name)
        if allowed and not principal.has_any(allowed):
            raise ApiError(
                403,
                "forbidden",
                f"this action needs one of the roles: {', '.join(sorted(r.value for r in allowed))}; "
                f"you have: {', '.join(principal.role_names) or 'none'}",
                required_roles=sorted(r.value for r in allowed),
                your_roles=principal.role_names,
            )
        return principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency


def authenticated() -> AuthDependency:
    return require_roles()


AnyUserDep = Annotated[Principal, Depends(authenticated())]
SettingsDep = Annotated[Settings, Depends(get_settings)]
# Role gates shared by several routers (a router's own gates live beside its routes).
INBOX_HANDLERS = (Role.interaction_agent, Role.ops_head)
AgentDep = Annotated[Principal, Depends(require_roles(*INBOX_HANDLERS))]
LeadDep = Annotated[Principal, Depends(require_roles(Role.ops_head))]
REVIEWERS = (Role.risk_compliance, Role.ops_head, Role.marketing, Role.business_reviewer, Role.leadership)
ReviewerDep = Annotated[Principal, Depends(require_roles(*REVIEWERS))]
PlannersDep = Annotated[Principal, Depends(require_roles(Role.risk_compliance, Role.leadership))]


def require_person(session: Session, field: str, name: str, *, any_of: tuple[Role, ...] = ()) -> None:
    """A 422 on ``field`` unless ``name`` is an active user holding at least one of ``any_of`` (if given)."""
    user = get_user_by_name(session, name)
    if user is None or not user.active or user.id is None:
        raise bad_request(field, f"no active user {name!r}")
    if any_of and not set(roles_of(session, user.id)) & set(any_of):
        needed = " or ".join(r.value for r in any_of)
        raise bad_request(field, f"{name} does not hold the role {needed}")
