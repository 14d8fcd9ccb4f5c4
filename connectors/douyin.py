"""Douyin Open Platform (open.douyin.com), written against reference §3.

- OAuth: ``exchange_code`` (authorization code → access + refresh token, 15 d / 30 d) and ``refresh``
  (a new access token; the refresh token's expiry never moves). An expired refresh token (10010) marks the
  account ``reauthorize_needed``; every later call fails fast with that reason.
- Calls carry ``access-token`` in a header and ``open_id`` in the query; success needs HTTP 200 **and**
  ``data.error_code == 0`` **and** ``extra.error_code/sub_error_code == 0`` (numbers may be strings).
  2190008 (token expired) → one refresh and one retry.
- Video: one upload call up to ``chunk_threshold_mb`` (default 50), chunked init/part/complete above it
  (``chunk_mb`` parts, default 20); then create_video → an opaque ``@…==`` item_id (sent URL-encoded).
- Assumed (I): ``video_list`` for the fingerprint look-up and the inbox, the meaning of ``video_status``.
  Douyin documents no delete, edit, hide or search for this app type: those raise ``NotSupported``.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.base import (
    InboundItem,
    NotSupported,
    PlatformConnector,
    PlatformError,
    PostRef,
    PostRequest,
    PostView,
    SearchHit,
)
from connectors.credentials import REAUTHORIZE_NEEDED, ConnectorContext, Credentials, TokenGrant
from connectors.http import (
    RateBudget,
    as_int,
    fingerprint,
    media_bytes,
    option_float,
    option_int,
    send,
    usable_credentials,
)
from domain.content import MetricsSnapshot
from domain.kernel import Platform

DEFAULT_BASE = "https://open.douyin.com"
V1 = "/api/douyin/v1/video"
TOKEN_EXPIRED = 2190008
RETRYABLE = {2190001: "接口调用配额已用完", 2100004: "系统繁忙", 10020: "刷新/调用过于频繁"}
NOT_RETRYABLE = {
    2190002: "access_token 无效",
    2190003: "用户未授权该权限（scope）",
    2190004: "应用未获得该能力（需在抖音开放平台申请）",
    2190005: "视频文件过大（单次上传 ≤128 MB，更大请分片）",
    2190006: "视频时长超过 15 分钟",
    2190007: "video_id 无效",
    2100005: "参数错误",
    2111001: "内容含敏感词",
    10002: "参数错误",
    10007: "授权码已过期",
    10008: "token 无效",
    10013: "client_key 或 client_secret 错误",
}
REAUTHORIZE = {10010: "refresh_token 已过期，需要重新授权", 2190002: "access_token 无效（授权可能已被撤销）"}


class DouyinConnector:
    """Options (``ctx.options``; per account in ``Credentials.options`` wins): ``timeout_s`` (60),
    ``rate_per_hour`` (0 = none), ``chunk_threshold_mb`` (50), ``chunk_mb`` (20), ``max_video_mb`` (4096),
    ``dedupe_window_hours`` (48), ``lookback`` (20 newest videos for look-up and comments)."""

    kind = "douyin"
    platform = Platform.douyin
    has_title = False  # one text field (create_video ``text``); the content confirmation skips the title

    def __init__(self, ctx: ConnectorContext, client: httpx.Client | None = None) -> None:
        self.ctx = ctx
        self.http = client or httpx.Client(timeout=option_float(ctx.options, "timeout_s", 60))
        self.budget = RateBudget(option_int(ctx.options, "rate_per_hour", 0))
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], str] = {}
        self.refreshes = 0

    def _creds(self, account: str) -> Credentials:
        return usable_credentials(self.ctx, self.platform, account, "抖音")

    def _opt(self, creds: Credentials, name: str, default: float) -> float:
        return option_float(creds.options, name, option_float(self.ctx.options, name, default))

    def _base(self, creds: Credentials) -> str:
        return (creds.api_base or DEFAULT_BASE).rstrip("/")

    # -- OAuth ----------------------------------------------------------------------------------------
    def exchange_code(self, account: str, code: str, redirect_uri: str = "") -> TokenGrant:
        creds = self.ctx.credentials.get(self.platform, account)
        body = {
            "client_key": creds.app_id,
            "client_secret": creds.app_secret.get_secret_value(),
            "code": code,
            "grant_type": "authorization_code",
        }
        resp = send(
            self.http,
            "POST",
            f"{self._base(creds)}/oauth/access_token/",
            platform="douyin",
            effectful=False,
            json=body,
        )
        data = self._envelope(resp, account, oauth=True)
        now = datetime.now(UTC)
        grant = TokenGrant(
            access_token=SecretStr(str(data["access_token"])),
            expires_at=now + timedelta(seconds=as_int(data.get("expires_in"), 1296000)),
            refresh_token=SecretStr(str(data["refresh_token"])),
            refresh_expires_at=now + timedelta(seconds=as_int(data.get("refresh_expires_in"), 2592000)),
            open_id=str(data.get("open_id", "")),
        )
        self.ctx.credentials.save_tokens(self.platform, account, grant)
        return grant

    def refresh(self, account: str) -> TokenGrant:
        """A new access token; the stored refresh token and its (unmoving) expiry are kept."""
        creds = self._creds(account)
        self.refreshes += 1
        form = {
            "client_key": creds.app_id,
            "grant_type": "refresh_token",
            "refresh_token": creds.refresh_token.get_secret_value(),
        }
        resp = send(
            self.http,
            "POST",
            f"{self._base(creds)}/oauth/refresh_token/",
            platform="douyin",
            effectful=False,
            data=form,
        )
        data = self._envelope(resp, account, oauth=True)
        grant = TokenGrant(
            access_token=SecretStr(str(data["access_token"])),
            expires_at=datetime.now(UTC) + timedelta(seconds=as_int(data.get("expires_in"), 1296000)),
            refresh_token=SecretStr(str(data["refresh_token"])) if data.get("refresh_token") else None,
            open_id=str(data.get("open_id", "")),
        )
        self.ctx.credentials.save_tokens(self.platform, account, grant)
        return grant

    # -- plumbing ---------------------------------------------------------------------------------------
    def _envelope(self, resp: httpx.Response, account: str, *, oauth: bool = False) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError:
            raise PlatformError(
                f"抖音：HTTP {resp.status_code}，响应不是 JSON", retryable=True, code="douyin_bad_body"
            ) from None
        data = body.get("data") if isinstance(body, dict) else None
        extra = body.get("extra") or {} if isinstance(body, dict) else {}
        if not isinstance(data, dict):
            data = {}
        code = (
            as_int(data.get("error_code"))
            or as_int(extra.get("error_code"))
            or as_int(extra.get("sub_error_code"))
        )
        if resp.status_code == 200 and code == 0:
            return data
        desc = str(data.get("description") or extra.get("description") or extra.get("sub_description") or "")
        logid = str(extra.get("logid", ""))
        message = f"抖音 {code} {NOT_RETRYABLE.get(code) or RETRYABLE.get(code) or REAUTHORIZE.get(code, '')}：{desc} (logid {logid})"
        if code == TOKEN_EXPIRED:
            raise PlatformError(message, retryable=True, code=f"douyin_{code}")
        if code in REAUTHORIZE:
            self.ctx.credentials.mark_reauthorize(self.platform, account, f"抖音 {code} {REAUTHORIZE[code]}")
            raise PlatformError(message, retryable=False, code=REAUTHORIZE_NEEDED)
        if code in RETRYABLE:
            raise PlatformError(message, retryable=True, code=f"douyin_{code}")
        if code == 0:  # HTTP error without an envelope code
            raise PlatformError(
                f"抖音：HTTP {resp.status_code} (logid {logid})", retryable=False, code=f"http_{resp.status_code}"
            )
        raise PlatformError(message, retryable=False, code=f"douyin_{code}")

    def _call(
        self,
        account: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        effectful: bool = False,
    ) -> dict[str, Any]:
        self.budget.take(account)
        for attempt in (1, 2):
            creds = self._creds(account)
            resp = send(
                self.http,
                method,
                f"{self._base(creds)}{path}",
                platform="douyin",
                effectful=effectful,
                params={"open_id": creds.open_id, **(params or {})},
                headers={"access-token": creds.access_token.get_secret_value()},
                json=json,
                files=files,
            )
            try:
                return self._envelope(resp, account)
            except PlatformError as exc:
                if exc.code != f"douyin_{TOKEN_EXPIRED}" or attempt == 2:
                    raise
                with self._lock:
                    if self.ctx.credentials.get(self.platform, account).access_token == creds.access_token:
                        self.refresh(account)
        raise AssertionError("unreachable")

    # -- publishing -----------------------------------------------------------------------------------
    def publish(self, req: PostRequest) -> PostRef:
        found = self.find_by_fingerprint(req)
        if found is not None:
            return found
        creds = self._creds(req.account)
        videos = [m for m in req.media if m.kind == "video"]
        if len(videos) != 1:
            raise PlatformError("抖音需要且只能带一个视频", retryable=False, code="douyin_media")
        video = videos[0]
        if video.duration_s is not None and video.duration_s > 15 * 60:
            raise PlatformError("抖音 2190006 视频时长超过 15 分钟", retryable=False, code="douyin_2190006")
        name, blob = media_bytes(video, max_bytes=int(self._opt(creds, "max_video_mb", 4096) * (1 << 20)))
        video_id = self._upload(req.account, creds, name, blob)
        self._by_key[(req.account, req.idempotency_key)] = fingerprint("", req.text, 1)
        data = self._call(
            req.account,
            "POST",
            f"{V1}/create_video/",
            json={"video_id": video_id, "text": req.text},
            effectful=True,
        )
        item_id = str(data["item_id"])
        return PostRef(
            platform=req.platform,
            account=req.account,
            external_id=item_id,
            url="",
            idempotency_key=req.idempotency_key,
        )

    def _upload(self, account: str, creds: Credentials, name: str, blob: bytes) -> str:
        threshold = int(self._opt(creds, "chunk_threshold_mb", 50) * (1 << 20))
        if len(blob) <= threshold:
            data = self._call(account, "POST", f"{V1}/upload_video/", files={"video": (name, blob, "video/mp4")})
            return str(data["video"]["video_id"])
        size = max(int(self._opt(creds, "chunk_mb", 20) * (1 << 20)), 1)
        init = self._call(account, "POST", f"{V1}/init_video_part_upload/")
        upload_id = str(init["upload_id"])
        for n in range(math.ceil(len(blob) / size)):
            part = blob[n * size : (n + 1) * size]
            self._call(
                account,
                "POST",
                f"{V1}/upload_video_part/",
                params={"upload_id": upload_id, "part_number": str(n + 1)},
                files={"video": (name, part, "video/mp4")},
            )
        done = self._call(account, "POST", f"{V1}/complete_video_part_upload/", params={"upload_id": upload_id})
        return str(done["video"]["video_id"])

    def find_by_key(self, platform: Platform, account: str, idempotency_key: str) -> PostRef | None:
        fp = self._by_key.get((account, idempotency_key))
        return None if fp is None else self._match(account, fp, idempotency_key)

    def find_by_fingerprint(self, req: PostRequest) -> PostRef | None:
        return self._match(req.account, fingerprint("", req.text, 1), req.idempotency_key)

    find_published = find_by_fingerprint  # what the publish activity asks after an unknown outcome

    def _match(self, account: str, fp: str, key: str) -> PostRef | None:
        """Our video among the account's newest ones: same normalized text, within the dedupe window."""
        creds = self._creds(account)
        since = datetime.now(UTC) - timedelta(hours=self._opt(creds, "dedupe_window_hours", 48))
        for item in self._recent(account, creds):
            when = datetime.fromtimestamp(as_int(item.get("create_time")), UTC)
            if when >= since and fingerprint("", str(item.get("title", "")), 1) == fp:
                return PostRef(
                    platform=self.platform,
                    account=account,
                    external_id=str(item["item_id"]),
                    url=str(item.get("share_url", "")),
                    idempotency_key=key,
                )
        return None

    def _recent(self, account: str, creds: Credentials) -> list[dict[str, Any]]:
        count = str(int(self._opt(creds, "lookback", 20)))
        data = self._call(account, "GET", f"{V1}/video_list/", params={"cursor": "0", "count": count})
        return list(data.get("list") or [])

    def _item(self, account: str, item_id: str) -> dict[str, Any] | None:
        data = self._call(account, "POST", f"{V1}/video_data/", json={"item_ids": [item_id]})
        items = data.get("list") or []
        return items[0] if items else None

    def get_post(self, platform: Platform, account: str, external_id: str) -> PostView | None:
        item = self._item(account, external_id)
        if item is None:
            return None
        reviewed = bool(item.get("is_reviewed")) and str(item.get("is_reviewed")).lower() not in ("0", "false")
        status = "pending" if not reviewed else ("live" if as_int(item.get("video_status"), 1) == 1 else "hidden")
        return PostView(
            external_id=external_id,
            title="",  # a Douyin video has one text field; it is returned as ``text``
            text=str(item.get("title", "")),
            status=status,
            url=str(item.get("share_url", "")),
        )

    def fetch_metrics(
        self, platform: Platform, account: str, external_id: str, published_at: datetime, at: datetime
    ) -> MetricsSnapshot:
        item = self._item(account, external_id)
        stats = (item or {}).get("statistics") or {}
        return MetricsSnapshot(
            views=as_int(stats.get("play_count")),
            likes=as_int(stats.get("digg_count")),
            comments=as_int(stats.get("comment_count")),
            reposts=as_int(stats.get("share_count")) + as_int(stats.get("forward_count")),
        )

    def delete(self, platform: Platform, account: str, external_id: str, reason: str) -> None:
        raise NotSupported("抖音开放平台（参考文档）没有删除视频的接口：请在抖音 App 内删除")

    def edit(self, platform: Platform, account: str, external_id: str, text: str) -> None:
        raise NotSupported("抖音不允许修改已发布的视频")

    # -- comments -------------------------------------------------------------------------------------
    def fetch_interactions(
        self, platform: Platform, account: str, since: datetime, until: datetime
    ) -> list[InboundItem]:
        creds = self._creds(account)
        out: list[InboundItem] = []
        for item in self._recent(account, creds):
            item_id = str(item["item_id"])
            cursor = "0"
            while True:
                params = {"item_id": item_id, "cursor": cursor, "count": "20", "sort_type": "time"}
                data = self._call(account, "GET", "/item/comment/list/", params=params)
                older = False
                for c in data.get("list") or []:
                    at = datetime.fromtimestamp(as_int(c.get("create_time")), UTC)
                    older = older or at < since
                    if since <= at < until:
                        out.append(
                            InboundItem(
                                external_id=f"{item_id}|{c['comment_id']}",
                                text=str(c.get("content", "")),
                                author=str(c.get("nick_name", "")),
                                author_id=str(c.get("comment_user_id", "")),
                                received_at=at,
                                post_id=item_id,
                            )
                        )
                if older or not data.get("has_more") or str(data.get("has_more")).lower() in ("0", "false"):
                    break
                cursor = str(data.get("cursor", "0"))
        return out

    def reply(self, platform: Platform, account: str, external_id: str, text: str, key: str) -> PostRef:
        item_id, _, comment_id = external_id.partition("|")
        if not comment_id:
            raise PlatformError(f"抖音：不是评论 id：{external_id!r}", retryable=False, code="douyin_bad_id")
        data = self._call(
            account,
            "POST",
            "/item/comment/reply/",
            json={"item_id": item_id, "comment_id": comment_id, "content": text},
            effectful=True,
        )
        return PostRef(
            platform=platform,
            account=account,
            external_id=f"{item_id}|{data['comment_id']}",
            url="",
            idempotency_key=key,
        )

    def hide(self, platform: Platform, account: str, external_id: str) -> None:
        raise NotSupported("抖音开放平台没有隐藏评论的接口")

    def unhide(self, platform: Platform, account: str, external_id: str) -> None:
        raise NotSupported("抖音开放平台没有隐藏评论的接口")

    def search(self, platform: Platform, terms: list[str], since: datetime, until: datetime) -> list[SearchHit]:
        raise NotSupported("抖音开放平台没有给普通应用的搜索接口")


def factory(ctx: ConnectorContext) -> PlatformConnector:
    return DouyinConnector(ctx)
