"""Kuaishou Open Platform (open.kuaishou.com), written against reference §4.

- OAuth: ``exchange_code`` (48 h access token, 180 d refresh token) and ``refresh`` (a new access token and
  a new refresh token that inherits the old one's expiry; old access tokens stay valid until they expire).
- Every answer is HTTP 200 with ``result``: 1 is success, anything else a code. Kuaishou documents no code
  for an *expired* token, so ``expired_token_codes`` (default ``100200102``, the documented "invalid
  access_token") says which codes mean "refresh once and retry".
- Publishing: photo/start_upload → the bytes to the returned ``endpoint`` (one call, or fragments with
  ``fragment_id``/``fragment_count`` above ``fragment_threshold_mb``) → photo/publish with the caption and the
  required cover → ``pending:true``; photo/info answers 100120001 (not visible yet, retryable) until the
  video is processed.
- No comment, mention or DM API is documented: ``fetch_interactions``, ``reply``, ``hide`` raise
  ``NotSupported``. Metrics come from photo/info's counters.
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

DEFAULT_BASE = "https://open.kuaishou.com"
NOT_YET = 100120001
REASONS = {
    100200100: "参数错误",
    100200101: "app_id 或 app_secret 校验失败",
    100200102: "access_token 无效",
    NOT_YET: "视频还在处理中（video_not_exist）",
}
RETRYABLE = {NOT_YET}


class KuaishouConnector:
    """Options (``ctx.options``; per account in ``Credentials.options`` wins): ``timeout_s`` (60),
    ``rate_per_hour`` (0 = none), ``expired_token_codes`` (``100200102``), ``retryable_codes`` (none),
    ``fragment_threshold_mb`` (10), ``fragment_mb`` (5, at most 10), ``upload_scheme`` (``http``),
    ``max_video_mb`` (4096), ``dedupe_window_hours`` (48), ``lookback`` (20)."""

    kind = "kuaishou"
    platform = Platform.kuaishou
    has_title = False  # one text field (the caption); the content confirmation skips the title

    def __init__(self, ctx: ConnectorContext, client: httpx.Client | None = None) -> None:
        self.ctx = ctx
        self.http = client or httpx.Client(timeout=option_float(ctx.options, "timeout_s", 60))
        self.budget = RateBudget(option_int(ctx.options, "rate_per_hour", 0))
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, str], str] = {}
        self.refreshes = 0

    def _creds(self, account: str) -> Credentials:
        return usable_credentials(self.ctx, self.platform, account, "快手")

    def _str(self, creds: Credentials, name: str, default: str) -> str:
        return creds.options.get(name) or self.ctx.options.get(name) or default

    def _num(self, creds: Credentials, name: str, default: float) -> float:
        return option_float(creds.options, name, option_float(self.ctx.options, name, default))

    def _codes(self, creds: Credentials, name: str, default: str) -> set[int]:
        return {as_int(c.strip()) for c in self._str(creds, name, default).split(",") if c.strip()}

    def _base(self, creds: Credentials) -> str:
        return (creds.api_base or DEFAULT_BASE).rstrip("/")

    # -- OAuth ----------------------------------------------------------------------------------------
    def exchange_code(self, account: str, code: str, redirect_uri: str = "") -> TokenGrant:
        creds = self.ctx.credentials.get(self.platform, account)
        params = {
            "app_id": creds.app_id,
            "app_secret": creds.app_secret.get_secret_value(),
            "code": code,
            "grant_type": "authorization_code",
        }
        data = self._result(self._get(creds, "/oauth2/access_token", params), account, creds)
        now = datetime.now(UTC)
        grant = TokenGrant(
            access_token=SecretStr(str(data["access_token"])),
            expires_at=now + timedelta(seconds=as_int(data.get("expires_in"), 172800)),
            refresh_token=SecretStr(str(data["refresh_token"])),
            refresh_expires_at=now + timedelta(seconds=as_int(data.get("refresh_token_expires_in"), 15552000)),
            open_id=str(data.get("open_id", "")),
        )
        self.ctx.credentials.save_tokens(self.platform, account, grant)
        return grant

    def refresh(self, account: str) -> TokenGrant:
        """New access and refresh tokens; the stored refresh expiry is kept (the new token inherits it). A
        refused refresh marks the account ``reauthorize_needed``."""
        creds = self._creds(account)
        self.refreshes += 1
        params = {
            "app_id": creds.app_id,
            "app_secret": creds.app_secret.get_secret_value(),
            "refresh_token": creds.refresh_token.get_secret_value(),
            "grant_type": "refresh_token",
        }
        try:
            data = self._result(self._get(creds, "/oauth2/refresh_token", params), account, creds)
        except PlatformError as exc:
            if not exc.retryable:
                self.ctx.credentials.mark_reauthorize(self.platform, account, f"快手刷新令牌被拒绝：{exc}")
                raise PlatformError(str(exc), retryable=False, code=REAUTHORIZE_NEEDED) from exc
            raise
        grant = TokenGrant(
            access_token=SecretStr(str(data["access_token"])),
            expires_at=datetime.now(UTC) + timedelta(seconds=as_int(data.get("expires_in"), 172800)),
            refresh_token=SecretStr(str(data["refresh_token"])) if data.get("refresh_token") else None,
        )
        self.ctx.credentials.save_tokens(self.platform, account, grant)
        return grant

    # -- plumbing ---------------------------------------------------------------------------------------
    def _get(self, creds: Credentials, path: str, params: dict[str, str]) -> httpx.Response:
        return send(
            self.http, "GET", f"{self._base(creds)}{path}", platform="kuaishou", effectful=False, params=params
        )

    def _result(self, resp: httpx.Response, account: str, creds: Credentials) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError:
            raise PlatformError(
                f"快手：HTTP {resp.status_code}，响应不是 JSON", retryable=True, code="kuaishou_bad_body"
            ) from None
        if not isinstance(data, dict):
            raise PlatformError("快手：响应格式异常", retryable=False, code="kuaishou_bad_body")
        code = as_int(data.get("result"))
        if code == 1:
            return data
        text = str(data.get("error_msg") or data.get("error") or "")
        retryable = code in RETRYABLE or code in self._codes(creds, "retryable_codes", "")
        reason = REASONS.get(code, "")
        raise PlatformError(
            f"快手 {code}{(' ' + reason) if reason else ''}：{text}", retryable=retryable, code=f"kuaishou_{code}"
        )

    def _call(
        self,
        account: str,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        files: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        effectful: bool = False,
    ) -> dict[str, Any]:
        self.budget.take(account)
        for attempt in (1, 2):
            creds = self._creds(account)
            query = {
                "access_token": creds.access_token.get_secret_value(),
                "app_id": creds.app_id,
                **(params or {}),
            }
            resp = send(
                self.http,
                method,
                f"{self._base(creds)}{path}",
                platform="kuaishou",
                effectful=effectful,
                params=query,
                files=files,
                data=data,
            )
            try:
                return self._result(resp, account, creds)
            except PlatformError as exc:
                expired = {f"kuaishou_{c}" for c in self._codes(creds, "expired_token_codes", "100200102")}
                if exc.code not in expired:
                    raise
                if attempt == 2:
                    raise PlatformError(f"{exc}（刷新令牌后仍被拒绝）", retryable=False, code=exc.code) from exc
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
        covers = sorted((m for m in req.media if m.kind == "image"), key=lambda m: not m.is_cover)
        if len(videos) != 1:
            raise PlatformError("快手需要且只能带一个视频", retryable=False, code="kuaishou_media")
        if not covers:
            raise PlatformError("快手发布需要封面图（cover）", retryable=False, code="kuaishou_cover")
        limit = int(self._num(creds, "max_video_mb", 4096) * (1 << 20))
        _name, blob = media_bytes(videos[0], max_bytes=limit)
        cover_name, cover = media_bytes(covers[0], max_bytes=10 << 20)
        start = self._call(req.account, "POST", "/openapi/photo/start_upload")
        token, endpoint = str(start["upload_token"]), str(start["endpoint"])
        self._upload(creds, endpoint, token, blob)
        self._by_key[(req.account, req.idempotency_key)] = fingerprint("", req.text, 1)
        data = self._call(
            req.account,
            "POST",
            "/openapi/photo/publish",
            params={"upload_token": token},
            data={"caption": req.text},
            files={"cover": (cover_name, cover, "image/jpeg")},
            effectful=True,
        )
        info = data.get("video_info") or {}
        return PostRef(
            platform=req.platform,
            account=req.account,
            external_id=str(info["photo_id"]),
            url=str(info.get("play_url", "")),
            idempotency_key=req.idempotency_key,
        )

    def _upload(self, creds: Credentials, endpoint: str, token: str, blob: bytes) -> None:
        base = f"{self._str(creds, 'upload_scheme', 'http')}://{endpoint}"
        threshold = int(self._num(creds, "fragment_threshold_mb", 10) * (1 << 20))

        def post(path: str, params: dict[str, str], content: bytes = b"") -> None:
            resp = send(
                self.http,
                "POST",
                f"{base}{path}",
                platform="kuaishou",
                effectful=False,
                params={"upload_token": token, **params},
                content=content,
                headers={"content-type": "application/octet-stream"},
            )
            self._result(resp, "", creds)

        if len(blob) <= threshold:
            post("/api/upload", {}, blob)
            return
        size = max(int(min(self._num(creds, "fragment_mb", 5), 10) * (1 << 20)), 1)
        count = math.ceil(len(blob) / size)
        for n in range(count):
            post("/api/upload/fragment", {"fragment_id": str(n)}, blob[n * size : (n + 1) * size])
        post("/api/upload/complete", {"fragment_count": str(count)})

    def find_by_key(self, platform: Platform, account: str, idempotency_key: str) -> PostRef | None:
        fp = self._by_key.get((account, idempotency_key))
        return None if fp is None else self._match(account, fp, idempotency_key)

    def find_by_fingerprint(self, req: PostRequest) -> PostRef | None:
        return self._match(req.account, fingerprint("", req.text, 1), req.idempotency_key)

    find_published = find_by_fingerprint  # what the publish activity asks after an unknown outcome

    def _match(self, account: str, fp: str, key: str) -> PostRef | None:
        """Our video among photo/list's newest: same normalized caption, within the dedupe window
        (``create_time`` in milliseconds)."""
        creds = self._creds(account)
        since = datetime.now(UTC) - timedelta(hours=self._num(creds, "dedupe_window_hours", 48))
        count = str(int(self._num(creds, "lookback", 20)))
        data = self._call(account, "GET", "/openapi/photo/list", params={"cursor": "", "count": count})
        for info in data.get("video_list") or []:
            when = datetime.fromtimestamp(as_int(info.get("create_time")) / 1000, UTC)
            if when >= since and fingerprint("", str(info.get("caption", "")), 1) == fp:
                return PostRef(
                    platform=self.platform,
                    account=account,
                    external_id=str(info["photo_id"]),
                    url=str(info.get("play_url", "")),
                    idempotency_key=key,
                )
        return None

    def _info(self, account: str, photo_id: str) -> dict[str, Any]:
        data = self._call(account, "GET", "/openapi/photo/info", params={"photo_id": photo_id})
        return dict(data.get("video_info") or {})

    def get_post(self, platform: Platform, account: str, external_id: str) -> PostView | None:
        """Right after publishing photo/info answers 100120001: a retryable error (not yet), not "gone"."""
        info = self._info(account, external_id)
        if not info:
            return None
        return PostView(
            external_id=external_id,
            title="",  # a Kuaishou video has one text field, the caption
            text=str(info.get("caption", "")),
            status="pending" if info.get("pending") else "live",
            url=str(info.get("play_url", "")),
        )

    def fetch_metrics(
        self, platform: Platform, account: str, external_id: str, published_at: datetime, at: datetime
    ) -> MetricsSnapshot:
        info = self._info(account, external_id)
        return MetricsSnapshot(
            views=as_int(info.get("view_count")),
            likes=as_int(info.get("like_count")),
            comments=as_int(info.get("comment_count")),
        )

    def delete(self, platform: Platform, account: str, external_id: str, reason: str) -> None:
        self._call(account, "POST", "/openapi/photo/delete", params={"photo_id": external_id}, effectful=True)

    def edit(self, platform: Platform, account: str, external_id: str, text: str) -> None:
        raise NotSupported("快手不允许修改已发布的视频")

    def fetch_interactions(
        self, platform: Platform, account: str, since: datetime, until: datetime
    ) -> list[InboundItem]:
        raise NotSupported("快手开放平台没有评论、@ 或私信接口（只提供评论数）")

    def reply(self, platform: Platform, account: str, external_id: str, text: str, key: str) -> PostRef:
        raise NotSupported("快手开放平台没有回复评论的接口")

    def hide(self, platform: Platform, account: str, external_id: str) -> None:
        raise NotSupported("快手开放平台没有隐藏评论的接口")

    def unhide(self, platform: Platform, account: str, external_id: str) -> None:
        raise NotSupported("快手开放平台没有隐藏评论的接口")

    def search(self, platform: Platform, terms: list[str], since: datetime, until: datetime) -> list[SearchHit]:
        raise NotSupported("快手开放平台没有搜索接口")


def factory(ctx: ConnectorContext) -> PlatformConnector:
    return KuaishouConnector(ctx)
