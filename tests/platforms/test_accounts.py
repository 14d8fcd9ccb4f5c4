"""Accounts and credentials (issue 14.1): sealed at rest, never shown, OAuth state checked, key rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import select
from typer.testing import CliRunner

from api.app import create_app
from connectors import plugins
from connectors.base import PlatformError
from connectors.credentials import REAUTHORIZE_NEEDED, Credentials, TokenGrant
from core.cli import app as cli
from core.sealing import SealError, credentials_sealer
from db import migrate, platform_accounts
from db.engine import Database
from db.models import AuditLog, OAuthState, PlatformAccount
from domain.kernel import Platform
from domain.roles import Role
from tests.conftest import make_user, test_settings

KEY = "k" * 8 + "Zq7#mP2vL9xW4tR8nB3cY6hJ1sD5fG0e"


def _account(db: Database, handle: str = "brand_weibo", connector: str = "sandbox") -> int:
    with db.session() as s:
        row = PlatformAccount(platform="weibo", handle=handle, display_name=handle, connector=connector)
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


def test_credentials_are_sealed_bound_to_the_row_and_status_follows_the_grant(database: Database) -> None:
    first, second = _account(database), _account(database, "other")
    store = platform_accounts.DbCredentialStore(database, KEY)
    with database.session() as s:
        row = s.get(PlatformAccount, first)
        assert row is not None
        creds = Credentials(app_id="cid", app_secret=SecretStr("very-secret"), access_token=SecretStr("tok-1"))
        platform_accounts.seal_credentials(store.sealer, row, creds)
        s.add(row)
        s.commit()
        sealed = row.credentials_sealed
    assert "very-secret" not in sealed and "tok-1" not in sealed
    got = store.get(Platform.weibo, "brand_weibo")
    assert got.app_secret.get_secret_value() == "very-secret" and got.access_token.get_secret_value() == "tok-1"
    with database.session() as s:  # a ciphertext copied to another row does not open there
        other = s.get(PlatformAccount, second)
        assert other is not None
        other.credentials_sealed = sealed
        s.add(other)
        s.commit()
    with pytest.raises(PlatformError) as exc:
        store.get(Platform.weibo, "other")
    assert exc.value.code == "credentials_unreadable" and exc.value.retryable is False

    store.mark_reauthorize(Platform.weibo, "brand_weibo", "21327 expired_token")
    assert store.get(Platform.weibo, "brand_weibo").reauthorize_reason == "21327 expired_token"
    with database.session() as s:
        row = s.get(PlatformAccount, first)
        assert row is not None and row.status == REAUTHORIZE_NEEDED and row.status_since is not None
    later = datetime.now(UTC) + timedelta(days=7)
    store.save_tokens(Platform.weibo, "brand_weibo", TokenGrant(access_token=SecretStr("tok-2"), expires_at=later))
    with database.session() as s:
        row = s.get(PlatformAccount, first)
        assert row is not None and row.status == "active" and row.status_reason == ""
        assert row.token_expires_at == later
    assert store.get(Platform.weibo, "brand_weibo").app_secret.get_secret_value() == "very-secret"


def test_rotate_key_reseals_every_account_and_a_second_run_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    var = tmp_path / "var"
    var.mkdir()
    db = Database(f"sqlite:///{var / 'socialops.db'}")
    migrate.upgrade(db.engine)
    old_key, new_key = KEY, "N" * 4 + "w9#Lq2vX7pR4tZ8mB3cY6hJ1sD5fG0eK"
    ids = [_account(db, f"acc{i}") for i in range(2)]
    with db.session() as s:
        for i in ids:
            row = s.get(PlatformAccount, i)
            assert row is not None
            platform_accounts.seal_credentials(
                credentials_sealer(old_key),
                row,
                Credentials(app_id=f"app{i}", app_secret=SecretStr(f"secret-of-{row.handle}")),
            )
            s.add(row)
        s.commit()
    monkeypatch.setenv("SOCIALOPS_SECRET_KEY", new_key)
    runner = CliRunner()
    no_old = runner.invoke(cli, ["accounts", "rotate-key", "--var-dir", str(var)])
    assert no_old.exit_code == 2 and "SOCIALOPS_OLD_SECRET_KEY" in no_old.output
    monkeypatch.setenv("SOCIALOPS_OLD_SECRET_KEY", old_key)
    first = runner.invoke(cli, ["accounts", "rotate-key", "--var-dir", str(var)])
    assert first.exit_code == 0, first.output
    assert "re-sealed 2, already on the current key 0" in first.output
    again = runner.invoke(cli, ["accounts", "rotate-key", "--var-dir", str(var)])
    assert again.exit_code == 0 and "re-sealed 0, already on the current key 2" in again.output
    store = platform_accounts.DbCredentialStore(db, new_key)
    assert store.get(Platform.weibo, "acc1").app_secret.get_secret_value() == "secret-of-acc1"
    with db.session() as s:
        row = s.get(PlatformAccount, ids[0])
        assert row is not None
        with pytest.raises(SealError):
            credentials_sealer(old_key).open(row.credentials_sealed, platform_accounts.bound_to(row))
        assert s.exec(select(AuditLog).where(AuditLog.action == "accounts.rotate_key")).first() is not None
    db.dispose()


class FakeOAuth:
    """An OAuth connector double for the routes (the Weibo connector's own exchange is tested on its stub)."""

    kind = "fakeoauth"
    codes: dict[str, str] = {"good-code": "tok-from-code"}

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def authorize_url(self, account: str, redirect_uri: str, state: str) -> str:
        creds = self.ctx.credentials.get(Platform.weibo, account)
        return f"https://platform.example/authorize?client_id={creds.app_id}&redirect_uri={redirect_uri}&state={state}"

    def exchange_code(self, account: str, code: str, redirect_uri: str) -> TokenGrant:
        if code not in self.codes:
            raise PlatformError("21325 invalid_grant", retryable=False, code="21325")
        return TokenGrant(
            access_token=SecretStr(self.codes[code]), expires_at=datetime.now(UTC) + timedelta(days=7)
        )


@pytest.fixture
def oauth_api(database: Database, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, str, int]:
    real_build_one = plugins.build_one
    monkeypatch.setattr(
        plugins,
        "build_one",
        lambda ctx, kind: FakeOAuth(ctx) if kind == "fakeoauth" else real_build_one(ctx, kind),
    )
    monkeypatch.setattr(plugins, "installed_kinds", lambda: ["fakeoauth", "sandbox"])
    settings = test_settings(database, secret_key=KEY, public_url="https://ops.example.com")
    client = TestClient(create_app(settings, db=database))
    admin = make_user(database, "pa", Role.platform_admin)
    r = client.post(
        "/platform-accounts",
        json={"platform": "weibo", "handle": "brand_weibo", "connector": "fakeoauth"},
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert r.status_code == 201, r.text
    return client, admin, r.json()["id"]


def test_credentials_are_never_returned_and_bad_input_names_the_field(
    oauth_api: tuple[TestClient, str, int], database: Database
) -> None:
    client, admin, aid = oauth_api
    h = {"Authorization": f"Bearer {admin}"}
    r = client.put(
        f"/platform-accounts/{aid}/credentials",
        json={"app_id": "cid", "app_secret": "client-secret-xyz", "options": {"safe_domain": "brand.example.com"}},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert "client-secret-xyz" not in r.text
    assert r.json()["credentials"] == {
        "app_id": "cid",
        "app_secret_set": True,
        "access_token_set": False,
        "refresh_token_set": False,
        "token_expires_at": None,
        "refresh_expires_at": None,
        "api_base": "",
        "options": {"safe_domain": "brand.example.com"},
        "readable": True,
    }
    listed = client.get("/platform-accounts", headers=h)
    assert "client-secret-xyz" not in listed.text and listed.json()[0]["credentials"]["app_secret_set"] is True
    bad = client.put(f"/platform-accounts/{aid}/credentials", json={"api_base": "ftp://x"}, headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "api_base"
    bad = client.put(f"/platform-accounts/{aid}/credentials", json={"options": {"bad key": "x"}}, headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "options"
    missing = client.put("/platform-accounts/999/credentials", json={}, headers=h)
    assert missing.status_code == 404
    bad = client.post(
        "/platform-accounts", json={"platform": "weibo", "handle": "x", "connector": "nope"}, headers=h
    )
    assert bad.status_code == 422 and bad.json()["field"] == "connector"
    creator = make_user(database, "creator", Role.content_creator)
    r = client.put(
        f"/platform-accounts/{aid}/credentials", json={}, headers={"Authorization": f"Bearer {creator}"}
    )
    assert r.status_code == 403
    with database.session() as s:
        assert s.exec(select(AuditLog).where(AuditLog.action == "account.credentials")).first() is not None


def test_oauth_state_is_one_time_expiring_and_the_code_is_exchanged(
    oauth_api: tuple[TestClient, str, int], database: Database
) -> None:
    client, admin, aid = oauth_api
    h = {"Authorization": f"Bearer {admin}"}
    early = client.post(f"/platform-accounts/{aid}/authorize", headers=h)
    assert early.status_code == 409 and early.json()["field"] == "app_id"  # no client id/secret yet
    client.put(f"/platform-accounts/{aid}/credentials", json={"app_id": "cid", "app_secret": "s3cret"}, headers=h)
    r = client.post(f"/platform-accounts/{aid}/authorize", headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["redirect_uri"] == "https://ops.example.com/platform-accounts/oauth/callback"
    state = parse_qs(urlparse(body["authorize_url"]).query)["state"][0]
    with database.session() as s:  # stored hashed only
        assert s.exec(select(OAuthState).where(OAuthState.state_hash == state)).first() is None
        assert len(s.exec(select(OAuthState)).all()) == 1

    unknown = client.get("/platform-accounts/oauth/callback", params={"code": "good-code", "state": "x" * 43})
    assert unknown.status_code == 400 and unknown.json()["field"] == "state"
    assert client.get("/platform-accounts/oauth/callback", params={"state": state}).json()["field"] == "code"
    done = client.get("/platform-accounts/oauth/callback", params={"code": "good-code", "state": state})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "active" and done.json()["token_expires_at"]
    store = platform_accounts.DbCredentialStore(database, KEY)
    assert store.get(Platform.weibo, "brand_weibo").access_token.get_secret_value() == "tok-from-code"
    reused = client.get("/platform-accounts/oauth/callback", params={"code": "good-code", "state": state})
    assert reused.status_code == 400 and "already used" in reused.json()["message"]

    state2 = parse_qs(
        urlparse(client.post(f"/platform-accounts/{aid}/authorize", headers=h).json()["authorize_url"]).query
    )["state"][0]
    refused = client.get("/platform-accounts/oauth/callback", params={"code": "bad", "state": state2})
    assert refused.status_code == 400 and refused.json()["field"] == "code"

    state3 = parse_qs(
        urlparse(client.post(f"/platform-accounts/{aid}/authorize", headers=h).json()["authorize_url"]).query
    )["state"][0]
    with database.session() as s:
        for row in s.exec(select(OAuthState).where(OAuthState.used_at == None)).all():  # noqa: E711
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            s.add(row)
        s.commit()
    expired = client.get("/platform-accounts/oauth/callback", params={"code": "good-code", "state": state3})
    assert expired.status_code == 400 and "expired" in expired.json()["message"]
    with database.session() as s:
        actions = {a.action for a in s.exec(select(AuditLog)).all()}
    assert {"account.authorize", "account.authorized"} <= actions
