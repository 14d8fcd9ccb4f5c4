"""``/platform-accounts`` — the brand's accounts on each platform, each polled for comments, DMs, mentions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from api import workflows as wf
from api.deps import (
    AnyUserDep,
    DbDep,
    MaybeTemporalDep,
    RequestIdDep,
    SessionDep,
    get_settings,
    require_roles,
)
from api.errors import conflict
from api.schemas.platform_accounts import AccountCreate, AccountPublic
from core.settings import Settings
from db import audit, outbox, platform_accounts
from db.accounts import Principal
from db.inbox import record_polling
from db.models import PlatformAccount
from domain import ids
from domain.roles import Role

router = APIRouter(prefix="/platform-accounts", tags=["platform accounts"])

POLL_EVERY = timedelta(minutes=5)

AccountsDep = Annotated[Principal, Depends(require_roles(Role.platform_admin, Role.admin))]


def _account_out(session: SessionDep, row: PlatformAccount, running: set[str] | None = None) -> AccountPublic:
    out = AccountPublic.model_validate(row, from_attributes=True)
    wid = ids.inbox_poll(row.platform, row.handle)
    if outbox.recorded(session, [wid]):
        out.polling = wid
        started = wid in running if running is not None else not outbox.starting(session, [wid])
        out.polling_process = "started" if started else "starting"
    return out


@router.get("", response_model=list[AccountPublic])
def list_accounts(_: AnyUserDep, session: SessionDep) -> list[AccountPublic]:
    rows = platform_accounts.all_accounts(session)
    return [_account_out(session, r) for r in rows]


@router.post("", response_model=AccountPublic, status_code=201)
async def create_account(
    body: AccountCreate,
    principal: AccountsDep,
    session: SessionDep,
    rid: RequestIdDep,
    client: MaybeTemporalDep,
    db: DbDep,
    settings: Annotated[Settings, Depends(get_settings)],
) -> AccountPublic:

    def write() -> tuple[PlatformAccount, str]:
        exists = platform_accounts.by_handle(session, body.platform.value, body.handle)
        if exists is not None:
            raise conflict(f"{body.platform.value} account {body.handle!r} already exists", field="handle")
        row = PlatformAccount(
            platform=body.platform.value,
            handle=body.handle,
            display_name=body.display_name or body.handle,
            connector=body.connector,
        )
        session.add(row)
        session.flush()
        # Every connected account's comments, DMs and mentions are polled (every 5 minutes by default).
        wid = record_polling(session, body.platform, body.handle, POLL_EVERY)
        audit.record(session, principal, "account.create", f"account:{row.id}", rid, body.model_dump(mode="json"))
        session.commit()
        return row, wid

    row, wid = await run_in_threadpool(write)
    running = await wf.start_recorded(client, db, settings.task_queue, [wid])
    return await run_in_threadpool(_account_out, session, row, running)
