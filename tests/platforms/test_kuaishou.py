"""The Kuaishou connector against its stub over HTTP: OAuth, ``result`` codes, uploads, pending, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from connectors.base import NotSupported, PlatformError, PlatformTimeout, PostRequest
from connectors.credentials import REAUTHORIZE_NEEDED, ConnectorContext, Credentials, MemoryCredentialStore
from connectors.kuaishou import KuaishouConnector
from domain.content import MediaRef
from domain.kernel import Platform
from tests.platforms.stub_kuaishou import APP_ID, APP_SECRET, CODE, OPEN_ID, RunningKuaishou, serve_kuaishou

ACCOUNT = "brand_kuaishou"
KB = 1024
KEY = "content-1-v1-kuaishou"


@pytest.fixture
def kuaishou() -> Iterator[RunningKuaishou]:
    running = serve_kuaishou()
    yield running
    running.close()


def make(
    ks: RunningKuaishou, *, authorized: bool = True, **options: str
) -> tuple[KuaishouConnector, MemoryCredentialStore]:
    creds = Credentials(app_id=APP_ID, app_secret=SecretStr(APP_SECRET), api_base=ks.url)
    if authorized:
        access, refresh = ks.stub.grant()
        creds = creds.model_copy(
            update={
                "access_token": SecretStr(access),
                "refresh_token": SecretStr(refresh),
                "open_id": OPEN_ID,
                "expires_at": datetime.now(UTC) + timedelta(hours=48),
                "refresh_expires_at": datetime.now(UTC) + timedelta(days=180),
            }
        )
    store = MemoryCredentialStore({(Platform.kuaishou, ACCOUNT): creds})
    opts = {"timeout_s": "1", "fragment_threshold_mb": str(256 / 1024), "fragment_mb": str(100 / 1024), **options}
    return KuaishouConnector(ConnectorContext(credentials=store, options=opts)), store


def media(tmp_path: Path, size: int, cover: bool = True) -> list[MediaRef]:
    (tmp_path / "v.mp4").write_bytes(b"\x00" * size)
    (tmp_path / "c.jpg").write_bytes(b"\xff\xd8\xff" + b"c" * 100)
    out = [MediaRef(kind="video", uri=str(tmp_path / "v.mp4"))]
    return out + ([MediaRef(kind="image", uri=str(tmp_path / "c.jpg"), is_cover=True)] if cover else [])


def request(items: list[MediaRef], text: str = "秋季新品开箱") -> PostRequest:
    return PostRequest(platform=Platform.kuaishou, account=ACCOUNT, idempotency_key=KEY, text=text, media=items)


def test_code_exchange_then_refresh_inherits_the_expiry_and_keeps_old_tokens(kuaishou: RunningKuaishou) -> None:
    conn, store = make(kuaishou, authorized=False)
    conn.exchange_code(ACCOUNT, CODE, "https://example.com/cb")
    first = store.get(Platform.kuaishou, ACCOUNT)
    assert first.open_id == OPEN_ID and first.refresh_expires_at is not None
    conn.refresh(ACCOUNT)
    second = store.get(Platform.kuaishou, ACCOUNT)
    assert second.refresh_token != first.refresh_token and second.access_token != first.access_token
    assert second.refresh_expires_at == first.refresh_expires_at  # inherited, not extended
    old_rt = first.refresh_token.get_secret_value()
    assert old_rt not in kuaishou.stub.refresh_tokens  # voided
    assert (
        kuaishou.stub.access[first.access_token.get_secret_value()] > datetime.now(UTC).timestamp()
    )  # still valid


def test_publish_uploads_to_the_stub_endpoint_then_pending_then_live(
    kuaishou: RunningKuaishou, tmp_path: Path
) -> None:
    conn, _ = make(kuaishou)
    ref = conn.publish(request(media(tmp_path, 200 * KB)))
    [photo] = kuaishou.stub.photos.values()
    assert ref.external_id == photo.photo_id and photo.size == 200 * KB and photo.cover.startswith(b"\xff\xd8")
    with pytest.raises(PlatformError) as err:  # right after publish: not there yet
        conn.get_post(Platform.kuaishou, ACCOUNT, ref.external_id)
    assert err.value.retryable and err.value.code == "kuaishou_100120001"
    pending = conn.get_post(Platform.kuaishou, ACCOUNT, ref.external_id)
    assert pending is not None and pending.status == "pending"
    live = conn.get_post(Platform.kuaishou, ACCOUNT, ref.external_id)
    assert live is not None and live.status == "live" and live.text == "秋季新品开箱"
    photo.views = 1000
    snap = conn.fetch_metrics(Platform.kuaishou, ACCOUNT, ref.external_id, datetime.now(UTC), datetime.now(UTC))
    assert (snap.views, snap.likes, snap.comments) == (1000, 50, 20)
    conn.delete(Platform.kuaishou, ACCOUNT, ref.external_id, "撤回")
    assert photo.deleted


def test_a_large_video_goes_up_in_fragments(kuaishou: RunningKuaishou, tmp_path: Path) -> None:
    conn, _ = make(kuaishou)
    conn.publish(request(media(tmp_path, 270 * KB)))  # above the 256 KB threshold
    [upload] = kuaishou.stub.uploads.values()
    assert upload.fragments == [100 * KB, 100 * KB, 70 * KB] and upload.done and upload.size == 270 * KB


def test_the_cover_is_required(kuaishou: RunningKuaishou, tmp_path: Path) -> None:
    conn, _ = make(kuaishou)
    with pytest.raises(PlatformError) as err:
        conn.publish(request(media(tmp_path, 10 * KB, cover=False)))
    assert not err.value.retryable and "封面" in str(err.value)
    assert kuaishou.stub.uploads == {}  # refused before anything was uploaded


def test_the_configured_expired_token_code_refreshes_once(kuaishou: RunningKuaishou, tmp_path: Path) -> None:
    kuaishou.stub.expired_code = 100200199
    conn, _ = make(kuaishou, expired_token_codes="100200199")
    ref = conn.publish(request(media(tmp_path, 10 * KB)))
    kuaishou.stub.expire_access()
    kuaishou.stub.photos[ref.external_id].not_found_reads = 0
    assert conn.get_post(Platform.kuaishou, ACCOUNT, ref.external_id) is not None
    assert kuaishou.stub.refresh_calls == 1 and conn.refreshes == 1


def test_an_unconfigured_code_is_not_mistaken_for_expiry(kuaishou: RunningKuaishou) -> None:
    kuaishou.stub.expired_code = 100200199
    conn, _ = make(kuaishou)  # default: only 100200102 means "refresh"
    kuaishou.stub.expire_access()
    with pytest.raises(PlatformError) as err:
        conn.get_post(Platform.kuaishou, ACCOUNT, "1")
    assert err.value.code == "kuaishou_100200199" and kuaishou.stub.refresh_calls == 0


def test_a_refused_refresh_marks_the_account_for_reauthorization(kuaishou: RunningKuaishou) -> None:
    conn, store = make(kuaishou)
    kuaishou.stub.refresh_tokens.clear()
    kuaishou.stub.expire_access()
    kuaishou.stub.expired_code = 100200102
    with pytest.raises(PlatformError) as err:
        conn.get_post(Platform.kuaishou, ACCOUNT, "1")
    assert err.value.code == REAUTHORIZE_NEEDED and not err.value.retryable
    assert (Platform.kuaishou, ACCOUNT) in store.reauthorize


def test_a_lost_publish_answer_does_not_post_twice(kuaishou: RunningKuaishou, tmp_path: Path) -> None:
    conn, _ = make(kuaishou)
    kuaishou.stub.hang_once["photo_publish"] = 3.0
    with pytest.raises(PlatformTimeout):
        conn.publish(request(media(tmp_path, 10 * KB)))
    found = conn.find_by_key(Platform.kuaishou, ACCOUNT, KEY)
    again = make(kuaishou)[0].publish(request(media(tmp_path, 10 * KB)))
    assert found is not None and again.external_id == found.external_id and len(kuaishou.stub.photos) == 1


def test_there_is_no_comment_api(kuaishou: RunningKuaishou) -> None:
    conn, _ = make(kuaishou)
    now = datetime.now(UTC)
    with pytest.raises(NotSupported):
        conn.fetch_interactions(Platform.kuaishou, ACCOUNT, now - timedelta(hours=1), now)
    with pytest.raises(NotSupported):
        conn.reply(Platform.kuaishou, ACCOUNT, "c1", "谢谢", "k")
    with pytest.raises(NotSupported):
        conn.hide(Platform.kuaishou, ACCOUNT, "c1")


def test_app_credentials_errors_are_not_retried(kuaishou: RunningKuaishou) -> None:
    conn, store = make(kuaishou, authorized=False)
    store.put(
        Platform.kuaishou, ACCOUNT, Credentials(app_id=APP_ID, app_secret=SecretStr("bad"), api_base=kuaishou.url)
    )
    with pytest.raises(PlatformError) as err:
        conn.exchange_code(ACCOUNT, CODE)
    assert not err.value.retryable and err.value.code == "kuaishou_100200101" and "校验失败" in str(err.value)
