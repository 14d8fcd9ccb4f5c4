"""The Douyin connector against its stub over HTTP: OAuth, the envelope, uploads, review, comments, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from connectors.base import NotSupported, PlatformError, PlatformTimeout, PostRequest
from connectors.credentials import REAUTHORIZE_NEEDED, ConnectorContext, Credentials, MemoryCredentialStore
from connectors.douyin import DouyinConnector
from domain.content import MediaRef
from domain.kernel import Platform
from tests.platforms.stub_douyin import CLIENT_KEY, CLIENT_SECRET, CODE, OPEN_ID, RunningDouyin, serve_douyin

ACCOUNT = "brand_douyin"
KB = 1024


@pytest.fixture
def douyin() -> Iterator[RunningDouyin]:
    running = serve_douyin()
    running.stub.min_part = 100 * KB
    yield running
    running.close()


def make(
    douyin: RunningDouyin, *, authorized: bool = True, **options: str
) -> tuple[DouyinConnector, MemoryCredentialStore]:
    creds = Credentials(app_id=CLIENT_KEY, app_secret=SecretStr(CLIENT_SECRET), api_base=douyin.url)
    if authorized:
        access, refresh = douyin.stub.grant()
        creds = creds.model_copy(
            update={
                "access_token": SecretStr(access),
                "refresh_token": SecretStr(refresh),
                "open_id": OPEN_ID,
                "expires_at": datetime.now(UTC) + timedelta(days=15),
                "refresh_expires_at": datetime.now(UTC) + timedelta(days=30),
            }
        )
    store = MemoryCredentialStore({(Platform.douyin, ACCOUNT): creds})
    opts = {"timeout_s": "1", "chunk_threshold_mb": str(256 / 1024), "chunk_mb": str(100 / 1024), **options}
    return DouyinConnector(ConnectorContext(credentials=store, options=opts)), store


def video(tmp_path: Path, size: int, name: str = "v.mp4") -> MediaRef:
    path = tmp_path / name
    path.write_bytes(b"\x00" * size)
    return MediaRef(kind="video", uri=path.as_uri(), duration_s=30)


def request(
    media: MediaRef, text: str = "秋季新品开箱 #秋季新品", key: str = "content-1-v1-douyin"
) -> PostRequest:
    return PostRequest(platform=Platform.douyin, account=ACCOUNT, idempotency_key=key, text=text, media=[media])


def test_code_exchange_stores_both_tokens_and_the_open_id(douyin: RunningDouyin) -> None:
    conn, store = make(douyin, authorized=False)
    grant = conn.exchange_code(ACCOUNT, CODE, "https://example.com/cb")
    creds = store.get(Platform.douyin, ACCOUNT)
    assert creds.open_id == OPEN_ID and creds.access_token.get_secret_value().startswith("act.")
    assert creds.refresh_token.get_secret_value().startswith("rft.")
    assert creds.refresh_expires_at is not None and creds.refresh_expires_at > datetime.now(UTC) + timedelta(
        days=29
    )
    assert grant.expires_at is not None and grant.expires_at < datetime.now(UTC) + timedelta(days=16)
    with pytest.raises(PlatformError) as err:  # single use
        conn.exchange_code(ACCOUNT, CODE, "https://example.com/cb")
    assert not err.value.retryable and err.value.code == "douyin_10007"


def test_publish_small_video_then_review_flips_and_metrics_read(douyin: RunningDouyin, tmp_path: Path) -> None:
    conn, _ = make(douyin)
    ref = conn.publish(request(video(tmp_path, 200 * KB)))
    assert ref.external_id.startswith("@") and ref.external_id.endswith("==") and not ref.pending
    assert list(douyin.stub.videos.values()) == [200 * KB] and douyin.stub.uploads == {}  # one call, no parts
    first = conn.get_post(Platform.douyin, ACCOUNT, ref.external_id)
    assert first is not None and first.status == "pending"  # not reviewed yet
    later = conn.get_post(Platform.douyin, ACCOUNT, ref.external_id)
    assert later is not None and later.status == "live" and later.text == "秋季新品开箱 #秋季新品"
    douyin.stub.items[ref.external_id].plays = 1000
    snap = conn.fetch_metrics(Platform.douyin, ACCOUNT, ref.external_id, datetime.now(UTC), datetime.now(UTC))
    assert (snap.views, snap.likes, snap.reposts) == (1000, 100, 10)  # string numbers read as numbers


def test_a_large_video_goes_up_in_ordered_parts(douyin: RunningDouyin, tmp_path: Path) -> None:
    conn, _ = make(douyin)
    conn.publish(request(video(tmp_path, 250 * KB + 300 * KB)))  # above the 256 KB threshold
    [parts] = douyin.stub.uploads.values()
    assert parts == [100 * KB] * 5 + [50 * KB]


def test_the_stub_rejects_parts_out_of_order(douyin: RunningDouyin) -> None:
    access, _ = douyin.stub.grant()
    with httpx.Client(base_url=douyin.url, headers={"access-token": access}) as http:
        init = http.post("/api/douyin/v1/video/init_video_part_upload/", params={"open_id": OPEN_ID}).json()
        upload_id = init["data"]["upload_id"]
        out = http.post(
            "/api/douyin/v1/video/upload_video_part/",
            params={"open_id": OPEN_ID, "upload_id": upload_id, "part_number": "2"},
            files={"video": ("v.mp4", b"x")},
        ).json()
    assert out["data"]["error_code"] == "2100005" and out["extra"]["logid"]


def test_a_too_big_single_upload_is_refused_for_good(douyin: RunningDouyin, tmp_path: Path) -> None:
    conn, _ = make(douyin, chunk_threshold_mb="1")
    douyin.stub.max_single = 100 * KB
    with pytest.raises(PlatformError) as err:
        conn.publish(request(video(tmp_path, 200 * KB)))
    assert not err.value.retryable and err.value.code == "douyin_2190005" and "过大" in str(err.value)
    with pytest.raises(PlatformError) as err:
        conn.publish(request(video(tmp_path, 10).model_copy(update={"duration_s": 16 * 60})))
    assert not err.value.retryable and "15 分钟" in str(err.value)


def test_an_expired_access_token_is_refreshed_once_and_the_refresh_expiry_stays(
    douyin: RunningDouyin, tmp_path: Path
) -> None:
    conn, store = make(douyin)
    ref = conn.publish(request(video(tmp_path, 10 * KB)))
    before = store.get(Platform.douyin, ACCOUNT)
    douyin.stub.expire_access()
    assert conn.get_post(Platform.douyin, ACCOUNT, ref.external_id) is not None
    after = store.get(Platform.douyin, ACCOUNT)
    assert douyin.stub.refresh_calls == 1 and conn.refreshes == 1
    assert after.access_token != before.access_token
    assert after.refresh_expires_at == before.refresh_expires_at  # the refresh token's expiry never moves


def test_an_expired_refresh_token_marks_the_account_for_reauthorization(douyin: RunningDouyin) -> None:
    conn, store = make(douyin)
    douyin.stub.expire_access()
    douyin.stub.expire_refresh()
    with pytest.raises(PlatformError) as err:
        conn.get_post(Platform.douyin, ACCOUNT, "@x==")
    assert err.value.code == REAUTHORIZE_NEEDED and not err.value.retryable
    assert "10010" in store.reauthorize[(Platform.douyin, ACCOUNT)]
    calls = douyin.stub.refresh_calls
    with pytest.raises(PlatformError) as err:  # fails fast, without calling the platform
        conn.get_post(Platform.douyin, ACCOUNT, "@x==")
    assert err.value.code == REAUTHORIZE_NEEDED and douyin.stub.refresh_calls == calls


def test_a_missing_scope_is_not_retried_and_says_which(douyin: RunningDouyin, tmp_path: Path) -> None:
    conn, _ = make(douyin)
    douyin.stub.scopes.discard("video.create")
    with pytest.raises(PlatformError) as err:
        conn.publish(request(video(tmp_path, 10 * KB)))
    assert not err.value.retryable and err.value.code == "douyin_2190003" and "video.create" in str(err.value)


def test_quota_is_retryable_and_sensitive_words_are_not(douyin: RunningDouyin, tmp_path: Path) -> None:
    conn, _ = make(douyin)
    with pytest.raises(PlatformError) as err:
        conn.publish(request(video(tmp_path, 10 * KB), text="违禁词"))
    assert not err.value.retryable and err.value.code == "douyin_2111001"
    douyin.stub.quota_left = 0
    with pytest.raises(PlatformError) as err:
        conn.get_post(Platform.douyin, ACCOUNT, "@x==")
    assert err.value.retryable and err.value.code == "douyin_2190001"


def test_a_lost_create_answer_does_not_post_twice(douyin: RunningDouyin, tmp_path: Path) -> None:
    conn, _ = make(douyin)
    douyin.stub.hang_once["create_video"] = 3.0
    with pytest.raises(PlatformTimeout):
        conn.publish(request(video(tmp_path, 10 * KB)))
    assert len(douyin.stub.items) == 1
    found = conn.find_by_key(Platform.douyin, ACCOUNT, "content-1-v1-douyin")
    again = make(douyin)[0].publish(request(video(tmp_path, 10 * KB)))  # another worker, no memory
    assert found is not None and again.external_id == found.external_id
    assert len(douyin.stub.items) == 1


def test_comments_page_by_cursor_with_encoded_item_ids_and_get_replies(
    douyin: RunningDouyin, tmp_path: Path
) -> None:
    conn, _ = make(douyin)
    ref = conn.publish(request(video(tmp_path, 10 * KB)))
    start = datetime.now(UTC) - timedelta(minutes=5)
    for n in range(25):  # two pages of 20
        douyin.stub.add_comment(ref.external_id, f"第{n}条评论")
    items = conn.fetch_interactions(Platform.douyin, ACCOUNT, start, datetime.now(UTC) + timedelta(minutes=1))
    assert len(items) == 25 and {i.post_id for i in items} == {ref.external_id}
    out = conn.reply(Platform.douyin, ACCOUNT, items[0].external_id, "谢谢支持", "reply-1")
    comment = douyin.stub.items[ref.external_id].comments[0]
    assert comment["replies"][0]["content"] == "谢谢支持" and out.external_id.endswith(
        comment["replies"][0]["comment_id"]
    )
    with pytest.raises(NotSupported):
        conn.hide(Platform.douyin, ACCOUNT, items[0].external_id)
    with pytest.raises(NotSupported):
        conn.delete(Platform.douyin, ACCOUNT, ref.external_id, "撤回")


def test_the_stub_refuses_an_unencoded_item_id(douyin: RunningDouyin, tmp_path: Path) -> None:
    conn, store = make(douyin)
    ref = conn.publish(request(video(tmp_path, 10 * KB)))
    token = store.get(Platform.douyin, ACCOUNT).access_token.get_secret_value()
    raw = f"{douyin.url}/item/comment/list/?open_id={OPEN_ID}&item_id={ref.external_id}&cursor=0&count=10"
    out = httpx.get(raw, headers={"access-token": token}).json()
    assert out["data"]["error_code"] == "2100005" and "URL" in out["data"]["description"]
