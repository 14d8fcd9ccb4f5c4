"""``/sandbox`` — what the sandbox platform holds, for demos and drills (platform_admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import require_roles
from api.schemas.sandbox import SandboxPostPublic
from connectors.sandbox import SandboxPlatform
from db.accounts import Principal
from domain.kernel import Platform
from domain.roles import Role

router = APIRouter(prefix="/sandbox", tags=["sandbox"])
AdminDep = Annotated[Principal, Depends(require_roles(Role.platform_admin, Role.admin))]


def _sandbox(request: Request) -> SandboxPlatform:
    """The sandbox's own store (settings.sandbox_database_url), opened once per app."""
    sandbox: SandboxPlatform | None = getattr(request.app.state, "sandbox", None)
    if sandbox is None:
        sandbox = SandboxPlatform(request.app.state.settings.effective_sandbox_url)
        request.app.state.sandbox = sandbox
    return sandbox


@router.get(
    "/posts", response_model=list[SandboxPostPublic], summary="Posts on the sandbox platform, newest first"
)
async def list_posts(
    _: AdminDep,
    sandbox: Annotated[SandboxPlatform, Depends(_sandbox)],
    platform: Platform | None = None,
    account: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SandboxPostPublic]:
    rows = await run_in_threadpool(sandbox.posts_page, platform, account, limit)
    return [SandboxPostPublic.model_validate(r) for r in rows]
