"""The company website on WordPress (REST API ``/wp-json/wp/v2``, reference §5).

Auth: an application password (WordPress ≥ 5.6) as HTTP Basic — ``app_id`` is the WordPress user,
``app_secret`` the application password; the site is ``api_base`` (``https://www.example.com``).
Posts: create (201), update, trash or ``options.delete_mode=force`` (410 ``rest_already_trashed`` counts as
done), ``future`` when ``publish_at`` is ahead; comments: list, reply (``parent``), hold/approve as
hide/unhide. No key of ours on the platform: after an unknown outcome the recent posts are matched by
fingerprint. Errors are ``{code, message, data:{status}}``; a refused password marks the account
``reauthorize_needed``.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import httpx

from connectors.base import (
    InboundItem,
    NotSupported,
    PlatformError,
    PlatformTimeout,
    PostRef,
    PostRequest,
    PostView,
    SearchHit,
)
from connectors.credentials import REAUTHORIZE_NEEDED, ConnectorContext, Credentials
from connectors.fingerprint import DEFAULT_WINDOW, RecentPost, find_published
from domain.content import MetricsSnapshot
from domain.kernel import Platform
from domain.platform_rules import RULES

_TAGS = re.compile(r"<[^>]+>")
STATUS = {
    "publish": "live",
    "future": "pending",
    "draft": "pending",
    "pending": "pending",
    "private": "hidden",
    "trash": "deleted",
}


def _plain(rendered: str) -> str:
    return html.unescape(_TAGS.sub("", rendered)).strip()


def _gmt(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


class WordPressConnector:
    kind = "website"
    rules = {Platform.website: RULES[Platform.website]}

    def __init__(self, ctx: ConnectorContext) -> None:
        self.ctx = ctx
        self.timeout = float(ctx.options.get("wordpress_timeout_s", "15"))
        self.window = DEFAULT_WINDOW

    def _creds(self, account: str) -> Credentials:
        creds = self.ctx.credentials.get(Platform.website, account)
        if creds.reauthorize_reason:
            raise PlatformError(
                f"需要重新设置应用密码：{creds.reauthorize_reason}", retryable=False, code=REAUTHORIZE_NEEDED
            )
        if not creds.api_base:
            raise PlatformError("网站账号未配置站点地址（api_base）", retryable=False, code="config")
        return creds

    def _call(
        self, account: str, method: str, path: str, *, json: Any = None, params: Any = None
    ) -> httpx.Response:
        creds = self._creds(account)
        url = f"{creds.api_base.rstrip('/')}/wp-json/wp/v2/{path}"
        auth = (creds.app_id, creds.app_secret.get_secret_value())
        try:
            with httpx.Client(timeout=self.timeout, auth=auth) as client:
                r = client.request(method, url, json=json, params=params)
        except (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if method != "GET":
                raise PlatformTimeout(f"网站 {path} 未返回结果：{type(exc).__name__}") from exc
            raise PlatformError(f"网站 {path} 未返回结果", code="timeout") from exc
        except httpx.HTTPError as exc:
            raise PlatformError(f"网站不可达：{type(exc).__name__}: {exc}", code="unreachable") from exc
        if r.status_code < 400:
            return r
        try:
            body = r.json()
        except ValueError:
            body = {}
        code = str(body.get("code", r.status_code)) if isinstance(body, dict) else str(r.status_code)
        message = f"网站错误 {r.status_code} {code}：{body.get('message', '') if isinstance(body, dict) else ''}"
        if r.status_code == 401:
            self.ctx.credentials.mark_reauthorize(Platform.website, account, f"{code} {message}")
            raise PlatformError(message, retryable=False, code=REAUTHORIZE_NEEDED)
        if r.status_code in (429,) or r.status_code >= 500:
            raise PlatformError(message, code=code)
        raise PlatformError(message, retryable=False, code=code)

    def _ref(self, account: str, post: dict[str, Any], key: str) -> PostRef:
        return PostRef(
            platform=Platform.website,
            account=account,
            external_id=str(post["id"]),
            url=post.get("link", ""),
            idempotency_key=key,
        )

    def publish(self, req: PostRequest) -> PostRef:
        body: dict[str, Any] = {"title": req.title, "content": req.text, "status": "publish"}
        if req.publish_at is not None and req.publish_at > datetime.now(UTC):
            body["status"] = "future"
            body["date_gmt"] = req.publish_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        r = self._call(req.account, "POST", "posts", json=body)
        if r.status_code != 201:
            raise PlatformError(
                f"网站创建文章应返回 201，得到 {r.status_code}", retryable=False, code="unexpected"
            )
        return self._ref(req.account, r.json(), req.idempotency_key)

    def recent_posts(self, account: str) -> list[RecentPost]:
        r = self._call(
            account, "GET", "posts", params={"per_page": 20, "context": "edit", "status": "publish,future"}
        )
        return [
            RecentPost(
                str(p["id"]),
                (p.get("content") or {}).get("raw") or _plain((p.get("content") or {}).get("rendered", "")),
                _gmt(p.get("date_gmt", "")),
                p.get("link", ""),
            )
            for p in r.json()
        ]

    def find_published(self, req: PostRequest, now: datetime | None = None) -> PostRef | None:
        hit = find_published(
            self.recent_posts(req.account), req.text, req.media, now=now or datetime.now(UTC), window=self.window
        )
        if hit is None:
            return None
        return PostRef(
            platform=Platform.website,
            account=req.account,
            external_id=hit.external_id,
            url=hit.url,
            idempotency_key=req.idempotency_key,
        )

    def find_by_key(self, platform: Platform, account: str, idempotency_key: str) -> PostRef | None:
        return None  # WordPress keeps no key of ours; the publish activity calls ``find_published``

    def get_post(self, platform: Platform, account: str, external_id: str) -> PostView | None:
        try:
            post = self._call(account, "GET", f"posts/{external_id}", params={"context": "edit"}).json()
        except PlatformError as exc:
            if exc.code in ("rest_post_invalid_id", "404"):
                return None
            raise
        content = post.get("content") or {}
        title = post.get("title") or {}
        return PostView(
            external_id=external_id,
            title=title.get("raw") or _plain(title.get("rendered", "")),
            text=content.get("raw") or _plain(content.get("rendered", "")),
            status=STATUS.get(post.get("status", ""), "pending"),
            url=post.get("link", ""),
        )

    def fetch_metrics(
        self, platform: Platform, account: str, external_id: str, published_at: datetime, at: datetime
    ) -> MetricsSnapshot:
        """WordPress core counts no views or likes: the approved comments are what it has."""
        r = self._call(account, "GET", "comments", params={"post": external_id, "per_page": 1})
        return MetricsSnapshot(comments=int(r.headers.get("X-WP-Total", "0")))

    def delete(self, platform: Platform, account: str, external_id: str, reason: str) -> None:
        force = self._creds(account).options.get("delete_mode", "trash") == "force"
        try:
            self._call(account, "DELETE", f"posts/{external_id}", params={"force": "true" if force else "false"})
        except PlatformError as exc:
            if exc.code != "rest_already_trashed":
                raise

    def edit(self, platform: Platform, account: str, external_id: str, text: str) -> None:
        self._call(account, "POST", f"posts/{external_id}", json={"content": text})

    def fetch_interactions(
        self, platform: Platform, account: str, since: datetime, until: datetime
    ) -> list[InboundItem]:
        after = since.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        r = self._call(
            account, "GET", "comments", params={"after": after, "per_page": 100, "orderby": "date", "order": "asc"}
        )
        return [
            InboundItem(
                external_id=str(c["id"]),
                kind="reply" if c.get("parent") else "comment",
                text=_plain((c.get("content") or {}).get("rendered", "")),
                author=c.get("author_name", ""),
                received_at=_gmt(c.get("date_gmt", "")),
                post_id=str(c.get("post", "")),
                parent_id=str(c.get("parent") or ""),
            )
            for c in r.json()
        ]

    def reply(self, platform: Platform, account: str, external_id: str, text: str, key: str) -> PostRef:
        parent = self._call(account, "GET", f"comments/{external_id}").json()
        r = self._call(
            account, "POST", "comments", json={"post": parent["post"], "parent": int(external_id), "content": text}
        )
        c = r.json()
        return PostRef(
            platform=Platform.website,
            account=account,
            external_id=str(c["id"]),
            url=c.get("link", ""),
            idempotency_key=key,
        )

    def hide(self, platform: Platform, account: str, external_id: str) -> None:
        self._call(account, "POST", f"comments/{external_id}", json={"status": "hold"})

    def unhide(self, platform: Platform, account: str, external_id: str) -> None:
        self._call(account, "POST", f"comments/{external_id}", json={"status": "approved"})

    def search(self, platform: Platform, terms: list[str], since: datetime, until: datetime) -> list[SearchHit]:
        raise NotSupported("网站没有全网搜索")
