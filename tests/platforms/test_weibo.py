"""The Weibo connector against its stub (reference §1): link rule, rip, length, error mapping, OAuth,
the per-account budget, and no double post after a dropped response (issue 14.3, 14.4)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlmodel import select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.content import ContentActivities
from connectors.base import PlatformError, PostRequest
from connectors.credentials import REAUTHORIZE_NEEDED, ConnectorContext, Credentials, MemoryCredentialStore
from connectors.fingerprint import RecentPost, find_published, fingerprint
from connectors.ratebudget import RateLimited
from connectors.registry import ConnectorRegistry
from connectors.weibo import WeiboConnector, weibo_length
from db import platform_accounts
from db.engine import Database
from db.models import ContentPublication, PlatformAccount
from domain.content import AdaptedVariant
from domain.content_io import PublishInput
from domain.kernel import Platform
from tests.content_helpers import insert_item, plan, seed_people, version
from tests.platforms.asgi_server import serve
from tests.platforms.test_accounts import KEY
from tests.platforms.weibo_stub import WeiboState, weibo_app

ACC = "brand_weibo"


def _creds(base: str, state: WeiboState, **options: str) -> Credentials:
    return Credentials(
        app_id=state.client_id,
        app_secret=SecretStr(state.client_secret),
        access_token=SecretStr("wb-token"),
        open_id=state.uid,
        api_base=base,
        options={"safe_domain": state.safe_domain, "rip": "203.0.113.7", **options},
    )


@pytest.fixture
def stub() -> Iterator[tuple[WeiboState, str]]:
    state = WeiboState()
    state.tokens["wb-token"] = datetime.now(UTC) + timedelta(days=7)
    with serve(weibo_app(state)) as base:
        yield state, base


def _conn(base: str, state: WeiboState, **options: str) -> tuple[WeiboConnector, MemoryCredentialStore]:
    store = MemoryCredentialStore()
    store.put(Platform.weibo, ACC, _creds(base, state, **options))
    return WeiboConnector(ConnectorContext(store, {"weibo_timeout_s": "1"})), store


def _req(text: str, key: str = "k1") -> PostRequest:
    return PostRequest(platform=Platform.weibo, account=ACC, idempotency_key=key, text=text)


def test_length_counts_two_half_width_characters_as_one() -> None:
    assert weibo_length("微博") == 2
    assert weibo_length("ab") == 1 and weibo_length("abc") == 2
    assert weibo_length("新品 https://a.cn/") == 2 + 7  # 14 half-width characters


def test_publish_adds_the_safe_domain_link_and_maps_every_error(stub: tuple[WeiboState, str]) -> None:
    state, base = stub
    conn, store = _conn(base, state)
    ref = conn.publish(_req("新品上线"))
    assert state.posts[-1]["text"] == f"新品上线 https://{state.safe_domain}/"
    assert ref.url.endswith(ref.external_id)

    with pytest.raises(PlatformError) as dup:  # 20019, error_code a string in the body
        conn.publish(_req("新品上线", "k2"))
    assert dup.value.code == "20019" and dup.value.retryable is False

    with pytest.raises(PlatformError) as long:  # checked before the call: nothing reaches the platform
        conn.publish(_req("长" * 141, "k3"))
    assert long.value.code == "20012" and not long.value.retryable and len(state.posts) == 1

    no_rip, _ = _conn(base, state, rip="")
    with pytest.raises(PlatformError) as exc:
        no_rip.publish(_req("另一条", "k4"))
    assert "rip" in str(exc.value) and not exc.value.retryable

    state.posts_per_hour = 1
    with pytest.raises(RateLimited) as limited:  # 10023: retryable after the hourly window
        conn.publish(_req("第二条", "k5"))
    assert limited.value.retryable and limited.value.code == "10023" and limited.value.retry_after == 3600
    state.posts_per_hour = 30

    state.tokens["wb-token"] = datetime.now(UTC) - timedelta(seconds=1)  # 21327: no refresh on Weibo
    with pytest.raises(PlatformError) as expired:
        conn.publish(_req("第三条", "k6"))
    assert expired.value.code == REAUTHORIZE_NEEDED and expired.value.retryable is False
    assert store.reauthorize[(Platform.weibo, ACC)].startswith("21327")
    with pytest.raises(PlatformError) as fast:  # marked: fails fast, nothing sent
        conn.get_post(Platform.weibo, ACC, ref.external_id)
    assert fast.value.code == REAUTHORIZE_NEEDED


def test_the_account_budget_stops_a_bulk_schedule_before_the_platform_does(stub: tuple[WeiboState, str]) -> None:
    state, base = stub
    conn, _ = _conn(base, state, posts_per_hour="2")
    conn.publish(_req("一", "a"))
    conn.publish(_req("二", "b"))
    with pytest.raises(RateLimited) as exc:
        conn.publish(_req("三", "c"))
    assert exc.value.code == "budget_exhausted" and exc.value.retry_after > 3000
    assert len(state.posts) == 2


def test_oauth_code_exchange(stub: tuple[WeiboState, str]) -> None:
    state, base = stub
    conn, _ = _conn(base, state)
    url = conn.authorize_url(ACC, "https://ops.example.com/cb", "st4te")
    assert url.startswith(f"{base}/oauth2/authorize?") and "state=st4te" in url and "client_id=wb-client" in url
    state.codes["the-code"] = "fresh-token"
    grant = conn.exchange_code(ACC, "the-code", "https://ops.example.com/cb")
    assert grant.access_token.get_secret_value() == "fresh-token" and grant.open_id == state.uid
    assert grant.expires_at is not None and grant.expires_at > datetime.now(UTC) + timedelta(days=6)
    with pytest.raises(PlatformError) as reused:
        conn.exchange_code(ACC, "the-code", "https://ops.example.com/cb")
    assert reused.value.code == "21325" and not reused.value.retryable


def test_followers_and_comment_destroy(stub: tuple[WeiboState, str]) -> None:
    state, base = stub
    conn, _ = _conn(base, state)
    ref = conn.publish(_req("有奖转发"))
    c = state.add_comment(int(ref.external_id), "垃圾广告", mention=True)
    now = datetime.now(UTC)
    items = conn.fetch_interactions(Platform.weibo, ACC, now - timedelta(hours=1), now)
    assert [(i.kind, i.text) for i in items] == [("mention", "垃圾广告")]
    conn.delete(Platform.weibo, ACC, items[0].external_id, "spam")
    assert c["_deleted"] is True
    assert conn.followers(ACC) == 1234


def test_fingerprint_ignores_whitespace_and_width_and_the_window() -> None:
    now = datetime.now(UTC)
    assert fingerprint("新品  上线\n") == fingerprint("新品 上线")
    assert fingerprint("ＡＢＣ") == fingerprint("abc")
    old = RecentPost("1", "新品 上线", now - timedelta(days=1))
    fresh = RecentPost("2", "新品 上线", now - timedelta(minutes=1))
    assert find_published([old], "新品上线 ", now=now) is None
    assert find_published([old, fresh], "新品 上线", now=now) == fresh
    assert find_published([fresh], "别的内容", now=now) is None


def test_a_dropped_response_never_posts_twice(stub: tuple[WeiboState, str], sqlite_database: Database) -> None:
    """The stub accepts the post and the answer never arrives: the retry finds it by fingerprint."""
    state, base = stub
    db = sqlite_database
    with db.session() as s:
        row = PlatformAccount(platform="weibo", handle=ACC, connector="weibo")
        s.add(row)
        s.flush()
        platform_accounts.seal_credentials(platform_accounts.credentials_sealer(KEY), row, _creds(base, state))
        s.add(row)
        s.commit()
    conn = WeiboConnector(ConnectorContext(platform_accounts.DbCredentialStore(db, KEY), {"weibo_timeout_s": "1"}))
    acts = ContentActivities(db, ConnectorRegistry(db, {"weibo": conn}))  # type: ignore[dict-item]
    cid = insert_item(db, seed_people(db).creator, plan(datetime.now(UTC)), version(body="双十一预售开启"))
    variant = AdaptedVariant(platform=Platform.weibo, account=ACC, title="", body="双十一预售开启", media=[])
    inp = PublishInput(
        content_id=cid, version=1, variant=variant, idempotency_key=f"content-{cid}-v1-weibo", at=datetime.now(UTC)
    )
    state.drop_next_post_response = True
    env = ActivityEnvironment()
    with pytest.raises(ApplicationError) as exc:
        env.run(acts.publish, inp)
    assert exc.value.type == "PlatformTimeout" and not exc.value.non_retryable
    assert len(state.posts) == 1  # it did land
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2)
    rec = retry.run(acts.publish, inp)
    assert len(state.posts) == 1, "posted twice"
    assert rec.external_id == str(state.posts[0]["id"])
    with db.session() as s:
        assert s.exec(select(ContentPublication)).one().external_id == rec.external_id
