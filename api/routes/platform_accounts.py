"""``/platform-accounts`` — the brand's accounts on each platform, each polled for comments, DMs, mentions."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import SecretStr
from sqlmodel import select

from api import workflows as wf
from api.deps import (
    AnyUserDep,
    DbDep,
    MaybeTemporalDep,
    RequestIdDep,
    SessionDep,
    SettingsDep,
    get_settings,
    require_roles,
)
from api.errors import ApiError, bad_request, conflict, not_found
from api.openapi import documented_error
from api.params import PathId
from api.schemas.platform_accounts import (
    AccountCreate,
    AccountPublic,
    AuthorizePublic,
    CredentialsPublic,
    CredentialsUpdate,
    OAuthDone,
)
from connectors import plugins
from connectors.base import PlatformError
from connectors.credentials import Credentials, TokenGrant, supports_oauth
from core import connectors as core_connectors
from core.sealing import credentials_sealer
from core.settings import Settings
from db import audit, outbox, platform_accounts
from db.accounts import Principal
from db.inbox import record_polling
from db.models import OAuthState, PlatformAccount, utcnow
from domain import ids
from domain.kernel import Platform
from domain.roles import Role

router = APIRouter(prefix="/platform-accounts", tags=["platform accounts"])

POLL_EVERY = timedelta(minutes=5)
STATE_TTL = timedelta(minutes=10)
CALLBACK_PATH = "/platform-accounts/oauth/callback"

AccountsDep = Annotated[Principal, Depends(require_roles(Role.platform_admin, Role.admin))]


def _account_out(
    session: SessionDep, settings: Settings, row: PlatformAccount, running: set[str] | None = None
) -> AccountPublic:
    out = AccountPublic.model_validate(row, from_attributes=True)
    summary = platform_accounts.summary(credentials_sealer(settings.secret_key), row)
    out.credentials = CredentialsPublic(**summary.__dict__)
    wid = ids.inbox_poll(row.platform, row.handle)
    if outbox.recorded(session, [wid]):
        out.polling = wid
        started = wid in running if running is not None else not outbox.starting(session, [wid])
        out.polling_process = "started" if started else "starting"
    return out


@router.get("", response_model=list[AccountPublic])
def list_accounts(_: AnyUserDep, session: SessionDep, settings: SettingsDep) -> list[AccountPublic]:
    rows = platform_accounts.all_accounts(session)
    return [_account_out(session, settings, r) for r in rows]


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
    kinds = plugins.installed_kinds()
    if body.connector not in kinds:
        raise bad_request(
            "connector", f"{body.connector!r} is not an installed connector (installed: {', '.join(kinds)})"
        )

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
    return await run_in_threadpool(_account_out, session, settings, row, running)


def _load(session: SessionDep, account_id: int) -> PlatformAccount:
    row = session.get(PlatformAccount, account_id)
    if row is None:
        raise not_found("platform account", account_id)
    return row


@router.put("/{account_id}/credentials", response_model=AccountPublic)
def set_credentials(
    account_id: PathId,
    body: CredentialsUpdate,
    principal: AccountsDep,
    session: SessionDep,
    rid: RequestIdDep,
    settings: SettingsDep,
) -> AccountPublic:
    """App id/secret (WeChat OA, the OAuth platforms' client), a WordPress application password, or a
    token obtained elsewhere. Omitted fields keep their value; the answer says only what is set."""
    row = _load(session, account_id)
    sealer = credentials_sealer(settings.secret_key)
    try:
        creds = platform_accounts.open_credentials(sealer, row)
    except Exception:
        creds = Credentials()  # sealed with a lost key: what is sent now replaces it
    update: dict[str, object] = {}
    for name in ("app_id", "open_id", "api_base", "options", "expires_at"):
        value = getattr(body, name)
        if value is not None:
            update[name] = value
    for name in ("app_secret", "access_token", "refresh_token"):
        value = getattr(body, name)
        if value is not None:
            update[name] = SecretStr(value.get_secret_value())
    changed = sorted(k for k in body.model_fields_set if getattr(body, k) is not None)
    creds = creds.model_copy(update=update)
    platform_accounts.seal_credentials(sealer, row, creds)
    if body.access_token is not None and body.access_token.get_secret_value():
        platform_accounts.set_status(row, platform_accounts.AccountStatus.active)
    session.add(row)
    platform_accounts.record_token_keeper(session, row)  # started by the dispatcher within a minute
    audit.record(session, principal, "account.credentials", f"account:{row.id}", rid, {"set": changed})
    session.commit()
    return _account_out(session, settings, row)


def _connector_for(settings: Settings, db: DbDep, row: PlatformAccount) -> object:
    connector = plugins.build_one(core_connectors.context(settings, db), row.connector)
    if connector is None:
        raise conflict(f"connector {row.connector!r} is not installed here", field="connector")
    if not supports_oauth(connector):
        raise conflict(
            f"the {row.connector} connector does not use OAuth: set its credentials with "
            f"PUT /platform-accounts/{row.id}/credentials",
            field="connector",
        )
    return connector


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


@router.post("/{account_id}/authorize", response_model=AuthorizePublic)
def authorize(
    account_id: PathId,
    principal: AccountsDep,
    session: SessionDep,
    rid: RequestIdDep,
    settings: SettingsDep,
    db: DbDep,
) -> AuthorizePublic:
    """Start the platform's OAuth flow: a URL to open, carrying a one-time ``state`` (stored hashed, 10 min)."""
    row = _load(session, account_id)
    connector = _connector_for(settings, db, row)
    creds = platform_accounts.summary(credentials_sealer(settings.secret_key), row)
    if not creds.app_id or not creds.app_secret_set:
        raise conflict(
            "set the app's client id and secret first (PUT /platform-accounts/{id}/credentials)", field="app_id"
        )
    state = secrets.token_urlsafe(32)
    redirect_uri = settings.public_base_url + CALLBACK_PATH
    expires = utcnow() + STATE_TTL
    session.add(
        OAuthState(
            state_hash=_state_hash(state),
            account_id=account_id,
            redirect_uri=redirect_uri,
            created_by=principal.user_id,
            created_by_name=principal.name,
            expires_at=expires,
        )
    )
    audit.record(session, principal, "account.authorize", f"account:{row.id}", rid, {"redirect_uri": redirect_uri})
    session.commit()
    url = connector.authorize_url(row.handle, redirect_uri, state)  # type: ignore[attr-defined]
    return AuthorizePublic(authorize_url=url, redirect_uri=redirect_uri, state_expires_at=expires)


@router.get(
    CALLBACK_PATH.removeprefix("/platform-accounts"),
    response_model=OAuthDone,
    responses={
        400: documented_error("The state is unknown, expired or used, or the platform refused the code"),
        503: documented_error("The platform did not answer"),
    },
)
def oauth_callback(
    session: SessionDep,
    rid: RequestIdDep,
    settings: SettingsDep,
    db: DbDep,
    code: Annotated[str, Query(min_length=1, max_length=2000)],
    state: Annotated[str, Query(min_length=16, max_length=200)],
) -> OAuthDone:
    """Where the platform sends the browser back. The one-time ``state`` is the credential: unknown,
    expired or already used → 400; the code is exchanged through the account's connector."""
    found = session.exec(select(OAuthState).where(OAuthState.state_hash == _state_hash(state))).first()
    if found is None:
        raise bad_request("state", "unknown state: start again with POST /platform-accounts/{id}/authorize", 400)
    if found.used_at is not None:
        raise bad_request("state", "this state was already used: start the authorization again", 400)
    if found.expires_at <= utcnow():
        raise bad_request("state", "this state has expired (10 minutes): start the authorization again", 400)
    found.used_at = utcnow()  # spent before the exchange: a replay never reaches the platform
    session.add(found)
    session.commit()
    row = _load(session, found.account_id)
    connector = _connector_for(settings, db, row)
    try:
        grant: TokenGrant = connector.exchange_code(row.handle, code, found.redirect_uri)  # type: ignore[attr-defined]
    except PlatformError as exc:
        if exc.retryable:
            raise ApiError(503, "platform_unavailable", f"the platform did not answer: {exc}") from exc
        raise bad_request("code", f"the platform refused the code: {exc}", 400) from exc
    store = platform_accounts.DbCredentialStore(db, settings.secret_key)
    saved = store.save_tokens(Platform(row.platform), row.handle, grant)
    audit.record(
        session,
        None,
        "account.authorized",
        f"account:{row.id}",
        rid,
        {"expires_at": saved.expires_at.isoformat() if saved.expires_at else None, "by": found.created_by_name},
        actor_name=found.created_by_name or "oauth",
    )
    platform_accounts.record_token_keeper(session, row)
    session.commit()
    session.refresh(row)
    return OAuthDone(account_id=row.id or 0, status=row.status, token_expires_at=saved.expires_at)
