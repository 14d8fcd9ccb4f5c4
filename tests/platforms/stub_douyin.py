"""A Douyin Open Platform stub speaking reference §3: the data/extra envelope (numbers as strings, logid),
access-token header + open_id query, OAuth code/refresh with an unmoving refresh expiry (10010), 2190008,
scopes (2190003), size limits (2190005) and chunk order, opaque ``@…==`` item ids that must arrive
URL-encoded, and ``is_reviewed`` flipping some reads after create."""

from __future__ import annotations

import base64
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from tests.platforms.stub_server import Reply, StubRequest, StubServer

CLIENT_KEY = "dy-client-key"
CLIENT_SECRET = "dy-client-secret"
OPEN_ID = "dy-open-id"
CODE = "dy-auth-code"
ALL_SCOPES = {"video.create", "video.data", "item.comment"}


@dataclass
class Video:
    item_id: str
    video_id: str
    title: str
    created: float
    reads_until_reviewed: int
    comments: list[dict[str, Any]] = field(default_factory=list)
    plays: int = 0


class DouyinStub:
    def __init__(self) -> None:
        self.access: dict[str, float] = {}  # token → expires at
        self.refresh_tokens: dict[str, float] = {}  # token → expires at (never moves)
        self.codes = {CODE}
        self.scopes = set(ALL_SCOPES)
        self.string_numbers = True
        self.max_single = 128 * 1024 * 1024
        self.min_part = 5 * 1024 * 1024
        self.uploads: dict[str, list[int]] = {}  # upload_id → part sizes in order
        self.videos: dict[str, int] = {}  # video_id → size
        self.items: dict[str, Video] = {}
        self.reviewed_after = 1  # video_data reads that still say is_reviewed=false
        self.quota_left: int | None = None
        self.hang_once: dict[str, float] = {}
        self.refresh_calls = 0
        self.ids = itertools.count(1)

    # -- control ------------------------------------------------------------------------------------
    def grant(self, access_ttl: float = 1296000, refresh_ttl: float = 2592000) -> tuple[str, str]:
        access, refresh = "act." + secrets.token_hex(8), "rft." + secrets.token_hex(8)
        self.access[access] = time.time() + access_ttl
        self.refresh_tokens[refresh] = time.time() + refresh_ttl
        return access, refresh

    def expire_access(self) -> None:
        for t in self.access:
            self.access[t] = time.time() - 1

    def expire_refresh(self) -> None:
        for t in self.refresh_tokens:
            self.refresh_tokens[t] = time.time() - 1

    def add_comment(self, item_id: str, content: str, at: float | None = None) -> str:
        cid = f"@cmt{next(self.ids)}=="
        self.items[item_id].comments.insert(
            0,
            {
                "comment_id": cid,
                "comment_user_id": f"user{len(self.items[item_id].comments)}",
                "nick_name": "抖友",
                "content": content,
                "create_time": int(at or time.time()),
                "digg_count": 0,
                "reply_comment_total": 0,
                "top": False,
            },
        )
        return cid

    # -- envelope ------------------------------------------------------------------------------------
    def _n(self, value: int) -> Any:
        return str(value) if self.string_numbers else value

    def reply(self, data: dict[str, Any] | None = None, code: int = 0, desc: str = "", status: int = 200) -> Reply:
        body = {**(data or {}), "error_code": self._n(code), "description": desc}
        extra = {
            "logid": secrets.token_hex(10),
            "now": int(time.time() * 1000),
            "error_code": self._n(code),
            "description": desc,
            "sub_error_code": self._n(0),
            "sub_description": "",
        }
        return Reply({"data": body, "extra": extra}, status=status)

    def handle(self, req: StubRequest) -> Reply:
        if req.path.startswith("/oauth/"):
            return self.oauth(req)
        token = req.headers.get("access-token", "")
        if token not in self.access:
            return self.reply(code=2190002, desc="access_token无效")
        if self.access[token] <= time.time():
            return self.reply(code=2190008, desc="access_token过期")
        if req.query.get("open_id") != OPEN_ID:
            return self.reply(code=2100005, desc="open_id 参数错误")
        if self.quota_left is not None:
            if self.quota_left <= 0:
                return self.reply(code=2190001, desc="quota 已用完")
            self.quota_left -= 1
        name = req.path.strip("/").split("/")[-1]
        handler = getattr(self, "api_" + name, None)
        if handler is None:
            return Reply({"message": "not found"}, status=404)
        result: Reply = handler(req)
        hang = self.hang_once.pop(name, 0.0)
        if hang:
            result.hang_s = hang
        return result

    def _need(self, scope: str) -> Reply | None:
        return None if scope in self.scopes else self.reply(code=2190003, desc=f"用户未授权 {scope}")

    def oauth(self, req: StubRequest) -> Reply:
        if req.path == "/oauth/access_token/":
            body = req.json() or {}
            if body.get("client_key") != CLIENT_KEY or body.get("client_secret") != CLIENT_SECRET:
                return self.reply(code=10013, desc="client_key 或 client_secret 错误")
            if body.get("code") not in self.codes:
                return self.reply(code=10007, desc="code 已过期")
            self.codes.discard(body["code"])  # single use
            access, refresh = self.grant()
            return self.reply(
                {
                    "access_token": access,
                    "expires_in": 1296000,
                    "refresh_token": refresh,
                    "refresh_expires_in": 2592000,
                    "open_id": OPEN_ID,
                    "scope": ",".join(sorted(self.scopes)),
                }
            )
        if req.path == "/oauth/refresh_token/":
            self.refresh_calls += 1
            form = req.form
            if form.get("client_key") != CLIENT_KEY or form.get("grant_type") != "refresh_token":
                return self.reply(code=10002, desc="参数错误")
            expires = self.refresh_tokens.get(str(form.get("refresh_token")))
            if expires is None or expires <= time.time():
                return self.reply(code=10010, desc="refresh_token 已过期")
            access = "act." + secrets.token_hex(8)
            self.access[access] = time.time() + 1296000
            return self.reply(
                {
                    "access_token": access,
                    "expires_in": 1296000,
                    "refresh_token": form["refresh_token"],
                    "refresh_expires_in": int(expires - time.time()),  # its expiry does not move
                    "open_id": OPEN_ID,
                }
            )
        return Reply({"message": "not found"}, status=404)

    def api_upload_video(self, req: StubRequest) -> Reply:
        if (denied := self._need("video.create")) is not None:
            return denied
        video = req.form.get("video")
        if not isinstance(video, tuple):
            return self.reply(code=2100005, desc="缺少 video")
        if len(video[1]) > self.max_single:
            return self.reply(code=2190005, desc="视频文件过大")
        return self._new_video(len(video[1]))

    def _new_video(self, size: int) -> Reply:
        video_id = f"v0{next(self.ids)}"
        self.videos[video_id] = size
        return self.reply({"video": {"video_id": video_id, "width": 1080, "height": 1920}})

    def api_init_video_part_upload(self, req: StubRequest) -> Reply:
        if (denied := self._need("video.create")) is not None:
            return denied
        upload_id = f"up{next(self.ids)}"
        self.uploads[upload_id] = []
        return self.reply({"upload_id": upload_id})

    def api_upload_video_part(self, req: StubRequest) -> Reply:
        parts = self.uploads.get(req.query.get("upload_id", ""))
        video = req.form.get("video")
        if parts is None or not isinstance(video, tuple):
            return self.reply(code=2100005, desc="upload_id 或 video 无效")
        if int(req.query.get("part_number", "0")) != len(parts) + 1:
            return self.reply(code=2100005, desc="part_number 顺序错误")
        if parts and parts[-1] < self.min_part:
            return self.reply(code=2100005, desc="分片过小（只有最后一片可以小于最小分片）")
        parts.append(len(video[1]))
        return self.reply()

    def api_complete_video_part_upload(self, req: StubRequest) -> Reply:
        parts = self.uploads.pop(req.query.get("upload_id", ""), None)
        if not parts:
            return self.reply(code=2100005, desc="upload_id 无效或没有分片")
        self.uploads["done-" + str(next(self.ids))] = parts
        return self._new_video(sum(parts))

    def api_create_video(self, req: StubRequest) -> Reply:
        if (denied := self._need("video.create")) is not None:
            return denied
        body = req.json() or {}
        if body.get("video_id") not in self.videos:
            return self.reply(code=2190007, desc="video_id 无效")
        if "违禁" in str(body.get("text", "")):
            return self.reply(code=2111001, desc="内容含敏感词")
        item_id = "@" + base64.b64encode(secrets.token_bytes(16)).decode().rstrip("=") + "=="
        self.items[item_id] = Video(
            item_id, body["video_id"], str(body.get("text", "")), time.time(), self.reviewed_after
        )
        return self.reply({"item_id": item_id})

    def _view(self, v: Video) -> dict[str, Any]:
        reviewed = v.reads_until_reviewed <= 0
        v.reads_until_reviewed -= 1
        return {
            "item_id": v.item_id,
            "title": v.title,
            "create_time": self._n(int(v.created)),
            "video_status": self._n(1 if reviewed else 4),
            "is_reviewed": reviewed,
            "share_url": f"https://www.iesdouyin.com/share/video/{v.video_id}",
            "statistics": {
                "digg_count": self._n(v.plays // 10),
                "comment_count": self._n(len(v.comments)),
                "share_count": self._n(v.plays // 100),
                "forward_count": self._n(0),
                "play_count": self._n(v.plays),
                "download_count": self._n(0),
            },
        }

    def api_video_data(self, req: StubRequest) -> Reply:
        if (denied := self._need("video.data")) is not None:
            return denied
        ids = (req.json() or {}).get("item_ids") or []
        return self.reply({"list": [self._view(self.items[i]) for i in ids if i in self.items]})

    def api_video_list(self, req: StubRequest) -> Reply:
        if (denied := self._need("video.data")) is not None:
            return denied
        newest = sorted(self.items.values(), key=lambda v: -v.created)[: int(req.query.get("count", "10"))]
        rows = [{"item_id": v.item_id, "title": v.title, "create_time": self._n(int(v.created))} for v in newest]
        return self.reply({"list": rows, "cursor": 0, "has_more": False})

    def _item_from_query(self, req: StubRequest) -> Video | Reply:
        raw = dict(p.split("=", 1) for p in req.raw_query.split("&") if "=" in p).get("item_id", "")
        if "@" in raw or raw.endswith("=="):
            return self.reply(code=2100005, desc="item_id 未进行 URL 编码")
        item = self.items.get(req.query.get("item_id", ""))
        return item if item is not None else self.reply(code=2100005, desc="item_id 无效")

    def api_list(self, req: StubRequest) -> Reply:  # /item/comment/list/
        if (denied := self._need("item.comment")) is not None:
            return denied
        item = self._item_from_query(req)
        if isinstance(item, Reply):
            return item
        cursor, count = int(req.query.get("cursor", "0")), min(int(req.query.get("count", "10")), 50)
        page = item.comments[cursor : cursor + count]
        more = cursor + count < len(item.comments)
        return self.reply({"list": page, "cursor": cursor + len(page), "has_more": more})

    def api_reply(self, req: StubRequest) -> Reply:  # /item/comment/reply/
        if (denied := self._need("item.comment")) is not None:
            return denied
        body = req.json() or {}
        item = self.items.get(str(body.get("item_id")))
        if item is None or not any(c["comment_id"] == body.get("comment_id") for c in item.comments):
            return self.reply(code=2100005, desc="item_id 或 comment_id 无效")
        cid = f"@rep{next(self.ids)}=="
        target = next(c for c in item.comments if c["comment_id"] == body["comment_id"])
        target.setdefault("replies", []).append({"comment_id": cid, "content": body.get("content", "")})
        return self.reply({"comment_id": cid})


class RunningDouyin:
    def __init__(self) -> None:
        self.stub = DouyinStub()
        self.server = StubServer(self.stub)
        self.url = self.server.url

    def close(self) -> None:
        self.server.close()


def serve_douyin() -> RunningDouyin:
    return RunningDouyin()
