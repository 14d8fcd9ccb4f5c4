"""Tokens stay valid (issue 14.2): refreshed before expiry where the platform can; where it cannot, a
notice ahead of expiry, then ``reauthorize_needed``; a revoked grant is marked and notified; publishing to
such an account fails fast with the reason. On the time-skipping server."""

from __future__ import annotations

import concurrent.futures
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlmodel import select
from temporalio.testing import WorkflowEnvironment

from connectors.base import PlatformError
from connectors.credentials import REAUTHORIZE_NEEDED, ConnectorContext, Credentials, TokenGrant
from connectors.registry import ConnectorRegistry
from core.registry import Dependencies
from db import platform_accounts
from db.engine import Database
from db.models import Notification, PlatformAccount
from domain import ids
from domain.account_io import TokenKeeperInput, WakeSignal
from domain.kernel import Platform
from tests.platforms.test_accounts import KEY
from worker import build_worker
from workflows.account_tokens import AccountTokenWorkflow


class NoRefresh:
    """A platform without refresh (like Weibo web apps)."""

    kind = "norefresh"

    def __init__(self, ctx: ConnectorContext) -> None:
        self.ctx = ctx


class Refreshing:
    kind = "refreshing"

    def __init__(self, ctx: ConnectorContext, revoked: bool = False) -> None:
        self.ctx = ctx
        self.revoked = revoked
        self.calls = 0

    def refresh(self, account: str) -> TokenGrant:
        self.calls += 1
        if self.revoked:
            raise PlatformError("10010 refresh_token expired", retryable=False, code=REAUTHORIZE_NEEDED)
        return TokenGrant(
            access_token=SecretStr(f"act.{self.calls}"), expires_at=datetime.now(UTC) + timedelta(days=15)
        )


def _account(db: Database, connector: str, expires_at: datetime) -> TokenKeeperInput:
    with db.session() as s:
        row = PlatformAccount(platform="douyin", handle=f"acc-{connector}", connector=connector)
        s.add(row)
        s.flush()
        creds = Credentials(app_id="a", access_token=SecretStr("act.0"), expires_at=expires_at)
        platform_accounts.seal_credentials(platform_accounts.credentials_sealer(KEY), row, creds)
        s.add(row)
        s.commit()
        assert row.id is not None
        return TokenKeeperInput(account_id=row.id, platform=Platform.douyin, handle=row.handle)


def _notes(db: Database, account_id: int) -> list[Notification]:
    with db.session() as s:
        return list(s.exec(select(Notification).where(Notification.ref == f"account:{account_id}")).all())


def _status(db: Database, account_id: int) -> tuple[str, str]:
    with db.session() as s:
        row = s.get(PlatformAccount, account_id)
        assert row is not None
        return row.status, row.status_reason


async def _worker_run(
    env: WorkflowEnvironment,
    db: Database,
    connectors: dict[str, object],
    inp: TokenKeeperInput,
    steps: list[timedelta],
    checks: list,
) -> None:  # type: ignore[type-arg]
    tq = f"tokens-{uuid.uuid4().hex[:8]}"
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        deps = Dependencies(db=db, connectors=connectors, secret_key=KEY)  # type: ignore[arg-type]
        async with build_worker(env.client, tq, deps, ex):
            handle = await env.client.start_workflow(
                AccountTokenWorkflow.run, inp, id=ids.account_tokens(inp.platform, inp.account_id), task_queue=tq
            )
            for step, check in zip(steps, checks, strict=True):
                await env.sleep(step)
                check(handle)
            await handle.terminate()


@pytest.mark.asyncio
async def test_no_refresh_platform_warns_ahead_then_needs_reauthorization(
    time_skipping: WorkflowEnvironment, sqlite_database: Database
) -> None:
    db = sqlite_database
    now = await time_skipping.get_current_time()
    inp = _account(db, "norefresh", now + timedelta(days=3))
    conn = NoRefresh(ConnectorContext(platform_accounts.DbCredentialStore(db, KEY)))

    def quiet(_: object) -> None:
        assert _notes(db, inp.account_id) == [] and _status(db, inp.account_id)[0] == "active"

    def warned(_: object) -> None:
        notes = _notes(db, inp.account_id)
        assert [n.kind for n in notes] == ["reminder"] and notes[0].recipient_role == "platform_admin"
        assert "授权即将过期" in notes[0].subject and _status(db, inp.account_id)[0] == "active"

    def expired(_: object) -> None:
        status, reason = _status(db, inp.account_id)
        assert status == REAUTHORIZE_NEEDED and "过期" in reason
        assert sorted(n.kind for n in _notes(db, inp.account_id)) == ["alert", "reminder"]
        with pytest.raises(PlatformError) as exc:
            ConnectorRegistry(db, {"norefresh": conn}).for_account(Platform.douyin, inp.handle)  # type: ignore[dict-item]
        assert exc.value.code == REAUTHORIZE_NEEDED and exc.value.retryable is False
        assert "重新授权" in str(exc.value)

    await _worker_run(
        time_skipping,
        db,
        {"norefresh": conn},
        inp,
        [timedelta(hours=12), timedelta(days=1), timedelta(days=2)],
        [quiet, warned, expired],
    )


@pytest.mark.asyncio
async def test_refreshing_platform_renews_before_expiry_and_a_revoked_grant_is_marked(
    time_skipping: WorkflowEnvironment, sqlite_database: Database
) -> None:
    db = sqlite_database
    now = await time_skipping.get_current_time()
    inp = _account(db, "refreshing", now + timedelta(hours=3))
    store = platform_accounts.DbCredentialStore(db, KEY)
    conn = Refreshing(ConnectorContext(store))

    def not_yet(_: object) -> None:
        assert conn.calls == 0

    def refreshed(_: object) -> None:
        assert conn.calls == 1
        assert store.get(Platform.douyin, inp.handle).access_token.get_secret_value() == "act.1"
        assert _status(db, inp.account_id)[0] == "active" and _notes(db, inp.account_id) == []

    await _worker_run(
        time_skipping,
        db,
        {"refreshing": conn},
        inp,
        [timedelta(hours=1), timedelta(hours=2)],
        [not_yet, refreshed],
    )

    revoked = Refreshing(ConnectorContext(store), revoked=True)
    with db.session() as s:  # the new token is about to expire and the platform refuses the refresh
        row = s.get(PlatformAccount, inp.account_id)
        assert row is not None
        creds = store.get(Platform.douyin, inp.handle).model_copy(update={"expires_at": now})
        platform_accounts.seal_credentials(store.sealer, row, creds)
        s.add(row)
        s.commit()

    def marked(_: object) -> None:
        status, reason = _status(db, inp.account_id)
        assert status == REAUTHORIZE_NEEDED and "10010" in reason
        alerts = [n for n in _notes(db, inp.account_id) if n.kind == "alert"]
        assert len(alerts) == 1 and "重新授权" in alerts[0].subject

    await _worker_run(time_skipping, db, {"refreshing": revoked}, inp, [timedelta(minutes=5)], [marked])


def test_a_grant_refused_while_publishing_wakes_the_keeper(sqlite_database: Database) -> None:
    """The connector marks the account; the keeper is signalled through the outbox to notify at once."""
    from db.models import ProcessStart

    inp = _account(sqlite_database, "refreshing", datetime.now(UTC) + timedelta(days=5))
    store = platform_accounts.DbCredentialStore(sqlite_database, KEY)
    store.mark_reauthorize(Platform.douyin, inp.handle, "21332 invalid_access_token")
    store.mark_reauthorize(Platform.douyin, inp.handle, "21332 invalid_access_token")  # no second signal
    with sqlite_database.session() as s:
        rows = s.exec(select(ProcessStart).where(ProcessStart.signal == "wake")).all()
    assert len(rows) == 1 and rows[0].workflow_id == ids.account_tokens(Platform.douyin, inp.account_id)
    assert WakeSignal.model_validate(rows[0].signal_input).reason.startswith("21332")
