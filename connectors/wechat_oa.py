"""WeChat Official Account (api.weixin.qq.com/cgi-bin), written against reference §2.

- Tokens: ``stable_token`` in normal mode (old and new tokens overlap), stored through the credential
  store. Errors are always HTTP 200 ``{errcode, errmsg}``; on 40001/40014/42001 the token is fetched again
  exactly once and the call retried.
- Publishing is asynchronous: material/add_material (cover) → draft/add → freepublish/submit returns a
  ``PostRef(pending=True, publish_id=…)``; the content workflow polls ``publish_status`` (freepublish/get)
  on a timer. ``external_id`` of a published post is the ``article_id``.
- Comments: comment/list, comment/reply/add, comment/delete (``hide`` deletes: WeChat cannot hide a
  comment). A comment's id is ``{msg_data_id}_{index}_{user_comment_id}``. DMs are answered through
  message/custom/send (id ``dm:{openid}``), only inside the 48 h customer-service window.
- Assumed (I), hence options: freepublish/batchget and freepublish/getarticle shapes, the article URL's
  ``mid``/``idx`` being the msg_data_id/index, datacube's one-day span.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import os
import re
import struct
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from pydantic import SecretStr

from connectors.base import (
    InboundItem,
    NotSupported,
    PlatformConnector,
    PlatformError,
    PostRef,
    PostRequest,
    PostView,
    PublishStatus,
    SearchHit,
)
from connectors.credentials import ConnectorContext, Credentials, TokenGrant
from connectors.http import RateBudget, as_int, fingerprint, media_bytes, option_float, option_int, send
from domain.content import MetricsSnapshot
from domain.kernel import Platform

DEFAULT_BASE = "https://api.weixin.qq.com"
TOKEN_ERRORS = {40001, 40014, 42001}  # invalid / invalid / expired access_token: fetch again, retry once
RETRYABLE = {-1: "系统繁忙", 45009: "接口调用超过每日配额", 45011: "接口调用过于频繁（每分钟配额）"}
NOT_RETRYABLE = {
    40007: "素材 media_id 无效",
    40013: "AppID 无效",
    40125: "AppSecret 无效",
    40164: "调用接口的 IP 不在公众号的白名单中（公众平台 → 开发 → 基本配置 → IP 白名单）",
    45003: "标题过长",
    45004: "摘要过长",
    45015: "已超出 48 小时客服消息窗口，无法再向该用户发消息",
    45047: "客服消息下行条数超过上限",
    45166: "内容不合规",
    48001: "公众号没有该接口的权限",
    53500: "发布功能被封禁",
    53501: "频繁发布，请稍后再试",
    53502: "publish_id 无效",
    88000: "该文章没有留言权限（未开通留言功能）",
}
CREDENTIAL_ERRORS = {40013, 40125}
PUBLISH_STATUS = {
    1: "发布中",
    2: "原创声明失败",
    3: "常规失败",
    4: "平台审核不通过",
    5: "成功后被用户删除",
    6: "成功后被平台封禁",
}
SHANGHAI = ZoneInfo("Asia/Shanghai")


class WeChatOAConnector:
    """Options (``ctx.options``, connector-wide; each also readable per account from ``Credentials.options``):
    ``timeout_s`` (20), ``rate_per_hour`` (0 = no budget), ``dedupe_window_hours`` (48),
    ``metrics_max_days`` (7), ``comment_lookback`` (20 newest articles), ``thumb_type`` (``image``),
    ``default_thumb_media_id``, ``author``, ``need_open_comment`` (1), ``max_image_bytes`` (10 MB)."""

    kind = "wechat_oa"
    platform = Platform.wechat_oa

    def __init__(self, ctx: ConnectorContext, client: httpx.Client | None = None) -> None:
        self.ctx = ctx
        self.http = client or httpx.Client(timeout=option_float(ctx.options, "timeout_s", 20))
        self.budget = RateBudget(option_int(ctx.options, "rate_per_hour", 0))
        self._token_lock = threading.Lock()
        self._by_key: dict[tuple[str, str], str] = {}  # (account, idempotency key) → fingerprint
        self.token_fetches = 0  # how many times a token was fetched (tests prove "exactly one")

    # -- plumbing ----------------------------------------------------------------------------------
    def _creds(self, account: str) -> Credentials:
        return self.ctx.credentials.get(self.platform, account)

    def _opt(self, creds: Credentials, name: str, default: str = "") -> str:
        return creds.options.get(name) or self.ctx.options.get(name) or default

    def _base(self, creds: Credentials) -> str:
        return (creds.api_base or DEFAULT_BASE).rstrip("/")

    def _token(self, account: str, *, stale: str = "") -> str:
        """The account's access token; fetched through stable_token when missing, near expiry, or equal to
        ``stale`` (the one the platform just refused)."""
        with self._token_lock:
            creds = self._creds(account)
            token = creds.access_token.get_secret_value()
            fresh = creds.expires_at is not None and creds.expires_at > datetime.now(UTC) + timedelta(seconds=60)
            if token and fresh and token != stale:
                return token
            grant = self._stable_token(creds, force=False)
            if grant.access_token.get_secret_value() == stale:  # the platform still hands out the refused one
                grant = self._stable_token(creds, force=True)
            self.ctx.credentials.save_tokens(self.platform, account, grant)
            return grant.access_token.get_secret_value()

    def _stable_token(self, creds: Credentials, *, force: bool) -> TokenGrant:
        self.token_fetches += 1
        body = {
            "grant_type": "client_credential",
            "appid": creds.app_id,
            "secret": creds.app_secret.get_secret_value(),
            "force_refresh": force,
        }
        resp = send(
            self.http,
            "POST",
            f"{self._base(creds)}/cgi-bin/stable_token",
            platform="wechat",
            effectful=False,
            json=body,
        )
        data = _json(resp)
        if as_int(data.get("errcode")):
            self._raise(data, account="", creds=creds)
        return TokenGrant(
            access_token=SecretStr(str(data["access_token"])),
            expires_at=datetime.now(UTC) + timedelta(seconds=as_int(data.get("expires_in"), 7200)),
        )

    def refresh(self, account: str) -> TokenGrant:
        """A new token for the token-refresh workflow (normal mode: the current one while it is valid)."""
        creds = self._creds(account)
        grant = self._stable_token(creds, force=False)
        self.ctx.credentials.save_tokens(self.platform, account, grant)
        return grant

    def _call(
        self,
        account: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        effectful: bool = False,
    ) -> dict[str, Any]:
        self.budget.take(account)
        creds = self._creds(account)
        token = self._token(account)
        for attempt in (1, 2):
            query = {**(params or {}), "access_token": token}
            resp = send(
                self.http,
                "POST",
                f"{self._base(creds)}/cgi-bin/{path}",
                platform="wechat",
                effectful=effectful,
                params=query,
                json=json,
                files=files,
            )
            data = _json(resp)
            code = as_int(data.get("errcode"))
            if code in TOKEN_ERRORS and attempt == 1:
                token = self._token(account, stale=token)
                continue
            if code:
                self._raise(data, account=account, creds=creds)
            return data
        raise AssertionError("unreachable")

    def _raise(self, data: dict[str, Any], *, account: str, creds: Credentials) -> None:
        code = as_int(data.get("errcode"))
        msg = str(data.get("errmsg", ""))
        if code in RETRYABLE:
            raise PlatformError(f"微信 {code} {RETRYABLE[code]}：{msg}", retryable=True, code=f"wechat_{code}")
        if code in TOKEN_ERRORS:
            raise PlatformError(
                f"微信 {code}：重新获取 access_token 后仍被拒绝：{msg}", retryable=False, code=f"wechat_{code}"
            )
        if code in CREDENTIAL_ERRORS and account:
            self.ctx.credentials.mark_reauthorize(self.platform, account, f"微信 {code} {NOT_RETRYABLE[code]}")
        reason = NOT_RETRYABLE.get(code, "")
        raise PlatformError(
            f"微信 {code}{(' ' + reason) if reason else ''}：{msg}", retryable=False, code=f"wechat_{code}"
        )

    # -- publishing ------------------------------------------------------------------------------------
    def publish(self, req: PostRequest) -> PostRef:
        """Cover upload → draft/add → freepublish/submit. Looks first: a post with the same fingerprint
        already live on the account is returned instead of publishing twice."""
        found = self.find_by_fingerprint(req)
        if found is not None:
            return found
        creds = self._creds(req.account)
        if any(m.kind != "image" for m in req.media):
            raise NotSupported("微信图文只能带图片；视频/音频请用视频号或素材库")
        images = sorted(req.media, key=lambda m: not m.is_cover)
        max_bytes = int(self._opt(creds, "max_image_bytes", str(10 << 20)))
        thumb = self._opt(creds, "default_thumb_media_id")
        urls: list[str] = []
        for i, ref in enumerate(images):
            name, blob = media_bytes(ref, max_bytes=max_bytes)
            kind = self._opt(creds, "thumb_type", "image") if i == 0 else "image"
            up = self._call(
                req.account, "material/add_material", params={"type": kind}, files={"media": (name, blob)}
            )
            if i == 0:
                thumb = str(up["media_id"])
            if i > 0 or not ref.is_cover:
                urls.append(str(up.get("url", "")))
        if not thumb:
            raise PlatformError(
                "微信图文需要封面图（或设置 default_thumb_media_id）", retryable=False, code="wechat_cover"
            )
        article = {
            "title": req.title,
            "author": self._opt(creds, "author"),
            "content": text_to_html(req.text, urls),
            "thumb_media_id": thumb,
            "need_open_comment": as_int(self._opt(creds, "need_open_comment", "1"), 1),
            "only_fans_can_comment": 0,
        }
        draft = self._call(req.account, "draft/add", json={"articles": [article]})
        self._by_key[(req.account, req.idempotency_key)] = fingerprint(req.title, req.text, len(req.media))
        sub = self._call(req.account, "freepublish/submit", json={"media_id": draft["media_id"]}, effectful=True)
        return PostRef(
            platform=req.platform,
            account=req.account,
            external_id="",
            url="",
            idempotency_key=req.idempotency_key,
            pending=True,
            publish_id=str(sub["publish_id"]),
        )

    def publish_status(self, platform: Platform, account: str, publish_id: str) -> PublishStatus:
        data = self._call(account, "freepublish/get", json={"publish_id": publish_id})
        status = as_int(data.get("publish_status"), -1)
        if status == 0:
            items = (data.get("article_detail") or {}).get("item") or []
            url = str(items[0].get("article_url", "")) if items else ""
            return PublishStatus(state="published", external_id=str(data.get("article_id", "")), url=url)
        if status == 1:
            return PublishStatus(state="pending")
        reason = PUBLISH_STATUS.get(status, f"未知状态 {status}")
        failed = [as_int(i) for i in data.get("fail_idx") or []]
        if failed:
            reason += "（第 " + "、".join(str(i) for i in failed) + " 篇）"
        return PublishStatus(state="failed", reason=f"微信发布失败：{reason}")

    def find_by_key(self, platform: Platform, account: str, idempotency_key: str) -> PostRef | None:
        """WeChat has no client key: a key this process published is looked up by its fingerprint
        (``publish`` itself always looks first, so a lost memo cannot cause a second post)."""
        fp = self._by_key.get((account, idempotency_key))
        if fp is None:
            return None
        return self._match(account, fp, idempotency_key)

    def find_by_fingerprint(self, req: PostRequest) -> PostRef | None:
        return self._match(req.account, fingerprint(req.title, req.text, len(req.media)), req.idempotency_key)

    find_published = find_by_fingerprint  # what the publish activity asks after an unknown outcome

    def _match(self, account: str, fp: str, key: str) -> PostRef | None:
        """Our post among the account's recent published articles: same normalized title + text + media
        count, published within ``dedupe_window_hours``."""
        creds = self._creds(account)
        window = timedelta(hours=float(self._opt(creds, "dedupe_window_hours", "48")))
        since = datetime.now(UTC) - window
        for item in self._recent(account):
            when = datetime.fromtimestamp(as_int(item.get("update_time")), UTC)
            news = (item.get("content") or {}).get("news_item") or []
            if when < since or not news:
                continue
            first = news[0]
            body = str(first.get("content", ""))
            media = body.count("<img") + (1 if first.get("thumb_media_id") else 0)
            if fingerprint(str(first.get("title", "")), html_to_text(body), media) == fp:
                return PostRef(
                    platform=self.platform,
                    account=account,
                    external_id=str(item["article_id"]),
                    url=str(first.get("url", "")),
                    idempotency_key=key,
                )
        return None

    def _recent(self, account: str) -> list[dict[str, Any]]:
        count = option_int(self.ctx.options, "comment_lookback", 20)
        data = self._call(
            account, "freepublish/batchget", json={"offset": 0, "count": min(count, 20), "no_content": 0}
        )
        return list(data.get("item") or [])

    def get_post(self, platform: Platform, account: str, external_id: str) -> PostView | None:
        try:
            data = self._call(account, "freepublish/getarticle", json={"article_id": external_id})
        except PlatformError as exc:
            if exc.code in ("wechat_53600", "wechat_40007"):
                return None
            raise
        news = data.get("news_item") or []
        if not news:
            return None
        first = news[0]
        return PostView(
            external_id=external_id,
            title=str(first.get("title", "")),
            text=html_to_text(str(first.get("content", ""))),
            status="deleted" if first.get("is_deleted") else "live",
            url=str(first.get("url", "")),
        )

    def _msg_ref(self, account: str, article_id: str) -> tuple[str, int]:
        view = self.get_post(self.platform, account, article_id)
        if view is None:
            raise PlatformError(f"微信：找不到文章 {article_id}", retryable=False, code="wechat_not_found")
        return msg_ref(view.url)

    def fetch_metrics(
        self, platform: Platform, account: str, external_id: str, published_at: datetime, at: datetime
    ) -> MetricsSnapshot:
        """datacube/getarticlesummary, one day per call (≤ yesterday), summed over the days since publishing
        (at most ``metrics_max_days``). Before the first full day the platform has no numbers: zeros."""
        mid, idx = self._msg_ref(account, external_id)
        first = published_at.astimezone(SHANGHAI).date()
        last = at.astimezone(SHANGHAI).date() - timedelta(days=1)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        days = days[: option_int(self.ctx.options, "metrics_max_days", 7)]
        total = MetricsSnapshot()
        for day in days:
            data = self._call(
                account, "datacube/getarticlesummary", json={"begin_date": _d(day), "end_date": _d(day)}
            )
            for row in data.get("list") or []:
                if str(row.get("msgid")) != f"{mid}_{idx}":
                    continue
                total = total.plus(
                    MetricsSnapshot(
                        views=as_int(row.get("int_page_read_count")),
                        reposts=as_int(row.get("share_count")),
                        favourites=as_int(row.get("add_to_fav_count")),
                    )
                )
        return total

    def delete(self, platform: Platform, account: str, external_id: str, reason: str) -> None:
        self._call(account, "freepublish/delete", json={"article_id": external_id, "index": 0}, effectful=True)

    def edit(self, platform: Platform, account: str, external_id: str, text: str) -> None:
        raise NotSupported("微信已发布的图文不能通过接口修改")

    # -- comments and DMs ---------------------------------------------------------------------------
    def fetch_interactions(
        self, platform: Platform, account: str, since: datetime, until: datetime
    ) -> list[InboundItem]:
        """Comments on the account's recent articles (DMs arrive through the callback, not by polling)."""
        out: list[InboundItem] = []
        for item in self._recent(account):
            for news in (item.get("content") or {}).get("news_item") or []:
                mid, idx = msg_ref(str(news.get("url", "")))
                begin = 0
                while True:
                    body: dict[str, Any] = {
                        "msg_data_id": mid,
                        "index": idx,
                        "begin": begin,
                        "count": 49,
                        "type": 0,
                    }
                    data = self._call(account, "comment/list", json=body)
                    comments = data.get("comment") or []
                    for c in comments:
                        at = datetime.fromtimestamp(as_int(c.get("create_time")), UTC)
                        if since <= at < until:
                            out.append(
                                InboundItem(
                                    external_id=f"{mid}_{idx}_{c['user_comment_id']}",
                                    kind="comment",
                                    text=str(c.get("content", "")),
                                    author_id=str(c.get("openid", "")),
                                    received_at=at,
                                    post_id=str(item.get("article_id", "")),
                                )
                            )
                    begin += len(comments)
                    if not comments or begin >= as_int(data.get("total")):
                        break
        return out

    def reply(self, platform: Platform, account: str, external_id: str, text: str, key: str) -> PostRef:
        """A comment gets the account's one reply (a retry overwrites it with the same text: harmless);
        a DM (``dm:{openid}``) is a customer-service message, refused outside the 48 h window."""
        if external_id.startswith("dm:"):
            dm: dict[str, Any] = {"touser": external_id[3:], "msgtype": "text", "text": {"content": text}}
            self._call(account, "message/custom/send", json=dm, effectful=True)
            return PostRef(
                platform=platform, account=account, external_id=f"{external_id}:{key}", url="", idempotency_key=key
            )
        mid, idx, cid = comment_ref(external_id)
        body: dict[str, Any] = {"msg_data_id": mid, "index": idx, "user_comment_id": cid, "content": text}
        self._call(account, "comment/reply/add", json=body, effectful=True)
        return PostRef(
            platform=platform, account=account, external_id=f"{external_id}_reply", url="", idempotency_key=key
        )

    def hide(self, platform: Platform, account: str, external_id: str) -> None:
        """WeChat cannot hide a comment; it deletes it (irreversible)."""
        mid, idx, cid = comment_ref(external_id)
        self._call(account, "comment/delete", json={"msg_data_id": mid, "index": idx, "user_comment_id": cid})

    def unhide(self, platform: Platform, account: str, external_id: str) -> None:
        raise NotSupported("微信留言删除后不能恢复")

    def search(self, platform: Platform, terms: list[str], since: datetime, until: datetime) -> list[SearchHit]:
        raise NotSupported("微信公众号没有公开内容搜索接口")


def factory(ctx: ConnectorContext) -> PlatformConnector:
    return WeChatOAConnector(ctx)


# -- pure helpers ------------------------------------------------------------------------------------


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        raise PlatformError(
            f"微信：HTTP {resp.status_code}，响应不是 JSON", retryable=True, code="wechat_bad_body"
        ) from None
    if not isinstance(data, dict):
        raise PlatformError("微信：响应格式异常", retryable=False, code="wechat_bad_body")
    return data


def _d(day: date) -> str:
    return day.isoformat()


def msg_ref(article_url: str) -> tuple[str, int]:
    """(msg_data_id, index) from an article URL's ``mid`` and ``idx`` query parameters."""
    q = parse_qs(urlsplit(article_url).query)
    mid, idx = (q.get("mid") or [""])[0], (q.get("idx") or ["1"])[0]
    if not mid:
        raise PlatformError(f"微信：文章链接里没有 mid：{article_url!r}", retryable=False, code="wechat_bad_url")
    return mid, as_int(idx, 1)


def comment_ref(external_id: str) -> tuple[str, int, int]:
    parts = external_id.split("_")
    if len(parts) != 3:
        raise PlatformError(f"微信：不是留言 id：{external_id!r}", retryable=False, code="wechat_bad_id")
    return parts[0], as_int(parts[1], 1), as_int(parts[2])


_P = re.compile(r"</p\s*>|<br\s*/?>", re.I)
_TAGS = re.compile(r"<[^>]+>")


def text_to_html(text: str, images: list[str] | None = None) -> str:
    paras = [f"<p>{html.escape(line)}</p>" for line in text.split("\n")]
    paras += [f'<p><img src="{html.escape(u)}"/></p>' for u in images or [] if u]
    return "".join(paras)


def html_to_text(body: str) -> str:
    return html.unescape(_TAGS.sub("", _P.sub("\n", body))).strip("\n")


# -- callback: signature and safe-mode (AES) messages ----------------------------------------------------


def callback_signature(token: str, timestamp: str, nonce: str, encrypt: str = "") -> str:
    """sha1 of the sorted parts: ``signature`` (URL check, plain messages) or, with ``encrypt``,
    ``msg_signature`` (safe mode)."""
    parts = [token, timestamp, nonce] + ([encrypt] if encrypt else [])
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(token: str, timestamp: str, nonce: str, signature: str, encrypt: str = "") -> bool:
    return hmac.compare_digest(callback_signature(token, timestamp, nonce, encrypt), signature)


def _aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("EncodingAESKey must be 43 characters (32 bytes)")
    return key


def decrypt_message(encoding_aes_key: str, encrypted: str, appid: str) -> str:
    """The XML inside a safe-mode ``<Encrypt>``: AES-256-CBC, iv = key[:16], PKCS7 over 32-byte blocks;
    plaintext = 16 random bytes ‖ 4-byte big-endian length ‖ XML ‖ appid. Raises ValueError on a bad
    padding or a message for another appid."""
    key = _aes_key(encoding_aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    pad = plain[-1] if plain else 0
    if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad PKCS7 padding")
    plain = plain[:-pad]
    (length,) = struct.unpack(">I", plain[16:20])
    xml, tail = plain[20 : 20 + length], plain[20 + length :]
    if tail.decode() != appid:
        raise ValueError("message is for another appid")
    return xml.decode()


def encrypt_message(encoding_aes_key: str, xml: str, appid: str, random16: bytes | None = None) -> str:
    """The inverse of ``decrypt_message`` (passive replies in safe mode, and the stub's callbacks)."""
    key = _aes_key(encoding_aes_key)
    body = (random16 or os.urandom(16)) + struct.pack(">I", len(xml.encode())) + xml.encode() + appid.encode()
    pad = 32 - len(body) % 32
    body += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(body) + encryptor.finalize()).decode()
