from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from connectors.base import PlatformError
from connectors.credentials import Credentials, MemoryCredentialStore, TokenGrant, apply_grant
from domain.kernel import Platform


def test_a_grant_without_refresh_token_keeps_the_stored_one_and_clears_reauthorize() -> None:
    later = datetime(2027, 1, 1, tzinfo=UTC)
    current = Credentials(
        app_id="a",
        access_token=SecretStr("old"),
        refresh_token=SecretStr("rft.1"),
        refresh_expires_at=later,
        reauthorize_reason="expired",
    )
    updated = apply_grant(current, TokenGrant(access_token=SecretStr("new"), expires_at=later - timedelta(days=1)))
    assert updated.access_token.get_secret_value() == "new"
    assert updated.refresh_token.get_secret_value() == "rft.1"
    assert updated.refresh_expires_at == later
    assert updated.reauthorize_reason == ""
    assert "new" not in repr(updated)


def test_memory_store_refuses_unknown_accounts_and_records_reauthorize() -> None:
    store = MemoryCredentialStore()
    with pytest.raises(PlatformError) as exc:
        store.get(Platform.weibo, "官方微博")
    assert exc.value.retryable is False
    store.put(Platform.weibo, "官方微博", Credentials(app_id="x"))
    store.mark_reauthorize(Platform.weibo, "官方微博", "21327 expired_token")
    assert store.get(Platform.weibo, "官方微博").reauthorize_reason == "21327 expired_token"
    assert store.reauthorize[(Platform.weibo, "官方微博")] == "21327 expired_token"
