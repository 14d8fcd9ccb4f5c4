"""Side effects of the account token keeper: refresh a token before it expires, or warn and mark the
account ``reauthorize_needed`` where the platform has no refresh (Weibo web apps)."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from connectors.base import PlatformError
from connectors.credentials import REAUTHORIZE_NEEDED, supports_refresh
from connectors.registry import ConnectorRegistry
from db.engine import Database
from db.models import PlatformAccount
from db.platform_accounts import AccountStatus, DbCredentialStore
from domain.account_io import TokenCheck, TokenCheckInput, TokenKeeperInput
from domain.notify_io import NotifyInput

log = structlog.get_logger("socialops.accounts")

MIN_SLEEP = timedelta(minutes=1)


def _when(at: datetime) -> str:
    return at.astimezone().strftime("%Y-%m-%d %H:%M %Z")


class AccountActivities:
    def __init__(self, db: Database, connectors: ConnectorRegistry, secret_key: str) -> None:
        self.db = db
        self.connectors = connectors
        self.store = DbCredentialStore(db, secret_key)

    def _reauthorize_notice(self, inp: TokenKeeperInput, row: PlatformAccount) -> NotifyInput:
        since = row.status_since.isoformat() if row.status_since else ""
        return NotifyInput(
            kind="alert",
            subject=f"账号需要重新授权：{inp.platform.value}/{inp.handle}",
            body=f"原因：{row.status_reason or '授权已失效'}。发布到该账号会立即失败，请在平台账号页面重新授权。",
            recipient_role="platform_admin",
            ref=f"account:{inp.account_id}",
            dedupe_key=f"account-reauthorize-{inp.account_id}-{since}",
        )

    @activity.defn
    def check_tokens(self, check: TokenCheckInput) -> TokenCheck:
        inp, now = check.keeper, check.at
        ceiling = now + inp.max_sleep
        with self.db.session() as session:
            row = session.get(PlatformAccount, inp.account_id)
            if row is None or not row.active:
                return TokenCheck(state="gone", next_check_at=None)
            session.expunge(row)
        if row.status == AccountStatus.reauthorize_needed:
            return TokenCheck(
                state=REAUTHORIZE_NEEDED, next_check_at=ceiling, notices=[self._reauthorize_notice(inp, row)]
            )
        creds = self.store.get(inp.platform, inp.handle)
        expires = creds.expires_at
        if not creds.access_token.get_secret_value() or expires is None:
            return TokenCheck(state="no_token" if expires is None else "valid", next_check_at=ceiling)
        connector = self.connectors.connector_of(row)
        if supports_refresh(connector):
            refresh_at = expires - inp.refresh_margin
            if refresh_at > now:
                return TokenCheck(state="valid", next_check_at=min(refresh_at, ceiling))
            try:
                grant = connector.refresh(inp.handle)  # type: ignore[attr-defined]
            except PlatformError as exc:
                if exc.code == REAUTHORIZE_NEEDED or not exc.retryable:
                    self.store.mark_reauthorize(inp.platform, inp.handle, str(exc))
                    return self._after_mark(inp, now)
                raise ApplicationError(f"token refresh failed: {exc}", type="PlatformError") from exc
            saved = self.store.save_tokens(inp.platform, inp.handle, grant)
            log.info("token refreshed", account=inp.account_id, expires_at=saved.expires_at)
            nxt = (saved.expires_at - inp.refresh_margin) if saved.expires_at else ceiling
            return TokenCheck(state="refreshed", next_check_at=min(max(nxt, now + MIN_SLEEP), ceiling))
        # No refresh on this platform: warn ahead, and once expired the account needs the user again.
        if expires <= now:
            self.store.mark_reauthorize(
                inp.platform, inp.handle, f"访问令牌已于 {_when(expires)} 过期，平台不支持自动续期"
            )
            return self._after_mark(inp, now)
        notice_at = expires - inp.notice_ahead
        if notice_at <= now:
            notice = NotifyInput(
                kind="reminder",
                subject=f"授权即将过期：{inp.platform.value}/{inp.handle}",
                body=f"访问令牌将于 {_when(expires)} 过期，该平台不支持自动续期。请提前重新授权（重新授权会延长有效期）。",
                recipient_role="platform_admin",
                ref=f"account:{inp.account_id}",
                dedupe_key=f"account-expiring-{inp.account_id}-{expires.isoformat()}",
            )
            return TokenCheck(state="expiring", next_check_at=min(expires, ceiling), notices=[notice])
        return TokenCheck(state="valid", next_check_at=min(notice_at, ceiling))

    def _after_mark(self, inp: TokenKeeperInput, now: datetime) -> TokenCheck:
        with self.db.session() as session:
            row = session.get(PlatformAccount, inp.account_id)
            assert row is not None
            notice = self._reauthorize_notice(inp, row)
        return TokenCheck(state=REAUTHORIZE_NEEDED, next_check_at=now + inp.max_sleep, notices=[notice])
