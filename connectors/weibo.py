"""Sina Weibo connector (api.weibo.com/2, reference §1), over HTTP with the account's sealed credentials.

- Publish: ``statuses/share`` (form), which needs a URL on the app's 安全域名 in the text — the account's
  ``options.safe_domain`` (the link appended is ``options.safe_link`` or ``https://{safe_domain}/``) —
  and ``rip``, the end user's IP (``options.rip``). Length is counted as Weibo does: 140, where two
  half-width characters count as one (I: kept in ``weibo_length``).
- Unknown outcome: the account's recent posts (``statuses/user_timeline``, I) are matched by fingerprint
  (``connectors.fingerprint``) before any retry.
- Comments: ``comments/to_me`` and ``comments/mentions`` from a ``since_id`` cursor, ``comments/reply``,
  ``comments/destroy``; metrics: ``statuses/count``; followers: ``users/counts``.
- Errors: 10022/10023/10024 rate limits are retryable after the window; 20019 duplicate and 20012 too long
  are not; 21327/21332 (token expired/invalid) mark the account ``reauthorize_needed`` — Weibo web apps
  have no refresh token. ``error_code`` may arrive as a string.
- A per-account budget (``options.posts_per_hour``, default 25, under the 30/h documented for test apps)
  keeps a bulk schedule from burning the hourly quota.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import SecretStr

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
from connectors.credentials import REAUTHORIZE_NEEDED, ConnectorContext, Credentials, TokenGrant
from connectors.fingerprint import DEFAULT_WINDOW, RecentPost, find_published
from connectors.ratebudget import RateBudget, RateLimited
from domain.content import MetricsSnapshot
from domain.kernel import Platform
from domain.platform_rules import RULES

API = "https://api.weibo.com"
MAX_CHARS = 140
RATE_LIMIT_CODES = {"10022": 3600.0, "10023": 3600.0, "10024": 3600.0}  # I: hourly windows
REAUTH_CODES = {"21327", "21332", "21301", "21315", "21319"}
NOT_RETRYABLE = {"20019", "20012", "10008", "10016", "10014", "20017", "20101"}


def weibo_length(text: str) -> int:
    """Weibo's count: a full-width character is one, two half-width characters are one (I)."""
    half = sum(1 for ch in text if unicodedata.east_asian_width(ch) in ("Na", "H") or ord(ch) < 128)
    return (len(text) - half) + math.ceil(half / 2)


def _parse_time(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


class WeiboConnector:
    kind = "weibo"
    rules = {Platform.weibo: RULES[Platform.weibo]}

    def __init__(self, ctx: ConnectorContext) -> None:
        self.ctx = ctx
        self.timeout = float(ctx.options.get("weibo_timeout_s", "15"))
        self.window = DEFAULT_WINDOW
        self.budget = RateBudget()
        self._cursors: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------------------------------
    def _creds(self, account: str) -> Credentials:
        creds = self.ctx.credentials.get(Platform.weibo, account)
        if creds.reauthorize_reason:
            raise PlatformError(
                f"需要重新授权：{creds.reauthorize_reason}", retryable=False, code=REAUTHORIZE_NEEDED
            )
        return creds

    @staticmethod
    def _base(creds: Credentials) -> str:
        return (creds.api_base or API).rstrip("/")

    def _call(
        self,
        account: str,
        method: str,
        path: str,
        params: dict[str, Any],
        *,
        creds: Credentials | None = None,
        authed: bool = True,
    ) -> Any:
        creds = creds or self._creds(account)
        data = dict(params)
        if authed:
            data["access_token"] = creds.access_token.get_secret_value()
        url = f"{self._base(creds)}/{path}"
        try:
            with httpx.Client(timeout=self.timeout) as client:
                if method == "GET":
                    r = client.get(url, params=data)
                else:
                    r = client.post(url, data=data)
        except (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            if method == "POST":
                raise PlatformTimeout(f"微博 {path} 未返回结果：{type(exc).__name__}") from exc
            raise PlatformError(f"微博 {path} 未返回结果：{type(exc).__name__}", code="timeout") from exc
        except httpx.HTTPError as exc:
            raise PlatformError(f"微博不可达：{type(exc).__name__}: {exc}", code="unreachable") from exc
        try:
            body = r.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "error_code" in body:
            self._raise(account, str(body.get("error_code")), str(body.get("error", "")), r.status_code)
        if r.status_code >= 500:
            raise PlatformError(f"微博服务器错误 HTTP {r.status_code}", code=str(r.status_code))
        if r.status_code >= 400 or body is None:
            raise PlatformError(f"微博拒绝请求 HTTP {r.status_code}", retryable=False, code=str(r.status_code))
        return body

    def _raise(self, account: str, code: str, error: str, status: int) -> None:
        message = f"微博错误 {code}：{error}"
        if code in RATE_LIMIT_CODES:
            raise RateLimited(message, retry_after=RATE_LIMIT_CODES[code], code=code)
        if code in REAUTH_CODES:
            self.ctx.credentials.mark_reauthorize(Platform.weibo, account, f"{code} {error}")
            raise PlatformError(f"{message}（需要重新授权）", retryable=False, code=REAUTHORIZE_NEEDED)
        if code in NOT_RETRYABLE or 400 <= status < 500:
            raise PlatformError(message, retryable=False, code=code)
        raise PlatformError(message, code=code)

    # -- OAuth ----------------------------------------------------------------------------------------
    def authorize_url(self, account: str, redirect_uri: str, state: str) -> str:
        creds = self.ctx.credentials.get(Platform.weibo, account)
        query = urlencode(
            {"client_id": creds.app_id, "redirect_uri": redirect_uri, "response_type": "code", "state": state}
        )
        return f"{self._base(creds)}/oauth2/authorize?{query}"

    def exchange_code(self, account: str, code: str, redirect_uri: str) -> TokenGrant:
        creds = self.ctx.credentials.get(Platform.weibo, account)
        body = self._call(
            account,
            "POST",
            "oauth2/access_token",
            {
                "client_id": creds.app_id,
                "client_secret": creds.app_secret.get_secret_value(),
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
            },
            creds=creds,
            authed=False,
        )
        expires = datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in", 0)))
        return TokenGrant(
            access_token=SecretStr(body["access_token"]), expires_at=expires, open_id=str(body.get("uid", ""))
        )

    # No ``refresh``: Weibo server/web apps get no refresh token (the token keeper warns instead).

    # -- publishing -----------------------------------------------------------------------------------
    def status_text(self, creds: Credentials, req: PostRequest) -> str:
        """The status as sent: our text, plus a link on the safe domain when the text has none."""
        domain = creds.options.get("safe_domain", "")
        if not domain:
            raise PlatformError("微博账号未配置安全域名（options.safe_domain）", retryable=False, code="config")
        text = req.text.strip()
        if domain in text:
            return text
        link = creds.options.get("safe_link") or f"https://{domain}/"
        return f"{text} {link}"

    def publish(self, req: PostRequest) -> PostRef:
        creds = self._creds(req.account)
        rip = creds.options.get("rip", "")
        if not rip:
            raise PlatformError("微博发布需要 rip（options.rip，发布者的 IP）", retryable=False, code="config")
        status = self.status_text(creds, req)
        if weibo_length(status) > MAX_CHARS:
            raise PlatformError(
                f"微博正文超过 {MAX_CHARS} 字（按微博计数为 {weibo_length(status)}）",
                retryable=False,
                code="20012",
            )
        self.budget.take(req.account, "post", int(creds.options.get("posts_per_hour", "25")), 3600)
        body = self._call(
            req.account, "POST", "2/statuses/share.json", {"status": status, "rip": rip}, creds=creds
        )
        return self._ref(req.account, str(body.get("idstr") or body["id"]), req.idempotency_key, body)

    def _ref(self, account: str, sid: str, key: str, body: dict[str, Any] | None = None) -> PostRef:
        uid = str(((body or {}).get("user") or {}).get("id", ""))
        return PostRef(
            platform=Platform.weibo,
            account=account,
            external_id=sid,
            url=f"https://weibo.com/{uid or account}/{sid}",
            idempotency_key=key,
        )

    def recent_posts(self, account: str, count: int = 50) -> list[RecentPost]:
        creds = self._creds(account)
        body = self._call(account, "GET", "2/statuses/user_timeline.json", {"uid": creds.open_id, "count": count})
        return [
            RecentPost(
                external_id=str(s.get("idstr") or s["id"]),
                text=s.get("text", ""),
                created_at=_parse_time(s.get("created_at", "")),
            )
            for s in body.get("statuses", [])
        ]

    def find_published(self, req: PostRequest, now: datetime | None = None) -> PostRef | None:
        """After an unknown outcome: our post among the account's recent ones, by fingerprint."""
        creds = self._creds(req.account)
        hit = find_published(
            self.recent_posts(req.account),
            self.status_text(creds, req),
            req.media,
            now=now or datetime.now(UTC),
            window=self.window,
        )
        return self._ref(req.account, hit.external_id, req.idempotency_key) if hit else None

    def find_by_key(self, platform: Platform, account: str, idempotency_key: str) -> PostRef | None:
        return None  # Weibo keeps no key of ours; the publish activity calls ``find_published`` instead

    def get_post(self, platform: Platform, account: str, external_id: str) -> PostView | None:
        try:
            body = self._call(account, "GET", "2/statuses/show.json", {"id": external_id})
        except PlatformError as exc:
            if exc.code == "20101":  # target weibo does not exist
                return None
            raise
        text = body.get("text", "")
        creds = self._creds(account)
        domain = creds.options.get("safe_domain", "")
        link = creds.options.get("safe_link") or f"https://{domain}/"
        if domain and text.endswith(" " + link):
            text = text[: -len(link) - 1]  # the link we appended is ours, not the approved text
        return PostView(
            external_id=external_id,
            title="",
            text=text,
            status="deleted" if body.get("deleted") in ("1", 1, True) else "live",
            url=f"https://weibo.com/{account}/{external_id}",
        )

    def fetch_metrics(
        self, platform: Platform, account: str, external_id: str, published_at: datetime, at: datetime
    ) -> MetricsSnapshot:
        rows = self._call(account, "GET", "2/statuses/count.json", {"ids": external_id})
        row = next((r for r in rows if str(r.get("id")) == external_id), None)
        if row is None:
            return MetricsSnapshot()
        return MetricsSnapshot(
            comments=int(row.get("comments", 0)),
            reposts=int(row.get("reposts", 0)),
            likes=int(row.get("attitudes", row.get("likes", 0))),
            views=int(row.get("reads", 0)),
        )

    def followers(self, account: str) -> int:
        creds = self._creds(account)
        rows = self._call(account, "GET", "2/users/counts.json", {"uids": creds.open_id}, creds=creds)
        return int(rows[0].get("followers_count", 0)) if rows else 0

    def delete(self, platform: Platform, account: str, external_id: str, reason: str) -> None:
        if ":" in external_id:  # a comment: sid:cid
            self._call(account, "POST", "2/comments/destroy.json", {"cid": external_id.split(":", 1)[1]})
            return
        self._call(account, "POST", "2/statuses/destroy.json", {"id": external_id})

    def edit(self, platform: Platform, account: str, external_id: str, text: str) -> None:
        raise NotSupported("微博不支持编辑已发布的内容")

    # -- engagement -----------------------------------------------------------------------------------
    def fetch_interactions(
        self, platform: Platform, account: str, since: datetime, until: datetime
    ) -> list[InboundItem]:
        out: list[InboundItem] = []
        for path, kind in (("2/comments/to_me.json", "comment"), ("2/comments/mentions.json", "mention")):
            with self._lock:
                since_id = self._cursors.get((account, path), "0")
            body = self._call(account, "GET", path, {"since_id": since_id, "count": 50})
            newest = int(since_id)
            for c in body.get("comments", []):
                cid = int(c.get("id", 0))
                newest = max(newest, cid)
                at = _parse_time(c.get("created_at", ""))
                if at < since - timedelta(minutes=5):
                    continue
                sid = str((c.get("status") or {}).get("id", ""))
                user = c.get("user") or {}
                out.append(
                    InboundItem(
                        external_id=f"{sid}:{cid}",
                        kind=kind if not c.get("reply_comment") else "reply",
                        text=c.get("text", ""),
                        author=user.get("screen_name", ""),
                        author_id=str(user.get("id", "")),
                        author_followers=int(user.get("followers_count", 0)),
                        received_at=at,
                        post_id=sid,
                        parent_id=str((c.get("reply_comment") or {}).get("id", "")),
                    )
                )
            with self._lock:
                self._cursors[(account, path)] = str(newest)
        return out

    def reply(self, platform: Platform, account: str, external_id: str, text: str, key: str) -> PostRef:
        if ":" not in external_id:
            raise PlatformError(f"不是微博评论 id：{external_id!r}", retryable=False, code="bad_id")
        sid, cid = external_id.split(":", 1)
        creds = self._creds(account)
        self.budget.take(account, "comment", int(creds.options.get("comments_per_hour", "50")), 3600)
        body = self._call(
            account,
            "POST",
            "2/comments/reply.json",
            {"cid": cid, "id": sid, "comment": text, "rip": creds.options.get("rip", "")},
            creds=creds,
        )
        return PostRef(
            platform=Platform.weibo,
            account=account,
            external_id=f"{sid}:{body.get('id')}",
            url=f"https://weibo.com/{account}/{sid}",
            idempotency_key=key,
        )

    def hide(self, platform: Platform, account: str, external_id: str) -> None:
        raise NotSupported("微博开放接口没有隐藏评论，只能删除（comments/destroy）")

    def unhide(self, platform: Platform, account: str, external_id: str) -> None:
        raise NotSupported("微博开放接口没有隐藏评论")

    def search(self, platform: Platform, terms: list[str], since: datetime, until: datetime) -> list[SearchHit]:
        raise NotSupported("普通微博应用没有搜索接口（仅商业接口 c.api.weibo.com）")


def factory(ctx: ConnectorContext) -> WeiboConnector:
    return WeiboConnector(ctx)
