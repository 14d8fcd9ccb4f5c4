"""A WeChat Official Account stub speaking reference §2: errors inside HTTP 200, stable_token's overlap,
quotas, the freepublish state machine, datacube, comments, the 48 h customer-service window, and signed /
AES callbacks. ``serve_wechat()`` runs it over HTTP; tests steer it through its attributes."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.wechat_oa import callback_signature, encrypt_message
from tests.platforms.stub_server import Reply, StubRequest, StubServer

APPID = "wx-stub-app"
SECRET = "wx-stub-secret"
CALLBACK_TOKEN = "cbtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
SHANGHAI = ZoneInfo("Asia/Shanghai")


def err(code: int, msg: str) -> Reply:
    return Reply({"errcode": code, "errmsg": msg})


@dataclass
class Token:
    value: str
    expires: float


@dataclass
class Article:
    article_id: str
    msg_data_id: str
    title: str
    content: str
    thumb_media_id: str
    open_comment: int
    created: float
    deleted: bool = False
    comments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://mp.weixin.qq.com/s?__biz=stub&mid={self.msg_data_id}&idx=1&sn={self.article_id[:8]}"


@dataclass
class Job:
    publish_id: str
    draft_id: str
    msg_data_id: str
    polls_left: int
    outcome: int
    status: int = 1
    article_id: str = ""
    fail_idx: list[int] = field(default_factory=list)


class WeChatStub:
    def __init__(self) -> None:
        self.tokens: list[Token] = []
        self.token_calls = 0
        self.token_ttl = 7200
        self.per_minute = 0  # 0: no 45011 quota
        self.per_day = 0  # 0: no 45009 quota
        self.calls: list[tuple[str, float]] = []
        self.materials: dict[str, tuple[str, bytes]] = {}
        self.drafts: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, Job] = {}
        self.articles: dict[str, Article] = {}
        self.publish_polls = 1  # freepublish/get answers "publishing" this many times, then the outcome
        self.publish_outcome = 0  # 0 success, 2/3/4 failures
        self.hang_once: dict[str, float] = {}  # path → seconds: accept the next call, answer too late
        self.windows: dict[str, tuple[float, int]] = {}  # openid → (window opened at, messages sent)
        self.sent: list[dict[str, Any]] = []
        self.daily_reads = 100  # datacube: reads per article per day since it was published
        self.ids = itertools.count(1000)
        self.ip_whitelisted = True

    # -- control ------------------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        for t in self.tokens:
            t.expires = time.time() - 1

    def add_comment(self, article_id: str, openid: str, content: str, at: datetime | None = None) -> int:
        art = self.articles[article_id]
        cid = next(self.ids)
        when = int((at or datetime.now(UTC)).timestamp())
        art.comments.append(
            {"user_comment_id": cid, "create_time": when, "content": content, "comment_type": 0, "openid": openid}
        )
        return cid

    def user_message(self, openid: str, at: float | None = None) -> None:
        """A user wrote to the account: the 48 h window opens (5 messages)."""
        self.windows[openid] = (time.time() if at is None else at, 0)

    def callback(self, xml: str, *, safe: bool = False) -> tuple[dict[str, str], str]:
        """What WeChat would send the callback URL: query parameters and body (signed, AES in safe mode)."""
        ts, nonce = str(int(time.time())), secrets.token_hex(4)
        if not safe:
            return {
                "signature": callback_signature(CALLBACK_TOKEN, ts, nonce),
                "timestamp": ts,
                "nonce": nonce,
            }, xml
        enc = encrypt_message(AES_KEY, xml, APPID)
        query = {
            "signature": callback_signature(CALLBACK_TOKEN, ts, nonce),
            "msg_signature": callback_signature(CALLBACK_TOKEN, ts, nonce, enc),
            "timestamp": ts,
            "nonce": nonce,
            "encrypt_type": "aes",
        }
        return (
            query,
            f"<xml><ToUserName><![CDATA[{APPID}]]></ToUserName><Encrypt><![CDATA[{enc}]]></Encrypt></xml>",
        )

    def live_articles(self) -> list[Article]:
        return [a for a in self.articles.values() if not a.deleted]

    # -- the API ------------------------------------------------------------------------------------
    def handle(self, req: StubRequest) -> Reply:
        path = req.path.removeprefix("/cgi-bin/")
        if not self.ip_whitelisted:
            return err(40164, "invalid ip 127.0.0.1, not in whitelist")
        if path == "stable_token":
            return self.stable_token(req.json() or {})
        token = self._check_token(req.query.get("access_token", ""))
        if token is not None:
            return token
        quota = self._quota()
        if quota is not None:
            return quota
        handler = getattr(self, "api_" + path.replace("/", "_"), None)
        if handler is None:
            return Reply({"errcode": 404, "errmsg": "not found"}, status=404)
        reply: Reply = handler(req)
        hang = self.hang_once.pop(path, 0.0)
        if hang:
            reply.hang_s = hang
        return reply

    def stable_token(self, body: dict[str, Any]) -> Reply:
        self.token_calls += 1
        if body.get("appid") != APPID:
            return err(40013, "invalid appid")
        if body.get("secret") != SECRET:
            return err(40125, "invalid appsecret")
        now = time.time()
        live = [t for t in self.tokens if t.expires > now]
        if body.get("force_refresh"):
            self.tokens = []
        elif live and live[-1].expires - now > 300:
            current = live[-1]
            return Reply({"access_token": current.value, "expires_in": int(current.expires - now)})
        token = Token("ACCESS_" + secrets.token_hex(16), now + self.token_ttl)
        self.tokens.append(token)  # old ones stay valid until they expire: the 5-minute overlap
        return Reply({"access_token": token.value, "expires_in": self.token_ttl})

    def _check_token(self, value: str) -> Reply | None:
        match = next((t for t in self.tokens if t.value == value), None)
        if match is None:
            return err(40001, "invalid credential, access_token is invalid or not latest")
        if match.expires <= time.time():
            return err(42001, "access_token expired")
        return None

    def _quota(self) -> Reply | None:
        now = time.time()
        self.calls.append(("call", now))
        if self.per_minute and sum(1 for _, t in self.calls if now - t < 60) > self.per_minute:
            return err(45011, "api minute-quota reach limit")
        if self.per_day and len(self.calls) > self.per_day:
            return err(45009, "reach max api daily quota limit")
        return None

    def api_material_add_material(self, req: StubRequest) -> Reply:
        kind = req.query.get("type", "")
        media = req.form.get("media")
        if kind not in ("image", "thumb", "voice", "video") or not isinstance(media, tuple):
            return err(40004, "invalid media type")
        limit = 64 * 1024 if kind == "thumb" else 10 * 1024 * 1024
        if len(media[1]) > limit:
            return err(40009, "invalid image size")
        media_id = f"MEDIA_{next(self.ids)}"
        self.materials[media_id] = (kind, media[1])
        return Reply({"media_id": media_id, "url": f"http://mmbiz.qpic.cn/{media_id}"})

    def api_draft_add(self, req: StubRequest) -> Reply:
        articles = (req.json() or {}).get("articles") or []
        if not 1 <= len(articles) <= 8:
            return err(40114, "invalid articles count")
        for a in articles:
            if len(a.get("title", "")) > 64:
                return err(45003, "title size out of limit")
            if a.get("thumb_media_id") not in self.materials:
                return err(40007, "invalid media_id")
            if len(a.get("content", "")) >= 20000:
                return err(45002, "content size out of limit")
        media_id = f"DRAFT_{next(self.ids)}"
        self.drafts[media_id] = articles[0]
        return Reply({"media_id": media_id})

    def api_freepublish_submit(self, req: StubRequest) -> Reply:
        draft_id = (req.json() or {}).get("media_id", "")
        if draft_id not in self.drafts:
            return err(40007, "invalid media_id")
        job = Job(
            publish_id=str(next(self.ids)),
            draft_id=draft_id,
            msg_data_id=str(2247483000 + next(self.ids)),
            polls_left=self.publish_polls,
            outcome=self.publish_outcome,
        )
        self.jobs[job.publish_id] = job
        if job.polls_left <= 0:
            self._finish(job)
        return Reply({"errcode": 0, "errmsg": "ok", "publish_id": job.publish_id, "msg_data_id": job.msg_data_id})

    def _finish(self, job: Job) -> None:
        job.status = job.outcome
        if job.outcome == 0:
            draft = self.drafts.pop(job.draft_id)
            job.article_id = "ART_" + secrets.token_urlsafe(12)
            self.articles[job.article_id] = Article(
                article_id=job.article_id,
                msg_data_id=job.msg_data_id,
                title=draft["title"],
                content=draft["content"],
                thumb_media_id=draft["thumb_media_id"],
                open_comment=int(draft.get("need_open_comment", 0)),
                created=time.time(),
            )
        elif job.outcome in (2, 4):
            job.fail_idx = [1]

    def api_freepublish_get(self, req: StubRequest) -> Reply:
        job = self.jobs.get(str((req.json() or {}).get("publish_id", "")))
        if job is None:
            return err(53502, "invalid publish_id")
        if job.status == 1:
            if job.polls_left <= 0:
                self._finish(job)
            job.polls_left -= 1
        if job.status == 0 and self.articles[job.article_id].deleted:
            job.status = 5
        out: dict[str, Any] = {
            "publish_id": job.publish_id,
            "publish_status": job.status,
            "fail_idx": job.fail_idx,
        }
        if job.article_id:
            art = self.articles[job.article_id]
            out["article_id"] = job.article_id
            out["article_detail"] = {"count": 1, "item": [{"idx": 1, "article_url": art.url}]}
        return Reply(out)

    def _news(self, art: Article) -> dict[str, Any]:
        return {
            "title": art.title,
            "content": art.content,
            "thumb_media_id": art.thumb_media_id,
            "url": art.url,
            "is_deleted": art.deleted,
        }

    def api_freepublish_batchget(self, req: StubRequest) -> Reply:
        body = req.json() or {}
        live = sorted(self.live_articles(), key=lambda a: -a.created)
        page = live[int(body.get("offset", 0)) :][: int(body.get("count", 20))]
        items = [
            {"article_id": a.article_id, "content": {"news_item": [self._news(a)]}, "update_time": int(a.created)}
            for a in page
        ]
        return Reply({"total_count": len(live), "item_count": len(items), "item": items})

    def api_freepublish_getarticle(self, req: StubRequest) -> Reply:
        art = self.articles.get((req.json() or {}).get("article_id", ""))
        if art is None:
            return err(53600, "Article ID 无效")
        return Reply({"news_item": [self._news(art)]})

    def api_freepublish_delete(self, req: StubRequest) -> Reply:
        art = self.articles.get((req.json() or {}).get("article_id", ""))
        if art is None:
            return err(53600, "Article ID 无效")
        art.deleted = True
        return err(0, "ok")

    def api_datacube_getarticlesummary(self, req: StubRequest) -> Reply:
        body = req.json() or {}
        try:
            begin, end = date.fromisoformat(body["begin_date"]), date.fromisoformat(body["end_date"])
        except (KeyError, ValueError):
            return err(61501, "date range error")
        today = datetime.now(SHANGHAI).date()
        if begin != end or end >= today:
            return err(61501, "date range error: one day, at most yesterday")
        rows = []
        for a in self.live_articles():
            if datetime.fromtimestamp(a.created, SHANGHAI).date() <= begin:
                rows.append(
                    {
                        "ref_date": begin.isoformat(),
                        "msgid": f"{a.msg_data_id}_1",
                        "title": a.title,
                        "int_page_read_user": self.daily_reads // 2,
                        "int_page_read_count": self.daily_reads,
                        "share_count": self.daily_reads // 10,
                        "add_to_fav_count": self.daily_reads // 20,
                    }
                )
        return Reply({"list": rows})

    def _article_by_msg(self, body: dict[str, Any]) -> Article | Reply:
        art = next((a for a in self.articles.values() if a.msg_data_id == str(body.get("msg_data_id"))), None)
        if art is None or int(body.get("index", 0)) != 1:
            return err(40007, "invalid msg_data_id")
        if not art.open_comment:
            return err(88000, "without comment privilege")
        return art

    def api_comment_list(self, req: StubRequest) -> Reply:
        body = req.json() or {}
        art = self._article_by_msg(body)
        if isinstance(art, Reply):
            return art
        if int(body.get("count", 0)) >= 50:
            return err(40097, "invalid count")
        begin, count = int(body.get("begin", 0)), int(body.get("count", 0))
        return Reply({"errcode": 0, "comment": art.comments[begin : begin + count], "total": len(art.comments)})

    def api_comment_reply_add(self, req: StubRequest) -> Reply:
        body = req.json() or {}
        art = self._article_by_msg(body)
        if isinstance(art, Reply):
            return art
        c = next((c for c in art.comments if c["user_comment_id"] == int(body.get("user_comment_id", -1))), None)
        if c is None:
            return err(40007, "invalid user_comment_id")
        c["reply"] = {"content": body.get("content", ""), "create_time": int(time.time())}
        return err(0, "ok")

    def api_comment_delete(self, req: StubRequest) -> Reply:
        body = req.json() or {}
        art = self._article_by_msg(body)
        if isinstance(art, Reply):
            return art
        art.comments = [c for c in art.comments if c["user_comment_id"] != int(body.get("user_comment_id", -1))]
        return err(0, "ok")

    def api_message_custom_send(self, req: StubRequest) -> Reply:
        body = req.json() or {}
        window = self.windows.get(body.get("touser", ""))
        if window is None or time.time() - window[0] > timedelta(hours=48).total_seconds():
            return err(45015, "response out of time limit or subscription is canceled")
        if window[1] >= 5:
            return err(45047, "out of response count limit")
        self.windows[body["touser"]] = (window[0], window[1] + 1)
        self.sent.append(body)
        return err(0, "ok")


class RunningWeChat:
    def __init__(self) -> None:
        self.stub = WeChatStub()
        self.server = StubServer(self.stub)
        self.url = self.server.url

    def close(self) -> None:
        self.server.close()


def serve_wechat() -> RunningWeChat:
    return RunningWeChat()
