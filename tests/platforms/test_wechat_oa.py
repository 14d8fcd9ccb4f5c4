"""The WeChat OA connector against its stub over HTTP: tokens, async publish, dedupe, metrics, comments,
DMs, errors, and the callback helpers."""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from connectors.base import NotSupported, PlatformError, PlatformTimeout, PostRequest
from connectors.credentials import ConnectorContext, Credentials, MemoryCredentialStore
from connectors.wechat_oa import WeChatOAConnector, check_signature, decrypt_message, encrypt_message
from domain.content import MediaRef
from domain.kernel import Platform
from tests.platforms.stub_wechat import AES_KEY, APPID, CALLBACK_TOKEN, SECRET, RunningWeChat, serve_wechat

ACCOUNT = "brand_wechat"


@pytest.fixture
def wechat() -> Iterator[RunningWeChat]:
    running = serve_wechat()
    yield running
    running.close()


def credentials(url: str) -> Credentials:
    return Credentials(app_id=APPID, app_secret=SECRET, api_base=url)  # type: ignore[arg-type]


def make(url: str, **options: str) -> tuple[WeChatOAConnector, MemoryCredentialStore]:
    store = MemoryCredentialStore({(Platform.wechat_oa, ACCOUNT): credentials(url)})
    return WeChatOAConnector(ConnectorContext(credentials=store, options={"timeout_s": "1", **options})), store


@pytest.fixture
def cover(tmp_path: Path) -> MediaRef:
    path = tmp_path / "cover.jpg"
    path.write_bytes(b"\xff\xd8\xff" + b"jpeg" * 100)
    return MediaRef(kind="image", uri=str(path), is_cover=True)


def request(
    cover: MediaRef, key: str = "content-1-v1-wechat_oa-brand_wechat", title: str = "秋季新品发布"
) -> PostRequest:
    return PostRequest(
        platform=Platform.wechat_oa,
        account=ACCOUNT,
        idempotency_key=key,
        title=title,
        text="新品上线，欢迎体验\n详情见官网 <限量>",
        media=[cover],
    )


def published(conn: WeChatOAConnector, cover: MediaRef) -> str:
    ref = conn.publish(request(cover))
    for _ in range(5):
        status = conn.publish_status(Platform.wechat_oa, ACCOUNT, ref.publish_id)
        if status.state == "published":
            return status.external_id
    raise AssertionError("never published")


def test_publish_is_asynchronous_and_confirms_the_same_text(wechat: RunningWeChat, cover: MediaRef) -> None:
    conn, store = make(wechat.url)
    ref = conn.publish(request(cover))
    assert ref.pending and ref.publish_id and ref.external_id == ""
    assert wechat.stub.articles == {}  # queued, not yet out
    assert conn.publish_status(Platform.wechat_oa, ACCOUNT, ref.publish_id).state == "pending"
    done = conn.publish_status(Platform.wechat_oa, ACCOUNT, ref.publish_id)
    assert done.state == "published" and done.external_id in wechat.stub.articles
    assert "mid=" in done.url
    view = conn.get_post(Platform.wechat_oa, ACCOUNT, done.external_id)
    assert view is not None and view.status == "live"
    assert view.title == "秋季新品发布" and view.text == "新品上线，欢迎体验\n详情见官网 <限量>"
    assert store.get(Platform.wechat_oa, ACCOUNT).access_token.get_secret_value().startswith("ACCESS_")
    assert conn.get_post(Platform.wechat_oa, ACCOUNT, "ART_nope") is None


@pytest.mark.parametrize(
    "outcome, words", [(2, "原创声明失败（第 1 篇）"), (3, "常规失败"), (4, "平台审核不通过（第 1 篇）")]
)
def test_publish_failures_carry_a_reason(wechat: RunningWeChat, cover: MediaRef, outcome: int, words: str) -> None:
    wechat.stub.publish_outcome = outcome
    conn, _ = make(wechat.url)
    ref = conn.publish(request(cover))
    states = [conn.publish_status(Platform.wechat_oa, ACCOUNT, ref.publish_id) for _ in range(2)]
    assert states[0].state == "pending"
    assert states[1].state == "failed" and words in states[1].reason


def test_deleted_after_success_reads_as_failed(wechat: RunningWeChat, cover: MediaRef) -> None:
    conn, _ = make(wechat.url)
    ref = conn.publish(request(cover))
    conn.publish_status(Platform.wechat_oa, ACCOUNT, ref.publish_id)
    done = conn.publish_status(Platform.wechat_oa, ACCOUNT, ref.publish_id)
    conn.delete(Platform.wechat_oa, ACCOUNT, done.external_id, "撤回")
    after = conn.publish_status(Platform.wechat_oa, ACCOUNT, ref.publish_id)
    assert after.state == "failed" and "被用户删除" in after.reason
    view = conn.get_post(Platform.wechat_oa, ACCOUNT, done.external_id)
    assert view is not None and view.status == "deleted"


def test_an_expired_token_is_fetched_again_exactly_once(wechat: RunningWeChat, cover: MediaRef) -> None:
    conn, store = make(wechat.url)
    published(conn, cover)
    old = store.get(Platform.wechat_oa, ACCOUNT).access_token.get_secret_value()
    fetches, stub_calls = conn.token_fetches, wechat.stub.token_calls
    wechat.stub.expire_tokens()  # the stored token still looks valid to us: the platform says 42001
    assert conn.get_post(Platform.wechat_oa, ACCOUNT, next(iter(wechat.stub.articles))) is not None
    assert conn.token_fetches - fetches == 1 and wechat.stub.token_calls - stub_calls == 1
    assert store.get(Platform.wechat_oa, ACCOUNT).access_token.get_secret_value() != old


def test_a_token_refused_after_the_refetch_is_not_retried_forever(wechat: RunningWeChat) -> None:
    conn, _ = make(wechat.url)
    wechat.stub.token_ttl = 0  # every token the stub hands out is already expired
    with pytest.raises(PlatformError) as err:
        conn.get_post(Platform.wechat_oa, ACCOUNT, "ART_x")
    assert not err.value.retryable and err.value.code == "wechat_42001"
    assert wechat.stub.token_calls <= 3  # one fetch, one refetch (+ one forced, as the same token came back)


def test_normal_mode_keeps_the_token_and_old_tokens_overlap(wechat: RunningWeChat) -> None:
    conn, store = make(wechat.url)
    first = conn.refresh(ACCOUNT).access_token.get_secret_value()
    assert conn.refresh(ACCOUNT).access_token.get_secret_value() == first  # normal mode: same token
    wechat.stub.tokens[-1].expires = time.time() + 200  # inside the last 5 minutes
    second = conn.refresh(ACCOUNT).access_token.get_secret_value()
    assert second != first
    assert wechat.stub._check_token(first) is None  # the old one still works until it expires
    assert store.get(Platform.wechat_oa, ACCOUNT).access_token.get_secret_value() == second


def test_quota_codes_are_retryable(wechat: RunningWeChat) -> None:
    conn, _ = make(wechat.url)
    wechat.stub.per_minute = 1
    assert conn.get_post(Platform.wechat_oa, ACCOUNT, "ART_x") is None
    with pytest.raises(PlatformError) as err:
        conn.get_post(Platform.wechat_oa, ACCOUNT, "ART_x")
    assert err.value.retryable and err.value.code == "wechat_45011"


def test_not_retryable_errors_name_the_reason(wechat: RunningWeChat, cover: MediaRef) -> None:
    conn, store = make(wechat.url)
    with pytest.raises(PlatformError) as err:
        conn.publish(request(cover, title="长" * 65))
    assert not err.value.retryable and "标题过长" in str(err.value)
    wechat.stub.ip_whitelisted = False
    with pytest.raises(PlatformError) as err:
        conn.get_post(Platform.wechat_oa, ACCOUNT, "ART_x")
    assert not err.value.retryable and "白名单" in str(err.value)
    wechat.stub.ip_whitelisted = True
    store.put(Platform.wechat_oa, ACCOUNT, Credentials(app_id=APPID, app_secret="wrong", api_base=wechat.url))  # type: ignore[arg-type]
    with pytest.raises(PlatformError) as err:
        conn.get_post(Platform.wechat_oa, ACCOUNT, "ART_x")
    assert not err.value.retryable and "AppSecret" in str(err.value)


def test_a_lost_submit_answer_does_not_post_twice(wechat: RunningWeChat, cover: MediaRef) -> None:
    conn, _ = make(wechat.url)
    wechat.stub.publish_polls = 0  # the job finishes at once
    wechat.stub.hang_once["freepublish/submit"] = 3.0  # accepted, answered after the client gave up
    with pytest.raises(PlatformTimeout):
        conn.publish(request(cover))
    assert len(wechat.stub.articles) == 1
    assert conn.find_by_key(Platform.wechat_oa, ACCOUNT, request(cover).idempotency_key) is not None
    fresh, _ = make(wechat.url)  # another worker, no memory of the first attempt
    again = fresh.publish(request(cover))
    assert not again.pending and again.external_id in wechat.stub.articles
    assert len(wechat.stub.articles) == 1 and len(wechat.stub.jobs) == 1


def test_metrics_sum_the_days_up_to_yesterday(wechat: RunningWeChat, cover: MediaRef) -> None:
    conn, _ = make(wechat.url)
    article = published(conn, cover)
    now = datetime.now(UTC)
    assert conn.fetch_metrics(Platform.wechat_oa, ACCOUNT, article, now, now).views == 0  # no full day yet
    wechat.stub.articles[article].created -= 3 * 86400
    snap = conn.fetch_metrics(Platform.wechat_oa, ACCOUNT, article, now - timedelta(days=3), now)
    assert snap.views == 300 and snap.reposts == 30 and snap.favourites == 15


def test_comments_are_read_answered_and_deleted(wechat: RunningWeChat, cover: MediaRef) -> None:
    conn, _ = make(wechat.url)
    article = published(conn, cover)
    start = datetime.now(UTC) - timedelta(minutes=1)
    cid = wechat.stub.add_comment(article, "openid-1", "请问什么时候发货？")
    for n in range(55):  # more than one page of 49
        wechat.stub.add_comment(article, f"openid-{n}", f"第{n}条", at=datetime.now(UTC) - timedelta(days=2))
    items = conn.fetch_interactions(Platform.wechat_oa, ACCOUNT, start, datetime.now(UTC) + timedelta(minutes=1))
    assert [i.text for i in items] == ["请问什么时候发货？"]
    assert items[0].author_id == "openid-1" and items[0].post_id == article
    older = conn.fetch_interactions(Platform.wechat_oa, ACCOUNT, start - timedelta(days=3), start)
    assert len(older) == 55
    conn.reply(Platform.wechat_oa, ACCOUNT, items[0].external_id, "明天发货", "reply-1")
    comment = next(c for c in wechat.stub.articles[article].comments if c["user_comment_id"] == cid)
    assert comment["reply"]["content"] == "明天发货"
    conn.hide(Platform.wechat_oa, ACCOUNT, items[0].external_id)
    assert all(c["user_comment_id"] != cid for c in wechat.stub.articles[article].comments)
    with pytest.raises(NotSupported):
        conn.unhide(Platform.wechat_oa, ACCOUNT, items[0].external_id)


def test_comments_without_the_privilege_are_refused_with_a_reason(wechat: RunningWeChat, cover: MediaRef) -> None:
    conn, _ = make(wechat.url, need_open_comment="0")
    article = published(conn, cover)
    with pytest.raises(PlatformError) as err:
        conn.fetch_interactions(
            Platform.wechat_oa, ACCOUNT, datetime.now(UTC) - timedelta(days=1), datetime.now(UTC)
        )
    assert not err.value.retryable and err.value.code == "wechat_88000" and article


def test_dms_only_inside_the_customer_service_window(wechat: RunningWeChat) -> None:
    conn, _ = make(wechat.url)
    with pytest.raises(PlatformError) as err:
        conn.reply(Platform.wechat_oa, ACCOUNT, "dm:openid-9", "您好", "dm-1")
    assert not err.value.retryable and "48 小时" in str(err.value)
    wechat.stub.user_message("openid-9", at=time.time() - 47 * 3600)
    conn.reply(Platform.wechat_oa, ACCOUNT, "dm:openid-9", "您好", "dm-2")
    assert wechat.stub.sent[-1]["text"]["content"] == "您好"


def test_the_rate_budget_stops_calls_before_the_platform(wechat: RunningWeChat) -> None:
    conn, _ = make(wechat.url, rate_per_hour="2")
    conn.get_post(Platform.wechat_oa, ACCOUNT, "ART_x")
    conn.get_post(Platform.wechat_oa, ACCOUNT, "ART_x")
    calls = len(wechat.stub.calls)
    with pytest.raises(PlatformError) as err:
        conn.get_post(Platform.wechat_oa, ACCOUNT, "ART_x")
    assert err.value.retryable and err.value.code == "rate_budget"
    assert len(wechat.stub.calls) == calls


def test_videos_and_edits_are_not_supported(wechat: RunningWeChat, cover: MediaRef) -> None:
    conn, _ = make(wechat.url)
    req = request(cover).model_copy(update={"media": [MediaRef(kind="video", uri="/tmp/x.mp4")]})
    with pytest.raises(NotSupported):
        conn.publish(req)
    with pytest.raises(NotSupported):
        conn.edit(Platform.wechat_oa, ACCOUNT, "ART_x", "新")


def test_callback_signatures_and_safe_mode_messages(wechat: RunningWeChat) -> None:
    xml = "<xml><FromUserName>openid-1</FromUserName><Content>你好</Content></xml>"
    query, _ = wechat.stub.callback(xml)
    assert check_signature(CALLBACK_TOKEN, query["timestamp"], query["nonce"], query["signature"])
    assert not check_signature(CALLBACK_TOKEN, query["timestamp"], query["nonce"] + "x", query["signature"])
    query, body = wechat.stub.callback(xml, safe=True)
    enc = body.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    assert check_signature(CALLBACK_TOKEN, query["timestamp"], query["nonce"], query["msg_signature"], enc)
    assert decrypt_message(AES_KEY, enc, APPID) == xml
    with pytest.raises(ValueError):
        decrypt_message(AES_KEY, enc, "wx-other")


def test_decrypt_follows_the_documented_layout() -> None:
    """Built by hand from the reference, not by our encrypt: 16 random ‖ length ‖ XML ‖ appid, PKCS7/32."""
    key = base64.b64decode(AES_KEY + "=")
    xml = b"<xml><Content>hi</Content></xml>"
    plain = b"R" * 16 + struct.pack(">I", len(xml)) + xml + APPID.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    blob = base64.b64encode(enc.update(plain) + enc.finalize()).decode()
    assert decrypt_message(AES_KEY, blob, APPID) == xml.decode()
    assert encrypt_message(AES_KEY, xml.decode(), APPID, random16=b"R" * 16) == blob
